import { randomUUID } from 'node:crypto';
import { closeMongo, mongoDb } from '../../lib/clients/mongo';
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
    await users.update(user.user.id, { disabled: true });
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
});
