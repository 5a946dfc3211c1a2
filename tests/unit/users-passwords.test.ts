import { createHash } from 'node:crypto';
import { AppError } from '../../lib/http/errors';
import { callerOf } from '../../lib/http/stack';
import { verifyAccessToken } from '../../lib/auth/tokens';
import { log } from '../../lib/log';
import type { NotificationEvent } from '../../functions/notifications/model';
import type { Notifier } from '../../functions/notifications/client';
import { RESET_EMAILS_PER_WINDOW, RESET_TOKEN_TTL_SECONDS, RESET_WINDOW_SECONDS, UserService } from '../../functions/users/service';
import type {
  ConsumeResult,
  PasswordChange,
  PasswordChangedNotice,
  PasswordResetRecord,
  RefreshTokenRecord,
  UserRecord,
  UserStore,
} from '../../functions/users/store';
import { apiEvent } from '../support/events';

/**
 * The password rules of the users service (change, forgotten, reset, the password-changed email that
 * is never lost) over an in-memory store; tests/integration/users.test.ts runs them on FerretDB.
 */

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

/** The UserStore contract in memory, with the same conditional semantics as the MongoDB one. */
class MemoryStore implements UserStore {
  users = new Map<string, UserRecord & { pendingNotices: PasswordChangedNotice[] }>();
  tokens = new Map<string, RefreshTokenRecord & { usedAt?: Date; revokedAt?: Date }>();
  resets = new Map<string, PasswordResetRecord & { usedAt?: Date }>();
  failures = new Map<string, { count: number; lockedUntil: Date | null }>();
  slots = new Map<string, Date[]>();

  async insertUser(user: UserRecord) {
    this.users.set(user.id, { ...user, pendingNotices: [] });
  }
  async findUserByEmail(email: string) {
    return [...this.users.values()].find((u) => u.email === email) ?? null;
  }
  async findUserById(id: string) {
    const user = this.users.get(id);
    return user ? { ...user } : null;
  }
  async listUsers() {
    return [...this.users.values()];
  }
  async updateUser(id: string, changes: Partial<UserRecord>) {
    const user = this.users.get(id);
    if (user) Object.assign(user, changes);
    return user ?? null;
  }
  async countEnabledAdmins() {
    return 0;
  }
  async withAdminRosterLock<T>(change: () => Promise<T>) {
    return change();
  }
  /** One change of an account at a time, like the lease lock in MongoDB. */
  private queues = new Map<string, Promise<unknown>>();
  async withAccountLock<T>(userId: string, change: () => Promise<T>) {
    const run = (this.queues.get(userId) ?? Promise.resolve()).then(change);
    this.queues.set(userId, run.catch(() => undefined));
    return run;
  }
  async insertRefreshToken(token: RefreshTokenRecord) {
    this.tokens.set(token.tokenHash, { ...token });
  }
  async findRefreshToken(tokenHash: string) {
    return this.tokens.get(tokenHash) ?? null;
  }
  async consumeRefreshToken(tokenHash: string, now: Date): Promise<ConsumeResult> {
    const token = this.tokens.get(tokenHash);
    if (!token) return { outcome: 'invalid' };
    if (token.usedAt || token.revokedAt) return { outcome: 'reused', token };
    if (token.expiresAt <= now) return { outcome: 'invalid' };
    token.usedAt = now;
    return { outcome: 'rotated', token };
  }
  async revokeTokenFamily(familyId: string, now: Date) {
    for (const token of this.tokens.values()) if (token.familyId === familyId) token.revokedAt ??= now;
  }
  async revokeUserTokens(userId: string, now: Date, keepFamilyId?: string) {
    for (const token of this.tokens.values()) if (token.userId === userId && token.familyId !== keepFamilyId) token.revokedAt ??= now;
  }
  async setPassword(userId: string, change: PasswordChange) {
    const user = this.users.get(userId);
    if (!user || user.passwordHash !== change.expectedHash) return false;
    Object.assign(user, { passwordHash: change.passwordHash, passwordVersion: change.version });
    user.pendingNotices.push(change.notice);
    return true;
  }
  async pendingNotices(limit: number) {
    return [...this.users.values()].filter((u) => u.pendingNotices.length > 0).slice(0, limit).map((u) => ({ userId: u.id, notices: [...u.pendingNotices] }));
  }
  async removePendingNotice(userId: string, notice: PasswordChangedNotice) {
    const user = this.users.get(userId)!;
    user.pendingNotices = user.pendingNotices.filter((n) => n.id !== notice.id);
  }
  async insertPasswordReset(reset: PasswordResetRecord) {
    this.resets.set(reset.tokenHash, { ...reset });
  }
  async findPasswordReset(tokenHash: string, now: Date) {
    const reset = this.resets.get(tokenHash);
    return reset && !reset.usedAt && reset.expiresAt > now ? reset : null;
  }
  async consumePasswordReset(tokenHash: string, now: Date) {
    const reset = this.resets.get(tokenHash);
    if (!reset || reset.usedAt || reset.expiresAt <= now) return null;
    reset.usedAt = now;
    return reset;
  }
  async spendPasswordResets(userId: string, now: Date) {
    for (const reset of this.resets.values()) if (reset.userId === userId) reset.usedAt ??= now;
  }
  async claimResetSlot(email: string, now: Date, limit: { slots: number; windowSeconds: number }) {
    const taken = (this.slots.get(email) ?? []).filter((at) => at.getTime() > now.getTime() - limit.windowSeconds * 1000);
    const allowed = taken.length < limit.slots;
    this.slots.set(email, allowed ? [...taken, now] : taken);
    return allowed;
  }
  async lockedUntil(email: string, now: Date) {
    const entry = this.failures.get(email);
    return entry?.lockedUntil && entry.lockedUntil > now ? entry.lockedUntil : null;
  }
  async recordFailedLogin(email: string, now: Date, limit: { maxAttempts: number; lockSeconds: number }) {
    const entry = this.failures.get(email) ?? { count: 0, lockedUntil: null };
    entry.count += 1;
    if (entry.count >= limit.maxAttempts) entry.lockedUntil = new Date(now.getTime() + limit.lockSeconds * 1000);
    this.failures.set(email, entry);
    return entry.lockedUntil;
  }
  async clearFailedLogins(email: string) {
    this.failures.delete(email);
  }
}

