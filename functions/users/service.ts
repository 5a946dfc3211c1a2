import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { config } from '../../lib/config';
import { AppError } from '../../lib/http/errors';
import { log } from '../../lib/log';
import { signAccessToken } from '../../lib/auth/tokens';
import type { PersonRole } from '../../lib/auth/roles';
import type { Notifier } from '../notifications/client';
import { decoyHash, hashPassword, verifyPassword } from './passwords';
import { EmailTakenError, type PasswordChangedNotice, type UserRecord, type UserStore } from './store';

/** The users service's rules: accounts, passwords (change, forgotten, reset), token pairs and their rotation, lockout. */

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: PersonRole;
  disabled: boolean;
  createdAt: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** The one way a user leaves this service: never with its password hash. */
export const toPublicUser = (user: UserRecord): PublicUser => ({
  id: user.id,
  email: user.email,
  name: user.name,
  role: user.role,
  disabled: user.disabled,
  createdAt: user.createdAt.toISOString(),
});

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');

/** A reset link works this long (API.md). */
export const RESET_TOKEN_TTL_SECONDS = 30 * 60;
/** At most this many reset emails per address in a window (besides the `auth` rate limit per IP). */
export const RESET_EMAILS_PER_WINDOW = 3;
export const RESET_WINDOW_SECONDS = 15 * 60;
/**
 * `POST /auth/password/forgot` answers no sooner than this. A known address costs an insert and the
 * hand-over to the notifications service (tens of milliseconds, more on a cold start), an unknown one
 * neither; answering both at one time keeps the answer from telling them apart by its timing.
 */
export const FORGOT_ANSWER_MS = 1_000;
/** Notices the keep-alive hands over per run (the intake takes 100 events at most). */
const NOTICES_PER_RELAY = 50;

export interface UserServiceOptions {
  /** Where account emails go: the notifications service. Without one (the authorizer, the seed script) every hand-over fails and the notices wait. */
  notifier?: Notifier;
  /** FORGOT_ANSWER_MS, shorter in tests. */
  forgotAnswerMs?: number;
}

const noNotifier: Notifier = {
  handOver: () => Promise.reject(new Error('no notifier configured')),
};

/** What a failed hand-over is logged with: never the events (they carry a reset link's token). */
const reasonOf = (error: unknown) => ({ name: (error as Error)?.name, message: (error as Error)?.message });

const invalidResetToken = () => new AppError('INVALID_TOKEN', 'The reset link is unknown, used or expired; ask for a new one', {}, {}, 400);

export class UserService {
  private readonly notifier: Notifier;
  private readonly forgotAnswerMs: number;

  constructor(
    private readonly store: UserStore,
    private readonly now: () => Date = () => new Date(),
    options: UserServiceOptions = {},
  ) {
    this.notifier = options.notifier ?? noNotifier;
    this.forgotAnswerMs = options.forgotAnswerMs ?? FORGOT_ANSWER_MS;
  }

  async createUser(input: { email: string; password: string; name: string; role: PersonRole }): Promise<UserRecord> {
    const user: UserRecord = {
      id: randomUUID(),
      email: normalizeEmail(input.email),
      name: input.name.trim(),
      role: input.role,
      disabled: false,
      passwordHash: await hashPassword(input.password),
      createdAt: this.now(),
    };
    try {
      await this.store.insertUser(user);
    } catch (error) {
      if (error instanceof EmailTakenError) throw new AppError('EMAIL_TAKEN');
      throw error;
    }
    return user;
  }

  async register(input: { email: string; password: string; name: string }) {
    const user = await this.createUser({ ...input, role: 'user' });
    return { user: toPublicUser(user), ...(await this.issueTokens(user, randomUUID())) };
  }

  async login(input: { email: string; password: string }) {
    const email = normalizeEmail(input.email);
    const now = this.now();
    const lockedUntil = await this.store.lockedUntil(email, now);
    if (lockedUntil) throw this.tooManyAttempts(lockedUntil, now);

    const user = await this.store.findUserByEmail(email);
    // Unknown emails verify against a decoy hash so both failures cost the same time.
    const passwordMatches = await verifyPassword(input.password, user?.passwordHash ?? (await decoyHash()));
    if (!user || !passwordMatches || user.disabled) {
      await this.recordFailedLogin(email, now);
      throw new AppError('INVALID_CREDENTIALS');
    }
    await this.store.clearFailedLogins(email);
    return { user: toPublicUser(user), ...(await this.issueTokens(user, randomUUID())) };
  }

