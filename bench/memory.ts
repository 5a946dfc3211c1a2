import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT, freePort } from '../scripts/stack';
import { processTree, type ProcessInfo } from '../tests/support/processes';
import { fmt, median, say } from './measure';
import { section, type Section } from './report';
import { interrupted } from './lifecycle';

/**
 * `npm start`'s process tree at idle (issue 27: under 700 MB), and how long an edited handler takes to
 * be served. It runs `npm start` itself, as a developer does, but in a throwaway copy of the checkout
 * (its files, node_modules and .tools linked): the reloads edit a handler there, never in the checkout,
 * where every other sls offline of this checkout (a test's, your own npm start) would rebuild too.
 */

const TARGET_MB = 700;
/** The tree settles (the first requests' garbage collected, esbuild's heap given back) within this; then it is sampled. */
const SETTLE_MS = 30_000;
const SAMPLES = 6;
const SAMPLE_EVERY_MS = 5_000;
const RELOADS = 3;
const READY_LINE = 'Ctrl-C stops everything started here.';

/** What a process of the tree is, by its command line. */
const KINDS: [string, RegExp][] = [
  ['npm and its shell', /^(npm|sh -c bash scripts\/bootstrap\.sh)\b/],
  ["esbuild (sls offline's bundler)", /esbuild --service/],
  ['sls offline (the functions run in it)', /osls\/bin\/serverless\.js/],
  ["the launcher (scripts/start.ts, with dynalite and stripe-local in its process, and tsx's esbuild)", /scripts\/start\.ts/],
  ['databases (redis-server, FerretDB, dynalite)', /redis-server|ferretdb|mongod|dynalite/],
  ["payment provider (stripe-local, with tsx's esbuild)", /stripe-local/],
];

/** A process's kind; tsx's esbuild service counts with the TypeScript process it compiles for. */
function kindOf(info: ProcessInfo, tree: ProcessInfo[]): string {
  const parent = tree.find((candidate) => candidate.pid === info.ppid);
  if (/esbuild --service/.test(info.command) && parent && !/osls\/bin\/serverless\.js/.test(parent.command)) return kindOf(parent, tree);
  return KINDS.find(([, pattern]) => pattern.test(info.command))?.[0] ?? info.command.slice(0, 60);
}

function rssMegabytes(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0; // gone while we looked
  }
}

/** RSS of the tree below `root` by kind (MB); a process of no known kind is named by its command. */
function treeRss(root: number): Map<string, number> {
  const tree = processTree(root);
  const byKind = new Map<string, number>();
  for (const info of tree) {
    const kind = kindOf(info, tree);
    byKind.set(kind, (byKind.get(kind) ?? 0) + rssMegabytes(info.pid));
  }
  return byKind;
}

const total = (byKind: Map<string, number>) => [...byKind.values()].reduce((sum, mb) => sum + mb, 0);

/**
 * The checkout's files (tracked, and new ones not ignored) in a throwaway folder. node_modules is
 * linked; .tools is a folder of links to the checkout's tools, so that a bootstrap that decides to
 * reinstall one (`rm -rf .tools/<venv>`) removes a link, never the checkout's tools.
 */
function copyOfCheckout(): string {
  const lock = (file: string) => statSync(path.join(PROJECT_ROOT, file)).mtimeMs;
  // The bootstrap would run `npm ci`, through the link, on the checkout's node_modules.
  if (lock('node_modules/.package-lock.json') < lock('package-lock.json')) throw new Error('node_modules is older than package-lock.json: run npm start (or npm ci) once first');
  const copy = mkdtempSync(path.join(tmpdir(), 'flight-booking-memory-'));
  const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).stdout.split('\0');
  for (const file of files) {
    const from = path.join(PROJECT_ROOT, file);
    // A tracked file deleted in the working tree is not copied.
    if (!file || !statSync(from, { throwIfNoEntry: false })?.isFile()) continue;
    mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
    cpSync(from, path.join(copy, file), { preserveTimestamps: true });
  }
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  mkdirSync(path.join(copy, '.tools'));
  for (const tool of readdirSync(path.join(PROJECT_ROOT, '.tools'))) symlinkSync(path.join(PROJECT_ROOT, '.tools', tool), path.join(copy, '.tools', tool));
  return copy;
}

