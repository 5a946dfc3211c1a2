import { awsRequest } from '../../lib/clients/aws';
import { config } from '../../lib/config';
import type { WorkerKick } from './migrations';

/** Starts the migration worker now with an asynchronous (Event) invoke of the Lambda Invoke API. */
export const invokeMigrationWorker: WorkerKick = async () => {
  const { MIGRATION_WORKER_FUNCTION, LAMBDA_ENDPOINT } = config('migrations');
  await awsRequest({
    service: 'lambda',
    endpoint: LAMBDA_ENDPOINT,
    path: `/2015-03-31/functions/${encodeURIComponent(MIGRATION_WORKER_FUNCTION)}/invocations`,
    headers: { 'X-Amz-Invocation-Type': 'Event' },
    body: '{}',
  });
};
