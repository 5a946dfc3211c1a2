import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HTTP_SECONDS, say } from './measure';
import { printReport, writeReport, type Section } from './report';
import { interrupted, startBenchStack, stopOnInterrupt } from './lifecycle';

/**
 * `npm run bench`: the hot paths against real local services, each next to a baseline measured in
 * the same run, written to docs/benchmarks.md. Numbers are for this machine; the ratios are what
 * carries over. BENCH_HTTP_SECONDS (20) sets the length of each HTTP run. `npm run bench -- migration e2e`
 * runs only the named sections (holds, contention, cold-start, migration, e2e, cluster, realtime, web, localstack, realtime-localstack, checkout, notifications) and prints their rows and findings.
 * One file per section (bench/<section>.ts), the measuring tools in bench/measure.ts, the report in
 * bench/report.ts; Ctrl-C stops whatever the run started (bench/lifecycle.ts).
 */

async function main() {
  stopOnInterrupt(say);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-bench-'));
  const stack = await startBenchStack({ dataDir, env: { AWS_REGION: 'us-east-1' }, stage: 'bench' });
  Object.assign(process.env, stack.env, {
    STAGE: 'bench',
    JWT_KEYS: `bench-1:${randomBytes(32).toString('base64url')}`,
    PUBLIC_API_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: 'error',
    HOLD_TTL_SECONDS: '600',
    // In process, thousands of operations share one Powertools Metrics buffer that prints every 100
    // values; a Lambda prints once per invocation, which the sls offline rows include.
    POWERTOOLS_METRICS_DISABLED: 'true',
    // The load comes from one address and a few users: the per-caller limits would measure themselves.
    RATE_LIMIT_AUTH_PER_MINUTE: '1000000000',
    RATE_LIMIT_PUBLIC_PER_MINUTE: '1000000000',
    RATE_LIMIT_USER_PER_MINUTE: '1000000000',
  });
  // Each section is imported when it runs: main() sets the environment first, and some modules read it
  // at load (the logger its level, the authorizer its keys).
  const sections: Record<string, () => Promise<Section>> = {
    holds: async () => (await import('./holds')).holdHotPath(),
    contention: async () => (await import('./contention')).contention(),
    'cold-start': async () => (await import('./cold-start')).coldStart(),
    migration: async () => (await import('./migration')).migration(stack.services.find((service) => service.name === 'dynamodb')?.pid),
    e2e: async () => (await import('./e2e')).endToEnd(stack.env),
    cluster: async () => (await import('./cluster')).clusterVsSingle(dataDir, stack),
    realtime: async () => (await import('./realtime')).realtime(stack),
    web: async () => (await import('./web')).webApp(stack),
    localstack: async () => (await import('./localstack')).localstackVsOffline(stack),
    'realtime-localstack': async () => (await import('./realtime-localstack')).realtimeLocalstack(stack),
    memory: async () => (await import('./memory')).memory(),
    checkout: async () => {
      const { rows, notes } = await (await import('./checkout')).checkoutBench(stack, HTTP_SECONDS, say);
      return { rows: rows.map((cells) => cells.map(String)), notes };
    },
    notifications: async () => (await import('./notifications')).notificationsBench(stack),
  };
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !(name in sections));
  if (unknown.length > 0) throw new Error(`no benchmark ${unknown.join(', ')}; pick from ${Object.keys(sections).join(', ')}`);
  const report: Required<Section> = { rows: [], notes: [], lighthouseRows: [] };
  try {
    for (const [name, run] of Object.entries(sections)) {
      if (only.length > 0 && !only.includes(name)) continue;
      const found = await run();
      report.rows.push(...found.rows);
      report.notes.push(...found.notes);
      report.lighthouseRows.push(...(found.lighthouseRows ?? []));
    }
  } finally {
    await stack.stop();
  }
  // A partial run prints its rows; only a full run rewrites docs/benchmarks.md.
  if (only.length > 0) printReport(report);
  else writeReport(report);
  process.exit(0);
}

main().catch((error) => {
  // Interrupted: the signal's handler is stopping what the run started, and exits.
  if (interrupted.aborted) return;
  console.error(error);
  process.exit(1);
});
