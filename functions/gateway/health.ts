import { mongoDb } from '../../lib/clients/mongo';
import { redis } from '../../lib/clients/redis';
import { dynamo } from '../../lib/clients/dynamo';
import { AppError } from '../../lib/http/errors';
import { httpHandler } from '../../lib/http/stack';

/** Each dependency gets this long to answer, so /health answers within about 2 s even when one hangs. */
const CHECK_TIMEOUT_MS = 1_500;

type CheckStatus = 'ok' | 'down';

const checks: Record<'mongo' | 'redis' | 'dynamodb', () => Promise<unknown>> = {
  mongo: () => mongoDb().command({ ping: 1 }),
  redis: () => redis().ping(),
  dynamodb: () => dynamo().listTables(1),
};

async function run(check: () => Promise<unknown>): Promise<CheckStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

export async function healthChecks(): Promise<Record<keyof typeof checks, CheckStatus>> {
  const names = Object.keys(checks) as (keyof typeof checks)[];
  const results = await Promise.all(names.map((name) => run(checks[name])));
  return Object.fromEntries(names.map((name, i) => [name, results[i]])) as Record<keyof typeof checks, CheckStatus>;
}

export const handler = httpHandler({ route: 'GET /health' }, async () => {
  const results = await healthChecks();
  const failing = Object.entries(results).filter(([, status]) => status !== 'ok').map(([name]) => name);
  if (failing.length > 0) {
    throw new AppError('DEPENDENCY_DOWN', `${failing.join(', ')} ${failing.length > 1 ? 'are' : 'is'} down`, {
      checks: results,
      failing,
    });
  }
  return { status: 200, body: { status: 'ok', checks: results } };
});