/** `npm start` in `dir`, in a process group of its own (a terminal's foreground job), on free ports. */
async function npmStart(dir: string): Promise<{ child: ChildProcess; port: number; log: string; stop(): Promise<void> }> {
  const port = await freePort();
  const log = path.join(dir, 'npm-start.log');
  writeFileSync(log, '');
  const child = spawn('npm', ['start'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      LAMBDA_PORT: String(await freePort()),
      FLIGHT_BOOKING_DATA_DIR: path.join(dir, '.data'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out = createWriteStream(log);
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  // Ctrl-C of the run: the launcher stops what it started, as on a developer's Ctrl-C.
  const onInterrupt = () => signalGroup('SIGINT');
  interrupted.addEventListener('abort', onInterrupt, { once: true });
  const stop = async () => {
    interrupted.removeEventListener('abort', onInterrupt);
    signalGroup('SIGINT');
    await Promise.race([exited, sleep(30_000)]);
    // sls offline runs in a group of its own, which the launcher stops; nothing of the tree may outlive the run.
    const left = processTree(child.pid!);
    for (const info of left) process.kill(info.pid, 'SIGKILL');
    if (left.length > 0) say(`memory: ${left.length} processes of npm start outlived its Ctrl-C and were killed`);
  };
  return { child, port, log, stop };
}

async function untilPrinted(log: string, line: string, child: ChildProcess, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!readFileSync(log, 'utf8').includes(line)) {
    interrupted.throwIfAborted();
    if (child.exitCode !== null) throw new Error(`npm start exited with code ${child.exitCode}; see ${log}`);
    if (Date.now() > deadline) throw new Error(`npm start did not print "${line}" within ${timeoutMs / 1000} s; see ${log}`);
    await sleep(200);
  }
}

/**
 * Edits the /health handler's answer in `dir` (a field with a new value each time) and returns the
 * milliseconds until the API answers with it: serverless-esbuild's watcher, the rebuild, the emulator
 * dropping its warm function, and the new module's first call.
 */
async function reloadMs(dir: string, port: number, round: number): Promise<number> {
  const file = path.join(dir, 'functions', 'gateway', 'health.ts');
  const source = readFileSync(file, 'utf8');
  const marker = `reload-${round}-${Date.now()}`;
  const edited = source.replace(/body: \{ status: 'ok', checks: results(, reload: '[^']*')? \}/, `body: { status: 'ok', checks: results, reload: '${marker}' }`);
  if (edited === source) throw new Error(`functions/gateway/health.ts no longer answers { status: 'ok', checks: results }: the memory benchmark edits that line`);
  const started = performance.now();
  writeFileSync(file, edited);
  while (performance.now() - started < 60_000) {
    interrupted.throwIfAborted();
    const body = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5_000) })
      .then((response) => response.text())
      .catch(() => '');
    if (body.includes(marker)) return performance.now() - started;
    await sleep(50);
  }
  throw new Error('the edited /health handler was not served within 60 s');
}

/** npm start's tree in `dir` at idle, by kind, and the reloads of an edited handler. */
async function idleAndReloads(dir: string): Promise<{ idle: Map<string, number>; afterReloads: number; reloads: number[] }> {
  // A first start in the fresh copy compiles the launcher's TypeScript (tsx keeps an esbuild process for
  // that) and seeds the sample schedule; the measured start is a developer's usual one, with both done.
  const first = await npmStart(dir);
  try {
    await untilPrinted(first.log, READY_LINE, first.child);
  } finally {
    await first.stop();
  }
  const started = await npmStart(dir);
  try {
    await untilPrinted(started.log, READY_LINE, started.child);
    await sleep(SETTLE_MS, undefined, { signal: interrupted });
    const samples: Map<string, number>[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      samples.push(treeRss(started.child.pid!));
      await sleep(SAMPLE_EVERY_MS, undefined, { signal: interrupted });
    }
    const reloads: number[] = [];
    for (let round = 0; round < RELOADS; round += 1) {
      reloads.push(await reloadMs(dir, started.port, round));
      // The rebuild's garbage and the watcher's events settle before the next edit.
      await sleep(3_000, undefined, { signal: interrupted });
    }
    // The sample with the median total, so that every kind's figure comes from one moment.
    const idle = [...samples].sort((a, b) => total(a) - total(b))[Math.floor(samples.length / 2)]!;
    return { idle, afterReloads: total(treeRss(started.child.pid!)), reloads };
  } finally {
    await started.stop();
  }
}

/* ---------- 9. memory: npm start's process tree at idle, and the reload of an edited handler ---------- */
export async function memory(): Promise<Section> {
  const { rows, notes, row } = section();
  say('memory: npm start in a copy of the checkout (a first start, stopped, then the one measured), idle, then three edits of a handler');
  const dir = copyOfCheckout();
  const { idle, afterReloads, reloads } = await idleAndReloads(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
  for (const [kind, mb] of [...idle].sort((a, b) => b[1] - a[1])) row('9. memory', `npm start at idle, RSS: ${kind}`, '', '', '', '', `${fmt(mb)} MB`);
  const idleTotal = total(idle);
  row('9. memory', 'npm start at idle, RSS: the whole tree', '', '', '', '', `${fmt(idleTotal)} MB = ${fmt(idleTotal / TARGET_MB, 2)} × the ${TARGET_MB} MB target: ${idleTotal < TARGET_MB ? 'met' : 'missed'}`);
  row('9. memory', 'reload: an edited handler served by sls offline (serverless-esbuild watch)', '', fmt(median(reloads)), fmt(Math.max(...reloads)), 0, `edit → first answer with the new code; ${RELOADS} edits: ${reloads.map((ms) => fmt(ms)).join(', ')} ms`);
  // The issue's 1.8 GB (esbuild 1.28 GB, sls offline 292 MB, the launcher 110 MB, the databases 110 MB) counted these four kinds.
  const issueKinds = [...idle].filter(([kind]) => /^(esbuild|sls offline|the launcher|databases)/.test(kind)).reduce((sum, [, mb]) => sum + mb, 0);
  notes.push(
    `npm start's whole tree (npm itself included) idles at ${fmt(idleTotal)} MB of RSS (the median of ${SAMPLES} samples ${SETTLE_MS / 1000} s after a second start printed it is ready; ${fmt(afterReloads)} MB after ${RELOADS} reloads), ${fmt(idleTotal / TARGET_MB, 2)} × the ${TARGET_MB} MB target. The four kinds the issue's 1.8 GB counted (esbuild, sls offline, the launcher, the databases) take ${fmt(issueKinds)} MB of it. An edited handler is served ${fmt(median(reloads))} ms after the edit (median of ${RELOADS}).`,
  );
  return { rows, notes };
}