  async refresh(refreshToken: string) {
    const now = this.now();
    const result = await this.store.consumeRefreshToken(hashToken(refreshToken), now);
    if (result.outcome === 'reused') await this.store.revokeTokenFamily(result.token.familyId, now);
    if (result.outcome !== 'rotated') throw new AppError('INVALID_TOKEN', 'The refresh token is not valid');
    const user = await this.store.findUserById(result.token.userId);
    if (!user || user.disabled) throw new AppError('INVALID_TOKEN', 'The refresh token is not valid');
    return { user: toPublicUser(user), ...(await this.issueTokens(user, result.token.familyId)) };
  }

  /** Ends the session the refresh token belongs to; unknown or foreign tokens are ignored (204 either way). */
  async logout(callerId: string, refreshToken: string): Promise<void> {
    const token = await this.store.findRefreshToken(hashToken(refreshToken));
    if (token?.userId === callerId) await this.store.revokeTokenFamily(token.familyId, this.now());
  }

  async me(userId: string): Promise<PublicUser> {
    const user = await this.store.findUserById(userId);
    if (!user) throw new AppError('USER_NOT_FOUND');
    return toPublicUser(user);
  }

  async list(limit: number, afterId?: string) {
    // One extra row tells whether another page exists without a count query.
    const rows = await this.store.listUsers(limit + 1, afterId);
    const items = rows.slice(0, limit).map(toPublicUser);
    return { items, lastId: rows.length > limit ? items.at(-1)?.id : undefined };
  }

  /**
   * An admin changes a user's role or status. Demoting or disabling is refused for the admin itself and
   * for the last enabled admin (nobody could manage flights or users any more); the check and the
   * change run under the admin roster lock, so two admins demoting each other cannot both succeed.
   */
  async update(actorId: string, userId: string, changes: { role?: PersonRole; disabled?: boolean }): Promise<PublicUser> {
    const removesAdminRights = changes.role === 'user' || changes.disabled === true;
    if (!removesAdminRights) return this.applyUpdate(userId, changes);
    if (userId === actorId) throw new AppError('CANNOT_CHANGE_SELF', 'An admin cannot demote or disable itself; ask another admin');
    return this.store.withAdminRosterLock(async () => {
      const target = await this.store.findUserById(userId);
      if (!target) throw new AppError('USER_NOT_FOUND');
      if (target.role === 'admin' && !target.disabled && (await this.store.countEnabledAdmins()) <= 1) {
        throw new AppError('LAST_ADMIN', 'This is the last enabled admin; make another admin first');
      }
      return this.applyUpdate(userId, changes);
    });
  }

  private async applyUpdate(userId: string, changes: { role?: PersonRole; disabled?: boolean }): Promise<PublicUser> {
    // The account's lock: a password change writing the same document at that moment must not undo a disable.
    const user = await this.store.withAccountLock(userId, () => this.store.updateUser(userId, changes));
    if (!user) throw new AppError('USER_NOT_FOUND');
    if (changes.disabled) await this.store.revokeUserTokens(userId, this.now());
    return toPublicUser(user);
  }

  /** Seeds the first admin: creates it, or makes the existing account an enabled admin. Never changes a password. */
  async ensureAdmin(input: { email: string; password: string; name: string }): Promise<{ created: boolean; user: PublicUser }> {
    const existing = await this.store.findUserByEmail(normalizeEmail(input.email));
    if (existing) {
      const user = await this.store.updateUser(existing.id, { role: 'admin', disabled: false });
      return { created: false, user: toPublicUser(user ?? existing) };
    }
    try {
      return { created: true, user: toPublicUser(await this.createUser({ ...input, role: 'admin' })) };
    } catch (error) {
      // Another seeder won the race: that account is the admin.
      if (error instanceof AppError && error.code === 'EMAIL_TAKEN') return this.ensureAdmin(input);
      throw error;
    }
  }

