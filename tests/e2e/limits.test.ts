import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { api, apiUrl, loginAdmin, registerUser } from '../support/http';
import { flightNumber, seatMap } from '../support/seats';

/**
 * Abuse limits and bad bodies over HTTP through sls offline: the per-IP rate limit, the hold cap, the
 * admin safety rules, and JSON bodies that are not objects.
 */

/** A request from another loopback address (127.0.0.0/8 is all this machine), so it has a rate budget of its own. */
function fromAddress(localAddress: string, method: string, path: string, body: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  const url = new URL(`${apiUrl()}${path}`);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, path: url.pathname, method, localAddress, headers: { 'content-type': 'application/json' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

describe('abuse limits over HTTP', () => {
  let admin: { accessToken: string; user: { id: string } };
  beforeAll(async () => {
    admin = await loginAdmin();
  });

  it('answers sign-in attempts past the per-IP budget with 429 RATE_LIMITED, Retry-After and the RateLimit headers', async () => {
    const budget = Number(process.env.RATE_LIMIT_AUTH_PER_MINUTE);
    const address = `127.0.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
    const attempt = () => fromAddress(address, 'POST', '/auth/login', { email: 'nobody@example.com', password: '' });
    const first = await attempt();
    expect(first.status).toBe(400);
    expect(first.headers['ratelimit-policy']).toBe(`"auth";q=${budget};w=60`);
    expect(first.headers.ratelimit).toMatch(new RegExp(`^"auth";r=${budget - 1};t=\\d+$`));
    for (let i = 1; i < budget; i += 1) expect((await attempt()).status).toBe(400);
    const refused = await attempt();
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Other addresses, and other budgets of the same address, are not affected.
    expect((await api('POST', '/auth/login', { body: { email: 'nobody@example.com', password: '' } })).status).toBe(400);
    expect((await fromAddress(address, 'GET', '/health', undefined)).status).toBe(200);
  });

  it('lets one person hold at most 9 seats of a flight: the 10th is 409 HOLD_LIMIT_REACHED with limit and held', async () => {
    const created = await api('POST', '/flights', {
      token: admin.accessToken,
      body: { flightNumber: flightNumber(), origin: 'LHR', destination: 'JFK', departureTime: '2027-05-01T10:00:00Z', arrivalTime: '2027-05-01T18:00:00Z', seatMap: seatMap(30) },
    });
    expect(created.status).toBe(201);
    const greedy = await registerUser('greedy');
    const holdSeats = (seats: string[]) => api('POST', `/flights/${created.body.id}/holds`, { token: greedy.accessToken, body: { seats } });
    expect((await holdSeats(['1A', '1B', '1C', '1D', '1E'])).status).toBe(201);
    expect((await holdSeats(['2A', '2B', '2C', '2D'])).status).toBe(201);
    const refused = await holdSeats(['3A']);
    expect(refused).toMatchObject({ status: 409, body: { code: 'HOLD_LIMIT_REACHED', limit: 9, held: 9 } });
    const map = await api('GET', `/flights/${created.body.id}/seats`);
    expect(map.body.counts.held).toBe(9);
  });

  it('refuses an admin demoting or disabling itself, and changes nothing', async () => {
    for (const change of [{ role: 'user' }, { disabled: true }]) {
      const res = await api('PATCH', `/admin/users/${admin.user.id}`, { token: admin.accessToken, body: change });
      expect(res).toMatchObject({ status: 409, body: { code: 'CANNOT_CHANGE_SELF' } });
    }
    expect((await api('GET', '/users/me', { token: admin.accessToken })).body).toMatchObject({ role: 'admin', disabled: false });
  });

  it.each([
    ['false', 'VALIDATION_FAILED'],
    ['0', 'VALIDATION_FAILED'],
    ['[]', 'VALIDATION_FAILED'],
    ['null', 'VALIDATION_FAILED'],
    ['true', 'VALIDATION_FAILED'],
    // serverless-offline parses a JSON body and hands a string over without its quotes, so `"x"` reaches the
    // handler as the text x, which is not JSON; API Gateway passes the text as sent (tests/unit/http-stack.test.ts).
    ['"x"', 'INVALID_JSON'],
  ])('answers the JSON body %s to every body route of /auth with 400 %s, never 500', async (raw, code) => {
    for (const path of ['/auth/login', '/auth/register', '/auth/refresh']) {
      const res = await api('POST', path, { rawBody: raw, headers: { 'idempotency-key': randomUUID() } });
      expect({ path, status: res.status, code: res.body?.code }).toEqual({ path, status: 400, code });
    }
  });

  it('answers a malformed id in a path with the resource 404, like an unknown id', async () => {
    const user = await registerUser('ids');
    for (const [path, code] of [
      ['/flights/not-a-flight', 'FLIGHT_NOT_FOUND'],
      ['/flights/not-a-flight/seats', 'FLIGHT_NOT_FOUND'],
      ['/holds/h_nope', 'HOLD_NOT_FOUND'],
      ['/bookings/%20', 'BOOKING_NOT_FOUND'],
    ] as const) {
      const res = await api('GET', path, { token: user.accessToken });
      expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 404, code });
    }
    expect((await api('PATCH', '/admin/users/not-a-uuid', { token: admin.accessToken, body: { role: 'user' } })).body.code).toBe('USER_NOT_FOUND');
  });
});
