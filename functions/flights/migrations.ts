import { createHash, randomUUID } from 'node:crypto';
import { AppError, validationFailed } from '../../lib/http/errors';
import { log } from '../../lib/log';
import { count, gaugeSeconds } from '../../lib/observability';
import type { MigrationOutcome, MigrationPolicy, SeatMapInput } from '../seats/model';
import type { FlightLock } from './flight-lock';
import type { MigrationRecord, MigrationStore } from './migration-store';
import type { SeatsGateway } from './seats-client';
import type { FlightStore } from './store';

/**
 * The seat-map migration pipeline. A request records a queued migration and kicks the worker; the
 * worker (and a schedule, so a crashed run is resumed) claims due migrations and runs each one:
 * take the flight's Redlock lock, draw the flight's next fence token, and have the seats service apply
 * the new map in one step fenced by that token (refused if a later token was applied meanwhile: the
 * lock was lost and someone else migrated). Then the flight's seatMapVersion and
 * the report are recorded. Every migration ends succeeded or failed with a reason; it is never left
 * running (a run whose worker died is taken over when its lease ends).
 */

export interface MigrationReport {
  migrationId: string;
  flightId: string;
  batchId?: string;
  status: MigrationRecord['status'];
  policy: MigrationPolicy;
  fromVersion: number | null;
  toVersion: number | null;
  added: number;
  removed: number;
  changed: number;
  conflicts: NonNullable<MigrationRecord['conflicts']>;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
}

export const toReport = (m: MigrationRecord): MigrationReport => ({
  migrationId: m.migrationId,
  flightId: m.flightId,
  ...(m.batchId ? { batchId: m.batchId } : {}),
  status: m.status,
  policy: m.policy,
  fromVersion: m.fromVersion ?? null,
  toVersion: m.toVersion ?? null,
  added: m.added ?? 0,
  removed: m.removed ?? 0,
  changed: m.changed ?? 0,
  conflicts: m.conflicts ?? [],
  attempts: m.attempts,
  createdAt: m.createdAt,
  startedAt: m.startedAt ?? null,
  finishedAt: m.finishedAt ?? null,
  ...(m.error ? { error: m.error } : {}),
});

/** How many migrations one worker runs at a time (each on its own flight, under that flight's lock). */
export const WORKER_CONCURRENCY = 16;

/** Starts a worker run soon (an async Lambda invoke); the schedule is the fallback when it cannot. */
export type WorkerKick = () => Promise<void>;

export interface RunnerOptions {
  /** How long a claim protects a running migration before another worker may take it over. */
  leaseMs: number;
  maxAttempts: number;
  /** Backoff for a migration whose lock could not be had: base * 2^(attempt-1), capped. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Test hook: runs after the lock and fence token are taken, before the apply (e.g. a pause). */
  beforeApply?: (record: MigrationRecord) => Promise<void>;
  now?: () => Date;
}

const hashId = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 24);

