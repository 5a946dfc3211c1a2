import { createHash, randomUUID } from 'node:crypto';
import { closeMongo, mongoClient, mongoDb } from '../../lib/clients/mongo';
import { AppError } from '../../lib/http/errors';
import { log } from '../../lib/log';
import type { NotificationEvent } from '../../functions/notifications/model';
import { MongoUserStore, collections, type PasswordChangedNotice } from '../../functions/users/store';
import { RESET_EMAILS_PER_WINDOW, RESET_TOKEN_TTL_SECONDS, RESET_WINDOW_SECONDS, UserService } from '../../functions/users/service';

const email = () => `it-${randomUUID()}@example.com`;
const password = 'correct horse battery';

describe('users service on a real MongoDB-wire server (FerretDB)', () => {
  const store = new MongoUserStore(mongoDb);
  const users = new UserService(store);
  afterAll(closeMongo);

  it('lets exactly one of 20 concurrent registrations of one address through', async () => {
    const address = email();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => users.register({ email: i % 2 ? address.toUpperCase() : address, password, name: `racer ${i}` })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.every((r) => r.reason instanceof AppError && r.reason.code === 'EMAIL_TAKEN')).toBe(true);
    expect(await mongoDb().collection(collections.users).countDocuments({ email: address })).toBe(1);
  });

  it('stores a scrypt hash with a per-user salt and never returns it', async () => {
    const a = await users.register({ email: email(), password, name: 'A' });
    const b = await users.register({ email: email(), password, name: 'B' });
    const stored = await mongoDb().collection(collections.users).find({ _id: { $in: [a.user.id, b.user.id] } as never }).toArray();
    expect(stored.map((d) => d.passwordHash)).toEqual([expect.stringMatching(/^scrypt\$/), expect.stringMatching(/^scrypt\$/)]);
    expect(stored[0]!.passwordHash).not.toEqual(stored[1]!.passwordHash);
    expect(JSON.stringify([a, b, await users.me(a.user.id), await users.list(100)])).not.toMatch(/scrypt|passwordHash/);
  });

  it('rotates refresh tokens and revokes the whole family when a rotated one is reused', async () => {
    const first = await users.register({ email: email(), password, name: 'R' });
    const second = await users.refresh(first.refreshToken);
    const third = await users.refresh(second.refreshToken);
    await expect(users.refresh(first.refreshToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    // the thief's replay killed the family: the newest token is dead too
    await expect(users.refresh(third.refreshToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    await expect(users.refresh('rt_never-issued')).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('logout ends the session; another user cannot end it', async () => {
    const alice = await users.register({ email: email(), password, name: 'Alice' });
    const mallory = await users.register({ email: email(), password, name: 'Mallory' });
    await users.logout(mallory.user.id, alice.refreshToken);
    const rotated = await users.refresh(alice.refreshToken);
    await users.logout(alice.user.id, rotated.refreshToken);
    await expect(users.refresh(rotated.refreshToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('locks an account after repeated failures, for unknown emails too, with the same answer', async () => {
    const victim = await users.register({ email: email(), password, name: 'V' });
    for (let i = 0; i < 5; i += 1) {
      await expect(users.login({ email: victim.user.email, password: 'wrong password' })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    }
    await expect(users.login({ email: victim.user.email, password })).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS', headers: { 'retry-after': expect.any(String) } });
    const ghost = email();
    for (let i = 0; i < 5; i += 1) {
      await expect(users.login({ email: ghost, password })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    }
    await expect(users.login({ email: ghost, password })).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
  });

  it('disabling a user revokes their refresh tokens and makes them inactive', async () => {
    const user = await users.register({ email: email(), password, name: 'D' });
    expect(await users.isActive(user.user.id, 'user')).toBe(true);
    await users.update(randomUUID(), user.user.id, { disabled: true });
    expect(await users.isActive(user.user.id, 'user')).toBe(false);
    await expect(users.refresh(user.refreshToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    await expect(users.login({ email: user.user.email, password })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
  });

  it('pages through users by cursor without repeats', async () => {
    for (let i = 0; i < 3; i += 1) await users.register({ email: email(), password, name: `P${i}` });
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await users.list(2, after);
      seen.push(...page.items.map((u) => u.id));
      after = page.lastId;
    } while (after);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(await mongoDb().collection(collections.users).countDocuments());
  });

  it('seeds the first admin idempotently', async () => {
    const address = email();
    const first = await users.ensureAdmin({ email: address, password, name: 'Admin' });
    const again = await users.ensureAdmin({ email: address, password: 'another password', name: 'Admin' });
    expect(first).toMatchObject({ created: true, user: { role: 'admin' } });
    expect(again).toMatchObject({ created: false, user: { id: first.user.id, role: 'admin' } });
    await expect(users.login({ email: address, password })).resolves.toMatchObject({ user: { role: 'admin' } });
  });

  describe('admin safety', () => {
    /** A database of its own: "the last admin" means the last one in it. */
    const roster = () => {
      const db = mongoClient().db(`admin-safety-${randomUUID().slice(0, 8)}`);
      return { db, users: new UserService(new MongoUserStore(() => db)) };
    };
    const makeAdmin = async (service: UserService, name: string) => (await service.ensureAdmin({ email: email(), password, name })).user;

    it('refuses an admin demoting or disabling itself, and changes nothing', async () => {
      const { users: service } = roster();
      const admin = await makeAdmin(service, 'Self');
      await makeAdmin(service, 'Other');
      await expect(service.update(admin.id, admin.id, { role: 'user' })).rejects.toMatchObject({ code: 'CANNOT_CHANGE_SELF', status: 409 });
      await expect(service.update(admin.id, admin.id, { disabled: true })).rejects.toMatchObject({ code: 'CANNOT_CHANGE_SELF' });
      expect(await service.me(admin.id)).toMatchObject({ role: 'admin', disabled: false });
      // Changes that take nothing away are fine, on oneself too.
      await expect(service.update(admin.id, admin.id, { role: 'admin', disabled: false })).resolves.toMatchObject({ role: 'admin' });
    });

    it('never demotes or disables the last enabled admin', async () => {
      const { users: service } = roster();
      const first = await makeAdmin(service, 'First');
      const second = await makeAdmin(service, 'Second');
      await expect(service.update(first.id, second.id, { disabled: true })).resolves.toMatchObject({ disabled: true });
      // The second admin's token may still be cached by the gateway for a few seconds: it must not leave nobody in charge.
      await expect(service.update(second.id, first.id, { role: 'user' })).rejects.toMatchObject({ code: 'LAST_ADMIN', status: 409 });
      await expect(service.update(second.id, first.id, { disabled: true })).rejects.toMatchObject({ code: 'LAST_ADMIN' });
      expect(await service.me(first.id)).toMatchObject({ role: 'admin', disabled: false });
    });

    it('lets only one of two admins who demote each other at the same moment win', async () => {
      for (let round = 0; round < 5; round += 1) {
        const { db, users: service } = roster();
        const a = await makeAdmin(service, 'A');
        const b = await makeAdmin(service, 'B');
        const results = await Promise.allSettled([service.update(a.id, b.id, { role: 'user' }), service.update(b.id, a.id, { role: 'user' })]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason).toMatchObject({ code: 'LAST_ADMIN' });
        expect(await db.collection(collections.users).countDocuments({ role: 'admin', disabled: false })).toBe(1);
      }
    });

    it('takes over the roster lock of a holder that crashed once its lease ended', async () => {
      const { db, users: service } = roster();
      const a = await makeAdmin(service, 'A');
      const b = await makeAdmin(service, 'B');
      await db.collection(collections.locks).insertOne({ _id: 'admin-roster' as never, token: 'crashed', expiresAt: new Date(Date.now() - 1_000) });
      await expect(service.update(a.id, b.id, { role: 'user' })).resolves.toMatchObject({ role: 'user' });
      expect(await db.collection(collections.locks).countDocuments()).toBe(0);
    });

    it('seeding ADMIN_EMAIL again restores an admin that was demoted and disabled', async () => {
      const { users: service } = roster();
      const seeded = await service.ensureAdmin({ email: email(), password, name: 'Seeded' });
      const other = await makeAdmin(service, 'Other');
      await service.update(other.id, seeded.user.id, { role: 'user', disabled: true });
      const restored = await service.ensureAdmin({ email: seeded.user.email, password: 'whatever it is', name: 'Seeded' });
      expect(restored).toMatchObject({ created: false, user: { id: seeded.user.id, role: 'admin', disabled: false } });
      await expect(service.login({ email: seeded.user.email, password })).resolves.toMatchObject({ user: { role: 'admin' } });
    });
  });

  describe('account emails: password change, forgotten password, reset', () => {
    /** What the notifications service would have been handed; `down` makes every hand-over fail. */
    const notifications = () => {
      const events: NotificationEvent[] = [];
      const notifier = {
        down: false,
        async handOver(batch: readonly NotificationEvent[]) {
          if (notifier.down) throw new Error('notifications unavailable');
          events.push(...batch);
        },
      };
      return { events, notifier };
    };
    const service = (notifier: ReturnType<typeof notifications>['notifier'], now?: () => Date) => new UserService(store, now, { notifier, forgotAnswerMs: 0 });
    const userDoc = (id: string) => mongoDb().collection(collections.users).findOne({ _id: id as never });
    const resetToken = (events: NotificationEvent[], to: string) => (events.filter((e) => e.kind === 'password-reset' && e.to === to).at(-1) as { token: string }).token;
    let warn: jest.SpyInstance;
    beforeEach(() => (warn = jest.spyOn(log, 'warn').mockImplementation(() => undefined)));
    afterEach(() => warn.mockRestore());

    it('keeps only the SHA-256 of a reset token: the raw token is nowhere in the database', async () => {
      const { events, notifier } = notifications();
      const account = await users.register({ email: email(), password, name: 'Hash' });
      await service(notifier).forgotPassword(account.user.email);
      const token = resetToken(events, account.user.email);
      const hash = createHash('sha256').update(token).digest('base64url');
      const stored = await mongoDb().collection(collections.passwordResets).findOne({ _id: hash as never });
      expect(stored).toMatchObject({ userId: account.user.id, usedAt: null, expiresAt: expect.any(Date) });
      expect(stored!.expiresAt.getTime() - Date.now()).toBeGreaterThan((RESET_TOKEN_TTL_SECONDS - 60) * 1000);
      for (const name of Object.values(collections)) {
        const everything = JSON.stringify(await mongoDb().collection(name).find().toArray());
        expect(everything).not.toContain(token);
      }
    });

    it('lets exactly one of 10 concurrent resets with one token through; the others are 400 INVALID_TOKEN', async () => {
      const { events, notifier } = notifications();
      const account = await users.register({ email: email(), password, name: 'Once' });
      const resetting = service(notifier);
      await resetting.forgotPassword(account.user.email);
      const token = resetToken(events, account.user.email);
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => resetting.resetPassword({ token, newPassword: `new passphrase ${i}` })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(refused.every((r) => r.reason instanceof AppError && r.reason.code === 'INVALID_TOKEN' && r.reason.status === 400)).toBe(true);
      // One password was set, and one email tells of it.
      expect((await userDoc(account.user.id))?.passwordVersion).toBe(1);
      expect(events.filter((e) => e.kind === 'password-changed' && e.to === account.user.email)).toMatchObject([{ how: 'reset' }]);
    });

    it('refuses a token after 30 minutes', async () => {
      const { events, notifier } = notifications();
      const account = await users.register({ email: email(), password, name: 'Late' });
      await service(notifier).forgotPassword(account.user.email);
      const later = service(notifier, () => new Date(Date.now() + (RESET_TOKEN_TTL_SECONDS + 5) * 1000));
      await expect(later.resetPassword({ token: resetToken(events, account.user.email), newPassword: 'too late passphrase' })).rejects.toMatchObject({ code: 'INVALID_TOKEN', status: 400 });
      await expect(users.login({ email: account.user.email, password })).resolves.toBeDefined();
    });

    it(`sends at most ${RESET_EMAILS_PER_WINDOW} links to one address however many ask at once`, async () => {
      const { events, notifier } = notifications();
      const account = await users.register({ email: email(), password, name: 'Limit' });
      const asking = service(notifier);
      await Promise.all(Array.from({ length: 8 }, () => asking.forgotPassword(account.user.email.toUpperCase())));
      expect(events.filter((e) => e.kind === 'password-reset')).toHaveLength(RESET_EMAILS_PER_WINDOW);
      // Unknown addresses take slots the same way (the same work for every address), named by a hash of the address only.
      const ghost = email();
      await Promise.all(Array.from({ length: 4 }, () => asking.forgotPassword(ghost)));
      const emailHash = createHash('sha256').update(ghost).digest('base64url');
      expect(await mongoDb().collection(collections.resetSlots).countDocuments({ _id: { $in: [1, 2, 3, 4].map((slot) => `${emailHash}:${slot}`) } as never })).toBe(RESET_EMAILS_PER_WINDOW);
      expect(JSON.stringify(await mongoDb().collection(collections.resetSlots).find().toArray())).not.toContain(ghost);

      // A slot is free again once the window since it was taken has passed.
      const later = service(notifier, () => new Date(Date.now() + (RESET_WINDOW_SECONDS + 5) * 1000));
      await later.forgotPassword(account.user.email);
      expect(events.filter((e) => e.kind === 'password-reset')).toHaveLength(RESET_EMAILS_PER_WINDOW + 1);
    });

    it('pushes the password-changed notice in the update that sets the password, and pulls it once handed over', async () => {
      const { events, notifier } = notifications();
      const account = await users.register({ email: email(), password, name: 'Notice' });
      const before = await userDoc(account.user.id);
      notifier.down = true;
      await service(notifier).changePassword({ userId: account.user.id }, { currentPassword: password, newPassword: 'changed passphrase' });
      const after = await userDoc(account.user.id);
      const notice: PasswordChangedNotice = { id: `pwchanged:${account.user.id}:1`, to: account.user.email, kind: 'password-changed', name: 'Notice', how: 'changed', at: expect.any(String) as never };
      expect(after).toMatchObject({ passwordVersion: 1, pendingNotices: [notice] });
      expect(after!.passwordHash).not.toBe(before!.passwordHash);

      // A change decided on a password that is no longer the stored one writes neither the hash nor a notice.
      const store2 = new MongoUserStore(mongoDb);
      const stale = await store2.setPassword(account.user.id, { expectedHash: before!.passwordHash, passwordHash: 'scrypt$x', version: 2, notice: { ...after!.pendingNotices[0], id: 'pwchanged:stale:2' } });
      expect(stale).toBe(false);
      expect(await userDoc(account.user.id)).toMatchObject({ passwordHash: after!.passwordHash, pendingNotices: [notice] });

      notifier.down = false;
      await service(notifier).changePassword({ userId: account.user.id }, { currentPassword: 'changed passphrase', newPassword: password });
      expect(events.filter((e) => e.to === account.user.email).map((e) => e.id)).toEqual([`pwchanged:${account.user.id}:2`]);
      // Only the change just handed over left; the first one waits for the keep-alive.
      expect((await userDoc(account.user.id))!.pendingNotices.map((n: PasswordChangedNotice) => n.id)).toEqual([`pwchanged:${account.user.id}:1`]);
    });

    it('the keep-alive hands over what a failed hand-over (or a crash after the change) left, once', async () => {
      const { events, notifier } = notifications();
      const account = await users.register({ email: email(), password, name: 'Relay' });
      notifier.down = true;
      const first = service(notifier);
      await first.changePassword({ userId: account.user.id }, { currentPassword: password, newPassword: 'relayed passphrase' });
      expect(await first.relayPendingNotices()).toBe(0);

      notifier.down = false;
      // Other tests leave notices too: relay until this account's is gone, as the minutely keep-alive would.
      for (let run = 0; run < 20 && (await userDoc(account.user.id))!.pendingNotices.length > 0; run += 1) await first.relayPendingNotices();
      expect((await userDoc(account.user.id))!.pendingNotices).toEqual([]);
      expect(events.filter((e) => e.to === account.user.email)).toMatchObject([{ id: `pwchanged:${account.user.id}:1`, kind: 'password-changed', how: 'changed' }]);
      await first.relayPendingNotices();
      expect(events.filter((e) => e.to === account.user.email)).toHaveLength(1);
    });

    it('ends the other sessions on a change and every session on a reset, and lifts the login lockout', async () => {
      const { events, notifier } = notifications();
      const passwords = service(notifier);
      const mine = await users.register({ email: email(), password, name: 'Sessions' });
      const other = await users.login({ email: mine.user.email, password });
      const family = (await mongoDb().collection(collections.refreshTokens).findOne({ _id: createHash('sha256').update(mine.refreshToken).digest('base64url') as never }))!.familyId;
      await passwords.changePassword({ userId: mine.user.id, sessionId: family }, { currentPassword: password, newPassword: 'session passphrase' });
      await expect(users.refresh(other.refreshToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
      const kept = await users.refresh(mine.refreshToken);

      for (let i = 0; i < 5; i += 1) await users.login({ email: mine.user.email, password: 'wrong password' }).catch(() => undefined);
      await passwords.forgotPassword(mine.user.email);
      await passwords.resetPassword({ token: resetToken(events, mine.user.email), newPassword: password });
      await expect(users.refresh(kept.refreshToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
      await expect(users.login({ email: mine.user.email, password })).resolves.toMatchObject({ user: { id: mine.user.id } });
    });

    it('lets exactly one of two concurrent changes win, and the stored password is the winner’s', async () => {
      const { events, notifier } = notifications();
      const passwords = service(notifier);
      for (let round = 0; round < 3; round += 1) {
        const account = await users.register({ email: email(), password, name: 'Both' });
        const candidates = ['first new passphrase', 'second new passphrase'];
        const results = await Promise.allSettled(candidates.map((newPassword) => passwords.changePassword({ userId: account.user.id }, { currentPassword: password, newPassword })));
        const won = results.findIndex((r) => r.status === 'fulfilled');
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(results[1 - won]).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_CREDENTIALS' } });
        await expect(users.login({ email: account.user.email, password: candidates[won]! })).resolves.toBeDefined();
        expect(events.filter((e) => e.to === account.user.email)).toHaveLength(1);
      }
    });

    it('does not undo an admin disabling the account while its password changes', async () => {
      const { notifier } = notifications();
      const passwords = service(notifier);
      for (let round = 0; round < 3; round += 1) {
        const account = await users.register({ email: email(), password, name: 'Disabled' });
        await Promise.allSettled([
          passwords.changePassword({ userId: account.user.id }, { currentPassword: password, newPassword: 'while disabling' }),
          users.update(randomUUID(), account.user.id, { disabled: true }),
        ]);
        expect(await userDoc(account.user.id)).toMatchObject({ disabled: true });
      }
    });

    it('creates the indexes the password routes use', async () => {
      await MongoUserStore.ensureIndexes(mongoDb());
      const names = async (collection: string) => (await mongoDb().collection(collection).indexes()).map((index) => index.name);
      expect(await names(collections.users)).toEqual(expect.arrayContaining(['email_unique', 'pending_notices']));
      expect(await names(collections.passwordResets)).toEqual(expect.arrayContaining(['user', 'expiry']));
      expect(await names(collections.resetSlots)).toEqual(expect.arrayContaining(['expiry']));
    });
  });
});
