import { gunzipSync, gzipSync } from 'node:zlib';
import type { DynamoDocuments } from '../../lib/clients/dynamo';
import type { MigrationConflict, MigrationOutcome, MigrationPolicy, SeatMapInput } from '../seats/model';

/**
 * Migrations and batches in the flights table, next to the flights (see store.ts):
 *
 *   MIGRATION#<id>   one seat-map migration: request, status, report; while unfinished it carries
 *                    queue = "due" and queueKey = "<due time>#<id>" (GSI migrationQueue, sparse)
 *   BATCH#<id>       a bulk request: which migration belongs to which flight
 *   FENCE#<flight>   the flight's migration fence counter (fence = the last token drawn)
 *
 * Status moves queued → running → succeeded | failed by conditional writes: a worker claims a queued
 * migration that is due, or a running one whose lease has run out (its worker died), and only the
 * claim's holder (matched by attempt number) may requeue or finish it.
 */

export type MigrationStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface MigrationRecord {
  migrationId: string;
  flightId: string;
  batchId?: string;
  seatMap: SeatMapInput;
  policy: MigrationPolicy;
  status: MigrationStatus;
  attempts: number;
  nextAttemptAt: string;
  leaseExpiresAt?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  fromVersion?: number;
  toVersion?: number;
  added?: number;
  removed?: number;
  changed?: number;
  conflicts?: MigrationConflict[];
  error?: string;
}

export interface BatchRecord {
  batchId: string;
  items: { flightId: string; migrationId: string }[];
  createdAt: string;
}

const DUE = 'due';
const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';
const strip = ({ pk: _pk, queue: _q, queueKey: _qk, ...record }: Record<string, unknown>) => record;
/**
 * The requested seat map is kept as gzipped JSON in one binary attribute: it is written once and read
 * whole, and as hundreds of nested attributes it made every claim and report slower to encode and for
 * DynamoDB to process, and would cost a write unit per KB on every status change (docs/benchmarks.md).
 */
const toItem = (record: MigrationRecord) => ({
  pk: `MIGRATION#${record.migrationId}`,
  ...record,
  seatMap: gzipSync(JSON.stringify(record.seatMap)),
  queue: DUE,
  queueKey: `${record.nextAttemptAt}#${record.migrationId}`,
});
const toRecord = (item: Record<string, unknown>): MigrationRecord => {
  const { seatMap, ...rest } = strip(item);
  return { ...rest, seatMap: JSON.parse(gunzipSync(seatMap as Buffer).toString('utf8')) as SeatMapInput } as MigrationRecord;
};

export class MigrationStore {
  constructor(
    private readonly db: DynamoDocuments,
    private readonly table: string,
  ) {}

