/** Small measuring tools for the benchmarks: timed loops at a concurrency, percentiles, medians. */

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
