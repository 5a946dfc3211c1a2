import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { freePort } from '../scripts/stack';
import { fmt, HTTP_SECONDS, say } from './measure';
import { section, type Section } from './report';
import { seatModules } from './fixtures';
import { bundle } from './bundles';
import { startBenchOffline } from './lifecycle';

/* ---------- 2. end-to-end HTTP through sls offline vs the same handlers behind node:http ---------- */
export async function endToEnd(stackEnv: Record<string, string>): Promise<Section> {
  const { rows, notes, row } = section();
  say(`end-to-end HTTP (autocannon, 50 connections, 5 s warm-up + 3 × ${HTTP_SECONDS} s per case)`);
  const { redis, RedisSeatStore, SeatService, seatMap, ON_SALE_DEPARTURE, newFlightId } = await seatModules();
  const seatService = new SeatService(new RedisSeatStore(redis()), 600_000);
  // Enough seats that no run sells out (a sold-out seat answers 409 and would count as an error);
  // every run starts from freshly provisioned flights.
  const holdFlights = Array.from({ length: 250 }, newFlightId);
  const mapFlight = newFlightId();
  const seatIds = seatMap(100, 'ABCDEFGHJK').seats.map((s) => s.id);
  const provisionAll = async () => {
    await redis().flushdb();
    await Promise.all(holdFlights.map((id) => seatService.provision(id, 1, ON_SALE_DEPARTURE, seatMap(100, 'ABCDEFGHJK'))));
    await seatService.provision(mapFlight, 1, ON_SALE_DEPARTURE, seatMap(30));
  };
  await provisionAll();

  const port = await freePort();
  const offline = await startBenchOffline({ port, lambdaPort: await freePort(), stage: 'bench', env: { ...process.env, ...stackEnv, PUBLIC_API_URL: `http://127.0.0.1:${port}`, POWERTOOLS_METRICS_DISABLED: 'false' }, logFile: path.join(tmpdir(), `bench-offline-${port}.log`), quiet: true });
  const adapter = await nodeHttpAdapter();
  try {
    // A traveller may hold at most nine seats of a flight, so seat k of every flight goes to traveller k / 9.
    const { HOLD_LIMIT_PER_USER } = await import('../functions/seats/model');
    const travellers = await Promise.all(
      Array.from({ length: Math.ceil(1000 / HOLD_LIMIT_PER_USER) }, async () => {
        const register = await fetch(`${offline.url}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `e2e-${randomUUID()}@example.com`, password: 'bench password', name: 'Bench' }) });
        return `Bearer ${((await register.json()) as { accessToken: string }).accessToken}`;
      }),
    );
    let next = 0;
    const holdRequest = {
      method: 'POST' as const,
      setupRequest: (request: { headers?: Record<string, string> }) => {
        const k = next++;
        return {
          ...request,
          path: `/flights/${holdFlights[Math.floor(k / 1000) % holdFlights.length]}/holds`,
          headers: { ...request.headers, authorization: travellers[Math.floor((k % 1000) / HOLD_LIMIT_PER_USER)]! },
          body: JSON.stringify({ seats: [seatIds[k % 1000]] }),
        };
      },
    };
    const run = (url: string, requests: object[], seconds: number) =>
      new Promise<autocannon.Result>((resolve, reject) =>
        autocannon({ url, connections: 50, duration: seconds, headers: { authorization: travellers[0]!, 'content-type': 'application/json' }, requests: requests as never }, (error, result) => (error ? reject(error) : resolve(result))),
      );
    /** A warm-up, then three runs from fresh seats; the run with the median throughput. */
    const measure = async (url: string, requests: object[]) => {
      await provisionAll();
      next = 0;
      await run(url, requests, 5);
      const results: autocannon.Result[] = [];
      for (let i = 0; i < 3; i += 1) {
        await provisionAll();
        next = 0;
        results.push(await run(url, requests, HTTP_SECONDS));
      }
      return results.sort((a, b) => a.requests.average - b.requests.average)[1]!;
    };
    for (const [label, url] of [['sls offline', offline.url], ['node:http adapter (same handlers)', adapter.url]] as const) {
      const holdsResult = await measure(url, [holdRequest]);
      const mapResult = await measure(url, [{ method: 'GET', path: `/flights/${mapFlight}/seats` }]);
      for (const [what, r] of [['POST /flights/{id}/holds', holdsResult], ['GET /flights/{id}/seats', mapResult]] as const) {
        const errors = r.errors + r.timeouts + r.non2xx;
        row('2. end-to-end HTTP', `${what} via ${label}`, fmt(r.requests.average), fmt(r.latency.p50, 1), fmt(r.latency.p99, 1), errors, label.startsWith('sls') ? `target p99 < 50 ms, 0 errors: ${r.latency.p99 < 50 && errors === 0 ? 'met' : 'missed'}` : '');
      }
    }
    notes.push(
      'End-to-end: the load generator (autocannon), the emulator (or the adapter), Redis and MongoDB share the same 2 cores, so these rows measure the machine as much as the code; ' +
        'the node:http rows run the same Lambda bundles without the emulator, so the gap between the two is the emulator\'s share (hapi routing, event building, an authorizer invocation per request: sls offline does not cache authorizer results). ' +
        'The emulator runs without its per-request log lines (SLS_LOG_LEVEL=warning), and its file watcher covers only the source folders (serverless.yml: the default pattern walked .tools and .data, tens of thousands of files, and competed with the requests).',
    );
  } finally {
    await new Promise<void>((r) => adapter.server.close(() => r()));
    await offline.stop();
  }
  // The last run's flights, after the node:http holds run and the seat-map run.
  const audits = await Promise.all(holdFlights.slice(0, 10).map((id) => seatService.audit(id)));
  notes.push(`Double bookings after the HTTP runs: audit ok on every sampled flight: ${audits.every((a) => a.ok)}.`);
  return { rows, notes };
}

/** The same handler bundles Lambda runs, in this process, behind a minimal node:http server. */
async function nodeHttpAdapter(): Promise<{ server: Server; url: string }> {
  type Handlers = typeof import('../functions/seats/handlers');
  const { createHold, seatMap } = require((await bundle('functions/seats/handlers.ts')).outfile) as Handlers;
  const { authorize } = require((await bundle('functions/gateway/authorizer.ts')).outfile) as typeof import('../functions/gateway/authorizer');
  const readBody = (req: IncomingMessage) => new Promise<string>((resolve) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => resolve(body));
  });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const hold = /^\/flights\/([^/]+)\/holds$/.exec(url.pathname);
    const map = /^\/flights\/([^/]+)\/seats$/.exec(url.pathname);
    const event = {
      httpMethod: req.method,
      path: url.pathname,
      headers: req.headers as Record<string, string>,
      body: await readBody(req),
      queryStringParameters: null,
      pathParameters: { flightId: (hold ?? map)?.[1] },
      requestContext: { requestId: randomUUID(), authorizer: null },
    } as unknown as APIGatewayProxyEvent;
    try {
      let result;
      if (hold && req.method === 'POST') {
        const auth = await authorize({ headers: { Authorization: req.headers.authorization }, methodArn: `arn:aws:execute-api:us-east-1:1:api/bench/POST${url.pathname}` } as never);
        (event.requestContext as { authorizer: unknown }).authorizer = auth.context;
        result = await createHold(event, { functionName: 'createHold' } as never);
      } else if (map && req.method === 'GET') {
        result = await seatMap(event, { functionName: 'seatMap' } as never);
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(result.statusCode, result.headers as Record<string, string>).end(result.body);
    } catch {
      res.writeHead(401).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}
