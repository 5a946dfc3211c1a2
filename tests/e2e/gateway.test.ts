import { answeredByGateway, api, registerUser, type ApiResponse } from '../support/http';

/** The gateway's own answer (no handler ran): the problem JSON serverless.yml's gateway responses declare. */
function expectGatewayProblem(res: ApiResponse, status: number, code: string) {
  expect({ status: res.status, contentType: res.headers.get('content-type'), code: res.body?.code }).toEqual({ status, contentType: 'application/problem+json', code });
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  expect(answeredByGateway(res)).toBe(true);
  expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
}

describe('the gateway over HTTP (sls offline)', () => {
  it('GET /health answers ok for every dependency', async () => {
    const res = await api('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', checks: { mongo: 'ok', redis: 'ok', dynamodb: 'ok' } });
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('GET /openapi.json serves the OpenAPI 3.1 document', async () => {
    const res = await api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ openapi: '3.1.0', paths: { '/flights/{flightId}/holds': { post: expect.any(Object) } } });
  });

  it('answers an unknown path with a 404 problem, not the emulator route list', async () => {
    const res = await api('GET', '/nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(JSON.stringify(res.body)).not.toMatch(/functions|invocations/);
  });

  it('answers a known path with a wrong method with a 405 problem and Allow', async () => {
    const res = await api('DELETE', '/health');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.body).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
  });

  it('refuses a non-public route without a token and with a garbage one: 401 problem JSON, as on AWS', async () => {
    expectGatewayProblem(await api('GET', '/users/me'), 401, 'UNAUTHORIZED');
    expectGatewayProblem(await api('GET', '/users/me', { token: 'not.a.token' }), 401, 'UNAUTHORIZED');
    expectGatewayProblem(await api('GET', '/users/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 401, 'UNAUTHORIZED');
  });

  it('denies a route the role may not call: 403 problem JSON', async () => {
    const user = await registerUser('gateway');
    expectGatewayProblem(await api('GET', '/admin/users', { token: user.accessToken }), 403, 'FORBIDDEN');
  });

  it('admits no foreign origin: no CORS header (the request is still served), on handler and gateway answers alike', async () => {
    const foreign = { origin: 'https://evil.example' };
    const user = await registerUser('edges');
    const answers = {
      public: await api('GET', '/health', { headers: foreign }),
      caller: await api('GET', '/users/me', { token: user.accessToken, headers: foreign }),
      catchAll: await api('GET', '/nope', { headers: foreign }),
      gateway: await api('GET', '/users/me', { headers: foreign }),
    };
    for (const [name, res] of Object.entries(answers)) {
      const cors = [...res.headers.keys()].filter((header) => header.startsWith('access-control-'));
      // nosniff on every answer; no HSTS on sls offline's http://localhost
      expect({ name, cors, nosniff: res.headers.get('x-content-type-options'), hsts: res.headers.get('strict-transport-security') }).toEqual({ name, cors: [], nosniff: 'nosniff', hsts: null });
    }
    expect(Object.values(answers).map((res) => res.status)).toEqual([200, 200, 404, 401]);
    for (const res of [answers.public, answers.caller, answers.catchAll]) expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(answers.caller.headers.get('cache-control')).toBe('no-store');
  });

  it('leaves the handlers\' own errors alone', async () => {
    const res = await api('POST', '/auth/login', { body: { email: 'nobody@example.com', password: 'wrong password' } });
    expect(res).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
    expect(answeredByGateway(res)).toBe(false);
    expect(res.headers.get('x-amzn-requestid')).toBeNull();
  });
});
