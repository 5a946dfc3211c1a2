import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { DynamoDocuments } from '../../lib/clients/dynamo';
import { resetConfigCache } from '../../lib/config';
import { invokeMigrationWorker } from '../../functions/flights/worker-kick';
import { startMoto } from '../support/deploy-setup';

/**
 * The functions' own AWS calls (the stores' DynamoDB client, the migration worker's Lambda invoke) as
 * configured in lib/clients/dynamo.ts and functions/flights/worker-kick.ts, checked by moto with
 * authentication on: it recomputes every signature with botocore, so credentials that do not reach the
 * SDK, or an endpoint or region it signs for wrongly, show up here, where dynalite and sls offline
 * would accept anything.
 */
let moto: ChildProcess;
let endpoint: string;
let accessKey: { id: string; secret: string };

function useCredentials(id: string, secret: string) {
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_REGION: 'us-east-1' });
  resetConfigCache();
}

beforeAll(async () => {
  // The first three calls (user, key, policy) are let through; every call after them must be signed right.
  ({ endpoint, moto } = await startMoto(path.join(mkdtempSync(path.join(tmpdir(), 'signing-')), 'moto.log'), { INITIAL_NO_AUTH_ACTION_COUNT: '3' }));
  const iam = new IAMClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' } });
  await iam.send(new CreateUserCommand({ UserName: 'signer' }));
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'signer' }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'signer',
      PolicyName: 'calls',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['dynamodb:ListTables', 'lambda:*'], Resource: '*' }] }),
    }),
  );
  accessKey = { id: AccessKey!.AccessKeyId!, secret: AccessKey!.SecretAccessKey! };
  iam.destroy();
});

afterAll(() => {
  moto?.kill();
  resetConfigCache();
});

describe('SigV4 signatures checked by moto', () => {
  it('DynamoDB accepts a signed call', async () => {
    useCredentials(accessKey.id, accessKey.secret);
    await expect(new DynamoDocuments(endpoint).listTables(1)).resolves.toEqual(expect.any(Array));
  });

  it('Lambda accepts a signed invoke of a path with an encoded function name (and says the function is missing)', async () => {
    useCredentials(accessKey.id, accessKey.secret);
    Object.assign(process.env, { MIGRATION_WORKER_FUNCTION: 'no-such:function', LAMBDA_ENDPOINT: endpoint });
    resetConfigCache();
    await expect(invokeMigrationWorker()).rejects.toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
  });

  it('a wrong secret is refused as a bad signature', async () => {
    useCredentials(accessKey.id, `${accessKey.secret}x`);
    // moto words the refusal in XML, which the SDK's JSON protocol cannot parse, so its status is the
    // evidence: the same call with the right secret succeeds (above).
    await expect(new DynamoDocuments(endpoint).listTables(1)).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
  });
});
