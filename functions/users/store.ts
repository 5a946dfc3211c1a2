import { createHash, randomUUID } from 'node:crypto';
import { MongoServerError, type Db, type UpdateFilter } from 'mongodb';
import { AppError } from '../../lib/http/errors';
import type { PersonRole } from '../../lib/auth/roles';
import type { NotificationEvent } from '../notifications/model';

/** What the users service keeps, and the small interface its domain code talks to. */

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  role: PersonRole;
  disabled: boolean;
  passwordHash: string;
  createdAt: Date;
  /** How many times the password was changed or reset (absent: never); names each change's email. */
  passwordVersion?: number;
}

export interface RefreshTokenRecord {
  /** sha256 of the token: the token itself is never stored. */
  tokenHash: string;
  userId: string;
  /** Every token rotated out of one login shares a family; reuse of a rotated one revokes it whole. */
  familyId: string;
  expiresAt: Date;
}

/** A password-reset link's token, by its hash (the token itself is never stored): single use, 30 minutes. */
export interface PasswordResetRecord {
  tokenHash: string;
  userId: string;
  expiresAt: Date;
}

/**
 * The "password changed" email, kept on the user document from the update that changed the password
 * until the notifications service has it (docs/architecture.md, Users): a crash or an outage of the
 * notifications service in between loses nothing, and its id makes a second hand-over the same email.
 */
export type PasswordChangedNotice = Extract<NotificationEvent, { kind: 'password-changed' }>;

export interface PasswordChange {
  /** The hash the change was decided on: the update applies only while it is still the stored one. */
  expectedHash: string;
  passwordHash: string;
  version: number;
  notice: PasswordChangedNotice;
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
  /**
   * Runs `change` while no other change of this account's document runs: every write of it (password,
   * its pending notices, an admin's role or status change) takes this lease, so none is lost and a
   * reset token's "unused" check and its marking happen as one (see `withLock`).
   */
  withAccountLock<T>(userId: string, change: () => Promise<T>): Promise<T>;

  insertRefreshToken(token: RefreshTokenRecord): Promise<void>;
  findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | null>;
  /** Marks a live token used, atomically; tells a reused (already rotated or revoked) one from an unknown one. */
  consumeRefreshToken(tokenHash: string, now: Date): Promise<ConsumeResult>;
  revokeTokenFamily(familyId: string, now: Date): Promise<void>;
  /** Revokes every refresh token of the user, but those of `keepFamilyId` (the caller's own session) when given. */
  revokeUserTokens(userId: string, now: Date, keepFamilyId?: string): Promise<void>;

  /**
   * Sets a new password and records its notice in one update, only if the password is still
   * `expectedHash` (false otherwise). Run under the account's lock.
   */
  setPassword(userId: string, change: PasswordChange): Promise<boolean>;
  /** Users whose password-changed notices are still to hand over, at most `limit` of them. */
  pendingNotices(limit: number): Promise<{ userId: string; notices: PasswordChangedNotice[] }[]>;
  /** Forgets a notice the notifications service has taken. Run under the account's lock. */
  removePendingNotice(userId: string, notice: PasswordChangedNotice): Promise<void>;

  insertPasswordReset(reset: PasswordResetRecord): Promise<void>;
  /** A reset token that is neither used nor expired, or null. */
  findPasswordReset(tokenHash: string, now: Date): Promise<PasswordResetRecord | null>;
  /** Marks a live reset token used with one conditional update; null when it is not live. Run under its account's lock. */
  consumePasswordReset(tokenHash: string, now: Date): Promise<PasswordResetRecord | null>;
  /** Marks every unused reset token of the user used: a changed password makes older links worthless. */
  spendPasswordResets(userId: string, now: Date): Promise<void>;
  /**
   * Takes one of an address's reset-email slots (known address or not): false when all `slots` were
   * taken within the last `windowSeconds`.
   */
  claimResetSlot(email: string, now: Date, limit: { slots: number; windowSeconds: number }): Promise<boolean>;

  lockedUntil(email: string, now: Date): Promise<Date | null>;
  /** Counts a failed login; returns when the account is locked if this failure crossed the limit. */
  recordFailedLogin(email: string, now: Date, limit: { maxAttempts: number; lockSeconds: number }): Promise<Date | null>;
  clearFailedLogins(email: string): Promise<void>;
}

