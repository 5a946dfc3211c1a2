import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { config } from '../../lib/config';
import { AppError } from '../../lib/http/errors';
import { signAccessToken } from '../../lib/auth/tokens';
import type { PersonRole } from '../../lib/auth/roles';
import { decoyHash, hashPassword, verifyPassword } from './passwords';
import { EmailTakenError, type UserRecord, type UserStore } from './store';

/** The users service's rules: accounts, passwords, token pairs and their rotation, lockout. */

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

export class UserService {
  constructor(
    private readonly store: UserStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

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
      const { LOGIN_MAX_ATTEMPTS, LOGIN_LOCKOUT_SECONDS } = config('users');
      await this.store.recordFailedLogin(email, now, { maxAttempts: LOGIN_MAX_ATTEMPTS, lockSeconds: LOGIN_LOCKOUT_SECONDS });
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
    const user = await this.store.updateUser(userId, changes);
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

  /** Whether a token's holder may still act: the account exists, is enabled and still has that role. */
  async isActive(userId: string, role: string): Promise<boolean> {
    const user = await this.store.findUserById(userId);
    return !!user && !user.disabled && user.role === role;
  }

  private async issueTokens(user: UserRecord, familyId: string): Promise<TokenPair> {
    const { token: accessToken, expiresIn } = signAccessToken({ sub: user.id, role: user.role, email: user.email });
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