  /**
   * A signed-in person changes their password: the current one must be right (a wrong one counts
   * towards the login lockout, so a stolen access token cannot be used to guess it faster than the
   * login form allows). Every other session of the account ends; the caller's own (`sessionId`, the
   * refresh-token family its access token names) goes on. A token without a session (signed before
   * sessions were named) keeps none.
   */
  async changePassword(caller: { userId: string; sessionId?: string }, input: { currentPassword: string; newPassword: string }): Promise<void> {
    const passwordHash = await hashPassword(input.newPassword);
    const notice = await this.store.withAccountLock(caller.userId, async () => {
      const now = this.now();
      const user = await this.store.findUserById(caller.userId);
      if (!user || user.disabled) throw new AppError('INVALID_CREDENTIALS');
      const lockedUntil = await this.store.lockedUntil(user.email, now);
      if (lockedUntil) throw this.tooManyAttempts(lockedUntil, now);
      if (!(await verifyPassword(input.currentPassword, user.passwordHash))) {
        await this.recordFailedLogin(user.email, now);
        throw new AppError('INVALID_CREDENTIALS', 'The current password is wrong');
      }
      const changed = await this.replacePassword(user, passwordHash, 'changed', caller.sessionId);
      await this.store.clearFailedLogins(user.email);
      return changed;
    });
    await this.handOverNotices([{ userId: caller.userId, notices: [notice] }]);
  }

  /**
   * "Forgot password": a known, enabled account gets a single-use reset link by email. The answer is
   * the same for every address, known or not, and so is its timing (FORGOT_ANSWER_MS), so it tells
   * nobody which addresses have accounts. An address gets at most RESET_EMAILS_PER_WINDOW links per
   * window; past that the request is dropped without a word.
   */
  async forgotPassword(emailInput: string): Promise<void> {
    const answerAt = Date.now() + this.forgotAnswerMs;
    try {
      await this.sendResetLink(normalizeEmail(emailInput));
    } finally {
      await sleep(Math.max(0, answerAt - Date.now()));
    }
  }

  private async sendResetLink(email: string): Promise<void> {
    const now = this.now();
    // The same work for every address up to the account's own steps: a token made and hashed, the account read, a slot claimed.
    const token = randomBytes(32).toString('base64url');
    const tokenHash = hashToken(token);
    const [user, allowed] = await Promise.all([
      this.store.findUserByEmail(email),
      this.store.claimResetSlot(email, now, { slots: RESET_EMAILS_PER_WINDOW, windowSeconds: RESET_WINDOW_SECONDS }),
    ]);
    if (!allowed) {
      log.info('password reset request over the per-address limit; no email');
      return;
    }
    if (!user || user.disabled) return;
    const expiresAt = new Date(now.getTime() + RESET_TOKEN_TTL_SECONDS * 1000);
    await this.store.insertPasswordReset({ tokenHash, userId: user.id, expiresAt });
    try {
      await this.notifier.handOver([{ id: `pwreset:${tokenHash}`, kind: 'password-reset', to: user.email, name: user.name, token, expiresAt: expiresAt.toISOString() }]);
    } catch (error) {
      // The token exists only in this request, so nothing can retry the email later: the person asks again.
      log.warn('password reset email not handed over; the person can ask again', { userId: user.id, error: reasonOf(error) });
    }
  }

  /**
   * Sets a new password with a reset link's token: the token is spent by one conditional update (of
   * two requests with it, one wins), every session of the account ends, and the login lockout of its
   * email is lifted (the person proved they read its mail).
   */
  async resetPassword(input: { token: string; newPassword: string }): Promise<void> {
    const tokenHash = hashToken(input.token);
    const reset = await this.store.findPasswordReset(tokenHash, this.now());
    if (!reset) throw invalidResetToken();
    const passwordHash = await hashPassword(input.newPassword);
    const notice = await this.store.withAccountLock(reset.userId, async () => {
      // Under the account's lock: of two requests with one token, the second finds it used.
      if (!(await this.store.consumePasswordReset(tokenHash, this.now()))) throw invalidResetToken();
      const user = await this.store.findUserById(reset.userId);
      if (!user || user.disabled) throw invalidResetToken();
      const changed = await this.replacePassword(user, passwordHash, 'reset');
      await this.store.clearFailedLogins(user.email);
      return changed;
    });
    await this.handOverNotices([{ userId: reset.userId, notices: [notice] }]);
  }

