import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../scripts/stack';
import { say } from './measure';

/** What a benchmark section found: rows of the main table, findings, and (the web app's) Lighthouse rows. */
export interface Section {
  rows: string[][];
  notes: string[];
  /** Lighthouse's scores of the web app's pages: absolute targets (issue 16), not ratios, so a table of their own. */
  lighthouseRows?: string[][];
}

/** A section's rows and findings as it collects them; `row` takes the cells of one table row. */
export function section() {
  const rows: string[][] = [];
  const notes: string[] = [];
  return { rows, notes, row: (...cells: (string | number)[]) => rows.push(cells.map(String)) };
}

/** A partial run prints its rows and findings instead of writing the report. */
export function printReport({ rows, notes, lighthouseRows = [] }: Section): void {
  console.log([...rows, ...lighthouseRows].map((cells) => cells.join(' | ')).concat(notes.map((note) => `- ${note}`)).join('\n'));
}

/** docs/benchmarks.md from a full run's sections. */
export function writeReport({ rows, notes, lighthouseRows = [] }: Section): void {
  const redisVersion = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ')[2];
  const table = [
    '| benchmark | case | ops/s | p50 ms | p99 ms | errors | vs baseline |',
    '|---|---|---:|---:|---:|---:|---|',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
  const text = `# Benchmarks

Made by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, redis-server ${redisVersion}, FerretDB and dynalite as started by the launcher. Every benchmark runs against the real local services, warms up, repeats (the run with the median throughput is shown; p50/p99 are per operation), and is compared with a baseline measured in the same run. Absolute numbers are this shared 2-core machine's; the ratios are what carries over.

${table}
${
  lighthouseRows.length === 0
    ? ''
    : `
## Web app (Lighthouse)

The search page (with results) and a flight's live seat map (176 seats, some held and booked), first visits, median of three runs; Lighthouse's desktop preset and its mobile one (slow 4G, 4× CPU slowdown), both with simulated throttling (bench/lighthouse.ts). Targets: performance ≥ 90, accessibility ≥ 95, best practices ≥ 90.

| page | preset | performance | accessibility | best practices | FCP ms | LCP ms | TBT ms | targets |
|---|---|---:|---:|---:|---:|---:|---:|---|
${lighthouseRows.map((cells) => `| ${cells.join(' | ')} |`).join('\n')}
`
}
## Findings

${notes.map((n) => `- ${n}`).join('\n')}
`;
  writeFileSync(path.join(PROJECT_ROOT, 'docs', 'benchmarks.md'), text);
  say('wrote docs/benchmarks.md');
}
