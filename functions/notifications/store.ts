import type { DynamoDocuments, Document } from '../../lib/clients/dynamo';
import type { NotificationEvent, NotificationKind } from './model';

/**
 * The notifications service's DynamoDB table: one delivery record per event, keyed by the event's id,
 * so an event handed over twice is one record and one email.
 *
 *   pending   waiting for its next try (`dueAt`)
 *   sending   claimed by a sender until `leaseUntil`; a sender that died leaves it to be claimed again
 *   sent      SES accepted it (`messageId`); the event itself is dropped, only the receipt stays
 *   parked    SES refused it too often (`reason`); kept for someone to look at
 *
 * Records still to deliver carry `pending` and `dueKey` (`<dueAt, zero-padded>#<eventId>`), the keys of
 * the sparse `pendingDeliveries` index: the sender's to-do list in due order. Finished records expire
 * (`expiresAt`, DynamoDB's TTL) after 30 days.
 */
export type DeliveryStatus = 'pending' | 'sending' | 'sent' | 'parked';

export interface DeliveryRecord {
  eventId: string;
  kind: NotificationKind;
  status: DeliveryStatus;
  /** The event to deliver, while there is one to deliver. */
  event?: NotificationEvent;
  /** Tries that failed (any reason), and of those, the ones SES refused outright. */
  attempts: number;
  refusals: number;
  dueAt: number;
  leaseUntil?: number;
  messageId?: string;
  reason?: string;
  createdAt: string;
  sentAt?: string;
}

export interface DeliveryStore {
  /** Records each event not recorded before; answers how many were new. */
  add(events: readonly NotificationEvent[], now: number): Promise<number>;
  get(eventId: string): Promise<DeliveryRecord | undefined>;
  /** Ids of the deliveries due by `now` (pending ones, and sending ones whose lease ran out), oldest first. */
  due(now: number, limit: number): Promise<string[]>;
  /** Claims a due delivery until `leaseUntil`; undefined when it is not due any more (another sender has it, or it is done). */
  claim(eventId: string, now: number, leaseUntil: number): Promise<DeliveryRecord | undefined>;
  /** Ends a claimed delivery: sent (with SES's message id), parked (with why), or due again later. */
  sent(eventId: string, messageId: string, now: number): Promise<void>;
  parked(eventId: string, reason: string, counts: Pick<DeliveryRecord, 'attempts' | 'refusals'>, now: number): Promise<void>;
  retryAt(eventId: string, dueAt: number, counts: Pick<DeliveryRecord, 'attempts' | 'refusals'>): Promise<void>;
}

const PENDING = 'due';
const KEPT_AFTER_DONE_SECONDS = 30 * 24 * 3600;
/** Wide enough for any ms timestamp, so the index's string order is time order. */
const dueKey = (dueAt: number, eventId: string) => `${String(dueAt).padStart(15, '0')}#${eventId}`;
const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

function toRecord({ pending: _pending, dueKey: _dueKey, expiresAt: _expiresAt, event, ...item }: Document): DeliveryRecord {
  return { ...(item as unknown as DeliveryRecord), ...(typeof event === 'string' ? { event: JSON.parse(event) as NotificationEvent } : {}) };
}

export class DynamoDeliveryStore implements DeliveryStore {
  constructor(
    private readonly db: DynamoDocuments,
    private readonly table: string,
  ) {}

  async add(events: readonly NotificationEvent[], now: number): Promise<number> {
    const created = await Promise.all(
      events.map(async (event) => {
        const record: Document = {
          eventId: event.id,
          kind: event.kind,
          status: 'pending',
          // A string: the record's attributes stay few and fixed whatever the event carries.
          event: JSON.stringify(event),
          attempts: 0,
          refusals: 0,
          dueAt: now,
          createdAt: new Date(now).toISOString(),
          pending: PENDING,
          dueKey: dueKey(now, event.id),
        };
        try {
          await this.db.put({ TableName: this.table, Item: record, ConditionExpression: 'attribute_not_exists(eventId)' });
          return true;
        } catch (error) {
          if (isConditionFailure(error)) return false;
          throw error;
        }
      }),
    );
    return created.filter(Boolean).length;
  }

