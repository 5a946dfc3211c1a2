import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, serverlessConfig } from './stack';

/** `sls offline` as a child process, and a wait until it serves /health. */

export interface Offline {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The functions with `schedule` events, by their deployed names. */
export function scheduledFunctions(stage = 'dev'): { name: string }[] {
  const { doc } = serverlessConfig(stage);
  const functions = doc.functions as Record<string, { events?: { schedule?: string }[] }>;
  return Object.entries(functions).flatMap(([key, fn]) =>
    (fn.events ?? []).flatMap((event) => {
      const rate = /^(rate|cron)\(/.exec(event.schedule ?? '');
      // Deployed function names are service-stage-key; the invoke API knows them by that name.
      return rate ? [{ name: `${doc.service}-${stage}-${key}` }] : [];
    }),
  );
}

/**
 * serverless-offline runs `schedule` events on their cron, but not at start: invoke each scheduled
 * function once (through the emulator's Lambda invoke API), so that, for example, every service is in
 * the registry as soon as the API is up rather than a minute later.
 */
export async function runSchedulesOnce(lambdaPort: number, stage: string): Promise<void> {
  await Promise.all(
    scheduledFunctions(stage).map(async ({ name }) => {
      const response = await fetch(`http://127.0.0.1:${lambdaPort}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: '{}' });
      if (!response.ok) throw new Error(`invoking ${name} answered ${response.status}`);
    }),
  );
}

export interface OfflineOptions {
  port: number;
  lambdaPort: number;
  env: Record<string, string | undefined>;
  /** Tables and registry namespace follow the stage; the launcher created that stage's tables. */
  stage?: string;
  /** Where the emulator's output goes; inherits the terminal when not given. */
  logFile?: string;
  /** Leaves out the emulator's lines for every request and invocation (warnings and errors stay). */
  quiet?: boolean;
  timeoutMs?: number;
}

export async function startOffline(options: OfflineOptions): Promise<Offline> {
  const sls = path.join(PROJECT_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
  const stage = options.stage ?? 'dev';
  const child = spawn(process.execPath, [sls, 'offline', 'start', '--stage', stage], {
    cwd: PROJECT_ROOT,
    env: {
      ...options.env,
      PORT: String(options.port),
      LAMBDA_PORT: String(options.lambdaPort),
      // Functions that start other functions (the migration worker) invoke them through the emulator.
      LAMBDA_ENDPOINT: `http://127.0.0.1:${options.lambdaPort}`,
      SLS_TELEMETRY_DISABLED: '1',
      ...(options.quiet ? { SLS_LOG_LEVEL: 'warning' } : {}),
    },
    stdio: options.logFile ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    // Its own process group, so stopping it also stops esbuild and anything else it started.
    detached: true,
  });
  if (options.logFile) {
    const out = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sls offline exited with code ${child.exitCode}${options.logFile ? `; see ${options.logFile}` : ''}`);
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
      if (response.status === 200 || response.status === 503) {
        await runSchedulesOnce(options.lambdaPort, stage);
        return { url, child, stop };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  await stop();
  throw new Error('sls offline did not serve /health in time');
}
