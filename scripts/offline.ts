import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT, freePort, serverlessConfig } from './stack';

/** `sls offline` as a child process, and a wait until it serves /health. */

export interface Offline {
  url: string;
  /** Where WebSocket clients of the live seat maps connect (ws://127.0.0.1:<websocketPort>). */
  websocketUrl: string;
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

/** What EventBridge sends a `schedule` function, the only event such a function accepts (lib/triggers.ts). */
export const SCHEDULED_EVENT = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };

/**
 * serverless-offline runs `schedule` events on their cron, but not at start: invoke each scheduled
 * function once (through the emulator's Lambda invoke API), so that, for example, every service is in
 * the registry as soon as the API is up rather than a minute later.
 */
export async function runSchedulesOnce(lambdaPort: number, stage: string, signal?: AbortSignal): Promise<void> {
  await Promise.all(
    scheduledFunctions(stage).map(async ({ name }) => {
      const body = JSON.stringify(SCHEDULED_EVENT);
      const response = await fetch(`http://127.0.0.1:${lambdaPort}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body, signal });
      if (!response.ok) throw new Error(`invoking ${name} answered ${response.status}`);
    }),
  );
}

export interface OfflineOptions {
  port: number;
  lambdaPort: number;
  /** The WebSocket API's port; a free one when not given. */
  websocketPort?: number;
  env: Record<string, string | undefined>;
  /** Tables and registry namespace follow the stage; the launcher created that stage's tables. */
  stage?: string;
  /** Where the emulator's output goes; inherits the terminal when not given. */
  logFile?: string;
  /** Leaves out the emulator's lines for every request and invocation (warnings and errors stay). */
  quiet?: boolean;
  timeoutMs?: number;
  /** Progress lines while it starts. */
  log?: (line: string) => void;
  /** Cancels the start: the emulator and everything it started are stopped, and startOffline rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A port the emulator needs is in use; `variable` is the setting that chooses it. */
export class PortTakenError extends Error {
  constructor(
    readonly port: number,
    readonly variable: string,
  ) {
    super(`port ${port} (${variable}) is taken on 127.0.0.1`);
    this.name = 'PortTakenError';
  }
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(false) : reject(error)));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Rejects with a PortTakenError for the first of these ports (keyed by the variable that sets each) already in use. */
export async function assertPortsFree(ports: Record<string, number>): Promise<void> {
  for (const [variable, port] of Object.entries(ports)) {
    if (!(await isPortFree(port))) throw new PortTakenError(port, variable);
  }
}

/** The ports `sls offline` listens on, by the variable that sets each (the WebSocket port once it is chosen). */
export function offlinePorts(options: Pick<OfflineOptions, 'port' | 'lambdaPort' | 'websocketPort'>): Record<string, number> {
  return { PORT: options.port, LAMBDA_PORT: options.lambdaPort, ...(options.websocketPort === undefined ? {} : { WEBSOCKET_PORT: options.websocketPort }) };
}

/** A free loopback port that is none of `taken` (the caller's ports, which may be free until the emulator binds them). */
export async function freePortBesides(taken: number[]): Promise<number> {
  let port = await freePort();
  while (taken.includes(port)) port = await freePort();
  return port;
}

/**
 * Stops a process group: SIGTERM, then SIGKILL for whatever still runs after a few seconds. Returns
 * once none of it is left (or, should an exited member stay unreaped, shortly after the SIGKILL).
 */
async function stopProcessGroup(groupId: number): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals | 0) => {
    try {
      process.kill(-groupId, signal);
      return true;
    } catch {
      return false;
    }
  };
  const goneWithin = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!signalGroup(0)) return true;
      await sleep(50);
    }
    return false;
  };
  if (!signalGroup('SIGTERM')) return;
  if (await goneWithin(5_000)) return;
  signalGroup('SIGKILL');
  await goneWithin(2_000);
}

export async function startOffline(options: OfflineOptions): Promise<Offline> {
  const sls = path.join(PROJECT_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
  const stage = options.stage ?? 'dev';
  const { signal } = options;
  const websocketPort = options.websocketPort ?? (await freePortBesides([options.port, options.lambdaPort]));
  const websocketUrl = `ws://127.0.0.1:${websocketPort}`;
  await assertPortsFree(offlinePorts({ ...options, websocketPort }));
  signal?.throwIfAborted();
  const bundleFolder = `.esbuild-offline-${options.port}`;
  const logFd = options.logFile ? openSync(options.logFile, 'a') : undefined;
  // The emulator gives every function AWS_REGION from serverless.yml's region (us-east-1 unless --region):
  // the region the launcher made the tables in, so that a DynamoDB of AWS is asked in that region too.
  const region = options.env.AWS_REGION ? ['--region', options.env.AWS_REGION] : [];
  // serverless-offline runs an asynchronous (Event) invoke without awaiting it, so a function started
  // that way that fails (a relay while Redis is down) would reject unhandled and end the emulator with
  // every function in it. On AWS such a failure stays that function's (Lambda retries it): warn instead.
  const child = spawn(process.execPath, ['--unhandled-rejections=warn', sls, 'offline', 'start', '--stage', stage, ...region, '--websocketPort', String(websocketPort)], {
    cwd: PROJECT_ROOT,
    env: {
      ...options.env,
      PORT: String(options.port),
      LAMBDA_PORT: String(options.lambdaPort),
      WEBSOCKET_PORT: String(websocketPort),
      // Functions that start other functions (the migration worker, the live seat maps' broadcaster) invoke them through the emulator.
      LAMBDA_ENDPOINT: `http://127.0.0.1:${options.lambdaPort}`,
      // The emulator's WebSocket API: what clients are told to connect to, and its @connections endpoint
      // (serverless.yml's fallbacks are the deployed API's, built with Fn::Join, which sls offline cannot render).
      WEBSOCKET_URL: websocketUrl,
      WEBSOCKET_MANAGEMENT_ENDPOINT: `http://127.0.0.1:${websocketPort}`,
      SLS_TELEMETRY_DISABLED: '1',
      // A bundle folder of its own: serverless-esbuild deletes its folder when it stops, which would
      // pull the code from under another emulator of this checkout (a test's, `npm start`).
      ESBUILD_WORK_FOLDER: bundleFolder,
      ...(options.quiet ? { SLS_LOG_LEVEL: 'warning' } : {}),
    },
    // Straight into the log file, not through a pipe this process drains: a pipe stalls the emulator
    // (its writes to a full pipe block) whenever this process is busy, e.g. a test in spawnSync.
    stdio: logFd === undefined ? ['ignore', 'inherit', 'inherit'] : ['ignore', logFd, logFd],
    // Its own process group, so stopping it also stops esbuild and anything else it started.
    detached: true,
  });
  // the child holds its own copy of the descriptor
  if (logFd !== undefined) closeSync(logFd);
  const url = `http://127.0.0.1:${options.port}`;
  // The group, not only the child: esbuild's service and anything else it started go with it, even
  // after the child itself died. Then its bundle folder, which serverless-esbuild leaves when it is
  // stopped by a signal.
  const stop = async () => {
    if (child.pid !== undefined) await stopProcessGroup(child.pid);
    rmSync(path.join(PROJECT_ROOT, bundleFolder), { recursive: true, force: true });
  };

  try {
    await untilServing(url, child, options);
    options.log?.('sls offline answers; running the scheduled functions once…');
    await runSchedulesOnce(options.lambdaPort, stage, signal);
    signal?.throwIfAborted();
    return { url, websocketUrl, child, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function untilServing(url: string, child: ChildProcess, { timeoutMs = 180_000, logFile, signal }: OfflineOptions): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child.exitCode !== null) throw new Error(`sls offline exited with code ${child.exitCode}${logFile ? `; see ${logFile}` : ''}`);
    try {
      const response = await fetch(`${url}/health`, { signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(5_000)]) : AbortSignal.timeout(5_000) });
      if (response.status === 200 || response.status === 503) return;
    } catch {
      // not listening yet; a cancelled start is reported by the sleep below
    }
    await sleep(300, undefined, { signal });
  }
  throw new Error('sls offline did not serve /health in time');
}
