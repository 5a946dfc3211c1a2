import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, freePort, redisTopology, startStack, type Stack } from './stack';
import { PortTakenError, assertPortsFree, freePortBesides, isPortFree, offlinePorts, startOffline, type Offline } from './offline';
import { seedAdmin } from './seed-admin';
import { startSampleData } from './sample-data';
import { closeMongo } from '../lib/clients/mongo';

/**
 * `npm start`: the backing services (given by URL, or started here with data in .data/), the first
 * admin when ADMIN_EMAIL / ADMIN_PASSWORD are set, then `sls offline` on PORT (3000), with the live
 * seat maps' WebSocket API on WEBSOCKET_PORT (a free port unless given). Ctrl-C or
 * SIGTERM at any moment stops everything this started, and a port already in use is refused before
 * anything starts.
 *
 * FLIGHT_BOOKING_DATA_DIR puts the data (databases, logs, the local JWT key) in another folder than
 * .data/; the tests run the launcher on a throwaway one. REDIS_CLUSTER_NODES puts the seats store on
 * that cluster; REDIS_TOPOLOGY=cluster (without seeds) starts a local Redis Cluster (3 primaries,
 * 3 replicas) with three Redlock servers beside it.
 */

const DATA_DIR = path.resolve(process.env.FLIGHT_BOOKING_DATA_DIR || path.join(PROJECT_ROOT, '.data'));
const say = (line: string) => console.log(`[start] ${line}`);

// What is running so far; the shutdown stops whatever of it exists.
let stack: Stack | undefined;
let offline: Offline | undefined;
let sampleData: ReturnType<typeof startSampleData>;
const stopping = new AbortController();
/** The ports sls offline is to listen on, by the variable that sets each, once chosen. */
let ports: Record<string, number> = {};

/** A signal at any moment cancels the start under way (which stops what it had started) and stops the rest. */
async function shutdown(exitCode: number): Promise<void> {
  if (stopping.signal.aborted) return;
  stopping.abort();
  sampleData?.stop();
  await starting;
  await Promise.all([offline?.stop(), stack?.stop(), sampleData?.done]);
  process.exit(exitCode);
}
function stopOnSignal(): void {
  if (!stopping.signal.aborted) say('stopping…');
  void shutdown(0);
}
process.on('SIGINT', stopOnSignal);
process.on('SIGTERM', stopOnSignal);
// dynalite and stripe-local run in this process (inProcessServers): a crash of either stops everything
// rather than leaving sls offline and the databases running without them.
process.on('uncaughtException', (error) => {
  say(`crashed: ${error.stack ?? error.message}; stopping…`);
  void shutdown(1);
});

/** A signing key for local tokens, made once and kept in the data folder so logins survive a restart. */
function localJwtKeys(): string {
  const file = path.join(DATA_DIR, 'jwt-keys');
  if (!existsSync(file)) {
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(file, `local-1:${randomBytes(48).toString('base64url')}\n`, { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/** One line for a taken port, suggesting the next port that is free and none of the launcher's other ports. */
async function portTakenAdvice({ port, variable }: PortTakenError): Promise<string> {
  const reserved = Object.values(ports);
  let suggestion = port + 1;
  while (reserved.includes(suggestion) || !(await isPortFree(suggestion))) suggestion += 1;
  return `port ${port} is taken (another npm start?); stop that process or run with ${variable}=${suggestion} npm start`;
}

async function start(): Promise<void> {
  const { signal } = stopping;
  const topology = redisTopology(process.env);
  const port = Number(process.env.PORT ?? 3000);
  const givenLambdaPort = process.env.LAMBDA_PORT ? Number(process.env.LAMBDA_PORT) : undefined;
  const givenWebsocketPort = process.env.WEBSOCKET_PORT ? Number(process.env.WEBSOCKET_PORT) : undefined;
  // The ports asked for are refused before the databases start; startOffline checks again in case one was taken meanwhile.
  ports = {
    PORT: port,
    ...(givenLambdaPort ? { LAMBDA_PORT: givenLambdaPort } : {}),
    ...(givenWebsocketPort ? { WEBSOCKET_PORT: givenWebsocketPort } : {}),
  };
  await assertPortsFree(ports);

  const redisNote = process.env.REDIS_CLUSTER_NODES ? ' (Redis: the cluster of REDIS_CLUSTER_NODES)' : topology === 'cluster' ? ' (Redis topology: cluster)' : '';
  say(`starting backing services${redisNote}…`);
  // The local provider posts webhooks only when asked: a stream of them stalls sls offline's next
  // requests (docs/architecture.md, Checkout); the payments sweep settles what a webhook would.
  const paymentWebhookUrl = process.env.STRIPE_LOCAL_WEBHOOKS === 'true' ? `http://127.0.0.1:${port}/payments/webhook` : undefined;
  stack = await startStack({ dataDir: DATA_DIR, log: say, signal, redisTopology: topology, paymentWebhookUrl, inProcessServers: true });
  // Chosen once the backing services hold their free ports (eighteen with a cluster), so that they are none of theirs.
  const lambdaPort = givenLambdaPort ?? (await freePort());
  const websocketPort = givenWebsocketPort ?? (await freePortBesides([port, lambdaPort]));
  ports = offlinePorts({ port, lambdaPort, websocketPort });
  // A REDIS_URL left in the shell beside the cluster's REDIS_CLUSTER_NODES (or the reverse, which the
  // functions would prefer) would point them at another Redis than the one listed below.
  for (const name of ['REDIS_URL', 'REDIS_CLUSTER_NODES']) if (!(name in stack.env)) delete process.env[name];

  const apiUrl = `http://localhost:${port}`;
  const env = {
    ...process.env,
    ...stack.env,
    JWT_KEYS: process.env.JWT_KEYS || localJwtKeys(),
    PUBLIC_API_URL: process.env.PUBLIC_API_URL || apiUrl,
  };
  Object.assign(process.env, env);

  const seeded = await seedAdmin(env).finally(closeMongo);
  if (seeded) say(seeded);

  // The sample schedule (an empty database only) is written while sls offline bundles the functions.
  sampleData = startSampleData(env, say);
  say('starting sls offline (bundling the functions takes a few seconds)…');
  offline = await startOffline({ port, lambdaPort, websocketPort, env, log: say, signal });
  offline.child.on('exit', (code) => void shutdown(code ?? 1));
  await sampleData?.done;

  console.log('');
  say(`API: ${apiUrl}   (try: curl ${apiUrl}/health)`);
  say(`Web app: ${apiUrl}/   (open it in a browser)`);
  say(`WebSocket: ${offline.websocketUrl}   (live seat maps: connect with a ticket from POST /realtime/tickets)`);
  say(`Inbox: ${stack.env.SES_ENDPOINT}   (every email sent: booking confirmations, cancellations, password resets; JSON at ${stack.env.SES_ENDPOINT}/store)`);
  for (const service of stack.services) say(`${service.name.padEnd(8)} ${service.url}  ← ${service.source}`);
  const redisNodes = stack.redisNodes();
  if (redisNodes.length > 1) say(`${''.padEnd(8)} nodes: ${redisNodes.map(({ port: nodePort, pid }) => `${nodePort} (pid ${pid})`).join(', ')}`);
  say('Ctrl-C stops everything started here.');
}

const starting = start().catch(async (error: Error) => {
  // A start cut short by a signal is no failure: shutdown() is already stopping everything.
  if (stopping.signal.aborted) return;
  console.error(`[start] ${error instanceof PortTakenError ? await portTakenAdvice(error) : error.message}`);
  void shutdown(1);
});
