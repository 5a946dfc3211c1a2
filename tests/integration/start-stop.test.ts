import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPortFree } from '../../scripts/offline';
import { PROJECT_ROOT } from '../../scripts/stack';
import { liveProcesses, processTree } from '../support/processes';
import { npmScriptCommand } from '../support/script-run';

/**
 * `npm start` interrupted in each phase stops everything it started within seconds, and the next
 * start on the same folder and port serves; a taken port is refused with one line. The launcher runs
 * as `npm start` runs it after the bootstrap, in its own process group like a terminal's foreground
 * job, on a throwaway data folder and free ports. Every case after the first is a start right after an
 * interrupted one, on the same folder and port.
 */

const STOP_WITHIN_MS = 10_000;
// A full start bundles the functions with esbuild: 15–30 s here, more while other tests run.
const FULL_START_MS = 180_000;

class Launcher {
  readonly child: ChildProcess;
  output = '';
  /** Process groups below the launcher other than its own: sls offline's (it runs detached). */
  readonly detachedGroups = new Set<number>();
  private readonly exited: Promise<number | null>;

  constructor(
    readonly dataDir: string,
    readonly port: number,
    lambdaPort: number,
    /** Variables set in the launcher's shell besides those of every case. */
    given: Record<string, string> = {},
  ) {
    // as `npm start` runs it after the bootstrap: the same process tree, so the same signal path
    const [command, ...args] = npmScriptCommand('start');
    this.child = spawn(command!, args, {
      cwd: PROJECT_ROOT,
      // Only what the launcher needs: the database URLs of this test run must not reach it.
      env: {
        PATH: [path.dirname(process.execPath), path.join(PROJECT_ROOT, 'node_modules', '.bin'), process.env.PATH].join(':'),
        HOME: process.env.HOME,
        FLIGHT_BOOKING_DATA_DIR: dataDir,
        PORT: String(port),
        LAMBDA_PORT: String(lambdaPort),
        ...given,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    // sls offline is re-parented once the launcher is gone: note its group while it is still below.
    const sampler = setInterval(() => this.noteDetachedGroups(), 200);
    void this.exited.then(() => clearInterval(sampler));
  }

  /** Detached, the launcher leads its own process group. */
  get group(): number {
    return this.child.pid!;
  }

  private noteDetachedGroups(): void {
    for (const info of processTree(this.group)) if (info.pgid !== this.group) this.detachedGroups.add(info.pgid);
  }

  printed(line: string): boolean {
    return this.output.includes(`[start] ${line}`);
  }

  /** Waits until `ready()` holds; fails when the launcher exits first or it takes too long. */
  async until(what: string, ready: () => boolean, timeoutMs = FULL_START_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.child.exitCode !== null) throw new Error(`the launcher exited (${this.child.exitCode}) before ${what}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s:\n${this.output}`);
      await sleep(50);
    }
    this.noteDetachedGroups();
  }

  /** The exit code, or 'still running' after STOP_WITHIN_MS. */
  exitCode(): Promise<number | null | 'still running'> {
    return Promise.race([this.exited, sleep(STOP_WITHIN_MS, 'still running' as const, { ref: false })]);
  }

  /** What still runs of what this launcher started: its own group, sls offline's, anything using its data folder. */
  leftovers(): string[] {
    const groups = new Set([this.group, ...this.detachedGroups]);
    return liveProcesses()
      .filter((info) => groups.has(info.pgid) || info.command.includes(this.dataDir))
      .map((info) => `${info.pid} ${info.command}`);
  }

  /** After a failed case, so that the next one (and the machine) starts clean. */
  killLeftovers(): void {
    for (const group of [this.group, ...this.detachedGroups]) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // nothing left in that group
      }
    }
  }
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-start-stop-'));
let port: number;
let lambdaPort: number;
const launchers: Launcher[] = [];

const launch = (given: Record<string, string> = {}) => {
  const launcher = new Launcher(dataDir, port, lambdaPort, given);
  launchers.push(launcher);
  return launcher;
};

/**
 * Interrupts the launcher, as Ctrl-C does (SIGINT to the terminal's whole foreground group) or as
 * `kill` does (a signal to the launcher alone), and checks that it exits cleanly within seconds and
 * leaves nothing running and the API port free.
 */
async function interrupt(launcher: Launcher, signal: NodeJS.Signals, target: 'group' | 'launcher'): Promise<void> {
  process.kill(target === 'group' ? -launcher.group : launcher.group, signal);
  expect(await launcher.exitCode()).toBe(0);
  expect(launcher.leftovers()).toEqual([]);
  expect(await isPortFree(launcher.port)).toBe(true);
}

