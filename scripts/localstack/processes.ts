import type { ChildProcess } from 'node:child_process';

/** Signals a detached child's whole process group (LocalStack and its functions, sls and its workers). */
export function stopProcessGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** Rejects with the signal's reason once it aborts (never, without a signal). */
export function untilAborted(signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) reject(signal.reason);
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
