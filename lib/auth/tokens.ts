import type * as Jwt from 'jsonwebtoken';
import { config } from '../config';
import { keys, resetKeyRing } from './keys';
import type { Caller, Role } from './roles';

/**
 * Access tokens for people and for services, signed and verified by jsonwebtoken. HS256 only (pinned
 * on verify, so neither `none` nor an RS/HS confusion is accepted), with issuer, audience, a required
 * expiry and a key id: JWT_KEYS lists `kid:secret` pairs, the first signs and every listed key
 * verifies, so a new key can be rolled in before the old one is dropped without logging anyone out.
 */
const ALGORITHM = 'HS256';

/**
 * jsonwebtoken, loaded on first use: most requests of the flights and users functions sign no token,
 * and its module init (semver builds its patterns) is 12 ms of a cold start (docs/benchmarks.md).
 */
let library: typeof Jwt | undefined;
const jwt = () => (library ??= require('jsonwebtoken') as typeof Jwt);

export interface AccessClaims {
  sub: string;
  role: Role;
  email?: string;
  /**
   * The session a person's access token belongs to: the id of the refresh-token family its login
   * started (`sid`, OpenID's session claim). It lets a password change end every other session of the
   * account and keep the caller's own; it is not a secret (it opens nothing by itself).
   */
  sid?: string;
}

/** A caller as a verified token names it: the session too, when the token carries one. */
export type SessionCaller = Caller & { sessionId?: string };

export function signAccessToken(claims: AccessClaims, ttlSeconds?: number): { token: string; expiresIn: number } {
  const cfg = config('tokens');
  const ring = keys();
  const expiresIn = ttlSeconds ?? (claims.role === 'service' ? cfg.SERVICE_TOKEN_TTL_SECONDS : cfg.ACCESS_TOKEN_TTL_SECONDS);
  const payload = { role: claims.role, ...(claims.email ? { email: claims.email } : {}), ...(claims.sid ? { sid: claims.sid } : {}) };
  const token = jwt().sign(payload, ring.secrets.get(ring.signingKid)!, {
    algorithm: ALGORITHM,
    keyid: ring.signingKid,
    subject: claims.sub,
    issuer: cfg.JWT_ISSUER,
    audience: cfg.JWT_AUDIENCE,
    expiresIn,
  });
  return { token, expiresIn };
}

export class InvalidTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidTokenError';
  }
}

const ROLES: readonly Role[] = ['user', 'admin', 'service'];

/** The verified claims of a token: the key comes from its `kid`, everything else is checked by jsonwebtoken. */
function verifiedClaims(token: string): Jwt.JwtPayload {
  const cfg = config('tokens');
  const kid = jwt().decode(token, { complete: true })?.header.kid;
  const secret = typeof kid === 'string' ? keys().secrets.get(kid) : undefined;
  if (!secret) throw new InvalidTokenError('unknown key');
  try {
    const payload = jwt().verify(token, secret, { algorithms: [ALGORITHM], issuer: cfg.JWT_ISSUER, audience: cfg.JWT_AUDIENCE });
    if (typeof payload === 'string') throw new InvalidTokenError('malformed claims');
    // jsonwebtoken accepts a token without `exp`; ours never lack one, so such a token is forged.
    if (typeof payload.exp !== 'number') throw new InvalidTokenError('no expiry');
    return payload;
  } catch (error) {
    if (error instanceof jwt().JsonWebTokenError) throw new InvalidTokenError(error.message);
    throw error;
  }
}

const BEARER = /^Bearer ([\w-]+\.[\w-]+\.[\w-]*)$/;

/** The JWT of an `Authorization: Bearer …` header, or undefined when the header is not one. */
export function bearerToken(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

export function verifyAccessToken(token: string): SessionCaller & { expiresAtMs: number } {
  const payload = verifiedClaims(token);
  const role = payload.role as Role;
  if (typeof payload.sub !== 'string' || !ROLES.includes(role)) throw new InvalidTokenError('malformed claims');
  return {
    userId: payload.sub,
    role,
    email: typeof payload.email === 'string' ? payload.email : '',
    // Tokens signed before sessions were named carry none: their holder's change of password keeps no session.
    ...(typeof payload.sid === 'string' && payload.sid !== '' ? { sessionId: payload.sid } : {}),
    expiresAtMs: (payload.exp as number) * 1000,
  };
}

/** A short-lived `service` token for calls from one of our services to another; cached until near expiry. */
const serviceTokens = new Map<string, { token: string; renewAt: number }>();
export function serviceToken(serviceName: string): string {
  const cached = serviceTokens.get(serviceName);
  if (cached && cached.renewAt > Date.now()) return cached.token;
  const { token, expiresIn } = signAccessToken({ sub: `service:${serviceName}`, role: 'service' });
  serviceTokens.set(serviceName, { token, renewAt: Date.now() + (expiresIn * 1000) / 2 });
  return token;
}

export function resetTokenKeys(): void {
  resetKeyRing();
  serviceTokens.clear();
}
