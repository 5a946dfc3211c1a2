import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, type Stack } from '../scripts/stack';
import { cpuSeconds, fmt, percentile, say } from './measure';
import { section, type Section } from './report';
import { startBenchLocalstack, startBenchOffline } from './lifecycle';
import { apiCaller, broadcastMetrics, caughtUp, changeToWatcher, holdScheduler, liveFlight, openWatchers, seatsArrivals, seatsNow, type LiveWatcher } from './realtime';

/**
 * 12. Live seat maps on LocalStack (issue 26): the change-to-watcher latency of section 7 (bench/realtime.ts)
 * through the WebSocket API that our LocalStack plugin serves (`npm run localstack`), beside the same
 * measurement through sls offline, in one run. For each: an admin's flight of 1,000 seats, 100 watchers
 * subscribed to it, then holds at a fixed pace both can sustain (LocalStack runs every function as a
 * local Node process, each warm call ≈ 20–30 ms through its Lambda service), each released 2.5 s later;
 * for every (hold, watcher) pair the time from the hold's 201 to the watcher folding the seat as held.
 * The two run one after the other (never at once), with the same pace, watchers and procedure.
 */

const SECTION = '12. live seat maps on LocalStack';
const WATCHERS = 100;
/**
 * The pace, the same for both (and section 7's baseline's): what LocalStack sustains with 100 watchers.
 * At 10 and 15 holds/s it fell behind (8 and 10 achieved, holds answered p50 0.4 and 0.8 s): while the
 * broadcaster posts, every request through LocalStack waits (see the findings).
 */
const HOLDS_PER_SECOND = 5;
const WARMUP_SECONDS = 3;
const SECONDS = 20;
/** Loops sending the holds: enough that slow answers (seconds, through LocalStack) do not hold up the schedule. */
const LOOPS = 16;
/** Each hold is released this long after its answer (as in section 7): well after its watchers saw it held. */
const HOLD_MS = 2_500;
/** Registrations, tickets, connections and subscriptions this many at a time: each concurrent call is one more execution environment (a Node process) in LocalStack. */
const AT_ONCE = 5;
/**
 * The watchers close one at a time, this far apart (after the first, a second, so that its $disconnect
 * function is warm): each close is an invocation of that function, and 100 at once made LocalStack
 * start a Node process for almost every one of them (178 in one run: minutes of a loaded machine).
 */
const CLOSE_GAP_MS = 50;

interface Target {
  label: string;
  apiUrl: string;
  admin: { email: string; password: string };
  /** The processes serving it (for their CPU time), the main one first: LocalStack (Python) then its function processes, or sls offline. */
  pids: () => number[];
  /** The broadcaster's metric lines so far. */
  broadcasterLog: () => string;
  /** The execution environments started so far, by function (LocalStack only). */
  environments?: () => Map<string, number>;
}

