import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, type Stack } from '../scripts/stack';
import { fmt, percentile, say } from './measure';
import { section, type Section } from './report';
import { startBenchLocalstack, startBenchOffline } from './lifecycle';

/**
 * 10. The same requests through LocalStack's API Gateway (`npm run localstack`: the functions as local
 * Node processes, the Lambda authorizer run by our plugin) and through sls offline, in the same run:
 * a function's first call (a new execution environment), a warm public read, and an authorized read
 * with the authorizer's answer cached. Requests go one at a time (latency, not throughput).
 */

const WARM_REQUESTS = 200;
const TARGETS = { firstCallMs: 300, publicP50Ms: 35, authorizedP50Ms: 45 };
/** Routes whose functions nothing has called yet when the first-call row is measured (each its own function). */
const FIRST_CALLS = ['/openapi.json', '/health', '/flights?origin=BEN&destination=CHM&date=2030-01-01', '/flights/fl-0000000000000000', '/'];

interface Target {
  label: string;
  url: string;
}

/** One GET's latency; `expected` is the status it must answer (a first call may be a 404: it is the function's start that counts). */
async function timedGet(url: string, headers: Record<string, string> = {}, expected: (status: number) => boolean = (status) => status === 200): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  await response.arrayBuffer();
  if (!expected(response.status)) throw new Error(`GET ${url}: ${response.status}`);
  return performance.now() - started;
}

async function sequential(url: string, headers: Record<string, string> = {}): Promise<number[]> {
  for (let i = 0; i < 20; i++) await timedGet(url, headers); // warm-up: every environment and connection warm
  const times: number[] = [];
  for (let i = 0; i < WARM_REQUESTS; i++) times.push(await timedGet(url, headers));
  return times.sort((a, b) => a - b);
}

async function traveller(api: string): Promise<string> {
  const body = JSON.stringify({ email: `bench-${randomUUID()}@example.com`, password: randomBytes(12).toString('base64url'), name: 'Bench' });
  const response = await fetch(`${api}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (response.status !== 201) throw new Error(`register: ${response.status} ${await response.text()}`);
  return `Bearer ${((await response.json()) as { accessToken: string }).accessToken}`;
}

export async function localstackVsOffline(stack: Stack): Promise<Section> {
  const { rows, notes, row } = section();
  say('LocalStack (npm run localstack) vs sls offline: first calls, then 200 sequential requests per case after a warm-up');
  const localstack = await startBenchLocalstack({ log: (line) => say(`  localstack: ${line}`) });
  const port = await freePort();
  const offline = await startBenchOffline({
    port,
    lambdaPort: await freePort(),
    stage: 'bench',
    env: { ...process.env, ...stack.env, PUBLIC_API_URL: `http://127.0.0.1:${port}` },
    logFile: path.join(tmpdir(), `bench-offline-${port}.log`),
    quiet: true,
  });
  try {
    const targets: Target[] = [
      { label: 'LocalStack API Gateway', url: localstack.apiUrl },
      { label: 'sls offline', url: offline.url },
    ];
    const found: Record<string, { first: number[]; read: number[]; authorized: number[] }> = {};
    const firstCalls: Record<string, string> = {};
    for (const { label, url } of targets) {
      const first: number[] = [];
      for (const route of FIRST_CALLS) first.push(await timedGet(`${url}${route}`, {}, (status) => status < 500));
      firstCalls[label] = FIRST_CALLS.map((route, i) => `${route.split('?')[0]} ${fmt(first[i]!, 0)} ms`).join(', ');
      const token = await traveller(url);
      found[label] = { first: first.sort((a, b) => a - b), read: await sequential(`${url}/openapi.json`), authorized: await sequential(`${url}/users/me`, { authorization: token }) };
    }
    for (const { label } of targets) {
      const { first, read, authorized } = found[label]!;
      const onLocalstack = label.startsWith('LocalStack');
      const verdict = (value: number, target: number) => (onLocalstack ? `target ≤ ${target} ms: ${value <= target ? 'met' : 'missed'}` : '');
      row('10. LocalStack vs sls offline', `a function's first call (${FIRST_CALLS.length} functions, slowest) via ${label}`, '', fmt(percentile(first, 50), 1), fmt(first.at(-1)!, 1), 0, verdict(first.at(-1)!, TARGETS.firstCallMs));
      row('10. LocalStack vs sls offline', `warm public read (GET /openapi.json) via ${label}`, fmt(1000 / (read.reduce((a, b) => a + b, 0) / read.length)), fmt(percentile(read, 50), 1), fmt(percentile(read, 99), 1), 0, verdict(percentile(read, 50), TARGETS.publicP50Ms));
      row('10. LocalStack vs sls offline', `authorized read (GET /users/me, authorizer cached) via ${label}`, fmt(1000 / (authorized.reduce((a, b) => a + b, 0) / authorized.length)), fmt(percentile(authorized, 50), 1), fmt(percentile(authorized, 99), 1), 0, verdict(percentile(authorized, 50), TARGETS.authorizedP50Ms));
    }
    const ratio = (what: 'read' | 'authorized') => percentile(found['LocalStack API Gateway']![what], 50) / percentile(found['sls offline']![what], 50);
    notes.push(
      `LocalStack: a warm public read at p50 ${fmt(percentile(found['LocalStack API Gateway']!.read, 50), 1)} ms (${fmt(ratio('read'), 1)}× sls offline), an authorized one at ${fmt(percentile(found['LocalStack API Gateway']!.authorized, 50), 1)} ms (${fmt(ratio('authorized'), 1)}×), a function's first call at most ${fmt(found['LocalStack API Gateway']!.first.at(-1)!, 0)} ms (${firstCalls['LocalStack API Gateway']}).`,
    );
  } finally {
    await offline.stop();
    await localstack.stop();
  }
  return { rows, notes };
}
