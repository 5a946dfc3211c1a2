import { randomBytes, randomUUID } from 'node:crypto';
import { call, expectThat, Surprise, travellerJourney, type Step } from './journey';
import { startLocalDeployment, type Log } from './localstack/deploy';
import { untilAborted } from './localstack/processes';

/**
 * `npm run deploy:localstack` (CI's check of the deploy path): the stack deployed on LocalStack with its
 * databases (scripts/localstack/deploy.ts), the whole journey through LocalStack's API Gateway with the
 * Lambda authorizer running (localstack/plugin): an admin creates a flight, a traveller holds, pays and
 * books, a seat-map migration runs through the worker function under its lock, the payments audit is
 * ok, the flight is cancelled, discovery finds every registered service, and protected routes refuse
 * callers without a token with the deployed gateway responses. Then everything is removed and stopped.
 * `--keep` leaves it running until Ctrl-C. Also used by tests/deploy/localstack.test.ts.
 */

export interface RunOptions {
  log?: Log;
  /** Called once the stack is deployed, before the journey; e.g. for more checks. */
  afterDeploy?: (context: { apiUrl: string; endpoint: string }) => Promise<void>;
  keep?: boolean;
  signal?: AbortSignal;
}

export interface RunResult {
  apiUrl: string;
  steps: string[];
  timings: Record<string, number>;
}

/** The journey through LocalStack, plus what only a deployment shows: the gateway's refusals and discovery. */
export async function localstackJourney(apiUrl: string, admin: { email: string; password: string }, log: Log, endpoint: string): Promise<string[]> {
  const steps: string[] = [];
  const step: Step = async (name, run) => {
    const started = Date.now();
    const result = await run();
    log(`  ✓ ${name} (${Date.now() - started} ms)`);
    steps.push(name);
    return result;
  };
  await step('protected routes refuse a caller without a token with the gateway response (401 problem JSON)', async () => {
    for (const [method, route] of [['GET', '/users/me'], ['GET', '/admin/users'], ['GET', '/registry/services'], ['POST', '/flights']] as const) {
      const answer = await call(apiUrl, method, route, 401);
      expectThat(answer.code === 'UNAUTHORIZED', `${method} ${route} answered ${JSON.stringify(answer)}`);
    }
  });
  await step('a bad token is refused by the authorizer (401)', () => call(apiUrl, 'GET', '/users/me', 401, { token: 'not-a-token' }));
  await step("the web app's page and the script it names load (resolved against the page, as a browser does)", async () => {
    const page = (await call(apiUrl, 'GET', '/', 200)) as string;
    const script = /<script type="module"[^>]* src="([^"]+)"/.exec(page)?.[1];
    expectThat(script !== undefined, `the page names no script: ${page.slice(0, 300)}`);
    const response = await fetch(new URL(script!, `${apiUrl}/`), { signal: AbortSignal.timeout(30_000) });
    expectThat(response.status === 200 && !!response.headers.get('content-type')?.startsWith('text/javascript'), `the script answered ${response.status} ${response.headers.get('content-type')}`);
  });
  await travellerJourney({ base: apiUrl, step, admin, operations: true, sentEmails: (to) => localstackEmails(endpoint, to) });
  await step('discovery finds every registered service', async () => {
    const { accessToken } = await call(apiUrl, 'POST', '/auth/login', 200, { body: admin });
    const { items } = await call(apiUrl, 'GET', '/registry/services', 200, { token: accessToken });
    const names = (items as { name: string; healthy: number }[]).filter((s) => s.healthy > 0).map((s) => s.name);
    expectThat(['users', 'flights', 'seats', 'payments', 'notifications', 'registry'].every((s) => names.includes(s)), `registered: ${names.join(', ')}`);
    const seats = await call(apiUrl, 'GET', '/registry/services/seats/instances', 200, { token: accessToken });
    expectThat(seats.items.every((i: { attributes: { url: string } }) => i.attributes.url === apiUrl), `the seats service registered ${JSON.stringify(seats.items)}`);
  });
  return steps;
}

/** The subjects of the emails LocalStack's SES has sent to an address (its `/_aws/ses` endpoint). */
async function localstackEmails(endpoint: string, to: string): Promise<string[]> {
  const response = await fetch(`${endpoint}/_aws/ses`, { signal: AbortSignal.timeout(10_000) });
  const { messages } = (await response.json()) as { messages: { Destination: { ToAddresses?: string[] }; Subject: string }[] };
  return messages.filter((message) => message.Destination.ToAddresses?.includes(to)).map((message) => message.Subject);
}

export async function runLocalstackDeploy(options: RunOptions = {}): Promise<RunResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const timings: Record<string, number> = {};
  const admin = { email: `admin-${randomUUID()}@example.com`, password: randomBytes(12).toString('base64url') };
  const deployment = await startLocalDeployment({ log, timings, admin, signal: options.signal });
  try {
    log(`API: ${deployment.apiUrl}`);
    log(`WebSocket: ${deployment.websocketUrl}`);
    if (options.afterDeploy) await options.afterDeploy(deployment);
    const started = Date.now();
    // Ctrl-C mid-journey stops at once (the teardown below) rather than after the journey's last step
    const steps = await Promise.race([localstackJourney(deployment.apiUrl, admin, log, deployment.endpoint), untilAborted(options.signal)]);
    timings.journey = Date.now() - started;
    if (options.keep) {
      log(`running until Ctrl-C: API ${deployment.apiUrl}, WebSocket ${deployment.websocketUrl}, LocalStack ${deployment.endpoint}`);
      await untilAborted(options.signal).catch(() => undefined);
    }
    return { apiUrl: deployment.apiUrl, steps, timings };
  } finally {
    await deployment.stop();
  }
}

if (require.main === module) {
  const started = Date.now();
  const interrupted = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupted.abort(new Error(`interrupted (${signal})`)));
  runLocalstackDeploy({ keep: process.argv.includes('--keep'), signal: interrupted.signal })
    .then(({ timings }) => console.log(`LocalStack deploy passed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(timings)}`))
    .catch((error: Error) => {
      console.error(interrupted.signal.aborted ? 'LocalStack deploy interrupted; everything it started is stopped' : `LocalStack deploy FAILED: ${error instanceof Surprise ? error.message : error.stack}`);
      process.exitCode = interrupted.signal.aborted ? 130 : 1;
    });
}
