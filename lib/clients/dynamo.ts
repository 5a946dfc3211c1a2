import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type DeleteCommandInput,
  type GetCommandInput,
  type PutCommandInput,
  type QueryCommandInput,
  type ScanCommandInput,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { config } from '../config';

/**
 * DynamoDB as plain JavaScript objects, through the v3 SDK's DocumentClient: the few operations the
 * stores use, behind one small class so a store never sees the SDK. Credentials come from the SDK's
 * default chain (on Lambda, the function's role). Each attempt has 1.2 s and there are two, so a hung
 * endpoint fails a request within API.md's 3 s for a 503 (lib/http/unavailable.ts reads the SDK's
 * TimeoutError, throttling and 5xx); errors keep the SDK's names (`ConditionalCheckFailedException`).
 */

export type Document = Record<string, unknown>;

export class DynamoDocuments {
  private readonly base: DynamoDBClient;
  private readonly documents: DynamoDBDocumentClient;

  constructor(endpoint: string | undefined, region = config('aws').AWS_REGION) {
    this.base = new DynamoDBClient({
      region,
      ...(endpoint ? { endpoint } : {}),
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_200, throwOnRequestTimeout: true },
    });
    this.documents = DynamoDBDocumentClient.from(this.base, { marshallOptions: { removeUndefinedValues: true } });
  }

  async get(input: GetCommandInput): Promise<{ Item?: Document }> {
    return { Item: (await this.documents.send(new GetCommand(input))).Item };
  }

  async put(input: PutCommandInput): Promise<{ Attributes?: Document }> {
    return { Attributes: (await this.documents.send(new PutCommand(input))).Attributes };
  }

  async update(input: UpdateCommandInput): Promise<{ Attributes?: Document }> {
    return { Attributes: (await this.documents.send(new UpdateCommand(input))).Attributes };
  }

  async delete(input: DeleteCommandInput): Promise<{ Attributes?: Document }> {
    return { Attributes: (await this.documents.send(new DeleteCommand(input))).Attributes };
  }

  async query(input: QueryCommandInput): Promise<{ Items: Document[]; LastEvaluatedKey?: Document }> {
    const { Items = [], LastEvaluatedKey } = await this.documents.send(new QueryCommand(input));
    return { Items, LastEvaluatedKey };
  }

  async scan(input: ScanCommandInput): Promise<{ Items: Document[]; LastEvaluatedKey?: Document }> {
    const { Items = [], LastEvaluatedKey } = await this.documents.send(new ScanCommand(input));
    return { Items, LastEvaluatedKey };
  }

  /** Every item of `keys` that exists (in no particular order): BatchGetItem, 100 keys a call, until none is left unprocessed. */
  async getAll(table: string, keys: Document[]): Promise<Document[]> {
    const found: Document[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending = keys.slice(i, i + 100);
      while (pending.length > 0) {
        const { Responses = {}, UnprocessedKeys = {} } = await this.documents.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }));
        found.push(...(Responses[table] ?? []));
        pending = (UnprocessedKeys[table]?.Keys as Document[] | undefined) ?? [];
      }
    }
    return found;
  }

  async listTables(limit: number): Promise<string[]> {
    return (await this.base.send(new ListTablesCommand({ Limit: limit }))).TableNames ?? [];
  }
}

/** One client per container. */
let client: DynamoDocuments | undefined;

export function dynamo(): DynamoDocuments {
  client ??= new DynamoDocuments(config('dynamo').DYNAMODB_ENDPOINT);
  return client;
}
