import * as z from '../../lib/validation';
import { config } from '../../lib/config';
import { dynamo } from '../../lib/clients/dynamo';
import { assertTokenConfig } from '../../lib/auth/keys';
import type { Context } from 'aws-lambda';
import { log } from '../../lib/log';
import { kick, scheduled, triggeredFunction } from '../../lib/triggers';
import { AppError } from '../../lib/http/errors';
import { decodeCursor, encodeCursor } from '../../lib/http/pagination';
import { pathParams } from '../../lib/http/path-params';
import { serviceHandler } from '../../lib/http/stack';
import { redis, redisAt } from '../../lib/clients/redis';
import { createFlightBody, migrationBatchBody, searchDays, searchQuery, seatMapMigrationBody, updateFlightBody } from './model';
import { seatsOverRegistry } from './seats-client';
import { FlightService } from './service';
import { DynamoFlightStore } from './store';
import { MigrationStore } from './migration-store';
import { MigrationRunner, MigrationService, WORKER_CONCURRENCY } from './migrations';
import { invokeMigrationWorker, MIGRATION_WORKER_KICK } from './worker-kick';

assertTokenConfig();
const flightStore = new DynamoFlightStore(dynamo(), config('dynamo').FLIGHTS_TABLE);
const flights = new FlightService(flightStore, seatsOverRegistry, { salesCloseMs: config('sales').SALES_CLOSE_MINUTES * 60_000 });

/**
 * Built on first use, with its lock library loaded then: only the migration functions take the
 * flight lock, and the other flights functions should not pay for its module init.
 */
let pipeline: { migrations: MigrationService; runner: MigrationRunner } | undefined;
async function migrationPipeline() {
  if (!pipeline) {
    const { FlightLock } = await import('./flight-lock');
    const { REDLOCK_URLS } = config('redlock');
    const lock = new FlightLock(REDLOCK_URLS?.length ? REDLOCK_URLS.map((url) => redisAt(url)) : [redis()], { lockMs: 10_000, waitMs: 3_000 });
    const store = new MigrationStore(dynamo(), config('dynamo').FLIGHTS_TABLE);
    pipeline = {
      migrations: new MigrationService(store, flightStore, lock, invokeMigrationWorker),
      runner: new MigrationRunner(store, flightStore, seatsOverRegistry, lock, { leaseMs: 60_000, maxAttempts: 8, retryBaseMs: 2_000, retryMaxMs: 60_000 }),
    };
  }
  return pipeline;
}
const http = serviceHandler('flights');
const flightParams = pathParams('flightId');
const searchCursor = z.object({ routeDay: z.string(), key: z.optional(z.record(z.string(), z.string())) });

export const search = http({ route: 'GET /flights', query: searchQuery }, async ({ query }) => {
  const routeDays = searchDays(query.date, query.flexDays).map((day) => `${query.origin}#${query.destination}#${day}`);
  const cursor = decodeCursor(query.cursor, searchCursor);
  // A cursor only continues the search that made it.
  if (cursor && !routeDays.includes(cursor.routeDay)) throw new AppError('INVALID_CURSOR', 'The cursor belongs to another search');
  const page = await flights.search(routeDays, query.limit, cursor);
  return { status: 200, body: { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null } };
});

export const get = http({ route: 'GET /flights/{flightId}', params: flightParams }, async ({ params }) => ({ status: 200, body: await flights.get(params.flightId) }));

export const create = http({ route: 'POST /flights', body: createFlightBody, maxBodyBytes: 512 * 1024 }, async ({ body }) => ({
  status: 201,
  body: await flights.create(body),
}));

export const update = http({ route: 'PATCH /flights/{flightId}', params: flightParams, body: updateFlightBody }, async ({ params, body }) => ({
  status: 200,
  body: await flights.update(params.flightId, body),
}));

export const cancel = http({ route: 'DELETE /flights/{flightId}', params: flightParams }, async ({ params }) => ({ status: 200, body: await flights.cancel(params.flightId) }));

export const requestMigration = http(
  {
    route: 'PUT /flights/{flightId}/seatmap',
    params: flightParams,
    body: seatMapMigrationBody,
    maxBodyBytes: 512 * 1024,
  },
  async ({ params, body }) => {
    const report = await (await migrationPipeline()).migrations.request(params.flightId, body.seatMap, body.policy, body.ifBusy);
    return { status: 202, body: { migrationId: report.migrationId, status: report.status } };
  },
);

export const getMigration = http({ route: 'GET /flights/{flightId}/migrations/{migrationId}', params: pathParams('flightId', 'migrationId') }, async ({ params }) => ({
  status: 200,
  body: await (await migrationPipeline()).migrations.report(params.flightId, params.migrationId),
}));

export const requestBatch = http(
  {
    route: 'POST /admin/migrations',
    body: migrationBatchBody,
    maxBodyBytes: 6 * 1024 * 1024,
  },
  async ({ body }) => {
    const batch = await (await migrationPipeline()).migrations.requestBatch(body.items);
    return { status: 202, body: { batchId: batch.batchId, migrations: batch.items } };
  },
);

export const getBatch = http({ route: 'GET /admin/migrations/{batchId}', params: pathParams('batchId') }, async ({ params }) => ({
  status: 200,
  body: await (await migrationPipeline()).migrations.batchReport(params.batchId),
}));

/**
 * The migration worker: started by each request (async invoke) and every minute by its schedule. It
 * never throws: whatever it could not finish stays in the queue for the next run, and an async
 * invocation's automatic retries would only duplicate that.
 */
export const migrationWorker = triggeredFunction(z.union([scheduled, kick(MIGRATION_WORKER_KICK)]), async (_event, context: Context) => {
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  try {
    return await (await migrationPipeline()).runner.drain(Date.now() + remaining - 5_000, WORKER_CONCURRENCY);
  } catch (error) {
    log.error('migration worker stopped early; the next run continues', { error });
    return { ran: 0, error: 'stopped early' };
  }
});

