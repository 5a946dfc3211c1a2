import { randomUUID } from 'node:crypto';
import { closeMongo, mongoClient, mongoDb } from '../../lib/clients/mongo';
import { AppError } from '../../lib/http/errors';
import { MongoUserStore, collections } from '../../functions/users/store';
import { UserService } from '../../functions/users/service';

const email = () => `it-${randomUUID()}@example.com`;
const password = 'correct horse battery';

describe('users service on a real MongoDB-wire server (FerretDB)', () => {
  const store = new MongoUserStore(mongoDb());
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
      return { db, users: new UserService(new MongoUserStore(db)) };
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
});
