import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * JSON Web Tokens (RFC 7519) signed with HS256, the one algorithm this project signs or accepts.
 *
 * Why not jsonwebtoken: it is 57 KB of every function's bundle (semver included, which builds its
 * regular expressions at load) and 8 ms of the seats functions' module init (docs/benchmarks.md),
 * to support algorithms we refuse anyway. HS256 alone is an HMAC over two base64url segments. The
 * verifier trusts nothing from the header but the key id: the algorithm must be HS256, the signature
 * is compared in constant time on its canonical encoding, and `exp` is required. Interop both ways,
 * and the forgeries it refuses, are tested against jsonwebtoken (tests/unit/tokens.test.ts).
 */

const ALGORITHM = 'HS256';

export class JwtError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JwtError';
  }
}

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const signature = (signingInput: string, secret: string) => createHmac('sha256', secret).update(signingInput).digest('base64url');

function decode(segment: string | undefined, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'));
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new JwtError(`malformed ${what}`);
}

export function signJwt(claims: Record<string, unknown>, secret: string, kid: string): string {
  const signingInput = `${encode({ alg: ALGORITHM, typ: 'JWT', kid })}.${encode(claims)}`;
  return `${signingInput}.${signature(signingInput, secret)}`;
}

export interface JwtExpectations {
  issuer: string;
  audience: string;
  nowSeconds: number;
}

/** The claims of a valid token; throws JwtError saying what is wrong otherwise. */
export function verifyJwt(token: string, secretFor: (kid: string) => string | undefined, expected: JwtExpectations): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed token');
  const [header, payload, given] = parts as [string, string, string];
  const { alg, kid } = decode(header, 'header');
  const secret = typeof kid === 'string' ? secretFor(kid) : undefined;
  if (alg !== ALGORITHM || !secret) throw new JwtError('unknown key or algorithm');
  const wanted = signature(`${header}.${payload}`, secret);
  if (given.length !== wanted.length || !timingSafeEqual(Buffer.from(given), Buffer.from(wanted))) throw new JwtError('invalid signature');

  const claims = decode(payload, 'payload');
  if (typeof claims.exp !== 'number' || claims.exp <= expected.nowSeconds) throw new JwtError('expired');
  if (typeof claims.nbf === 'number' && claims.nbf > expected.nowSeconds) throw new JwtError('not valid yet');
  if (claims.iss !== expected.issuer) throw new JwtError('wrong issuer');
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(expected.audience)) throw new JwtError('wrong audience');
  return claims;
}
