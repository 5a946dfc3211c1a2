import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { freePort, inProcessService, tcpProbe, ServerProcess, serverService, type Started } from './process';

/** DynamoDB: dynalite, and the client the launcher uses on a local or given endpoint. */

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** An endpoint on this machine (dynalite, DynamoDB Local), which accepts any credentials. */
export const isLocalEndpoint = (url: string) => /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(url);

export function dynamoClient(endpoint: string | undefined, region: string): DynamoDBClient {
  return new DynamoDBClient({
    region,
    maxAttempts: 1,
    ...(endpoint ? { endpoint } : {}),
    // A local endpoint accepts any credentials, but the SDK insists on having some. Any other endpoint
    // gets the SDK's own (a profile, SSO, a role), as the functions do.
    ...(endpoint && isLocalEndpoint(endpoint) && !process.env.AWS_ACCESS_KEY_ID ? { credentials: LOCAL_CREDENTIALS } : {}),
  });
}

export async function pingDynamo(endpoint: string, region: string): Promise<void> {
  const client = dynamoClient(endpoint, region);
  try {
    await client.send(new DescribeTableCommand({ TableName: 'probe' })).catch((error: Error) => {
      if (error.name !== 'ResourceNotFoundException') throw error;
    });
  } finally {
    client.destroy();
  }
}

const DYNALITE_OPTIONS = { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 };

export async function startDynalite(dataDir: string, region: string, signal?: AbortSignal, inProcess = false): Promise<Started> {
  const port = await freePort();
  const dir = path.join(dataDir, 'dynalite');
  mkdirSync(dir, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  if (inProcess) {
    const server = (require('dynalite') as (options: object) => import('node:http').Server)({ path: dir, ...DYNALITE_OPTIONS });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    return inProcessService('dynamodb', url, 'dynalite', () => new Promise<void>((resolve) => server.close(() => resolve())));
  }
  // dynalite is a library: run its CLI with this Node so it is a child we can stop like the others.
  const server = new ServerProcess(
    'dynalite',
    process.execPath,
    [require.resolve('dynalite/cli.js'), '--host', '127.0.0.1', '--port', String(port), '--path', dir, ...Object.entries(DYNALITE_OPTIONS).flatMap(([name, value]) => [`--${name}`, String(value)])],
    path.join(dataDir, 'dynalite.log'),
    () => tcpProbe(port).then(() => pingDynamo(url, region)),
  );
  await server.start(signal);
  return serverService('dynamodb', url, port, server, (pid) => `dynalite (pid ${pid})`);
}
