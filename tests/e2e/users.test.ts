import jwt from 'jsonwebtoken';
import { api, loginAdmin, registerUser, uniqueEmail } from '../support/http';

const password = 'correct horse battery';

describe('users and tokens over HTTP', () => {
  it('register → login → me → refresh → logout', async () => {
    const email = uniqueEmail();
    const registered = await api('POST', '/auth/register', { body: { email, password, name: 'Ada' } });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ user: { email, name: 'Ada', role: 'user', disabled: false }, tokenType: 'Bearer', expiresIn: 900 });
    expect(JSON.stringify(registered.body)).not.toMatch(/passwordHash|scrypt/);

    const login = await api('POST', '/auth/login', { body: { email: email.toUpperCase(), password } });
    expect(login.status).toBe(200);
    const me = await api('GET', '/users/me', { token: login.body.accessToken });
    expect(me).toMatchObject({ status: 200, body: { id: registered.body.user.id, email } });

    const refreshed = await api('POST', '/auth/refresh', { body: { refreshToken: login.body.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshToken).not.toBe(login.body.refreshToken);
    const reused = await api('POST', '/auth/refresh', { body: { refreshToken: login.body.refreshToken } });
    expect(reused).toMatchObject({ status: 401, body: { code: 'INVALID_TOKEN' } });

    const fresh = await api('POST', '/auth/login', { body: { email, password } });
    const logout = await api('POST', '/auth/logout', { token: fresh.body.accessToken, body: { refreshToken: fresh.body.refreshToken } });
    expect(logout.status).toBe(204);
    expect((await api('POST', '/auth/refresh', { body: { refreshToken: fresh.body.refreshToken } })).status).toBe(401);
  });

  it('lets an admin create an admin, list users and disable a user, whose token then stops working', async () => {
    const admin = await loginAdmin();
    const email = uniqueEmail('admin2');
    const created = await api('POST', '/admin/users', { token: admin.accessToken, body: { email, password, name: 'Second', role: 'admin' } });
    expect(created).toMatchObject({ status: 201, body: { email, role: 'admin' } });
    const second = await api('POST', '/auth/login', { body: { email, password } });
    expect((await api('GET', '/admin/users?limit=1', { token: second.body.accessToken })).status).toBe(200);

    const page = await api('GET', '/admin/users?limit=2', { token: admin.accessToken });
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(2);
    const next = await api('GET', `/admin/users?limit=2&cursor=${encodeURIComponent(page.body.nextCursor)}`, { token: admin.accessToken });
    expect(next.status).toBe(200);
    expect(next.body.items[0].id).not.toBe(page.body.items[0].id);

    const victim = await registerUser('disabled');
    const disabled = await api('PATCH', `/admin/users/${victim.user.id}`, { token: admin.accessToken, body: { disabled: true } });
    expect(disabled).toMatchObject({ status: 200, body: { disabled: true } });
    const login = await api('POST', '/auth/login', { body: { email: victim.email, password: victim.password } });
    expect(login).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
  });

  it('refuses admin routes to a user with 403', async () => {
    const user = await registerUser();
    expect((await api('GET', '/admin/users', { token: user.accessToken })).status).toBe(403);
    expect((await api('POST', '/admin/users', { token: user.accessToken, body: { email: uniqueEmail(), password, name: 'x', role: 'admin' } })).status).toBe(403);
  });

  it('a disabled user is locked out, once the authorizer cache (AUTHORIZER_CACHE_SECONDS, 1 s here) expires', async () => {
    const admin = await loginAdmin();
    const user = await registerUser('locked');
    expect((await api('GET', '/users/me', { token: user.accessToken })).status).toBe(200);
    const patched = await api('PATCH', `/admin/users/${user.user.id}`, { token: admin.accessToken, body: { disabled: true } });
    expect(patched.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await api('GET', '/users/me', { token: user.accessToken })).status).toBe(401);
  });

  describe('bad input gets its documented code and changes nothing', () => {
    const cases: [string, string, string, unknown, number, string][] = [
      ['malformed JSON', 'POST', '/auth/register', '{"email":', 400, 'INVALID_JSON'],
      ['missing fields', 'POST', '/auth/register', { email: 'a@b.co' }, 400, 'VALIDATION_FAILED'],
      ['an extra field', 'POST', '/auth/register', { email: 'x1@b.co', password, name: 'x', role: 'admin' }, 400, 'VALIDATION_FAILED'],
      ['a wrong-typed field', 'POST', '/auth/register', { email: 'x2@b.co', password: 12345678, name: 'x' }, 400, 'VALIDATION_FAILED'],
      ['not an email', 'POST', '/auth/register', { email: 'nope', password, name: 'x' }, 400, 'VALIDATION_FAILED'],
      ['a short password', 'POST', '/auth/register', { email: 'x3@b.co', password: 'short', name: 'x' }, 400, 'VALIDATION_FAILED'],
      ['a long password', 'POST', '/auth/register', { email: 'x4@b.co', password: 'p'.repeat(129), name: 'x' }, 400, 'VALIDATION_FAILED'],
      ['operator injection on login', 'POST', '/auth/login', { email: { $ne: null }, password: { $ne: null } }, 400, 'VALIDATION_FAILED'],
      ['operator injection on refresh', 'POST', '/auth/refresh', { refreshToken: { $gt: '' } }, 400, 'VALIDATION_FAILED'],
      ['a 1 MB body', 'POST', '/auth/register', JSON.stringify({ email: 'x5@b.co', password, name: 'n'.repeat(1024 * 1024) }), 413, 'PAYLOAD_TOO_LARGE'],
    ];

    it.each(cases)('%s', async (_, method, path, body, status, code) => {
      const res = await api(method, path, typeof body === 'string' ? { rawBody: body } : { body });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body.code).toBe(code);
      expect(JSON.stringify(res.body)).not.toMatch(/\bat \S+\.(ts|js)|Mongo|stack/);
    });

    it('registering an email that differs only in case is 409 EMAIL_TAKEN', async () => {
      const user = await registerUser('case');
      const res = await api('POST', '/auth/register', { body: { email: user.email.toUpperCase(), password, name: 'Twin' } });
      expect(res).toMatchObject({ status: 409, body: { code: 'EMAIL_TAKEN' } });
    });

    it('an unknown email and a wrong password get the same answer', async () => {
      const user = await registerUser('same');
      const wrong = await api('POST', '/auth/login', { body: { email: user.email, password: 'wrong password' } });
      const unknown = await api('POST', '/auth/login', { body: { email: uniqueEmail('ghost'), password } });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      const strip = (b: Record<string, unknown>) => ({ ...b });
      expect(strip(wrong.body)).toEqual(strip(unknown.body));
    });

    it('repeated failures answer 429 TOO_MANY_ATTEMPTS with Retry-After', async () => {
      const user = await registerUser('brute');
      for (let i = 0; i < 5; i += 1) await api('POST', '/auth/login', { body: { email: user.email, password: 'wrong password' } });
      const locked = await api('POST', '/auth/login', { body: { email: user.email, password: user.password } });
      expect(locked).toMatchObject({ status: 429, body: { code: 'TOO_MANY_ATTEMPTS' } });
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('refuses forged tokens: alg none, another key, edited role', async () => {
      const user = await registerUser('forge');
      const [header, payload, signature] = user.accessToken.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const none = [Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'), payload, ''].join('.');
      const edited = [header, Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url'), signature].join('.');
      const otherKey = jwt.sign({ role: 'admin' }, 'y'.repeat(40), { keyid: 'test-1', subject: user.user.id, issuer: claims.iss, audience: claims.aud });
      for (const token of [none, edited, otherKey]) {
        expect((await api('GET', '/admin/users', { token })).status).toBe(401);
      }
    });
  });
});
