import type { LambdaClient } from '@aws-sdk/client-lambda';
import { config } from '../../lib/config';
import type { WorkerKick } from './migrations';

let lambda: LambdaClient | undefined;

/**
 * Starts the migration worker now with an asynchronous (Event) invoke; its schedule is the fallback.
 * The Lambda client is loaded on the first call: of the flights functions only the migration requests
 * start the worker, and the others should not pay for its module init (docs/benchmarks.md).
 */
export const invokeMigrationWorker: WorkerKick = async () => {
  const { MIGRATION_WORKER_FUNCTION, LAMBDA_ENDPOINT } = config('migrations');
  const { InvokeCommand, LambdaClient } = await import('@aws-sdk/client-lambda');
  lambda ??= new LambdaClient({
    region: config('aws').AWS_REGION,
    ...(LAMBDA_ENDPOINT ? { endpoint: LAMBDA_ENDPOINT } : {}),
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_200, throwOnRequestTimeout: true },
  });
  await lambda.send(new InvokeCommand({ FunctionName: MIGRATION_WORKER_FUNCTION, InvocationType: 'Event', Payload: '{}' }));
};
