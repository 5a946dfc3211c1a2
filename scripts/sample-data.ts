import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The sample schedule (scripts/sample-schedule.ts) that `npm start` puts into an empty local database,
 * so that a first visit has something to search and book. Flights are created by the flights service's
 * own code (FlightService over its DynamoDB store, the seats service provisioning the seat maps in
 * Redis), exactly as an admin's POST /flights would.
 *
 * It lives in scripts/, beside the launcher that runs it, because it is development tooling: no
 * deployed function imports it, and the launcher runs it only on its own databases (never a deployed
 * stage). `SAMPLE_DATA=false npm start` leaves it out; the tests' stacks never run it.
 */

/**
 * For `npm start`: seeds in a child process, beside sls offline's start, so that its database clients
 * and modules leave with it rather than staying in the launcher for the whole session. Nothing when
 * SAMPLE_DATA is `false`. A failed seeding is reported, not fatal: the system runs without it.
 */
export function startSampleData(env: NodeJS.ProcessEnv, log: (line: string) => void): { done: Promise<void>; stop(): void } | undefined {
  const setting = env.SAMPLE_DATA ?? 'true';
  if (setting !== 'true' && setting !== 'false') throw new Error(`SAMPLE_DATA is "${setting}"; it must be true or false`);
  if (setting === 'false') return undefined;
  const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, 'sample-seeder.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk));
  createInterface({ input: child.stdout! }).on('line', (line) => log(`sample data: ${line}`));
  const done = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      if (code || signal) log(`sample data: not seeded (${signal ?? `exit ${code}`}) ${errors.trim()}`.trim());
      resolve();
    }),
  );
  return { done, stop: () => void child.kill('SIGTERM') };
}
