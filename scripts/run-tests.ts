import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `npm test` after the bootstrap: type check, then unit → integration → end-to-end → deploy, each its own Jest
 * run (so each starts only the services it needs), stopping at the first failing phase. Ends with one
 * "N passed, N failed" line over all phases.
 */
const phases = ['unit', 'integration', 'e2e', 'deploy'];
const jest = path.resolve(__dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
const resultsDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-results-'));
let passed = 0;
let failed = 0;
let exitCode = 0;

const typecheck = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '--noEmit'], { stdio: 'inherit' });
if (typecheck.status !== 0) {
  console.error('type check failed');
  process.exit(1);
}

for (const phase of phases) {
  const only = process.argv.slice(2);
  if (only.length > 0 && !only.includes(phase)) continue;
  console.log(`\n=== ${phase} tests ===`);
  const outputFile = path.join(resultsDir, `${phase}.json`);
  const run = spawnSync(process.execPath, [jest, '--selectProjects', phase, '--json', '--outputFile', outputFile], { stdio: 'inherit' });
  try {
    const results = JSON.parse(readFileSync(outputFile, 'utf8')) as { numPassedTests: number; numFailedTests: number; numTotalTests: number };
    passed += results.numPassedTests;
    failed += results.numFailedTests;
    if (results.numTotalTests === 0) {
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

console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(exitCode || (failed > 0 ? 1 : 0));