interface UserDoc extends Omit<UserRecord, 'id'> {
  _id: string;
  pendingNotices?: PasswordChangedNotice[];
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
/** A reset email sent to an address in the window: `<sha256 of the address>:<slot>` (no address is kept). */
interface ResetSlotDoc {
  _id: string;
  expiresAt: Date;
}
interface PasswordResetDoc {
  _id: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

const DUPLICATE_KEY = 11000;
const NOT_IMPLEMENTED = 238;

const toUser = ({ _id, pendingNotices: _notices, ...rest }: UserDoc): UserRecord => ({ id: _id, ...rest });
const toReset = (doc: PasswordResetDoc): PasswordResetRecord => ({ tokenHash: doc._id, userId: doc.userId, expiresAt: doc.expiresAt });
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
  passwordResets: 'password_resets',
  resetSlots: 'password_reset_slots',
} as const;

const ADMIN_ROSTER_LOCK = 'admin-roster';
const LOCK_LEASE_MS = 10_000;
const LOCK_WAIT_MS = 2_000;

/** Plain CRUD with conditional updates only: runs unchanged on MongoDB, Atlas and FerretDB (no transactions). */
export class MongoUserStore implements UserStore {
  /**
   * The database is asked for when a query runs, not when the store is made: on a deployed stage its
   * URI is a secret that arrives with the first invocation (lib/secrets.ts), after cold start.
   */
  constructor(private readonly db: () => Db) {}

  private get users() {
    return this.db().collection<UserDoc>(collections.users);
  }
  private get tokens() {
    return this.db().collection<RefreshTokenDoc>(collections.refreshTokens);
  }
  private get attempts() {
    return this.db().collection<LoginAttemptsDoc>(collections.loginAttempts);
  }
  private get locks() {
    return this.db().collection<LockDoc>(collections.locks);
  }
  private get resets() {
    return this.db().collection<PasswordResetDoc>(collections.passwordResets);
  }
  private get resetSlots() {
    return this.db().collection<ResetSlotDoc>(collections.resetSlots);
  }

