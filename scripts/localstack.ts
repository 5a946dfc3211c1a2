import { startLocalDeployment } from './localstack/deploy';
import { untilAborted } from './localstack/processes';

/**
 * `npm run localstack`: the whole product on LocalStack community, on this host and without Docker,
 * until Ctrl-C. Deploys `--stage local` with the project's LocalStack plugins (Lambda authorizers that
 * run, gateway responses as deployed, the WebSocket API, functions as local Node processes:
 * localstack/README.md) and its databases, seeds the admin of ADMIN_EMAIL / ADMIN_PASSWORD as `npm start` does, waits for every
 * service to register, prints the URLs. Ctrl-C in any phase stops everything it started.
 */

const say = (line: string) => console.log(`[localstack] ${line}`);

async function main(): Promise<void> {
  const interrupted = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupted.abort(new Error(`interrupted (${signal})`)));
  if (!process.env.ADMIN_EMAIL || !process.env.ADMIN_PASSWORD) say('ADMIN_EMAIL and ADMIN_PASSWORD are not both set: no admin is seeded (set them to manage flights)');
  let deployment;
  try {
    deployment = await startLocalDeployment({ log: say, signal: interrupted.signal });
    console.log('');
    say(`API: ${deployment.apiUrl}   (try: curl ${deployment.apiUrl}/health)`);
    say(`Web app: ${deployment.apiUrl}/   (open it in a browser)`);
    say(`WebSocket: ${deployment.websocketUrl}   (live seat maps: connect with a ticket from POST /realtime/tickets)`);
    say(`Inbox: ${deployment.endpoint}/_aws/ses   (the emails sent, in LocalStack's SES)`);
    say(`LocalStack: ${deployment.endpoint}   logs: ${deployment.workDir}`);
    say('Ctrl-C stops everything started here.');
    await untilAborted(interrupted.signal);
  } catch (error) {
    if (!interrupted.signal.aborted) {
      say(`failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  } finally {
    await deployment?.stop();
    if (interrupted.signal.aborted) say('stopped');
  }
}

void main();
