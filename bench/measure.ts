import { existsSync, readFileSync } from 'node:fs';

/**
 * Small measuring tools for the benchmarks: timed loops at a concurrency, percentiles, medians, a
 * process's CPU time, the table cells of a load result, and the run's settings and progress lines.
 */

/** BENCH_HTTP_SECONDS (20): the length of each HTTP run. */
export const HTTP_SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 20);

export const say = (line: string) => console.log(`[bench] ${line}`);

export interface LoadResult {
  ops: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

/** Runs `op` from `concurrency` loops for `durationMs`; counts, times each call, and counts throws. */
export async function load(concurrency: number, durationMs: number, op: (worker: number, i: number) => Promise<unknown>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i += 1) {
        const t = performance.now();
        try {
          await op(worker, i);
        } catch {
          errors += 1;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, opsPerSecond: latencies.length / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors };
}

/** Warm up once, then `repeats` runs; the run with the median throughput is reported. */
export async function repeated(repeats: number, warmupMs: number, run: (durationMs: number) => Promise<LoadResult>, durationMs: number): Promise<LoadResult> {
  await run(warmupMs);
  const results: LoadResult[] = [];
  for (let i = 0; i < repeats; i += 1) results.push(await run(durationMs));
  results.sort((a, b) => a.opsPerSecond - b.opsPerSecond);
  return results[Math.floor(results.length / 2)]!;
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** ops/s, p50, p99 and errors: the cells of a load result in the report's table. */
export const loadCells = (r: LoadResult) => [fmt(r.opsPerSecond), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), r.errors];

/** CPU seconds a process has used so far (user + system), from /proc; undefined where there is none. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return undefined;
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
