import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
/** Child processes of the stack: free ports, waiting until a server answers, a server run as a restartable child process. */

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export type ServiceName = 'mongo' | 'redis' | 'dynamodb' | 'redlock' | 'payments' | 'email';

export interface BackingService {
  name: ServiceName;
  url: string;
  /** What serves it: "given" when the URL came from the environment. */
  source: string;
  /** The process serving it, when the launcher started one (a cluster's nodes and the Redlock servers: `Stack.redisNodes`, `Stack.control`). */
  pid?: number;
}

/** A server the stack started, for crash and outage drills run by the process that started it. */
export interface ServerControl {
  /** The server's process; a restart changes it. */
  readonly pid: number;
  /** Signals the server's process (SIGKILL for a crash, SIGSTOP / SIGCONT for a hang). */
  kill(signal: NodeJS.Signals): void;
  /**
   * Starts the server again on the same port and data folder (stopping it first if it still runs)
   * and waits until it answers.
   */
  restart(): Promise<void>;
}

/** Listens on a loopback port (0: any free one) until closed. */
export function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Distinct free ports: each is held until all are found, so that none is handed out twice. */
export async function freePorts(count: number): Promise<number[]> {
  const held = await Promise.allSettled(Array.from({ length: count }, () => listenOn(0)));
  const servers = held.flatMap((h) => (h.status === 'fulfilled' ? [h.value] : []));
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map(close));
  const failed = held.find((h): h is PromiseRejectedResult => h.status === 'rejected');
  if (failed) throw failed.reason;
  return ports;
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

export async function arePortsFree(ports: number[]): Promise<boolean> {
  const held = await Promise.allSettled(ports.map(listenOn));
  await Promise.all(held.flatMap((h) => (h.status === 'fulfilled' ? [close(h.value)] : [])));
  return held.every((h) => h.status === 'fulfilled');
}

interface WaitOptions {
  /** Fails the wait as soon as this process exits. */
  child?: ChildProcess;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export async function waitFor(what: string, probe: () => Promise<unknown>, { child, timeoutMs = 60_000, signal }: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it answered`);
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
      await sleep(150, undefined, { signal });
    }
  }
  throw new Error(`${what} did not answer within ${timeoutMs / 1000}s: ${(lastError as Error)?.message}`);
}

export function tcpProbe(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
  });
}

export function startChild(command: string, args: string[], logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', out, out] });
  // The child has its own copy of the descriptor; ours would leak one per (re)start.
  closeSync(out);
  child.on('error', () => undefined);
  return child;
}

export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  // A server frozen by SIGSTOP (an outage drill) acts on the SIGTERM only once it runs again.
  child.kill('SIGCONT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A server run as a child process on a fixed port and data folder, so that it can be started again
 * where it was after a crash drill killed it.
 */
export class ServerProcess implements ServerControl {
  private child: ChildProcess | undefined;
  private stopped = false;

  constructor(
    private readonly what: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly logFile: string,
    private readonly probe: () => Promise<unknown>,
  ) {}

  get pid(): number {
    const pid = this.child?.pid;
    // Never 0 or a made-up number: a drill's process.kill(pid) would then signal other processes.
    if (pid === undefined) throw new Error(`${this.what} has no process: its start failed`);
    return pid;
  }

  /** Starts it and waits until it answers; if it never does, or the start is cancelled, stops it so nothing is left behind. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.stopped) throw new Error(`${this.what} was stopped with its stack`);
    signal?.throwIfAborted();
    const child = startChild(this.command, this.args, this.logFile);
    this.child = child;
    try {
      await waitFor(this.what, this.probe, { child, signal });
    } catch (error) {
      await stopChild(child);
      throw error;
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async restart(): Promise<void> {
    await stopChild(this.child);
    await this.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await stopChild(this.child);
  }
}

/** A started server as the stack lists it: its pid (and the pid in its description) follow restarts. */
export function serverService(name: ServiceName, url: string, port: number, server: ServerProcess, describe: (pid: number) => string): Started {
  return {
    service: {
      name,
      url,
      get source() {
        return describe(server.pid);
      },
      get pid() {
        return server.pid;
      },
    },
    stop: () => server.stop(),
    servers: [{ port, control: server }],
  };
}

/** A service served by several servers the stack started (their pids are in `Stack.control` and `redisNodes`). */
export function serversService(service: BackingService, servers: { port: number; server: ServerProcess }[]): Started {
  return {
    service,
    stop: async () => void (await Promise.all(servers.map(({ server }) => server.stop()))),
    servers: servers.map(({ port, server }) => ({ port, control: server })),
  };
}

/** Starts every server, and stops all of them again when one fails or the start is cancelled. */
export async function startAll(servers: { server: ServerProcess }[], signal?: AbortSignal): Promise<void> {
  // allSettled, not all: the others must finish starting before they can be stopped.
  const results = await Promise.allSettled(servers.map(({ server }) => server.start(signal)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map(({ server }) => server.stop()));
    throw failed.reason;
  }
}

export interface Started {
  service: BackingService;
  stop: () => Promise<void>;
  /** The child processes serving it, by port, which can be signalled and restarted; none for mongodb-memory-server. */
  servers: { port: number; control: ServerControl }[];
}

/**
 * A server run inside this process (a JavaScript one: dynalite, stripe-local) instead of as a child:
 * `npm start` saves a Node process per server this way (about 45 MB each at idle, docs/architecture.md).
 * It has no process of its own to signal, so it offers no `control` for drills; it stops with the
 * launcher.
 */
export function inProcessService(name: ServiceName, url: string, what: string, close: () => Promise<void>): Started {
  return { service: { name, url, source: `${what} (in the launcher's process)` }, stop: close, servers: [] };
}
