import { AppError } from '../lib/http/errors';
import { DAYS, sampleSchedule } from './sample-schedule';
import { DynamoFlightStore } from '../functions/flights/store';
import { FlightService } from '../functions/flights/service';
import { RedisSeatStore } from '../functions/seats/store';
import { SeatService } from '../functions/seats/service';
import { config } from '../lib/config';
import { dynamo } from '../lib/clients/dynamo';
import { redis } from '../lib/clients/redis';
import { seatsInProcess } from '../functions/flights/seats-client';

/**
 * The sample schedule's seeding (scripts/sample-data.ts says what and when): run by the launcher in a
 * child process of its own (`startSampleData`), so that these modules and their database clients leave
 * with it rather than staying in the launcher for the whole session. A file of its own, with static
 * imports, so that the launcher, which imports scripts/sample-data.ts, never loads them.
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
