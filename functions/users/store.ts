import { randomUUID } from 'node:crypto';
import { MongoServerError, type Collection, type Db } from 'mongodb';
import { AppError } from '../../lib/http/errors';
import type { PersonRole } from '../../lib/auth/roles';

/** What the users service keeps, and the small interface its domain code talks to. */

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  role: PersonRole;
  disabled: boolean;
  passwordHash: string;
  createdAt: Date;
}

export interface RefreshTokenRecord {
  /** sha256 of the token: the token itself is never stored. */
  tokenHash: string;
  userId: string;
  /** Every token rotated out of one login shares a family; reuse of a rotated one revokes it whole. */
  familyId: string;
  expiresAt: Date;
}

export type ConsumeResult =
  | { outcome: 'rotated'; token: RefreshTokenRecord }
  | { outcome: 'reused'; token: RefreshTokenRecord }
  | { outcome: 'invalid' };

export class EmailTakenError extends Error {}

export interface UserStore {
  insertUser(user: UserRecord): Promise<void>;
  findUserByEmail(email: string): Promise<UserRecord | null>;
  findUserById(id: string): Promise<UserRecord | null>;
  listUsers(limit: number, afterId?: string): Promise<UserRecord[]>;
  updateUser(id: string, changes: Partial<Pick<UserRecord, 'role' | 'disabled'>>): Promise<UserRecord | null>;
  countEnabledAdmins(): Promise<number>;
  /**
   * Runs `change` while no other change of an admin's role or status runs (a lease, so a crashed holder
   * cannot block for long). Without transactions this is what keeps two admins who demote each other at
   * the same moment from leaving none.
   */
  withAdminRosterLock<T>(change: () => Promise<T>): Promise<T>;

  insertRefreshToken(token: RefreshTokenRecord): Promise<void>;
  findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null>;
  /** Marks a live token used, atomically; tells a reused (already rotated or revoked) one from an unknown one. */
  consumeRefreshToken(tokenHash: string, now: Date): Promise<ConsumeResult>;
  revokeTokenFamily(familyId: string, now: Date): Promise<void>;
  revokeUserTokens(userId: string, now: Date): Promise<void>;

  lockedUntil(email: string, now: Date): Promise<Date | null>;
  /** Counts a failed login; returns when the account is locked if this failure crossed the limit. */
  recordFailedLogin(email: string, now: Date, limit: { maxAttempts: number; lockSeconds: number }): Promise<Date | null>;
  clearFailedLogins(email: string): Promise<void>;
}

interface UserDoc extends Omit<UserRecord, 'id'> {
  _id: string;
}
interface RefreshTokenDoc extends Omit<RefreshTokenRecord, 'tokenHash'> {
  _id: string;
  createdAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}
interface LockDoc {
  _id: string;
  token: string;
  expiresAt: Date;
}
interface LoginAttemptsDoc {
  _id: string;
  failures: number;
  windowStartedAt: Date;
  lockedUntil: Date | null;
}

const DUPLICATE_KEY = 11000;
const NOT_IMPLEMENTED = 238;

const toUser = ({ _id, ...rest }: UserDoc): UserRecord => ({ id: _id, ...rest });
const toToken = (doc: RefreshTokenDoc): RefreshTokenRecord => ({
  tokenHash: doc._id,
  userId: doc.userId,
  familyId: doc.familyId,
  expiresAt: doc.expiresAt,
});

export const collections = {
  users: 'users',
  refreshTokens: 'refresh_tokens',
  loginAttempts: 'login_attempts',
  locks: 'locks',
} as const;

const ADMIN_ROSTER_LOCK = 'admin-roster';
const LOCK_LEASE_MS = 10_000;
const LOCK_WAIT_MS = 2_000;

/** Plain CRUD with conditional updates only: runs unchanged on MongoDB, Atlas and FerretDB (no transactions). */
export class MongoUserStore implements UserStore {
  private readonly users: Collection<UserDoc>;
  private readonly tokens: Collection<RefreshTokenDoc>;
  private readonly attempts: Collection<LoginAttemptsDoc>;
  private readonly locks: Collection<LockDoc>;

  constructor(db: Db) {
    this.users = db.collection<UserDoc>(collections.users);
    this.tokens = db.collection<RefreshTokenDoc>(collections.refreshTokens);
    this.attempts = db.collection<LoginAttemptsDoc>(collections.loginAttempts);
    this.locks = db.collection<LockDoc>(collections.locks);
  }

  /** Idempotent; run by the launcher and the deploy seed script, not on the request path. */
  static async ensureIndexes(db: Db): Promise<void> {
    await db.collection(collections.users).createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
    await db.collection(collections.refreshTokens).createIndex({ familyId: 1 }, { name: 'family' });
    await db.collection(collections.refreshTokens).createIndex({ userId: 1 }, { name: 'user' });
    try {
      // Expired tokens are refused by every query anyway; the TTL index only tidies them away.
      await db.collection(collections.refreshTokens).createIndex({ expiresAt: 1 }, { name: 'expiry', expireAfterSeconds: 0 });
    } catch (error) {
      // FerretDB 1.x has no TTL indexes (NotImplemented); MongoDB and Atlas do.
      if (!(error instanceof MongoServerError && error.code === NOT_IMPLEMENTED)) throw error;
      await db.collection(collections.refreshTokens).createIndex({ expiresAt: 1 }, { name: 'expiry' });
    }
  }

