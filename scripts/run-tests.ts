import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `npm test` after the bootstrap: type check, build the web app once, then the phases, each its own
 * process (so each starts only the services it needs), in two lanes that run side by side: unit →
 * integration → cluster → end-to-end → web, and fuzz → deploy (the longest two: the fuzz run, and the
 * stack on moto and on LocalStack with its live seat maps). Most phases wait on servers more than
 * they compute, so the two lanes share the two cores well: together about 3 minutes shorter than one
 * after the other, which keeps .ci/run under its 10 minutes. A lane stops at its first failing phase.
 * The first lane prints as it goes, the second into a file printed when it ends. Ends with each
 * phase's time and one "N passed, N failed" line over all phases. The fuzz phase is the bounded
 * schemathesis run (scripts/fuzz.ts, docs/fuzzing.md); it counts one test per operation and role, and
 * one per role for the stateful phase's call sequences when they fail.
 */
const lanes = [
  ['unit', 'integration', 'cluster', 'e2e', 'web'],
  ['fuzz', 'deploy'],
];
const jest = path.resolve(__dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
const tsx = require.resolve('tsx/cli');
// 15 examples per operation keep the three roles' runs near a minute on two cores (about 2,600 cases
// each; 25 made 15 % more cases for half as much time again, and .ci/run must stay under 10 minutes).
const BOUNDED_FUZZ_EXAMPLES = '15';
// The same cases on every run, so a red `npm test` means the code changed, not the dice;
// `npm run fuzz` draws new ones each time (and prints its seed to replay a finding).
const BOUNDED_FUZZ_SEED = '20261129';
const resultsDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-results-'));
let passed = 0;
let failed = 0;
let exitCode = 0;

/** Runs one phase in its own process, its output to this terminal or to a file; `outputFile` is where it writes its pass and fail counts. */
function runPhase(phase: string, output: 'inherit' | number): { exited: Promise<number | null>; outputFile: string } {
  const [args, outputFile] =
    phase === 'fuzz'
      ? [[tsx, path.join(__dirname, 'fuzz.ts'), '--max-examples', BOUNDED_FUZZ_EXAMPLES, '--seed', BOUNDED_FUZZ_SEED, '--results', path.join(resultsDir, 'fuzz'), '--quiet'], path.join(resultsDir, 'fuzz', 'summary.json')]
      : [[jest, '--selectProjects', phase, '--json', '--outputFile', path.join(resultsDir, `${phase}.json`)], path.join(resultsDir, `${phase}.json`)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', output, output] });
  return { exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), outputFile };
}

function counts(phase: string, outputFile: string): { passed: number; failed: number; total: number } {
  const results = JSON.parse(readFileSync(outputFile, 'utf8'));
  if (phase === 'fuzz') {
    const fuzz = results as { passed: number; failed: number };
    return { ...fuzz, total: fuzz.passed + fuzz.failed };
  }
  const jestResults = results as { numPassedTests: number; numFailedTests: number; numTotalTests: number };
  return { passed: jestResults.numPassedTests, failed: jestResults.numFailedTests, total: jestResults.numTotalTests };
}

// The backend, then the web app (its own tsconfig: DOM types, no Node).
const typecheck = [[], ['-p', 'web']]
  .map((project) => spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '--noEmit', ...project], { stdio: 'inherit' }))
  .find((run) => run.status !== 0) ?? { status: 0 };
if (typecheck.status !== 0) {
  console.error('type check failed');
  process.exit(1);
}

// Once, before the lanes: every sls process then finds web/dist current and leaves it alone.
require('./web-build').buildWeb();

const only = process.argv.slice(2);
const timings: string[] = [];

async function runLane(phases: string[], output: 'inherit' | number): Promise<void> {
  for (const phase of phases) {
    if (only.length > 0 && !only.includes(phase)) continue;
    if (output === 'inherit') console.log(`\n=== ${phase} tests ===`);
    else writeSync(output, `\n=== ${phase} tests ===\n`);
    const started = Date.now();
    const { exited, outputFile } = runPhase(phase, output);
    const status = await exited;
    // each phase's time, for keeping the whole run (.ci/run) under its 10 minutes
    timings.push(`${phase} ${Math.round((Date.now() - started) / 1000)} s`);
    try {
      const results = counts(phase, outputFile);
      passed += results.passed;
      failed += results.failed;
      if (results.total === 0) {
        console.error(`the ${phase} phase ran no test`);
        exitCode = 1;
      }
    } catch {
      failed += 1;
    }
    if (status !== 0) {
      exitCode = status ?? 1;
      return;
    }
  }
}

async function main(): Promise<void> {
  const secondLaneLog = path.join(resultsDir, 'second-lane.log');
  const fd = openSync(secondLaneLog, 'w');
  try {
    await Promise.all([runLane(lanes[0]!, 'inherit'), runLane(lanes[1]!, fd)]);
  } finally {
    closeSync(fd);
  }
  console.log(`\n=== ${lanes[1]!.join(', ')} tests (run beside the others) ===`);
  process.stdout.write(readFileSync(secondLaneLog, 'utf8'));
  console.log(`\nphases: ${timings.join(', ')}`);
  console.log(`tests: ${passed} passed, ${failed} failed`);
  process.exit(exitCode || (failed > 0 ? 1 : 0));
}

void main();
