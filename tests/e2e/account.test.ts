import { readFileSync } from 'node:fs';
import path from 'node:path';
import { api, registerUser, uniqueEmail } from '../support/http';
import { inbox } from '../support/inbox';

/**
 * The account's password over HTTP, through sls offline (API.md, "Users and tokens"): a change ends the
 * other sessions and keeps the caller's, "forgot password" answers every address alike, and a reset
 * link read from the email (the test stack's SES emulator) works exactly once.
 */

const newPassword = 'a brand new passphrase';
const RESET_LINK = /#\/reset\?token=([A-Za-z0-9_-]+)/;

describe('account emails: password change, forgotten password, reset', () => {
  /** What these requests carried that no log may hold: passwords, tokens, the reset link's token. */
  const secrets: string[] = [newPassword];
  it('a change ends every other session, keeps the caller’s, and refuses a wrong current password', async () => {
    const user = await registerUser('change');
    secrets.push(user.password, user.refreshToken);
    const other = await api('POST', '/auth/login', { body: { email: user.email, password: user.password } });
    expect(other.status).toBe(200);

    const wrong = await api('POST', '/auth/password/change', { token: user.accessToken, body: { currentPassword: 'not my password', newPassword } });
    expect(wrong).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
    const short = await api('POST', '/auth/password/change', { token: user.accessToken, body: { currentPassword: user.password, newPassword: 'short' } });
    expect(short).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ field: 'newPassword' }] } });

    const changed = await api('POST', '/auth/password/change', { token: user.accessToken, body: { currentPassword: user.password, newPassword } });
    expect(changed.status).toBe(204);
    expect(await api('POST', '/auth/refresh', { body: { refreshToken: other.body.refreshToken } })).toMatchObject({ status: 401, body: { code: 'INVALID_TOKEN' } });
    const mine = await api('POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    expect(mine.status).toBe(200);
    // The rotated token of the kept session names the same session: it goes on working.
    expect((await api('GET', '/users/me', { token: mine.body.accessToken })).status).toBe(200);
    expect((await api('POST', '/auth/login', { body: { email: user.email, password: user.password } })).status).toBe(401);
    expect((await api('POST', '/auth/login', { body: { email: user.email, password: newPassword } })).status).toBe(200);
  });

  it('answers a known and an unknown address with the same 202 and body', async () => {
    const user = await registerUser('forgot');
    const timed = async (email: string) => {
      const startedAt = Date.now();
      const response = await api('POST', '/auth/password/forgot', { body: { email } });
      return { response, ms: Date.now() - startedAt };
    };
    const known = await timed(user.email);
    const unknown = await timed(uniqueEmail('nobody'));
    expect(known.response.status).toBe(202);
    expect(unknown.response.status).toBe(202);
    expect(unknown.response.body).toEqual(known.response.body);
    // Both wait for the same floor (FORGOT_ANSWER_MS, 1 s), which hides the known address's extra work.
    expect(known.ms).toBeGreaterThanOrEqual(950);
    expect(unknown.ms).toBeGreaterThanOrEqual(950);
    expect((await api('POST', '/auth/password/forgot', { body: { email: 'not an email' } })).status).toBe(400);
  });

  it('refuses an unknown reset token with 400 INVALID_TOKEN', async () => {
    for (const token of ['x'.repeat(43), 'not-a-token']) {
      const res = await api('POST', '/auth/password/reset', { body: { token, newPassword } });
      expect(res).toMatchObject({ status: 400, body: { code: 'INVALID_TOKEN' } });
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('resets through the emailed link, once: every session ends, then a "password reset" email', async () => {
    const mail = inbox();
    const user = await registerUser('reset');
    expect((await api('POST', '/auth/password/forgot', { body: { email: user.email.toUpperCase() } })).status).toBe(202);

    const [email] = await mail.waitFor({ to: user.email, subjectIncludes: 'Reset your password' });
    const token = RESET_LINK.exec(email!.text)?.[1];
    expect(token).toBeDefined();
    secrets.push(token!, user.refreshToken);
    expect(RESET_LINK.exec(email!.html)?.[1]).toBe(token);

    expect((await api('POST', '/auth/password/reset', { body: { token, newPassword } })).status).toBe(204);
    expect(await api('POST', '/auth/password/reset', { body: { token, newPassword: 'another passphrase' } })).toMatchObject({ status: 400, body: { code: 'INVALID_TOKEN' } });

    expect((await api('POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } })).status).toBe(401);
    expect((await api('POST', '/auth/login', { body: { email: user.email, password: newPassword } })).status).toBe(200);
    const [notice] = await mail.waitFor({ to: user.email, subjectIncludes: 'Your password was reset' });
    expect(notice!.text).not.toContain(token);
  });

  it('tells of a change in one "password changed" email', async () => {
    const mail = inbox();
    const user = await registerUser('changed');
    expect((await api('POST', '/auth/password/change', { token: user.accessToken, body: { currentPassword: user.password, newPassword } })).status).toBe(204);
    await mail.waitFor({ to: user.email, subjectIncludes: 'Your password was changed' });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await mail.emails({ to: user.email, subjectIncludes: 'Your password was changed' })).toHaveLength(1);
  });

  it('logs no password, refresh token or reset token of these requests', async () => {
    // The emulator writes its log asynchronously.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const log = readFileSync(path.join(process.env.TEST_DATA_DIR!, 'offline.log'), 'utf8');
    expect(secrets.filter((secret) => secret.length >= 8 && log.includes(secret))).toEqual([]);
  });
});
