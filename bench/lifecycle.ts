import { startStack, type Stack, type StackOptions } from '../scripts/stack';
import { startOffline, type Offline, type OfflineOptions } from '../scripts/offline';
import { startLocalDeployment, type DeployOptions, type LocalDeployment } from '../scripts/localstack/deploy';

/**
 * What a benchmark run started, so that Ctrl-C (SIGINT) or SIGTERM stops it: the stack, any other
 * stack (the Redis Cluster section's), every sls offline and the LocalStack deployment a section runs. A start under way when the
 * signal comes is cancelled (it stops what it had started itself); what has started is stopped.
 */

const interrupt = new AbortController();
const running = new Set<{ stop(): Promise<void> }>();
/** Starts under way: an interrupted one stops what it had started before it rejects, which is waited for. */
const starting = new Set<Promise<unknown>>();

/** Aborted once the run is interrupted. */
export const interrupted = interrupt.signal;

async function track<T extends { stop(): Promise<void> }>(start: Promise<T>): Promise<T> {
  starting.add(start);
  try {
    const started = await start;
    running.add(started);
    return started;
  } finally {
    starting.delete(start);
  }
}

export const startBenchStack = (options: StackOptions): Promise<Stack> => track(startStack({ ...options, signal: interrupted }));

export const startBenchOffline = (options: OfflineOptions): Promise<Offline> => track(startOffline({ ...options, signal: interrupted }));

export const startBenchLocalstack = (options: DeployOptions): Promise<LocalDeployment> => track(startLocalDeployment({ ...options, signal: interrupted }));

/** On SIGINT or SIGTERM: cancel the starts under way, stop what was started (stopping twice is harmless), exit 130. */
export function stopOnInterrupt(say: (line: string) => void): void {
  const stop = async () => {
    if (interrupt.signal.aborted) return;
    say('interrupted: stopping what this run started…');
    interrupt.abort(new Error('the benchmark run was interrupted'));
    await Promise.allSettled([...starting]);
    await Promise.all([...running].map((started) => started.stop().catch(() => undefined)));
    process.exit(130);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