/** A notifier that records what it is handed, or fails while `down`. */
function recordingNotifier() {
  const events: NotificationEvent[] = [];
  const notifier: Notifier & { down: boolean } = {
    down: false,
    async handOver(batch) {
      if (notifier.down) throw new Error('notifications unavailable');
      events.push(...batch);
    },
  };
  return { notifier, events };
}

const password = 'correct horse battery';
const newPassword = 'a brand new passphrase';

function setup() {
  let clock = new Date('2027-03-01T10:00:00.000Z');
  const store = new MemoryStore();
  const { notifier, events } = recordingNotifier();
  const users = new UserService(store, () => clock, { notifier, forgotAnswerMs: 0 });
  const advance = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  return { store, users, notifier, events, advance };
}

const familyOf = (store: MemoryStore, refreshToken: string) => store.tokens.get(sha256(refreshToken))!.familyId;

describe('changing a password', () => {
  it('ends every other session, keeps the caller’s own, and sends one password-changed email', async () => {
    const { store, users, events } = setup();
    const mine = await users.register({ email: 'ada@example.com', password, name: 'Ada' });
    const other = await users.login({ email: 'ada@example.com', password });
    const sessionId = verifyAccessToken(mine.accessToken).sessionId;
    expect(sessionId).toBe(familyOf(store, mine.refreshToken));

    await users.changePassword({ userId: mine.user.id, sessionId }, { currentPassword: password, newPassword });

    await expect(users.refresh(other.refreshToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN', status: 401 });
    await expect(users.refresh(mine.refreshToken)).resolves.toMatchObject({ user: { id: mine.user.id } });
    await expect(users.login({ email: 'ada@example.com', password })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    await expect(users.login({ email: 'ada@example.com', password: newPassword })).resolves.toBeDefined();
    expect(events).toEqual([
      { id: `pwchanged:${mine.user.id}:1`, to: 'ada@example.com', kind: 'password-changed', name: 'Ada', how: 'changed', at: '2027-03-01T10:00:00.000Z' },
    ]);
    expect(store.users.get(mine.user.id)!.pendingNotices).toEqual([]);
  });

  it('keeps no session for an access token without one (signed before sessions were named)', async () => {
    const { store, users } = setup();
    const mine = await users.register({ email: 'old@example.com', password, name: 'Old' });
    await users.changePassword({ userId: mine.user.id }, { currentPassword: password, newPassword });
    expect([...store.tokens.values()].every((token) => token.revokedAt)).toBe(true);
  });

  it('refuses a wrong current password with 401 INVALID_CREDENTIALS, counting it towards the login lockout', async () => {
    const { store, users, events } = setup();
    const mine = await users.register({ email: 'bob@example.com', password, name: 'Bob' });
    const other = await users.login({ email: 'bob@example.com', password });
    const caller = { userId: mine.user.id, sessionId: familyOf(store, mine.refreshToken) };
    for (let i = 0; i < 5; i += 1) {
      await expect(users.changePassword(caller, { currentPassword: 'wrong password', newPassword })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401 });
    }
    // Locked now, like the login form: the right password waits too.
    await expect(users.changePassword(caller, { currentPassword: password, newPassword })).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS', status: 429 });
    await expect(users.refresh(other.refreshToken)).resolves.toBeDefined();
    expect(events).toEqual([]);
  });

  it('lets only one of two concurrent changes win; the other one’s current password is no longer current', async () => {
    const { users, events } = setup();
    const mine = await users.register({ email: 'race@example.com', password, name: 'Race' });
    const results = await Promise.allSettled([
      users.changePassword({ userId: mine.user.id }, { currentPassword: password, newPassword }),
      users.changePassword({ userId: mine.user.id }, { currentPassword: password, newPassword: 'yet another passphrase' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(events).toHaveLength(1);
  });
});

describe('the password-changed email is never lost', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => (warn = jest.spyOn(log, 'warn').mockImplementation(() => undefined)));
  afterEach(() => warn.mockRestore());

  it('stays on the user while the notifications service is down, and the keep-alive hands it over once with the same id', async () => {
    const { store, users, notifier, events } = setup();
    const mine = await users.register({ email: 'cy@example.com', password, name: 'Cy' });
    notifier.down = true;
    await users.changePassword({ userId: mine.user.id }, { currentPassword: password, newPassword });
    expect(store.users.get(mine.user.id)!.pendingNotices).toMatchObject([{ id: `pwchanged:${mine.user.id}:1`, how: 'changed' }]);
    expect(await users.relayPendingNotices()).toBe(0);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('not handed over'), expect.objectContaining({ eventIds: [`pwchanged:${mine.user.id}:1`] }));

    notifier.down = false;
    expect(await users.relayPendingNotices()).toBe(1);
    expect(await users.relayPendingNotices()).toBe(0);
    expect(events.map((e) => e.id)).toEqual([`pwchanged:${mine.user.id}:1`]);
    expect(store.users.get(mine.user.id)!.pendingNotices).toEqual([]);
  });

  it('names each change of one account apart, so two changes are two emails', async () => {
    const { users, events } = setup();
    const mine = await users.register({ email: 'di@example.com', password, name: 'Di' });
    await users.changePassword({ userId: mine.user.id }, { currentPassword: password, newPassword });
    await users.changePassword({ userId: mine.user.id }, { currentPassword: newPassword, newPassword: password });
    expect(events.map((e) => e.id)).toEqual([`pwchanged:${mine.user.id}:1`, `pwchanged:${mine.user.id}:2`]);
  });
});

describe('forgotten passwords', () => {
  const resetEvents = (events: NotificationEvent[]) => events.filter((e): e is Extract<NotificationEvent, { kind: 'password-reset' }> => e.kind === 'password-reset');

  it('sends a known account a single-use token of 32 random bytes, stored only as its SHA-256 hash, valid 30 minutes', async () => {
    const { store, users, events } = setup();
    const mine = await users.register({ email: 'eve@example.com', password, name: 'Eve' });
    await users.forgotPassword('  EVE@example.com ');
    const [event] = resetEvents(events);
    expect(event).toMatchObject({ to: 'eve@example.com', name: 'Eve', kind: 'password-reset', expiresAt: '2027-03-01T10:30:00.000Z' });
    expect(Buffer.from(event!.token, 'base64url')).toHaveLength(32);
    expect(event!.id).toBe(`pwreset:${sha256(event!.token)}`);
    expect([...store.resets.values()]).toEqual([{ tokenHash: sha256(event!.token), userId: mine.user.id, expiresAt: new Date('2027-03-01T10:30:00.000Z') }]);
    expect(JSON.stringify([...store.resets.entries()])).not.toContain(event!.token);
  });

  it('answers an unknown or disabled address the same, and sends nothing', async () => {
    const { store, users, events } = setup();
    const disabled = await users.register({ email: 'off@example.com', password, name: 'Off' });
    await store.updateUser(disabled.user.id, { disabled: true });
    await expect(users.forgotPassword('nobody@example.com')).resolves.toBeUndefined();
    await expect(users.forgotPassword('off@example.com')).resolves.toBeUndefined();
    expect(events).toEqual([]);
    expect(store.resets.size).toBe(0);
  });

  it(`sends at most ${RESET_EMAILS_PER_WINDOW} links per address per ${RESET_WINDOW_SECONDS / 60} minutes, silently`, async () => {
    const { users, events, advance } = setup();
    await users.register({ email: 'flo@example.com', password, name: 'Flo' });
    for (let i = 0; i < RESET_EMAILS_PER_WINDOW + 2; i += 1) await expect(users.forgotPassword('flo@example.com')).resolves.toBeUndefined();
    expect(resetEvents(events)).toHaveLength(RESET_EMAILS_PER_WINDOW);
    advance(RESET_WINDOW_SECONDS + 1);
    await users.forgotPassword('flo@example.com');
    expect(resetEvents(events)).toHaveLength(RESET_EMAILS_PER_WINDOW + 1);
  });

  it('still answers when the notifications service is down, and logs neither the token nor the address', async () => {
    const { users, notifier } = setup();
    await users.register({ email: 'gus@example.com', password, name: 'Gus' });
    notifier.down = true;
    const handedOver = jest.spyOn(notifier, 'handOver');
    const warn = jest.spyOn(log, 'warn').mockImplementation(() => undefined);
    try {
      await expect(users.forgotPassword('gus@example.com')).resolves.toBeUndefined();
      const token = (handedOver.mock.calls[0]![0][0] as { token: string }).token;
      expect(warn).toHaveBeenCalledTimes(1);
      expect(JSON.stringify(warn.mock.calls)).not.toMatch(new RegExp(`${token}|gus@example.com`));
    } finally {
      warn.mockRestore();
    }
  });

  it('answers a known and an unknown address after the same time (FORGOT_ANSWER_MS)', async () => {
    const store = new MemoryStore();
    const { notifier } = recordingNotifier();
    // A slow hand-over, as on a cold start, is hidden by the floor.
    notifier.handOver = () => new Promise((resolve) => setTimeout(resolve, 80));
    const users = new UserService(store, undefined, { notifier, forgotAnswerMs: 250 });
    await users.register({ email: 'hal@example.com', password, name: 'Hal' });
    const timed = async (email: string) => {
      const startedAt = performance.now();
      await users.forgotPassword(email);
      return performance.now() - startedAt;
    };
    const [known, unknown] = [await timed('hal@example.com'), await timed('nobody@example.com')];
    expect(known).toBeGreaterThanOrEqual(245);
    expect(unknown).toBeGreaterThanOrEqual(245);
    expect(Math.abs(known - unknown)).toBeLessThan(60);
  });
});

describe('resetting a password with the emailed token', () => {
  async function withResetLink() {
    const env = setup();
    const account = await env.users.register({ email: 'ida@example.com', password, name: 'Ida' });
    await env.users.forgotPassword('ida@example.com');
    const token = (env.events.find((e) => e.kind === 'password-reset') as { token: string }).token;
    return { ...env, account, token };
  }

  it('sets the password, ends every session, lifts the login lockout, and sends a password-changed (reset) email', async () => {
    const { store, users, events, account, token } = await withResetLink();
    const other = await users.login({ email: 'ida@example.com', password });
    for (let i = 0; i < 5; i += 1) await users.login({ email: 'ida@example.com', password: 'wrong password' }).catch(() => undefined);
    await expect(users.login({ email: 'ida@example.com', password })).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });

    await users.resetPassword({ token, newPassword });

    for (const session of [account, other]) await expect(users.refresh(session.refreshToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    await expect(users.login({ email: 'ida@example.com', password: newPassword })).resolves.toBeDefined();
    expect(events.at(-1)).toMatchObject({ id: `pwchanged:${account.user.id}:1`, kind: 'password-changed', how: 'reset', to: 'ida@example.com' });
    expect(store.users.get(account.user.id)!.pendingNotices).toEqual([]);
  });

  it('works once, also when two use it at the same moment: a used or unknown token is 400 INVALID_TOKEN', async () => {
    const { users, token } = await withResetLink();
    const both = await Promise.allSettled([users.resetPassword({ token, newPassword }), users.resetPassword({ token, newPassword: 'the other passphrase' })]);
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = { code: 'INVALID_TOKEN', status: 400 };
    await expect(users.resetPassword({ token, newPassword: 'another passphrase' })).rejects.toMatchObject(refused);
    await expect(users.resetPassword({ token: 'x'.repeat(43), newPassword })).rejects.toMatchObject(refused);
  });

  it('refuses a token older than 30 minutes', async () => {
    const { users, token, advance } = await withResetLink();
    advance(RESET_TOKEN_TTL_SECONDS + 1);
    await expect(users.resetPassword({ token, newPassword })).rejects.toMatchObject({ code: 'INVALID_TOKEN', status: 400 });
  });

  it('makes the other links of the account worthless once the password changed', async () => {
    const { users, events, token } = await withResetLink();
    await users.forgotPassword('ida@example.com');
    const second = (events.filter((e) => e.kind === 'password-reset').at(-1) as { token: string }).token;
    await users.resetPassword({ token: second, newPassword });
    await expect(users.resetPassword({ token, newPassword })).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('refuses the token of an account disabled since', async () => {
    const { store, users, account, token } = await withResetLink();
    await store.updateUser(account.user.id, { disabled: true });
    await expect(users.resetPassword({ token, newPassword })).rejects.toMatchObject({ code: 'INVALID_TOKEN', status: 400 });
  });
});

describe('the pieces the password routes stand on', () => {
  it('AppError answers INVALID_TOKEN with 400 where a route asks for it, and no status the catalog does not allow', () => {
    expect(new AppError('INVALID_TOKEN').status).toBe(401);
    expect(new AppError('INVALID_TOKEN', undefined, {}, {}, 400).status).toBe(400);
    expect(() => new AppError('INVALID_TOKEN', undefined, {}, {}, 418)).toThrow(/never answered with status 418/);
    expect(() => new AppError('EMAIL_TAKEN', undefined, {}, {}, 400)).toThrow();
  });

  it("the stack reads the caller's session from the authorizer context, and leaves it out when there is none", () => {
    const withSession = apiEvent({ caller: { userId: 'u1', role: 'user', email: 'a@b.c', sessionId: 'family-1' } as never });
    expect(callerOf(withSession)).toEqual({ userId: 'u1', role: 'user', email: 'a@b.c', sessionId: 'family-1' });
    expect(callerOf(apiEvent({ caller: { userId: 'u1', role: 'user', email: 'a@b.c' } }))).toEqual({ userId: 'u1', role: 'user', email: 'a@b.c' });
    expect(callerOf(apiEvent({ caller: { userId: 'u1', role: 'user', email: '', sessionId: '' } as never }))).toEqual({ userId: 'u1', role: 'user', email: '' });
  });
});
