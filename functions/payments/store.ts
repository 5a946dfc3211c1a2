import type { DynamoDocuments, Document } from '../../lib/clients/dynamo';
import type { PaymentRecord, PaymentStatus } from './model';

/**
 * The payments service's DynamoDB table: one item per payment key. Records that still need work
 * (pending, succeeded without a booking, refund_pending) carry `open` and `openSince`, the keys of the
 * sparse `openPayments` index, which is the sweep's to-do list; every other record leaves it.
 */
export interface PaymentStore {
  /** Records a new attempt; answers the existing record instead when the key is taken. */
  create(record: PaymentRecord): Promise<{ record: PaymentRecord; created: boolean }>;
  get(paymentKey: string): Promise<PaymentRecord | undefined>;
  /** Changes a record whose status is one of `from`; undefined when it is not (someone else moved it). */
  update(paymentKey: string, from: readonly PaymentStatus[], changes: Partial<PaymentRecord>): Promise<PaymentRecord | undefined>;
  /** Records that need work, oldest first. */
  open(limit: number): Promise<PaymentRecord[]>;
  /** Every record, page by page (the audit). */
  page(cursor?: Document): Promise<{ items: PaymentRecord[]; cursor?: Document }>;
}

const OPEN = 'open';
const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

function needsWork(record: Pick<PaymentRecord, 'status' | 'bookingId'>): boolean {
  return record.status === 'pending' || record.status === 'refund_pending' || (record.status === 'succeeded' && !record.bookingId);
}

function toRecord({ open: _open, openSince: _openSince, version: _version, ...item }: Document): PaymentRecord {
  return item as unknown as PaymentRecord;
}

export class DynamoPaymentStore implements PaymentStore {
  constructor(
    private readonly db: DynamoDocuments,
    private readonly table: string,
  ) {}

  async create(record: PaymentRecord) {
    try {
      await this.db.put({
        TableName: this.table,
        Item: { ...record, version: 1, open: OPEN, openSince: `${record.updatedAt}#${record.paymentKey}` },
        ConditionExpression: 'attribute_not_exists(paymentKey)',
      });
      return { record, created: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return { record: (await this.get(record.paymentKey))!, created: false };
    }
  }

  async get(paymentKey: string): Promise<PaymentRecord | undefined> {
    const { Item } = await this.db.get({ TableName: this.table, Key: { paymentKey }, ConsistentRead: true });
    return Item && toRecord(Item);
  }

  async update(paymentKey: string, from: readonly PaymentStatus[], changes: Partial<PaymentRecord>): Promise<PaymentRecord | undefined> {
    const { Item } = await this.db.get({ TableName: this.table, Key: { paymentKey }, ConsistentRead: true });
    if (!Item || !from.includes(Item.status as PaymentStatus)) return undefined;
    const next = { ...toRecord(Item), ...changes, updatedAt: new Date().toISOString() };
    const names: Record<string, string> = { '#version': 'version', '#open': 'open', '#openSince': 'openSince' };
    const values: Record<string, unknown> = { ':read': Item.version, ':next': Number(Item.version) + 1 };
    const sets = ['#version = :next'];
    for (const [field, value] of Object.entries({ ...changes, updatedAt: next.updatedAt })) {
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
    const open = needsWork(next);
    if (open) {
      values[':open'] = OPEN;
      values[':openSince'] = `${next.updatedAt}#${paymentKey}`;
      sets.push('#open = :open', '#openSince = :openSince');
    }
    try {
      const { Attributes } = await this.db.update({
        TableName: this.table,
        Key: { paymentKey },
        UpdateExpression: `SET ${sets.join(', ')}${open ? '' : ' REMOVE #open, #openSince'}`,
        // Against the version read: a concurrent change wins, and this caller reads again.
        ConditionExpression: '#version = :read',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      });
      return toRecord(Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async open(limit: number): Promise<PaymentRecord[]> {
    const { Items } = await this.db.query({
      TableName: this.table,
      IndexName: 'openPayments',
      KeyConditionExpression: '#open = :open',
      ExpressionAttributeNames: { '#open': 'open' },
      ExpressionAttributeValues: { ':open': OPEN },
      Limit: limit,
    });
    // The index holds keys only: read each record whole (and as it is now).
    const records = await Promise.all(Items.map((item) => this.get(String(item.paymentKey))));
    return records.filter((record): record is PaymentRecord => record !== undefined && needsWork(record));
  }

  async page(cursor?: Document): Promise<{ items: PaymentRecord[]; cursor?: Document }> {
    const { Items, LastEvaluatedKey } = await this.db.scan({ TableName: this.table, ConsistentRead: true, ...(cursor ? { ExclusiveStartKey: cursor } : {}) });
    return { items: Items.map(toRecord), ...(LastEvaluatedKey ? { cursor: LastEvaluatedKey } : {}) };
  }
}
