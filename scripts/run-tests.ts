import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `npm test` after the bootstrap: type check, then unit → integration → cluster → end-to-end → web → fuzz → deploy, each its
 * own process (so each starts only the services it needs), stopping at the first failing phase. Ends with
 * one "N passed, N failed" line over all phases. The fuzz phase is the bounded schemathesis run
 * (scripts/fuzz.ts, docs/fuzzing.md); it counts one test per operation and role, and one per role for
 * the stateful phase's call sequences when they fail.
 */
const phases = ['unit', 'integration', 'cluster', 'e2e', 'web', 'fuzz', 'deploy'];
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

/** Runs one phase in its own process; `outputFile` is where it writes its pass and fail counts. */
function runPhase(phase: string) {
  if (phase === 'fuzz') {
    const fuzzResults = path.join(resultsDir, 'fuzz');
    const run = spawnSync(process.execPath, [tsx, path.join(__dirname, 'fuzz.ts'), '--max-examples', BOUNDED_FUZZ_EXAMPLES, '--seed', BOUNDED_FUZZ_SEED, '--results', fuzzResults, '--quiet'], { stdio: 'inherit' });
    return { run, outputFile: path.join(fuzzResults, 'summary.json') };
  }
  const outputFile = path.join(resultsDir, `${phase}.json`);
  const run = spawnSync(process.execPath, [jest, '--selectProjects', phase, '--json', '--outputFile', outputFile], { stdio: 'inherit' });
  return { run, outputFile };
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

const timings: string[] = [];
for (const phase of phases) {
  const only = process.argv.slice(2);
  if (only.length > 0 && !only.includes(phase)) continue;
  console.log(`\n=== ${phase} tests ===`);
  const started = Date.now();
  const { run, outputFile } = runPhase(phase);
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
  if (run.status !== 0) {
    exitCode = run.status ?? 1;
    break;
  }
}

console.log(`\nphases: ${timings.join(', ')}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(exitCode || (failed > 0 ? 1 : 0));
