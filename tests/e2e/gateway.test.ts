import { api } from '../support/http';

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

  it('refuses a non-public route without a token (401) and with a garbage one (401)', async () => {
    expect((await api('GET', '/users/me')).status).toBe(401);
    expect((await api('GET', '/users/me', { token: 'not.a.token' })).status).toBe(401);
  });
});