  /**
   * The change of a password, under the account's lock, and what must follow it. Sessions end before
   * the new hash is set and again after: a crash in between leaves the old password without sessions
   * (the safe side), and a login with the old password racing the change cannot keep its session. The
   * "password changed" email is stored in the same update as the hash (docs/architecture.md, Users);
   * the caller hands it over once the lock is released.
   */
  private async replacePassword(user: UserRecord, passwordHash: string, how: PasswordChangedNotice['how'], keepSessionId?: string): Promise<PasswordChangedNotice> {
    const at = this.now();
    const version = (user.passwordVersion ?? 0) + 1;
    const notice: PasswordChangedNotice = { id: `pwchanged:${user.id}:${version}`, to: user.email, kind: 'password-changed', name: user.name, how, at: at.toISOString() };
    await this.store.revokeUserTokens(user.id, at, keepSessionId);
    // The hash was read under the lock, so only a writer that skips the lock could have moved it.
    if (!(await this.store.setPassword(user.id, { expectedHash: user.passwordHash, passwordHash, version, notice }))) {
      throw new AppError('SERVICE_UNAVAILABLE', 'The account changed meanwhile; retry');
    }
    await this.store.revokeUserTokens(user.id, at, keepSessionId);
    await this.store.spendPasswordResets(user.id, at);
    return notice;
  }

  /** The users keep-alive's part: hands over the password-changed emails a failed hand-over or a crash left. Returns how many. */
  async relayPendingNotices(): Promise<number> {
    const pending = await this.store.pendingNotices(NOTICES_PER_RELAY);
    return pending.length === 0 ? 0 : this.handOverNotices(pending);
  }

  /** Hands notices over, then forgets them; on failure they stay for the next try (the ids make a repeat one email). */
  private async handOverNotices(pending: { userId: string; notices: PasswordChangedNotice[] }[]): Promise<number> {
    const notices = pending.flatMap(({ notices }) => notices);
    const eventIds = notices.map((notice) => notice.id);
    try {
      await this.notifier.handOver(notices);
    } catch (error) {
      log.warn('password-changed emails not handed over yet; the users keep-alive retries', { eventIds, error: reasonOf(error) });
      return 0;
    }
    try {
      for (const { userId, notices } of pending) {
        await this.store.withAccountLock(userId, async () => {
          for (const notice of notices) await this.store.removePendingNotice(userId, notice);
        });
      }
    } catch (error) {
      // The change itself is done: no error for it. The keep-alive hands these over again, which is the same email.
      log.warn('handed-over password-changed emails not yet forgotten', { eventIds, error: reasonOf(error) });
    }
    return notices.length;
  }

  /** Whether a token's holder may still act: the account exists, is enabled and still has that role. */
  async isActive(userId: string, role: string): Promise<boolean> {
    const user = await this.store.findUserById(userId);
    return !!user && !user.disabled && user.role === role;
  }

  private async recordFailedLogin(email: string, now: Date): Promise<void> {
    const { LOGIN_MAX_ATTEMPTS, LOGIN_LOCKOUT_SECONDS } = config('users');
    await this.store.recordFailedLogin(email, now, { maxAttempts: LOGIN_MAX_ATTEMPTS, lockSeconds: LOGIN_LOCKOUT_SECONDS });
  }

  private async issueTokens(user: UserRecord, familyId: string): Promise<TokenPair> {
    // The access token names its session (the refresh-token family), so a password change can keep it.
    const { token: accessToken, expiresIn } = signAccessToken({ sub: user.id, role: user.role, email: user.email, sid: familyId });
    const refreshToken = `rt_${randomBytes(32).toString('base64url')}`;
    await this.store.insertRefreshToken({
      tokenHash: hashToken(refreshToken),
      userId: user.id,
      familyId,
      expiresAt: new Date(this.now().getTime() + config('tokens').REFRESH_TOKEN_TTL_SECONDS * 1000),
    });
    return { accessToken, refreshToken, expiresIn, tokenType: 'Bearer' };
  }

  private tooManyAttempts(lockedUntil: Date, now: Date): AppError {
    const retryAfter = Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000));
    return new AppError('TOO_MANY_ATTEMPTS', `Try again in ${retryAfter} seconds`, {}, { 'retry-after': String(retryAfter) });
  }
}