export class MigrationService {
  constructor(
    private readonly store: MigrationStore,
    private readonly flights: FlightStore,
    private readonly lock: FlightLock,
    private readonly kick: WorkerKick,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private newRecord(flightId: string, seatMap: SeatMapInput, policy: MigrationPolicy, migrationId: string, batchId?: string): MigrationRecord {
    const at = this.now().toISOString();
    return { migrationId, flightId, ...(batchId ? { batchId } : {}), seatMap, policy, status: 'queued', attempts: 0, nextAttemptAt: at, createdAt: at };
  }

  private async startWorker(): Promise<void> {
    await this.kick().catch((error: Error) => log.warn('could not start the migration worker; the schedule will', { error: error.message }));
  }

  async request(flightId: string, seatMap: SeatMapInput, policy: MigrationPolicy, ifBusy: 'queue' | 'reject'): Promise<MigrationReport> {
    const flight = await this.flights.get(flightId);
    if (!flight) throw new AppError('FLIGHT_NOT_FOUND');
    if (flight.status === 'cancelled') throw new AppError('FLIGHT_CANCELLED');
    if (ifBusy === 'reject' && (await this.lock.isHeld(flightId))) throw new AppError('MIGRATION_IN_PROGRESS');
    const record = this.newRecord(flightId, seatMap, policy, randomUUID());
    await this.store.create(record);
    await this.startWorker();
    return toReport(record);
  }

  /**
   * A bulk request. Its id is a hash of its content, and each migration's id a hash of the batch and
   * the flight, so posting the same batch again returns the same batch and creates nothing new.
   */
  async requestBatch(items: { flightId: string; seatMap: SeatMapInput; policy: MigrationPolicy }[]) {
    const batchId = hashId('batch', JSON.stringify(items));
    const existing = await this.store.getBatch(batchId);
    if (existing) return existing;

    const known = new Set((await this.flights.getMany([...new Set(items.map((item) => item.flightId))])).map((flight) => flight.id));
    const unknown = items.flatMap((item, i) => (known.has(item.flightId) ? [] : [{ field: `items.${i}.flightId`, message: `no flight ${item.flightId}` }]));
    if (unknown.length > 0) throw validationFailed(unknown);

    const batch = { batchId, items: items.map((item) => ({ flightId: item.flightId, migrationId: hashId(batchId, item.flightId) })), createdAt: this.now().toISOString() };
    // Migrations first, then the batch: a crash in between is finished by posting the batch again.
    for (let i = 0; i < items.length; i += 25) {
      await Promise.all(items.slice(i, i + 25).map((item, j) => this.store.create(this.newRecord(item.flightId, item.seatMap, item.policy, batch.items[i + j]!.migrationId, batchId))));
    }
    await this.store.createBatch(batch);
    await this.startWorker();
    return batch;
  }

  async report(flightId: string, migrationId: string): Promise<MigrationReport> {
    const record = await this.store.get(migrationId);
    if (!record || record.flightId !== flightId) throw new AppError('MIGRATION_NOT_FOUND');
    return toReport(record);
  }

  async batchReport(batchId: string) {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new AppError('BATCH_NOT_FOUND');
    const records = await this.store.getMany(batch.items.map((item) => item.migrationId));
    const counts = { queued: 0, running: 0, succeeded: 0, failed: 0 };
    for (const record of records) counts[record.status] += 1;
    const order = new Map(batch.items.map((item, i) => [item.migrationId, i]));
    records.sort((a, b) => order.get(a.migrationId)! - order.get(b.migrationId)!);
    return {
      batchId,
      createdAt: batch.createdAt,
      total: batch.items.length,
      done: counts.succeeded + counts.failed === batch.items.length,
      counts,
      migrations: records.map(toReport),
    };
  }
}

export class MigrationRunner {
  private readonly now: () => Date;

