import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { config } from '../../lib/config';
import type { WorkerKick } from './migrations';

/** Starts the migration worker now with an asynchronous (Event) invoke. */
let client: LambdaClient | undefined;

export const invokeMigrationWorker: WorkerKick = async () => {
  const { MIGRATION_WORKER_FUNCTION, LAMBDA_ENDPOINT, AWS_REGION } = config('migrations');
  client ??= new LambdaClient({ region: AWS_REGION, maxAttempts: 2, ...(LAMBDA_ENDPOINT ? { endpoint: LAMBDA_ENDPOINT } : {}) });
  await client.send(new InvokeCommand({ FunctionName: MIGRATION_WORKER_FUNCTION, InvocationType: 'Event', Payload: Buffer.from('{}') }));
};
