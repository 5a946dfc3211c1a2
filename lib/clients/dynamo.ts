import { config } from '../config';
import { awsRequest } from './aws';

/**
 * DynamoDB as plain JavaScript objects: the operations this project uses, with the input and output
 * shapes of the SDK's DocumentClient (`Item`, `Key`, `ExpressionAttributeValues`, ...), over the
 * signed JSON API (see aws.ts for why not the SDK). Errors carry the DynamoDB error type as `name`
 * (`ConditionalCheckFailedException`), as the SDK's do.
 */

export type Document = Record<string, unknown>;

interface ExpressionInput {
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Document;
}
interface WriteInput extends ExpressionInput {
  TableName: string;
  ConditionExpression?: string;
  ReturnValues?: 'NONE' | 'ALL_OLD' | 'ALL_NEW' | 'UPDATED_OLD' | 'UPDATED_NEW';
}
export interface GetInput {
  TableName: string;
  Key: Document;
  ConsistentRead?: boolean;
}
export interface PutInput extends WriteInput {
  Item: Document;
}
export interface UpdateInput extends WriteInput {
  Key: Document;
  UpdateExpression: string;
}
export interface DeleteInput extends WriteInput {
  Key: Document;
}
export interface QueryInput extends ExpressionInput {
  TableName: string;
  IndexName?: string;
  KeyConditionExpression: string;
  FilterExpression?: string;
  Limit?: number;
  ScanIndexForward?: boolean;
  ConsistentRead?: boolean;
  ExclusiveStartKey?: Document;
}

/* ---------- the attribute-value format: {"S": "text"}, {"N": "1"}, {"M": {...}} ---------- */

type AttributeValue = { S: string } | { N: string } | { B: string } | { BOOL: boolean } | { NULL: true } | { L: AttributeValue[] } | { M: Record<string, AttributeValue> };

/** A JavaScript value as an attribute value; undefined fields are left out (the SDK's removeUndefinedValues). */
export function marshall(value: unknown): AttributeValue {
  if (value === null) return { NULL: true };
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`DynamoDB cannot store the number ${value}`);
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
    case 'object':
      if (value instanceof Uint8Array) return { B: Buffer.from(value).toString('base64') };
      if (Array.isArray(value)) return { L: value.map(marshall) };
      return { M: marshallDocument(value as Document) };
    default:
      throw new TypeError(`DynamoDB cannot store a ${typeof value}`);
  }
}

export function marshallDocument(document: Document): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(document)) if (value !== undefined) out[key] = marshall(value);
  return out;
}

export function unmarshall(value: AttributeValue): unknown {
  if ('S' in value) return value.S;
  if ('N' in value) return Number(value.N);
  if ('B' in value) return Buffer.from(value.B, 'base64');
  if ('BOOL' in value) return value.BOOL;
  if ('NULL' in value) return null;
  if ('L' in value) return value.L.map(unmarshall);
  if ('M' in value) return unmarshallDocument(value.M);
  throw new TypeError(`unsupported attribute type ${Object.keys(value).join(',')}`);
}

export function unmarshallDocument(document: Record<string, AttributeValue>): Document {
  return Object.fromEntries(Object.entries(document).map(([key, value]) => [key, unmarshall(value)]));
}

type Wire = Record<string, AttributeValue>;
const maybe = <T, R>(value: T | undefined, convert: (value: T) => R) => (value === undefined ? undefined : convert(value));

/** The fields of a request that hold documents, in the attribute-value format. */
function toWire<T extends object>(input: T): Record<string, unknown> {
  const out = { ...input } as Record<string, unknown>;
  for (const field of ['Item', 'Key', 'ExpressionAttributeValues', 'ExclusiveStartKey'] as const) {
    if (field in out && out[field] !== undefined) out[field] = marshallDocument(out[field] as Document);
  }
  return out;
}

export class DynamoDocuments {
  constructor(private readonly endpoint: string | undefined) {}

  private async call<T>(operation: string, input: object): Promise<T> {
    const reply = await awsRequest({
      service: 'dynamodb',
      endpoint: this.endpoint,
      path: '/',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `DynamoDB_20120810.${operation}` },
      body: JSON.stringify(input),
    });
    return JSON.parse(reply.body) as T;
  }

  async get(input: GetInput): Promise<{ Item?: Document }> {
    const { Item } = await this.call<{ Item?: Wire }>('GetItem', toWire(input));
    return { Item: maybe(Item, unmarshallDocument) };
  }

  /** PutItem, UpdateItem, DeleteItem: a write that returns the attributes ReturnValues asks for. */
  private async write(operation: 'PutItem' | 'UpdateItem' | 'DeleteItem', input: WriteInput): Promise<{ Attributes?: Document }> {
    const { Attributes } = await this.call<{ Attributes?: Wire }>(operation, toWire(input));
    return { Attributes: maybe(Attributes, unmarshallDocument) };
  }

  put = (input: PutInput) => this.write('PutItem', input);
  update = (input: UpdateInput) => this.write('UpdateItem', input);
  delete = (input: DeleteInput) => this.write('DeleteItem', input);

  async query(input: QueryInput): Promise<{ Items: Document[]; LastEvaluatedKey?: Document }> {
    const { Items = [], LastEvaluatedKey } = await this.call<{ Items?: Wire[]; LastEvaluatedKey?: Wire }>('Query', toWire(input));
    return { Items: Items.map(unmarshallDocument), LastEvaluatedKey: maybe(LastEvaluatedKey, unmarshallDocument) };
  }

  /** Every item of `keys` that exists (in no particular order): BatchGetItem, 100 keys a call, until none is left unprocessed. */
  async getAll(table: string, keys: Document[]): Promise<Document[]> {
    const found: Document[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending = keys.slice(i, i + 100).map(marshallDocument);
      while (pending.length > 0) {
        const { Responses = {}, UnprocessedKeys = {} } = await this.call<{ Responses?: Record<string, Wire[]>; UnprocessedKeys?: Record<string, { Keys: Wire[] }> }>(
          'BatchGetItem',
          { RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } },
        );
        found.push(...(Responses[table] ?? []).map(unmarshallDocument));
        pending = UnprocessedKeys[table]?.Keys ?? [];
      }
    }
    return found;
  }

  async listTables(limit: number): Promise<string[]> {
    const { TableNames = [] } = await this.call<{ TableNames?: string[] }>('ListTables', { Limit: limit });
    return TableNames;
  }
}

/** One client per container. */
let client: DynamoDocuments | undefined;

export function dynamo(): DynamoDocuments {
  client ??= new DynamoDocuments(config('dynamo').DYNAMODB_ENDPOINT);
  return client;
}
