import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startStack, type Stack, type StackOptions } from '../../scripts/stack';

/**
 * Starts the real backing services for a test run on throwaway ports and folders (never the dev data
 * in .data/), and publishes their URLs to the test workers through the environment.
 */
declare global {
  // eslint-disable-next-line no-var
  var testStack: { stack: Stack; stopOthers?: () => Promise<void> } | undefined;
}

export async function startTestStack(options: Pick<StackOptions, 'redisTopology' | 'redlockServers' | 'paymentWebhookUrl'> = {}): Promise<Stack> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-test-'));
  // Only what the test run itself starts: URLs from the developer's shell are ignored on purpose.
  const stack = await startStack({ dataDir, env: { AWS_REGION: 'us-east-1' }, stage: 'test', ...options });
  Object.assign(process.env, stack.env, {
    TEST_DATA_DIR: dataDir,
    STAGE: 'test',
    JWT_KEYS: `test-1:${randomBytes(32).toString('base64url')},test-0:${randomBytes(32).toString('base64url')}`,
    PUBLIC_API_URL: 'http://127.0.0.1:9',
    // Tests provoke failures on purpose; their warnings would bury the test output.
    LOG_LEVEL: 'error',
  });
  globalThis.testStack = { stack };
  return stack;
}

export default async function setup(): Promise<void> {
  await startTestStack();
}