  /** Idempotent; run by the launcher and the deploy seed script, not on the request path. */
  static async ensureIndexes(db: Db): Promise<void> {
    await db.collection(collections.users).createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
    // The keep-alive's look-up of password-changed emails still to hand over; sparse: almost no user has one.
    await db.collection(collections.users).createIndex({ 'pendingNotices.id': 1 }, { sparse: true, name: 'pending_notices' });
    await db.collection(collections.refreshTokens).createIndex({ familyId: 1 }, { name: 'family' });
    await db.collection(collections.refreshTokens).createIndex({ userId: 1 }, { name: 'user' });
    await db.collection(collections.passwordResets).createIndex({ userId: 1 }, { name: 'user' });
    for (const name of [collections.refreshTokens, collections.passwordResets, collections.resetSlots]) await ensureExpiryIndex(db, name);
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

  withAdminRosterLock<T>(change: () => Promise<T>): Promise<T> {
    return this.withLock(ADMIN_ROSTER_LOCK, 'Another change of the admins is in progress; retry shortly', change);
  }

  withAccountLock<T>(userId: string, change: () => Promise<T>): Promise<T> {
    return this.withLock(`account:${userId}`, 'Another change of this account is in progress; retry shortly', change);
  }

  /**
   * A lease lock: an insert with the lock's name as `_id`, which the unique key makes atomic on every
   * server. What needs it: FerretDB 1.x applies an update by reading the document and writing it back
   * whole, so two updates of one document at once can lose one of them, and two conditional updates
   * can both match (measured: 10 concurrent `findOneAndUpdate({usedAt: null})` let 4 to 10 through).
   */
  private async withLock<T>(name: string, busy: string, change: () => Promise<T>): Promise<T> {
    const token = randomUUID();
    const giveUpAt = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const now = new Date();
      try {
        await this.locks.insertOne({ _id: name, token, expiresAt: new Date(now.getTime() + LOCK_LEASE_MS) });
        break;
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
        // Held: take it over only if its holder's lease ran out (that holder crashed).
        await this.locks.deleteOne({ _id: name, expiresAt: { $lt: now } });
        if (Date.now() > giveUpAt) throw new AppError('SERVICE_UNAVAILABLE', busy);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    try {
      return await change();
    } finally {
      await this.locks.deleteOne({ _id: name, token });
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

  async revokeUserTokens(userId: string, now: Date, keepFamilyId?: string): Promise<void> {
    await this.tokens.updateMany({ userId, revokedAt: null, ...(keepFamilyId ? { familyId: { $ne: keepFamilyId } } : {}) }, { $set: { revokedAt: now } });
  }

  async setPassword(userId: string, change: PasswordChange): Promise<boolean> {
    // One update: the new hash and the email that tells of it are stored together or not at all.
    const result = await this.users.updateOne(
      { _id: userId, passwordHash: change.expectedHash },
      { $set: { passwordHash: change.passwordHash, passwordVersion: change.version }, $push: { pendingNotices: change.notice } },
    );
    return result.matchedCount === 1;
  }

  async pendingNotices(limit: number): Promise<{ userId: string; notices: PasswordChangedNotice[] }[]> {
    // `$gt: ''` matches any id (ids are non-empty strings) and, unlike `$exists`, uses the sparse index on MongoDB too.
    const docs = await this.users.find({ 'pendingNotices.id': { $gt: '' } }, { projection: { pendingNotices: 1 } }).limit(limit).toArray();
    return docs.map((doc) => ({ userId: doc._id, notices: doc.pendingNotices ?? [] }));
  }

  async removePendingNotice(userId: string, notice: PasswordChangedNotice): Promise<void> {
    // The whole notice, not a condition on its id: FerretDB 1.x's $pull removes equal values only.
    await this.users.updateOne({ _id: userId }, { $pull: { pendingNotices: notice } } as UpdateFilter<UserDoc>);
  }

  async insertPasswordReset(reset: PasswordResetRecord): Promise<void> {
    await this.resets.insertOne({ _id: reset.tokenHash, userId: reset.userId, expiresAt: reset.expiresAt, createdAt: new Date(), usedAt: null });
  }

  async findPasswordReset(tokenHash: string, now: Date): Promise<PasswordResetRecord | null> {
    const doc = await this.resets.findOne({ _id: tokenHash, usedAt: null, expiresAt: { $gt: now } });
    return doc && toReset(doc);
  }

  async consumePasswordReset(tokenHash: string, now: Date): Promise<PasswordResetRecord | null> {
    const doc = await this.resets.findOneAndUpdate({ _id: tokenHash, usedAt: null, expiresAt: { $gt: now } }, { $set: { usedAt: now } });
    return doc && toReset(doc);
  }

  async spendPasswordResets(userId: string, now: Date): Promise<void> {
    await this.resets.updateMany({ userId, usedAt: null }, { $set: { usedAt: now } });
  }

  async claimResetSlot(email: string, now: Date, limit: { slots: number; windowSeconds: number }): Promise<boolean> {
    // Slots are claimed by inserting them, which the unique `_id` makes atomic everywhere (a counter's
    // $inc is not on FerretDB 1.x, see withLock): of a burst of requests, exactly `slots` get one.
    const emailHash = createHash('sha256').update(email).digest('base64url');
    const expiresAt = new Date(now.getTime() + limit.windowSeconds * 1000);
    for (let slot = 1; slot <= limit.slots; slot += 1) {
      const _id = `${emailHash}:${slot}`;
      // A slot taken longer ago than the window is free again (MongoDB's TTL index removes it too, later).
      await this.resetSlots.deleteOne({ _id, expiresAt: { $lte: now } });
      try {
        await this.resetSlots.insertOne({ _id, expiresAt });
        return true;
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
      }
    }
    return false;
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

/**
 * An index on `expiresAt` that deletes expired documents where the server can (MongoDB, Atlas: a TTL
 * index). Every query refuses expired documents anyway; the TTL only tidies them away.
 */
async function ensureExpiryIndex(db: Db, collection: string): Promise<void> {
  try {
    await db.collection(collection).createIndex({ expiresAt: 1 }, { name: 'expiry', expireAfterSeconds: 0 });
  } catch (error) {
    // FerretDB 1.x has no TTL indexes (NotImplemented): a plain index, and the documents stay.
    if (!(error instanceof MongoServerError && error.code === NOT_IMPLEMENTED)) throw error;
    await db.collection(collection).createIndex({ expiresAt: 1 }, { name: 'expiry' });
  }
}
