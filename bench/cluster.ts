import { type Stack } from '../scripts/stack';
import { fmt, load, repeated, say, loadCells, cpuSeconds, type LoadResult } from './measure';
import { section, type Section } from './report';
import { seatModules, freshSeats } from './fixtures';
import { startBenchStack } from './lifecycle';

/* ---------- 6. Redis Cluster vs the single server: holds, and confirms with and without WAIT ---------- */
export async function clusterVsSingle(dataDir: string, stack: Stack): Promise<Section> {
  const { rows, notes, row } = section();
  say('Redis Cluster (3 primaries + 3 replicas) vs the single server, concurrency 64');
  const { redis, closeRedis, RedisSeatStore } = await seatModules();
  const { payingSeatService, book } = await import('../tests/support/checkout');
  const { resetConfigCache } = await import('../lib/config');
  /** Holds, and confirms, through the domain functions on the store the environment names now (as in section 1). */
  const on = async (pids: number[]) => {
    const client = redis();
    const seats = payingSeatService(new RedisSeatStore(client), 600_000);
    const { provision, nextSeat } = await freshSeats(client, seats);
    const hold = async () => {
      const { flightId, seat, caller } = nextSeat();
      return { caller, hold: await seats.hold(caller, flightId, [seat]) };
    };
    /** The median of repeated runs, and the cores the Redis servers (`pids`) and this process kept busy in the timed loads. */
    const measure = async (prepare: (ms: number) => Promise<(worker: number, i: number) => Promise<unknown>>) => {
      const redisCpu = () => pids.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
      const cpu = { redis: 0, bench: 0, seconds: 0 };
      const result = await repeated(3, 500, async (ms) => {
        const op = await prepare(ms);
        const [redisBefore, benchBefore, started] = [redisCpu(), process.cpuUsage(), performance.now()];
        const run = await load(64, ms, op);
        const bench = process.cpuUsage(benchBefore);
        cpu.redis += redisCpu() - redisBefore;
        cpu.bench += (bench.user + bench.system) / 1e6;
        cpu.seconds += (performance.now() - started) / 1000;
        return run;
      }, 2_000);
      return { result, redis: cpu.redis / cpu.seconds, bench: cpu.bench / cpu.seconds };
    };
    return {
      holds: () => measure(async () => {
        await provision(120);
        return hold;
      }),
      // Each run confirms holds made just before it by 64 loops in the same time: a confirm makes more
      // round trips than a hold (its script, then the traveller's booking list, and ROLE + WAIT), so they last.
      confirms: () => measure(async (ms) => {
        await provision(120);
        const made: Awaited<ReturnType<typeof hold>>[] = [];
        await load(64, ms, async () => made.push(await hold()));
        return () => {
          const next = made.pop();
          if (!next) throw new Error('out of holds');
          return book(seats, next.caller, next.hold);
        };
      }),
    };
  };

  const onSingle = await on(stack.redisNodes().map((node) => node.pid));
  const single = { holds: await onSingle.holds(), confirms: await onSingle.confirms() };
  const cluster = await startBenchStack({ dataDir, env: stack.env, stage: 'bench', redisTopology: 'cluster', redlockServers: false });
  try {
    process.env.REDIS_CLUSTER_NODES = cluster.env.REDIS_CLUSTER_NODES;
    resetConfigCache();
    const onCluster = await on(cluster.redisNodes().map((node) => node.pid));
    const holds = await onCluster.holds();
    const waited = await onCluster.confirms();
    process.env.REDIS_MIN_REPLICA_ACKS = '0';
    resetConfigCache();
    const unwaited = await onCluster.confirms();

    const holdRatio = holds.result.opsPerSecond / single.holds.result.opsPerSecond;
    const waitRatio = waited.result.opsPerSecond / unwaited.result.opsPerSecond;
    const target = `target ≥ 0.8: ${holdRatio >= 0.8 ? 'met' : 'missed'}`;
    const vsSingle = (r: LoadResult) => `${fmt(r.opsPerSecond / single.confirms.result.opsPerSecond, 2)} × single`;
    const added = `+${fmt(waited.result.p50Ms - unwaited.result.p50Ms, 2)} ms p50, +${fmt(waited.result.p99Ms - unwaited.result.p99Ms, 2)} ms p99`;
    row('6. Redis Cluster', 'hold domain function, single redis-server, concurrency 64', ...loadCells(single.holds.result), 'baseline');
    row('6. Redis Cluster', 'hold domain function, cluster of 3 primaries + 3 replicas, concurrency 64', ...loadCells(holds.result), `${fmt(holdRatio, 2)} × single (${target})`);
    row('6. Redis Cluster', 'confirm of a hold, single redis-server (no WAIT), concurrency 64', ...loadCells(single.confirms.result), 'baseline');
    row('6. Redis Cluster', 'confirm of a hold, cluster, REDIS_MIN_REPLICA_ACKS=0 (no WAIT), concurrency 64', ...loadCells(unwaited.result), vsSingle(unwaited.result));
    row('6. Redis Cluster', 'confirm of a hold, cluster, REDIS_MIN_REPLICA_ACKS default 1 (ROLE + WAIT 1), concurrency 64', ...loadCells(waited.result), `${vsSingle(waited.result)}; ${fmt(waitRatio, 2)} × no WAIT, ${added}`);
    const microseconds = (cores: number, r: LoadResult) => fmt((cores / r.opsPerSecond) * 1e6);
    notes.push(
      `Redis Cluster, holds at concurrency 64: ${fmt(holdRatio, 2)} of the single server's rate (target ≥ 0.8): ${holdRatio >= 0.8 ? 'met' : 'missed'}. ` +
        `The six nodes share this machine's 2 cores and one disk with the bench: per hold, Redis used ${microseconds(holds.redis, holds.result)} µs of CPU on the cluster against ${microseconds(single.holds.redis, single.holds.result)} µs on the single server (the replica applies and fsyncs every write again), and this process ${microseconds(holds.bench, holds.result)} µs against ${microseconds(single.holds.bench, single.holds.result)} µs (the cluster client routes each command by its slot); ` +
        `${fmt(holds.redis + holds.bench, 1)} of the 2 cores were busy (single: ${fmt(single.holds.redis + single.holds.bench, 1)}), so both wait mostly on the append-only file's fsync, as in section 1. On machines of their own the three primaries would add capacity; here they split the same cores and disk, so the ratio is a floor.`,
      `The cost of WAIT on a confirm (cluster, concurrency 64): ${fmt(waitRatio, 2)} of the rate without it, ${added} (ROLE, then WAIT 1 on the key's primary: two more round trips, the second until the replica has the write); ` +
        `the cluster confirms at ${vsSingle(unwaited.result)} without WAIT and ${vsSingle(waited.result)} with it.`,
    );
  } finally {
    delete process.env.REDIS_CLUSTER_NODES;
    delete process.env.REDIS_MIN_REPLICA_ACKS;
    resetConfigCache();
    await closeRedis();
    await cluster.stop();
  }
  return { rows, notes };
}
