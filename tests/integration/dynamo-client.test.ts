import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { dynamo, DynamoDocuments } from '../../lib/clients/dynamo';
import { isDependencyUnavailable } from '../../lib/http/unavailable';

/** The stores' DynamoDB client (the v3 SDK's DocumentClient) against dynalite: documents, conditions, paging and errors. */
const table = process.env.FLIGHTS_TABLE!;
const db = dynamo();
const key = () => ({ pk: `CLIENT-TEST#${randomUUID()}` });

describe('DynamoDB client on dynalite', () => {
  it('writes and reads back a nested document', async () => {
    const Key = key();
    const document = { ...Key, name: 'x', count: 3, ratio: 0.25, ok: true, nothing: null, tags: ['a', 'b'], nested: { deep: { n: 1 } }, blob: new Uint8Array([0, 1, 255]) };
    await db.put({ TableName: table, Item: { ...document, skipped: undefined } });
    const { Item } = await db.get({ TableName: table, Key, ConsistentRead: true });
    expect({ ...Item, blob: [...(Item!.blob as Uint8Array)] }).toEqual({ ...document, blob: [0, 1, 255] });
    expect((await db.get({ TableName: table, Key: key() })).Item).toBeUndefined();
  });

  it('reports a failed condition as ConditionalCheckFailedException and writes nothing', async () => {
    const Key = key();
    await db.put({ TableName: table, Item: { ...Key, version: 1 } });
    const failed = await db
      .update({ TableName: table, Key, UpdateExpression: 'SET version = :next', ConditionExpression: 'version = :expected', ExpressionAttributeValues: { ':next': 3, ':expected': 2 } })
      .catch((error: unknown) => error);
    expect(failed).toMatchObject({ name: 'ConditionalCheckFailedException', $metadata: { httpStatusCode: 400 } });
    expect((await db.get({ TableName: table, Key, ConsistentRead: true })).Item).toEqual({ ...Key, version: 1 });
  });

  it('returns the new attributes of an update', async () => {
    const Key = key();
    const { Attributes } = await db.update({ TableName: table, Key, UpdateExpression: 'SET hits = if_not_exists(hits, :zero) + :one', ExpressionAttributeValues: { ':zero': 0, ':one': 1 }, ReturnValues: 'ALL_NEW' });
    expect(Attributes).toEqual({ ...Key, hits: 1 });
  });

  it('gets every existing item of more keys than one batch call takes, and deletes', async () => {
    const keys = Array.from({ length: 130 }, key);
    await Promise.all(keys.map((Key) => db.put({ TableName: table, Item: { ...Key, kind: 'batch' } })));
    const found = await db.getAll(table, [...keys, key()]);
    expect(found.map((item) => item.pk).sort()).toEqual(keys.map((k) => k.pk).sort());
    await db.delete({ TableName: table, Key: keys[0]! });
    expect((await db.get({ TableName: table, Key: keys[0]!, ConsistentRead: true })).Item).toBeUndefined();
  });

  it('names a missing table ResourceNotFoundException', async () => {
    await expect(db.get({ TableName: 'no-such-table', Key: key() })).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('fails fast when nothing listens, after its one retry, with an error the API answers 503', async () => {
    const refused = await new DynamoDocuments('http://127.0.0.1:9').listTables(1).catch((error: unknown) => error);
    expect(refused).toMatchObject({ $metadata: { attempts: 2 } });
    expect(isDependencyUnavailable(refused)).toBe(true);
  });

  it('gives up on an endpoint that accepts and never answers: each attempt times out (the SDK only warns unless told)', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const hung = await new DynamoDocuments(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`).listTables(1).catch((error: unknown) => error);
      expect(hung).toMatchObject({ name: 'TimeoutError', $metadata: { attempts: 2 } });
      expect(isDependencyUnavailable(hung)).toBe(true);
    } finally {
      silent.close();
    }
  });
});