/** pid → parent pid, for every process now. */
function parents(): Map<number, number> {
  const found = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      found.set(Number(entry), Number(stat.split(') ')[1]!.split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** `root` and all its descendants now. */
function processTree(root: number | undefined): number[] {
  if (root === undefined) return [];
  const ppids = parents();
  const tree = [root];
  for (let i = 0; i < tree.length; i += 1) for (const [pid, ppid] of ppids) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  return tree;
}

/** LocalStack's own process (Python: its gateway, the WebSocket server, the Lambda service), found by its TMPDIR in the deployment's work directory. */
function localstackPid(workDir: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('localstack.runtime.main')) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`TMPDIR=${path.join(workDir, 'tmp')}`)) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/** Out of order, per watcher, among the versions of the `seats` messages it got (in arrival order): a version at or below one it already had, and of those a version it already had (a message sent twice). */
function disorder(versions: number[]) {
  const seen = new Set<number>();
  let newest = -Infinity;
  let outOfOrder = 0;
  let repeated = 0;
  for (const version of versions) {
    if (version <= newest) outOfOrder += 1;
    if (seen.has(version)) repeated += 1;
    seen.add(version);
    newest = Math.max(newest, version);
  }
  return { outOfOrder, repeated };
}

const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const p = (values: number[], at: number, digits = 1) => fmt(percentile(values, at), digits);

/** One target's run: its flight, 100 watchers, a warm-up and the measured holds; what the watchers saw. */
async function measure(target: Target) {
  const watchers: LiveWatcher[] = [];
  let pending: Promise<void>[] = [];
  const call = apiCaller(target.apiUrl);
  const environmentsBefore = target.environments?.();
  try {
    const flight = await liveFlight(call, target.admin, { seatsToHold: Math.round((WARMUP_SECONDS + SECONDS) * HOLDS_PER_SECOND), registerAtOnce: AT_ONCE });
    const ticket = await call('POST', '/realtime/tickets');
    const { arrivals, onSeats } = seatsArrivals();
    const opening = performance.now();
    await openWatchers(watchers, target.apiUrl, WATCHERS, flight.flightId, onSeats, { connectAtOnce: AT_ONCE, subscribeAtOnce: AT_ONCE });
    const openSeconds = (performance.now() - opening) / 1000;
    const environmentsOpen = target.environments?.();
    const scheduler = holdScheduler({ base: target.apiUrl, flight, loops: LOOPS, holdMs: HOLD_MS });
    pending = scheduler.pending;

    await scheduler.phase(WARMUP_SECONDS, HOLDS_PER_SECOND);
    await caughtUp(watchers, (await seatsNow(call, flight.flightId)).version);
    // The warm-up's last broadcaster ends (and writes its metric line) before the measured run.
    await sleep(1_000);
    const fromVersion = (await seatsNow(call, flight.flightId)).version;
    const loadBefore = loadavg()[0]!;
    const pids = target.pids();
    const before = { served: cpuOf(pids), main: cpuOf(pids.slice(0, 1)), bench: process.cpuUsage(), at: performance.now() };
    const runStartedAt = Date.now();
    const run = await scheduler.phase(SECONDS, HOLDS_PER_SECOND);
    const final = await seatsNow(call, flight.flightId);
    /** The watchers not caught up with the final version within 30 s (they lost a connection or a change for good). */
    let behind = '';
    await caughtUp(watchers, final.version).catch((error: Error) => (behind = error.message));
    const seconds = (performance.now() - before.at) / 1000;
    const cores = {
      // the processes serving it now, including function processes started during the run
      served: (cpuOf([...new Set([...pids, ...target.pids()])]) - before.served) / seconds,
      main: (cpuOf(pids.slice(0, 1)) - before.main) / seconds,
      bench: ((usage) => (usage.user + usage.system) / 1e6 / seconds)(process.cpuUsage(before.bench)),
    };
    const loadAfter = loadavg()[0]!;
    const environmentsRun = target.environments?.();
    await sleep(1_000);

    const latency = changeToWatcher(run.holds, watchers);
    const inRun = (version: number) => version > fromVersion && version <= final.version;
    const spreads = sorted([...arrivals].filter(([version]) => inRun(version)).map(([, a]) => a.last - a.first));
    const changes = final.version - fromVersion;
    const messages = watchers.reduce((sum, w) => sum + w.versions.filter(inRun).length, 0) / watchers.length;
    const actual = new Map(final.seats.map((seat) => [seat.id, seat.status]));
    const inRunDisorder = watchers.map((w) => disorder(w.versions.filter(inRun)));
    const allDisorder = watchers.map((w) => disorder(w.versions));
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const errorCodes = new Map<string, number>();
    for (const code of watchers.flatMap((w) => w.errors)) errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
    return {
      latency,
      run,
      holdMs: sorted(run.holdMs),
      lagMs: sorted(run.lagMs),
      spreads,
      changes,
      messages,
      broadcasts: broadcastMetrics(target.broadcasterLog(), runStartedAt),
      gaps: watchers.reduce((sum, w) => sum + w.gaps, 0),
      outOfOrder: watchers.reduce((sum, w) => sum + w.outOfOrder, 0),
      /** Out of order in the measured run only; messages received twice (a post retried), in the run and in all. */
      outOfOrderInRun: sum(inRunDisorder.map((d) => d.outOfOrder)),
      repeatedInRun: sum(inRunDisorder.map((d) => d.repeated)),
      repeated: sum(allDisorder.map((d) => d.repeated)),
      folded: watchers.filter((w) => w.seats.size === actual.size && [...actual].every(([id, status]) => w.seats.get(id) === status)).length,
      closed: watchers.filter((w) => w.closeCode !== undefined).map((w) => w.closeCode!),
      errorCodes: [...errorCodes].map(([code, n]) => `${n} × ${code}`).join(', '),
      behind,
      ticketUrl: String(ticket.body?.url ?? `none (POST /realtime/tickets answered ${ticket.status})`),
      openSeconds,
      /** Execution environments LocalStack started for the setup (the flight, its travellers, the watchers' tickets, connections and subscriptions), then for the warm-up and the run. */
      environments: { open: started(environmentsBefore, environmentsOpen), run: started(environmentsOpen, environmentsRun) },
      cores,
      load: [loadBefore, loadAfter],
    };
  } finally {
    for (const [i, watcher] of watchers.entries()) {
      await watcher.close();
      await sleep(i === 0 ? 1_000 : CLOSE_GAP_MS);
    }
    await Promise.allSettled(pending.splice(0));
  }
}

/** The environments each function got between two counts, most first: `name n, …`. */
function started(before: Map<string, number> | undefined, after: Map<string, number> | undefined): string {
  if (!before || !after) return '';
  return [...after]
    .map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
}

type Measured = Awaited<ReturnType<typeof measure>>;

export async function realtimeLocalstack(stack: Stack): Promise<Section> {
  const { rows, notes, row } = section();
  say(`live seat maps on LocalStack vs sls offline (${WATCHERS} WebSocket watchers of one flight each, holds at ${HOLDS_PER_SECOND}/s through each: ${WARMUP_SECONDS} s warm-up + ${SECONDS} s)`);
  const { seedAdmin } = await import('../scripts/seed-admin');
  const localstackAdmin = { email: `bench-admin-${randomBytes(4).toString('hex')}@example.com`, password: randomBytes(12).toString('base64url') };
  const offlineAdmin = { email: `bench-admin-${randomBytes(4).toString('hex')}@example.com`, password: randomBytes(12).toString('base64url') };
  const localstack = await startBenchLocalstack({ log: (line) => say(`  localstack: ${line}`), admin: localstackAdmin });
  let offline: Awaited<ReturnType<typeof startBenchOffline>> | undefined;
  try {
    const port = await freePort();
    const logFile = path.join(tmpdir(), `bench-offline-realtime-localstack-${port}.log`);
    // Metrics on, as section 7: the broadcaster's LiveBroadcasts / LiveMessagesSent lines (LocalStack's functions print them too).
    offline = await startBenchOffline({ port, lambdaPort: await freePort(), stage: 'bench', env: { ...process.env, ...stack.env, PUBLIC_API_URL: `http://127.0.0.1:${port}`, POWERTOOLS_METRICS_DISABLED: 'false' }, logFile, quiet: true });
    await seedAdmin({ ADMIN_EMAIL: offlineAdmin.email, ADMIN_PASSWORD: offlineAdmin.password });
    const offlinePid = offline.child.pid;
    const lambdaLogs = path.join(localstack.workDir, 'lambda');
    /** One log per execution environment (localstack/plugin: node_executor.py): `flight-booking-local-<function>-<id>.log`. */
    const environmentLogs = () => (existsSync(lambdaLogs) ? readdirSync(lambdaLogs).filter((name) => name.endsWith('.log')) : []);
    // sls offline first: the LocalStack run's processes (the watchers' $disconnect above all) would load the machine under it.
    const targets: Target[] = [
      { label: 'sls offline', apiUrl: offline.url, admin: offlineAdmin, pids: () => processTree(offlinePid), broadcasterLog: () => readFileSync(logFile, 'utf8') },
      {
        label: 'LocalStack',
        apiUrl: localstack.apiUrl,
        admin: localstackAdmin,
        pids: () => processTree(localstackPid(localstack.workDir)),
        broadcasterLog: () =>
          environmentLogs()
            .filter((name) => name.includes('-liveBroadcaster-'))
            .map((name) => readFileSync(path.join(lambdaLogs, name), 'utf8'))
            .join('\n'),
        environments: () => {
          const counts = new Map<string, number>();
          for (const name of environmentLogs()) {
            const fn = name.replace(/^flight-booking-local-/, '').replace(/-[0-9a-f]+\.log$/, '');
            counts.set(fn, (counts.get(fn) ?? 0) + 1);
          }
          return counts;
        },
      },
    ];
    const found = new Map<string, Measured | Error>();
    for (const target of targets) {
      say(`  ${target.label}: ${WATCHERS} watchers, then holds…`);
      found.set(target.label, await measure(target).catch((error: Error) => error));
    }

    const offlineRun = found.get('sls offline');
    const disordered = (result: Measured) =>
      `${result.outOfOrder} out of order${result.outOfOrder ? ` (${result.repeated} of them a message received twice; ${result.outOfOrderInRun} in the measured run, ${result.repeatedInRun} twice)` : ''}`;
    // LocalStack's row first, then its baseline (as in section 10).
    for (const target of [...targets].reverse()) {
      const result = found.get(target.label)!;
      if (result instanceof Error) {
        row(SECTION, `a hold's change reaching each of ${WATCHERS} WebSocket watchers via ${target.label}`, '', '', '', 'failed', result.message.split('\n')[0]!.slice(0, 300));
        notes.push(`Live seat maps via ${target.label} failed: ${result.message}`);
        continue;
      }
      const { latency, run } = result;
      const versus =
        target.label === 'sls offline'
          ? 'baseline'
          : offlineRun instanceof Error || !offlineRun
            ? 'no sls offline baseline'
            : `${fmt(percentile(latency.fromAnswer, 50) / percentile(offlineRun.latency.fromAnswer, 50), 1)} × sls offline at p50, ${fmt(percentile(latency.fromAnswer, 99) / percentile(offlineRun.latency.fromAnswer, 99), 1)} × at p99`;
      const holdErrors = run.holdErrors + run.releaseErrors;
      row(
        SECTION,
        `a hold's change reaching each of ${WATCHERS} WebSocket watchers, from the hold's 201, at ${fmt(run.holdsPerSecond)} holds/s via ${target.label} (${fmt(run.holds.length)} holds × ${WATCHERS} watchers)`,
        fmt(latency.fromAnswer.length / SECONDS),
        p(latency.fromAnswer, 50),
        p(latency.fromAnswer, 99),
        latency.missed + result.gaps + result.outOfOrder,
        `${versus}; from the request's start p50 ${p(latency.fromRequest, 50)} / p99 ${p(latency.fromRequest, 99)} ms; to the first watcher p50 ${p(latency.firstWatcher, 50)} / p99 ${p(latency.firstWatcher, 99)} ms; ` +
          `${fmt(latency.missed)} (hold, watcher) pairs missed, ${result.gaps} gaps, ${disordered(result)}; ${result.folded}/${WATCHERS} folded maps equal GET /flights/{id}/seats; ` +
          `holds answered p50 ${p(result.holdMs, 50)} / p99 ${p(result.holdMs, 99)} ms${holdErrors ? `, ${holdErrors} failed (${[...run.statuses].map(([what, n]) => `${n} × ${what}`).join(', ')})` : ''}; load ${fmt(result.load[0]!, 2)}–${fmt(result.load[1]!, 2)}`,
      );
    }
    for (const target of targets) {
      const result = found.get(target.label)!;
      if (result instanceof Error) continue;
      const { broadcasts, run } = result;
      const invoked =
        broadcasts.invocations === 0
          ? 'no LiveBroadcasts metric line in its log'
          : `${fmt(broadcasts.invocations)} broadcaster invocation${broadcasts.invocations === 1 ? '' : 's'}, ${fmt(broadcasts.sent)} messages sent (LiveMessagesSent)`;
      notes.push(
        `Live seat maps via ${target.label} (section 12; ${WATCHERS} watchers, ${fmt(run.holdsPerSecond)} holds/s and ${fmt(run.releasesPerSecond)} releases/s for ${SECONDS} s): a hold's change reached the watchers p50 ${p(result.latency.fromAnswer, 50)} / p99 ${p(result.latency.fromAnswer, 99)} ms after its 201 ` +
          `(to the first watcher p50 ${p(result.latency.firstWatcher, 50)} / p99 ${p(result.latency.firstWatcher, 99)} ms; a broadcast's first to last watcher p50 ${p(result.spreads, 50)} / p99 ${p(result.spreads, 99)} ms); ` +
          `${fmt(result.changes)} changes → ${fmt(result.messages, 1)} \`seats\` messages per watcher from ${invoked}; ` +
          `${fmt(result.latency.missed)} pairs missed, ${result.gaps} gaps, ${disordered(result)}, ${result.folded}/${WATCHERS} folded maps equal the seat map${result.behind ? ` (${result.behind})` : ''}; ` +
          `${result.closed.length} connections closed early${result.closed.length ? ` (codes ${[...new Set(result.closed)].join(', ')})` : ''}${result.errorCodes ? `, error messages: ${result.errorCodes}` : ''}; ` +
          `${WATCHERS} watchers connected and subscribed (${AT_ONCE} at a time) in ${fmt(result.openSeconds, 1)} s; the ticket's URL ${result.ticketUrl}; ` +
          (result.environments.open || result.environments.run
            ? `execution environments (Node processes) LocalStack started for the setup (the flight, its travellers, the watchers): ${result.environments.open || 'none'}; for the warm-up and the run: ${result.environments.run || 'none'}; `
            : '') +
          `holds sent behind schedule p50 ${p(result.lagMs, 50)} / p99 ${p(result.lagMs, 99)} ms; ` +
          `CPU during the run: ${target.label === 'LocalStack' ? `LocalStack ${fmt(result.cores.served * 100)} % of a core (its Python process ${fmt(result.cores.main * 100)} %, its function processes ${fmt((result.cores.served - result.cores.main) * 100)} %)` : `sls offline (every function in it) ${fmt(result.cores.served * 100)} % of a core`}, this process (the holds and the watchers) ${fmt(result.cores.bench * 100)} %; load average ${fmt(result.load[0]!, 2)} before, ${fmt(result.load[1]!, 2)} after.`,
      );
    }
    say(`LocalStack's logs: ${localstack.workDir}; sls offline's: ${logFile}`);
  } finally {
    await offline?.stop();
    await localstack.stop();
  }
  return { rows, notes };
}