  async insertUser(user: UserRecord): Promise<void> {
    const { id, ...rest } = user;
    try {
      await this.users.insertOne({ _id: id, ...rest });
    } catch (error) {
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) throw new EmailTakenError();
      throw error;
    }
  }

  async findUserByEmail(email: string): Promise<UserRecord | null> {
    const doc = await this.users.findOne({ email });
    return doc && toUser(doc);
  }

  async findUserById(id: string): Promise<UserRecord | null> {
    const doc = await this.users.findOne({ _id: id });
    return doc && toUser(doc);
  }

  async listUsers(limit: number, afterId?: string): Promise<UserRecord[]> {
    const docs = await this.users
      .find(afterId ? { _id: { $gt: afterId } } : {})
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toUser);
  }

  async updateUser(id: string, changes: Partial<Pick<UserRecord, 'role' | 'disabled'>>): Promise<UserRecord | null> {
    const doc = await this.users.findOneAndUpdate({ _id: id }, { $set: changes }, { returnDocument: 'after' });
    return doc && toUser(doc);
  }

  async countEnabledAdmins(): Promise<number> {
    return this.users.countDocuments({ role: 'admin', disabled: false });
  }

  async withAdminRosterLock<T>(change: () => Promise<T>): Promise<T> {
    const token = randomUUID();
    const giveUpAt = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const now = new Date();
      try {
        await this.locks.insertOne({ _id: ADMIN_ROSTER_LOCK, token, expiresAt: new Date(now.getTime() + LOCK_LEASE_MS) });
        break;
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
        // Held: take it over only if its holder's lease ran out (that holder crashed).
        await this.locks.deleteOne({ _id: ADMIN_ROSTER_LOCK, expiresAt: { $lt: now } });
        if (Date.now() > giveUpAt) throw new AppError('SERVICE_UNAVAILABLE', 'Another change of the admins is in progress; retry shortly');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    try {
      return await change();
    } finally {
      await this.locks.deleteOne({ _id: ADMIN_ROSTER_LOCK, token });
    }
  }

  async insertRefreshToken(token: RefreshTokenRecord): Promise<void> {
    const { tokenHash, ...rest } = token;
    await this.tokens.insertOne({ _id: tokenHash, ...rest, createdAt: new Date(), usedAt: null, revokedAt: null });
  }

  async findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const doc = await this.tokens.findOne({ _id: tokenHash });
    return doc && toToken(doc);
  }

  async consumeRefreshToken(tokenHash: string, now: Date): Promise<ConsumeResult> {
    const live = await this.tokens.findOneAndUpdate(
      { _id: tokenHash, usedAt: null, revokedAt: null, expiresAt: { $gt: now } },
      { $set: { usedAt: now } },
    );
    if (live) return { outcome: 'rotated', token: toToken(live) };
    const spent = await this.tokens.findOne({ _id: tokenHash });
    if (spent && (spent.usedAt || spent.revokedAt)) return { outcome: 'reused', token: toToken(spent) };
    return { outcome: 'invalid' };
  }

  async revokeTokenFamily(familyId: string, now: Date): Promise<void> {
    await this.tokens.updateMany({ familyId, revokedAt: null }, { $set: { revokedAt: now } });
  }

  async revokeUserTokens(userId: string, now: Date): Promise<void> {
    await this.tokens.updateMany({ userId, revokedAt: null }, { $set: { revokedAt: now } });
  }

  async lockedUntil(email: string, now: Date): Promise<Date | null> {
    const doc = await this.attempts.findOne({ _id: email });
    return doc?.lockedUntil && doc.lockedUntil > now ? doc.lockedUntil : null;
  }

  async recordFailedLogin(email: string, now: Date, limit: { maxAttempts: number; lockSeconds: number }): Promise<Date | null> {
    const windowStart = new Date(now.getTime() - limit.lockSeconds * 1000);
    // Failures older than one lock period no longer count: start a new window.
    await this.attempts.updateOne(
      { _id: email, windowStartedAt: { $lt: windowStart } },
      { $set: { failures: 0, windowStartedAt: now, lockedUntil: null } },
    );
    const doc = await this.attempts.findOneAndUpdate(
      { _id: email },
      { $inc: { failures: 1 }, $setOnInsert: { windowStartedAt: now, lockedUntil: null } },
      { upsert: true, returnDocument: 'after' },
    );
    if (!doc || doc.failures < limit.maxAttempts) return null;
    const lockedUntil = new Date(now.getTime() + limit.lockSeconds * 1000);
    await this.attempts.updateOne({ _id: email }, { $set: { lockedUntil, failures: 0, windowStartedAt: now } });
    return lockedUntil;
  }

  async clearFailedLogins(email: string): Promise<void> {
    await this.attempts.deleteOne({ _id: email });
  }
}