function listen(onPort: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(onPort, '127.0.0.1', () => resolve(server));
  });
}

/**
 * The launcher's fixed ports come from below the kernel's ephemeral range: every port the launcher
 * and the other test files pick with port 0 (databases, WebSocket, outbound connections) lies inside
 * it, so none of them can take these between one case and the next (it happened: a launcher's own
 * database was given the LAMBDA_PORT it was about to use).
 */
async function freeFixedPort(besides: number[] = []): Promise<number> {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const low = 20_000;
  const high = Math.min(ephemeralLow ?? 32_768, 32_768) - 1;
  for (;;) {
    const candidate = low + Math.floor(Math.random() * (high - low));
    if (!besides.includes(candidate) && (await isPortFree(candidate))) return candidate;
  }
}

beforeAll(async () => {
  port = await freeFixedPort();
  lambdaPort = await freeFixedPort([port]);
});

afterEach(() => {
  for (const launcher of launchers.splice(0)) launcher.killLeftovers();
});

describe('npm start', () => {
  it.each([
    ['PORT', () => port],
    ['LAMBDA_PORT', () => lambdaPort],
  ])('refuses a taken %s with one line naming the port and the variable, and starts nothing', async (variable, takenPort) => {
    const holder = await listen(takenPort());
    try {
      const launcher = launch();
      expect(await launcher.exitCode()).toBe(1);
      expect(launcher.output.trim()).toMatch(
        new RegExp(`^\\[start\\] port ${takenPort()} is taken \\(another npm start\\?\\); stop that process or run with ${variable}=\\d+ npm start$`),
      );
      expect(launcher.leftovers()).toEqual([]);
    } finally {
      holder.close();
    }
  });

  it('stops the databases when interrupted while they start', async () => {
    const launcher = launch();
    await launcher.until('a database process', () => liveProcesses().some((info) => info.command.includes(dataDir)), 30_000);
    expect(launcher.printed('starting sls offline')).toBe(false);
    await interrupt(launcher, 'SIGINT', 'launcher');
  });

  it('stops sls offline and its esbuild when terminated while the functions bundle', async () => {
    const launcher = launch();
    await launcher.until('esbuild running under sls offline', () =>
      processTree(launcher.group).some((info) => info.pgid !== launcher.group && info.command.includes('esbuild')),
    );
    expect(launcher.printed('sls offline answers')).toBe(false);
    await interrupt(launcher, 'SIGTERM', 'launcher');
  }, FULL_START_MS);

  it(
    'stops everything on Ctrl-C once sls offline answers (before the API line); the next start serves and stops on SIGINT',
    async () => {
      // The window of the reported leak: sls offline listens, the launcher has not announced the API yet.
      const interrupted = launch();
      await interrupted.until('sls offline answering', () => interrupted.printed('sls offline answers'));
      expect(interrupted.detachedGroups.size).toBeGreaterThan(0);
      await interrupt(interrupted, 'SIGINT', 'group');

      const serving = launch();
      await serving.until('the API line', () => serving.printed(`API: http://localhost:${port}`));
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      await interrupt(serving, 'SIGINT', 'launcher');
    },
    2 * FULL_START_MS,
  );

  it('gives the functions the AWS_REGION it made the tables in, so that a DynamoDB of AWS is asked in that region', async () => {
    // A DynamoDB endpoint that notes the region each request is signed for, in front of the suite's dynalite.
    const regions = new Set<string>();
    const proxy = http.createServer((request, response) => {
      regions.add(/Credential=[^/]+\/\d+\/([^/]+)\//.exec(request.headers.authorization ?? '')?.[1] ?? 'unsigned');
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => name !== 'host' && name !== 'content-length')) as Record<string, string>;
        void fetch(`${process.env.DYNAMODB_ENDPOINT}${request.url}`, { method: request.method, headers, body: Buffer.concat(chunks) }).then(async (answer) => {
          response.writeHead(answer.status, Object.fromEntries(answer.headers));
          response.end(Buffer.from(await answer.arrayBuffer()));
        });
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const launcher = launch({ AWS_REGION: 'eu-west-1', DYNAMODB_ENDPOINT: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, SAMPLE_DATA: 'false' });
      await launcher.until('the API line', () => launcher.printed(`API: http://localhost:${port}`));
      regions.clear();
      // /health asks DynamoDB through the functions' own client.
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      expect([...regions]).toEqual(['eu-west-1']);
      await interrupt(launcher, 'SIGINT', 'launcher');
    } finally {
      proxy.close();
    }
  }, FULL_START_MS);
});
