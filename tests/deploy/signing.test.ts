import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { awsRequest } from '../../lib/clients/aws';
import { DynamoDocuments } from '../../lib/clients/dynamo';
import { resetConfigCache } from '../../lib/config';
import { startMoto } from '../support/deploy-setup';

/**
 * The functions sign their AWS calls themselves (lib/clients/aws.ts). moto with authentication on
 * checks every signature by recomputing it with botocore, AWS's own Python signer, so this is where a
 * signing mistake that dynalite and sls offline would accept shows up.
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
    const invoke = awsRequest({ service: 'lambda', endpoint, path: `/2015-03-31/functions/${encodeURIComponent('no-such:function')}/invocations`, headers: { 'X-Amz-Invocation-Type': 'Event' }, body: '{}' });
    await expect(invoke).rejects.toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
  });

  it('a wrong secret is refused as a bad signature', async () => {
    useCredentials(accessKey.id, `${accessKey.secret}x`);
    await expect(new DynamoDocuments(endpoint).listTables(1)).rejects.toMatchObject({ name: expect.stringMatching(/Signature/), status: 403 });
  });
});