  constructor(
    private readonly store: MigrationStore,
    private readonly flights: FlightStore,
    private readonly seats: SeatsGateway,
    private readonly lock: FlightLock,
    private readonly options: RunnerOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Claims and runs one migration; undefined when it was not due, another worker has it, or its report could not be written. */
  async run(migrationId: string): Promise<MigrationRecord | undefined> {
    const claim = await this.store.claim(migrationId, this.now(), this.options.leaseMs);
    if (!claim) return undefined;
    const fail = async (error: string, conflicts?: MigrationRecord['conflicts']) => {
      await this.store.finish(claim, this.now(), { error, conflicts });
      count('MigrationsFailed');
      return { ...claim, status: 'failed' as const, error };
    };
    /** Back to the queue with backoff, or failed once the attempts are used up. */
    const retryLater = async (reason: string, lastWords: string) => {
      if (claim.attempts >= this.options.maxAttempts) return fail(`${lastWords} in ${claim.attempts} attempts`);
      const backoff = Math.min(this.options.retryBaseMs * 2 ** (claim.attempts - 1), this.options.retryMaxMs);
      await this.store.requeue(claim, new Date(this.now().getTime() + backoff), `${reason}; queued again`);
      return { ...claim, status: 'queued' as const };
    };

    // No flight check first: the apply script refuses a missing or cancelled flight itself (the seats
    // side is cancelled before the flight record is), so the run is five round trips: claim, lock,
    // fence token, apply, then the release, the flight's copy of the version and the report together.
    const held = await this.lock.acquire(claim.flightId);
    if (!held) return retryLater("the flight's lock could not be had (held by another run, or a majority of its servers unreachable)", "could not take the flight's lock");
    let outcome: MigrationOutcome;
    try {
      const fenceToken = await this.store.nextFenceToken(claim.flightId);
      // The token must come after every earlier holder's: a lock that ran out while this run was
      // paused (or failed to extend) may be someone else's by now, and their token older than ours.
      if (!(await held.stillHeld())) {
        await held.release();
        return retryLater("the flight's lock ran out before the apply", "could not keep the flight's lock");
      }
      await this.options.beforeApply?.(claim);
      outcome = await this.seats.applySeatMap(claim.flightId, { fenceToken, policy: claim.policy, seatMap: claim.seatMap });
    } catch (error) {
      await held.release();
      if (!(error instanceof AppError)) {
        log.error('migration failed', { migrationId, error });
        return fail('internal error; nothing was applied');
      }
      switch (error.code) {
        case 'FLIGHT_NOT_FOUND':
          return fail('the flight does not exist');
        case 'FLIGHT_CANCELLED':
          return fail('the flight is cancelled');
        case 'MIGRATION_CONFLICTS':
          return fail('rejected: the new map drops held or booked seats; nothing changed', error.extensions.conflicts as MigrationRecord['conflicts']);
        case 'MIGRATION_FENCED':
          // A newer migration of the flight applied meanwhile; this one is still wanted, after it.
          count('MigrationsFenced');
          return retryLater(`fenced: ${error.detail}; nothing was applied`, 'fenced every time');
        case 'SERVICE_UNAVAILABLE':
        case 'SERVICE_NOT_FOUND':
          // The apply may or may not have happened (a 503 can come after it, from the replicas' wait);
          // applying the same map again is harmless, so it runs again rather than claim either.
          return retryLater('the seats service did not answer; the map may or may not be applied', 'the seats service did not answer');
        default:
          return fail(`${error.code}: ${error.detail ?? error.title}`);
      }
    }
    // Applied. If a closing write fails, the record stays running; its lease ends and a worker runs it
    // again, which re-applies the same map (no seat changes, one more version) and writes the report.
    const at = this.now();
    try {
      await Promise.all([
        held.release(),
        this.flights.recordSeatMapVersion(claim.flightId, outcome.toVersion, at.toISOString()),
        this.store.finish(claim, at, { outcome }),
      ]);
    } catch (error) {
      log.error('migration applied but not recorded; it runs again when its lease ends', { migrationId, error });
      return undefined;
    }
    count('MigrationsSucceeded');
    return { ...claim, ...outcome, status: 'succeeded' };
  }

  /**
   * Runs due migrations, `concurrency` at a time, until none is due or the deadline nears. Reports how
   * long the oldest due migration has waited (a queue that nobody drains raises an alarm).
   */
  async drain(deadline: number, concurrency: number): Promise<{ ran: number }> {
    let ran = 0;
    for (let round = 0; Date.now() < deadline; round += 1) {
      const now = this.now();
      const due = await this.store.due(now, concurrency * 4);
      if (round === 0) gaugeSeconds('MigrationQueueOldestSeconds', due.oldestDueAt ? Math.max(0, (now.getTime() - Date.parse(due.oldestDueAt)) / 1000) : 0);
      if (due.ids.length === 0) break;
      let progressed = false;
      const queue = [...due.ids];
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let id = queue.shift(); id && Date.now() < deadline; id = queue.shift()) {
            if (await this.run(id)) {
              ran += 1;
              progressed = true;
            }
          }
        }),
      );
      if (!progressed) break;
    }
    return { ran };
  }
}