  /** False when a migration with this id exists already (a re-posted batch). */
  async create(record: MigrationRecord): Promise<boolean> {
    try {
      await this.db.put({
        TableName: this.table,
        Item: toItem(record),
        ConditionExpression: 'attribute_not_exists(pk)',
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async get(migrationId: string): Promise<MigrationRecord | undefined> {
    const { Item } = await this.db.get({ TableName: this.table, Key: { pk: `MIGRATION#${migrationId}` }, ConsistentRead: true });
    return Item ? toRecord(Item) : undefined;
  }

  async getMany(ids: string[]): Promise<MigrationRecord[]> {
    return (
      await this.db.getAll(
        this.table,
        ids.map((id) => ({ pk: `MIGRATION#${id}` })),
      )
    ).map(toRecord);
  }

  /**
   * The flight's next fence token (1, 2, 3, …), drawn by a migrator once it holds the flight's lock.
   * The lock's servers cannot give one (Redlock has no counter), so it comes from this atomic,
   * strongly consistent counter; the seats service applies a map only with a token greater than the
   * last one it applied (Kleppmann's fencing token; docs/architecture.md).
   */
  async nextFenceToken(flightId: string): Promise<number> {
    const { Attributes } = await this.db.update({
      TableName: this.table,
      Key: { pk: `FENCE#${flightId}` },
      UpdateExpression: 'ADD fence :one',
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    });
    return Number(Attributes?.fence);
  }

  /** The ids of migrations due now, oldest due first, and since when the oldest has been due. */
  async due(now: Date, limit: number): Promise<{ ids: string[]; oldestDueAt?: string }> {
    const result = await this.db.query({
      TableName: this.table,
      IndexName: 'migrationQueue',
      KeyConditionExpression: '#queue = :due AND queueKey <= :now',
      ExpressionAttributeNames: { '#queue': 'queue' },
      ExpressionAttributeValues: { ':due': DUE, ':now': `${now.toISOString()}#~` },
      Limit: limit,
    });
    const items = result.Items ?? [];
    return { ids: items.map((item) => String(item.pk).slice('MIGRATION#'.length)), oldestDueAt: items[0] && String(items[0].queueKey).split('#')[0] };
  }

  /** Takes a due queued migration, or a running one whose lease ran out; undefined if someone else has it. */
  async claim(migrationId: string, now: Date, leaseMs: number): Promise<MigrationRecord | undefined> {
    const lease = new Date(now.getTime() + leaseMs).toISOString();
    try {
      const result = await this.db.update({
        TableName: this.table,
        Key: { pk: `MIGRATION#${migrationId}` },
        UpdateExpression: 'SET #status = :running, leaseExpiresAt = :lease, queueKey = :queueKey, startedAt = if_not_exists(startedAt, :now) ADD attempts :one',
        ConditionExpression: '(#status = :queued AND nextAttemptAt <= :now) OR (#status = :running AND leaseExpiresAt < :now)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':running': 'running',
          ':queued': 'queued',
          ':lease': lease,
          ':queueKey': `${lease}#${migrationId}`,
          ':now': now.toISOString(),
          ':one': 1,
        },
        ReturnValues: 'ALL_NEW',
      });
      return toRecord(result.Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Puts a claimed migration back in the queue for a later attempt. */
  async requeue(claim: MigrationRecord, nextAttemptAt: Date, reason: string): Promise<void> {
    await this.updateClaimed(claim, 'SET #status = :queued, nextAttemptAt = :next, queueKey = :queueKey, #error = :reason REMOVE leaseExpiresAt', {
      ':queued': 'queued',
      ':next': nextAttemptAt.toISOString(),
      ':queueKey': `${nextAttemptAt.toISOString()}#${claim.migrationId}`,
      ':reason': reason,
    });
  }

  /** Ends a claimed migration with its report; it leaves the queue. */
  async finish(claim: MigrationRecord, at: Date, result: { outcome?: MigrationOutcome; conflicts?: MigrationConflict[]; error?: string }): Promise<void> {
    const outcome = result.outcome;
    await this.updateClaimed(
      claim,
      'SET #status = :status, finishedAt = :at, fromVersion = :from, toVersion = :to, added = :added, removed = :removed, changed = :changed, conflicts = :conflicts, #error = :error REMOVE leaseExpiresAt, #queue, queueKey',
      {
        ':status': result.error ? 'failed' : 'succeeded',
        ':at': at.toISOString(),
        ':from': outcome?.fromVersion ?? null,
        ':to': outcome?.toVersion ?? null,
        ':added': outcome?.added ?? 0,
        ':removed': outcome?.removed ?? 0,
        ':changed': outcome?.changed ?? 0,
        ':conflicts': outcome?.conflicts ?? result.conflicts ?? [],
        ':error': result.error ?? null,
      },
      { '#queue': 'queue' },
    );
  }

  private async updateClaimed(claim: MigrationRecord, update: string, values: Record<string, unknown>, names: Record<string, string> = {}): Promise<void> {
    try {
      await this.db.update({
        TableName: this.table,
        Key: { pk: `MIGRATION#${claim.migrationId}` },
        UpdateExpression: update,
        // Only the worker holding this attempt may write: one whose lease was taken over may not.
        ConditionExpression: '#status = :claimed AND attempts = :attempt',
        ExpressionAttributeNames: { '#status': 'status', '#error': 'error', ...names },
        ExpressionAttributeValues: { ...values, ':claimed': 'running', ':attempt': claim.attempts },
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async createBatch(batch: BatchRecord): Promise<boolean> {
    try {
      await this.db.put({ TableName: this.table, Item: { pk: `BATCH#${batch.batchId}`, ...batch }, ConditionExpression: 'attribute_not_exists(pk)' });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getBatch(batchId: string): Promise<BatchRecord | undefined> {
    const { Item } = await this.db.get({ TableName: this.table, Key: { pk: `BATCH#${batchId}` } });
    return Item ? (strip(Item) as unknown as BatchRecord) : undefined;
  }
}
