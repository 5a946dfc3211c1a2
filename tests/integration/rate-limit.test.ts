import { randomUUID } from 'node:crypto';
import { closeRedis, redis } from '../../lib/clients/redis';
import { resetConfigCache } from '../../lib/config';
import { resetRateLimiters } from '../../lib/http/rate-limit';
import { httpHandler } from '../../lib/http/stack';
import type { Caller } from '../../lib/auth/roles';
import { apiEvent, invoke } from '../support/events';

/** Per-caller rate limits in the shared HTTP stack, counted in a real redis-server. */

/** One handler per route, as deployed: a route's budget is the route policy's class of the handler's own route. */
const handlers = new Map<string, ReturnType<typeof httpHandler>>();
const handlerOf = (route: string) => {
  if (!handlers.has(route)) handlers.set(route, httpHandler({ route }, async () => ({ status: 200, body: { ok: true } })));
  return handlers.get(route)!;
};
const person = (): Caller => ({ userId: randomUUID(), role: 'user', email: '' });
/** A source address of its own per test, so tests never share a budget. */
const freshIp = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

const limits = { RATE_LIMIT_AUTH_PER_MINUTE: '3', RATE_LIMIT_PUBLIC_PER_MINUTE: '5', RATE_LIMIT_USER_PER_MINUTE: '4' };
const given = { ...process.env };

function useLimits(extra: Record<string, string> = {}) {
  Object.assign(process.env, limits, extra);
  resetConfigCache();
  resetRateLimiters();
}

const call = (init: Parameters<typeof apiEvent>[0]) => invoke(handlerOf(`${init.method} ${init.resource ?? init.path}`), apiEvent(init));
const statuses = async (count: number, init: Parameters<typeof apiEvent>[0]) => {
  const answers = [];
  for (let i = 0; i < count; i += 1) answers.push(await call(init));
  return answers;
};

describe('per-caller rate limits', () => {
  beforeEach(() => useLimits());
  afterAll(async () => {
    process.env = given;
    resetConfigCache();
    resetRateLimiters();
    await closeRedis();
  });

  it('limits anonymous callers per IP, with the IETF headers and a 429 problem with Retry-After', async () => {
    const sourceIp = freshIp();
    const answers = await statuses(6, { method: 'GET', path: '/flights', sourceIp });
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers[0]!.headers).toMatchObject({ 'ratelimit-policy': '"public";q=5;w=60', ratelimit: expect.stringMatching(/^"public";r=4;t=(59|60)$/) });
    const refused = answers[5]!;
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.headers.ratelimit).toMatch(/^"public";r=0;t=\d+$/);
    // Another address has its own budget.
    expect((await call({ method: 'GET', path: '/flights', sourceIp: freshIp() })).status).toBe(200);
  });

  it('gives sign-up and sign-in their own, tighter budget per IP', async () => {
    const sourceIp = freshIp();
    const register = await statuses(4, { method: 'POST', path: '/auth/register', sourceIp });
    expect(register.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(register[0]!.headers['ratelimit-policy']).toBe('"auth";q=3;w=60');
    // The same address may still search: that is the public budget.
    expect((await call({ method: 'GET', path: '/flights', sourceIp })).status).toBe(200);
  });

  it('counts a signed-in person by user id, wherever the requests come from', async () => {
    const caller = person();
    const answers = [];
    for (let i = 0; i < 5; i += 1) answers.push(await call({ method: 'GET', path: '/bookings', caller, sourceIp: freshIp() }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 429]);
    expect(answers[0]!.headers['ratelimit-policy']).toBe('"user";q=4;w=60');
    expect((await call({ method: 'GET', path: '/bookings', caller: person() })).status).toBe(200);
  });

  it('shares one count between containers: the counters are in Redis', async () => {
    await redis('limits').ping();
    const sourceIp = freshIp();
    expect((await statuses(3, { method: 'GET', path: '/flights', sourceIp })).map((a) => a.status)).toEqual([200, 200, 200]);
    expect(await redis('limits').get(`ratelimit:public:ip:${sourceIp}`)).toBe('3');
    resetRateLimiters(); // another container: new limiters, nothing in memory
    expect((await statuses(3, { method: 'GET', path: '/flights', sourceIp })).map((a) => a.status)).toEqual([200, 200, 429]);
  });

  it('does not limit service tokens (our own services calling each other)', async () => {
    const service: Caller = { userId: 'service:flights', role: 'service', email: '' };
    const answers = await statuses(10, { method: 'PUT', path: '/internal/flights/fl-0123456789abcdef/seats', resource: '/internal/flights/{flightId}/seats', caller: service });
    expect(answers.every((a) => a.status === 200 && a.headers.ratelimit === undefined)).toBe(true);
  });

  it('keeps limiting, in memory, without slowing down or failing when Redis is unreachable', async () => {
    useLimits({ REDIS_URL: 'redis://127.0.0.1:9' });
    const sourceIp = freshIp();
    const started = Date.now();
    const answers = await statuses(6, { method: 'GET', path: '/flights', sourceIp });
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
