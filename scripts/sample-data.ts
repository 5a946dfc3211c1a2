import { spawn } from 'node:child_process';
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

const MARKER = { pk: 'SAMPLE#schedule' };
const CONCURRENCY = 8;

/**
 * Seeds the sample schedule into the flights table of the environment's databases when that table is
 * empty, and finishes a seeding that was cut short (a Ctrl-C during the first start): a marker item
 * says the seeding began, and flights already there (FLIGHT_EXISTS) are skipped. Answers a line for
 * the launcher to print.
 */
export async function seedSampleData({ now = new Date(), days }: { now?: Date; days?: number } = {}): Promise<string> {
  // Loaded here, not by the launcher that imports this file: they run in the child (startSampleData).
  const { DAYS, sampleSchedule } = await import('./sample-schedule');
  const { config } = await import('../lib/config');
  const { dynamo } = await import('../lib/clients/dynamo');
  const { redis } = await import('../lib/clients/redis');
  const { AppError } = await import('../lib/http/errors');
  const { FlightService } = await import('../functions/flights/service');
  const { DynamoFlightStore } = await import('../functions/flights/store');
  const { seatsInProcess } = await import('../functions/flights/seats-client');
  const { SeatService } = await import('../functions/seats/service');
  const { RedisSeatStore } = await import('../functions/seats/store');

  const table = config('dynamo').FLIGHTS_TABLE;
  const db = dynamo();
  const marker = (await db.get({ TableName: table, Key: MARKER, ConsistentRead: true })).Item;
  if (marker?.finishedAt) return `kept the sample schedule seeded on ${String(marker.startedAt).slice(0, 10)}`;
  if (!marker) {
    if ((await db.scan({ TableName: table, Limit: 1 })).Items.length > 0) return 'none added: the database already holds flights';
    await db.put({ TableName: table, Item: { ...MARKER, startedAt: now.toISOString() }, ConditionExpression: 'attribute_not_exists(pk)' });
  }
  const seats = new SeatService(new RedisSeatStore(redis()), config('seats').HOLD_TTL_SECONDS * 1000);
  const flights = new FlightService(new DynamoFlightStore(db, table), seatsInProcess(seats));
  const schedule = sampleSchedule(now, days ?? DAYS);
  const started = Date.now();
  const pending = schedule.values();
  let created = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (const flight of pending) {
        try {
          await flights.create(flight);
          created += 1;
        } catch (error) {
          if (!(error instanceof AppError && error.code === 'FLIGHT_EXISTS')) throw error;
        }
      }
    }),
  );
  await db.update({ TableName: table, Key: MARKER, UpdateExpression: 'SET finishedAt = :at', ExpressionAttributeValues: { ':at': new Date().toISOString() } });
  const airports = new Set(schedule.flatMap((f) => [f.origin, f.destination])).size;
  return `${created} flights on ${new Set(schedule.map((f) => `${f.origin}-${f.destination}`)).size} routes between ${airports} airports, ${days ?? DAYS} days from ${now.toISOString().slice(0, 10)} (${((Date.now() - started) / 1000).toFixed(1)} s; SAMPLE_DATA=false leaves it out)`;
}

/**
 * For `npm start`: seeds in a child process, beside sls offline's start, so that its database clients
 * and modules leave with it rather than staying in the launcher for the whole session. Nothing when
 * SAMPLE_DATA is `false`. A failed seeding is reported, not fatal: the system runs without it.
 */
export function startSampleData(env: NodeJS.ProcessEnv, log: (line: string) => void): { done: Promise<void>; stop(): void } | undefined {
  const setting = env.SAMPLE_DATA ?? 'true';
  if (setting !== 'true' && setting !== 'false') throw new Error(`SAMPLE_DATA is "${setting}"; it must be true or false`);
  if (setting === 'false') return undefined;
  const child = spawn(process.execPath, [...process.execArgv, __filename], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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

if (require.main === module) {
  seedSampleData().then(
    (line) => {
      console.log(line);
      process.exit(0);
    },
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
