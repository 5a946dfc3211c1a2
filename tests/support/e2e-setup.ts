import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { freePort } from '../../scripts/stack';
import { startOffline } from '../../scripts/offline';
import { startTestStack } from './stack-setup';

/** The end-to-end run: real backing services, a seeded admin, and `sls offline` on free ports. */
export default async function setup(): Promise<void> {
  const port = await freePort();
  // No webhooks from the local provider here (docs/architecture.md, Checkout: a stream of them stalls
  // sls offline's next requests); tests/e2e/checkout.test.ts posts them itself, and the reliability
  // suite's own stack has them.
  const stack = await startTestStack();
  Object.assign(process.env, {
    ADMIN_EMAIL: `admin-${randomBytes(4).toString('hex')}@example.com`,
    ADMIN_PASSWORD: randomBytes(12).toString('base64url'),
    PUBLIC_API_URL: `http://127.0.0.1:${port}`,
    // A short authorizer cache, so the lock-out of a disabled user can be watched without waiting 30 s.
    AUTHORIZER_CACHE_SECONDS: '1',
    // Every test calls from 127.0.0.1: budgets for the whole suite; tests/e2e/limits.test.ts uses addresses of its own.
    RATE_LIMIT_AUTH_PER_MINUTE: '300',
    RATE_LIMIT_PUBLIC_PER_MINUTE: '5000',
    RATE_LIMIT_USER_PER_MINUTE: '5000',
  });
  const { seedAdmin } = await import('../../scripts/seed-admin');
  const { closeMongo } = await import('../../lib/clients/mongo');
  await seedAdmin(process.env).finally(closeMongo);
  try {
    const lambdaPort = await freePort();
    // The emulator's Lambda invoke API, for the tests that invoke functions directly (no gateway).
    process.env.LAMBDA_INVOKE_URL = `http://127.0.0.1:${lambdaPort}`;
    const offline = await startOffline({
      port,
      lambdaPort,
      stage: 'test',
      // The functions log at info into offline.log, which tests/e2e/logs.test.ts reads.
      env: { ...process.env, LOG_LEVEL: 'info' },
      logFile: path.join(process.env.TEST_DATA_DIR!, 'offline.log'),
    });
    process.env.API_URL = offline.url;
    globalThis.testStack!.stopOthers = offline.stop;
  } catch (error) {
    await stack.stop();
    throw error;
  }
}
