import type { LambdaClient } from '@aws-sdk/client-lambda';
import { config } from '../config';

let lambda: LambdaClient | undefined;

/**
 * Starts a function with an asynchronous (Event) invoke: Lambda queues the event and answers at once,
 * so the caller never waits for the work. Under `sls offline`, LAMBDA_ENDPOINT is the emulator's
 * invoke endpoint. The client is loaded on the first call: of the functions that may start another,
 * most requests never do, and they should not pay for its module init (docs/benchmarks.md).
 */
export async function invokeAsync(functionName: string, payload: unknown): Promise<void> {
  const { AWS_REGION, LAMBDA_ENDPOINT } = config('lambda');
  const { InvokeCommand, LambdaClient } = await import('@aws-sdk/client-lambda');
  lambda ??= new LambdaClient({
    region: AWS_REGION,
    ...(LAMBDA_ENDPOINT ? { endpoint: LAMBDA_ENDPOINT } : {}),
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_200, throwOnRequestTimeout: true },
  });
  await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: JSON.stringify(payload) }));
}