  async get(eventId: string): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.db.get({ TableName: this.table, Key: { eventId }, ConsistentRead: true });
    return Item && toRecord(Item);
  }

  async due(now: number, limit: number): Promise<string[]> {
    const { Items } = await this.db.query({
      TableName: this.table,
      IndexName: 'pendingDeliveries',
      KeyConditionExpression: '#pending = :due AND dueKey <= :now',
      ExpressionAttributeNames: { '#pending': 'pending' },
      // '~' sorts after every id character: everything due at `now` itself is included.
      ExpressionAttributeValues: { ':due': PENDING, ':now': `${dueKey(now, '~')}` },
      Limit: limit,
    });
    return Items.map((item) => String(item.eventId));
  }

  async claim(eventId: string, now: number, leaseUntil: number): Promise<DeliveryRecord | undefined> {
    try {
      const { Attributes } = await this.db.update({
        TableName: this.table,
        Key: { eventId },
        UpdateExpression: 'SET #status = :sending, leaseUntil = :lease, dueAt = :lease, dueKey = :dueKey',
        // Still to deliver and due: a concurrent sender that claimed it first moved dueAt past now.
        ConditionExpression: '#pending = :due AND dueAt <= :now',
        ExpressionAttributeNames: { '#status': 'status', '#pending': 'pending' },
        ExpressionAttributeValues: { ':sending': 'sending', ':lease': leaseUntil, ':dueKey': dueKey(leaseUntil, eventId), ':due': PENDING, ':now': now },
        ReturnValues: 'ALL_NEW',
      });
      return toRecord(Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async sent(eventId: string, messageId: string, now: number): Promise<void> {
    await this.finish(eventId, 'sent', now, 'messageId = :messageId, sentAt = :at', { ':messageId': messageId, ':at': new Date(now).toISOString() });
  }

  async parked(eventId: string, reason: string, counts: Pick<DeliveryRecord, 'attempts' | 'refusals'>, now: number): Promise<void> {
    await this.finish(eventId, 'parked', now, 'reason = :reason, attempts = :attempts, refusals = :refusals', {
      ':reason': reason,
      ':attempts': counts.attempts,
      ':refusals': counts.refusals,
    });
  }

  /**
   * A finished delivery leaves the to-do list. A sent one drops its event (names, tickets, a reset
   * token: nothing is kept that is not needed any more); a parked one keeps it, to be looked at.
   */
  private async finish(eventId: string, status: 'sent' | 'parked', now: number, sets: string, values: Record<string, unknown>): Promise<void> {
    await this.db.update({
      TableName: this.table,
      Key: { eventId },
      UpdateExpression: `SET #status = :status, expiresAt = :expires, ${sets} REMOVE #pending, dueKey, leaseUntil${status === 'sent' ? ', #event' : ''}`,
      ExpressionAttributeNames: { '#status': 'status', '#pending': 'pending', ...(status === 'sent' ? { '#event': 'event' } : {}) },
      ExpressionAttributeValues: { ':status': status, ':expires': Math.floor(now / 1000) + KEPT_AFTER_DONE_SECONDS, ...values },
    });
  }

  async retryAt(eventId: string, dueAt: number, counts: Pick<DeliveryRecord, 'attempts' | 'refusals'>): Promise<void> {
    await this.db.update({
      TableName: this.table,
      Key: { eventId },
      UpdateExpression: 'SET #status = :pending, dueAt = :dueAt, dueKey = :dueKey, attempts = :attempts, refusals = :refusals REMOVE leaseUntil',
      ConditionExpression: 'attribute_exists(#pendingIndex)',
      ExpressionAttributeNames: { '#status': 'status', '#pendingIndex': 'pending' },
      ExpressionAttributeValues: { ':pending': 'pending', ':dueAt': dueAt, ':dueKey': dueKey(dueAt, eventId), ':attempts': counts.attempts, ':refusals': counts.refusals },
    });
  }
}
