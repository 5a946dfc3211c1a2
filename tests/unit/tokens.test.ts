import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { resetConfigCache } from '../../lib/config';
import { parseKeyRing } from '../../lib/auth/keys';
import { InvalidTokenError, resetTokenKeys, signAccessToken, verifyAccessToken } from '../../lib/auth/tokens';

const current = `k2:${'c'.repeat(40)}`;
const previous = `k1:${'p'.repeat(40)}`;

function useKeys(spec: string) {
  process.env.JWT_KEYS = spec;
  resetConfigCache();
  resetTokenKeys();
}

describe('access tokens', () => {
  beforeEach(() => useKeys(`${current},${previous}`));

  it('round-trips the caller', () => {
    const { token, expiresIn } = signAccessToken({ sub: 'u1', role: 'admin', email: 'a@b.c' });
    expect(expiresIn).toBe(900);
    expect(verifyAccessToken(token)).toMatchObject({ userId: 'u1', role: 'admin', email: 'a@b.c', expiresAtMs: expect.any(Number) });
    expect(jwt.decode(token, { complete: true })?.header).toMatchObject({ alg: 'HS256', kid: 'k2' });
  });

  it("carries a person's session (the refresh-token family) as `sid`, and none when not given", () => {
    const { token } = signAccessToken({ sub: 'u1', role: 'user', email: 'a@b.c', sid: 'family-1' });
    expect(jwt.decode(token)).toMatchObject({ sid: 'family-1' });
    expect(verifyAccessToken(token)).toMatchObject({ userId: 'u1', sessionId: 'family-1' });
    expect(verifyAccessToken(signAccessToken({ sub: 'u1', role: 'user' }).token)).not.toHaveProperty('sessionId');
  });

  it('keeps accepting tokens of a previous key after rotation', () => {
    useKeys(`${previous}`);
    const { token } = signAccessToken({ sub: 'u1', role: 'user' });
    useKeys(`${current},${previous}`);
    expect(verifyAccessToken(token).userId).toBe('u1');
  });

  it('reads tokens jsonwebtoken signs, and jsonwebtoken reads ours (HS256, kid, iss, aud, exp)', () => {
    const theirs = jwt.sign({ role: 'user' }, 'c'.repeat(40), { algorithm: 'HS256', keyid: 'k2', subject: 'u7', issuer: 'flight-booking', audience: 'flight-booking-api', expiresIn: 60 });
    expect(verifyAccessToken(theirs)).toMatchObject({ userId: 'u7', role: 'user' });
    const ours = signAccessToken({ sub: 'u8', role: 'admin', email: 'a@b.c' }).token;
    const claims = jwt.verify(ours, 'c'.repeat(40), { algorithms: ['HS256'], issuer: 'flight-booking', audience: 'flight-booking-api' }) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: 'u8', role: 'admin', email: 'a@b.c', exp: claims.iat! + 900 });
  });

  const craft = (header: object, claims: object, key = 'c'.repeat(40)) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
  };
  const validClaims = () => ({ role: 'user', sub: 'u1', iss: 'flight-booking', aud: 'flight-booking-api', exp: Math.floor(Date.now() / 1000) + 60 });

  const forged: [string, () => string][] = [
    ['a token without an expiry', () => jwt.sign({ role: 'user' }, 'c'.repeat(40), { algorithm: 'HS256', keyid: 'k2', subject: 'u1', issuer: 'flight-booking', audience: 'flight-booking-api' })],
    ['a token not valid yet', () => jwt.sign({ role: 'user' }, 'c'.repeat(40), { algorithm: 'HS256', keyid: 'k2', subject: 'u1', issuer: 'flight-booking', audience: 'flight-booking-api', expiresIn: 600, notBefore: 300 })],
    ['a kid that is not a string', () => craft({ alg: 'HS256', kid: 2 }, validClaims())],
    ['a payload that is not an object', () => craft({ alg: 'HS256', kid: 'k2' }, ['user'])],
    ['a signature with padding added', () => `${craft({ alg: 'HS256', kid: 'k2' }, validClaims())}=`],
    ['four segments', () => `${craft({ alg: 'HS256', kid: 'k2' }, validClaims())}.x`],
    ['garbage', () => 'not a token'],
    ['an empty string', () => ''],
    ['alg none', () => jwt.sign({ role: 'admin', sub: 'u1', iss: 'flight-booking', aud: 'flight-booking-api' }, '', { algorithm: 'none', keyid: 'k2' } as jwt.SignOptions)],
    ['another key', () => jwt.sign({ role: 'user' }, 'x'.repeat(40), { algorithm: 'HS256', keyid: 'k2', subject: 'u1', issuer: 'flight-booking', audience: 'flight-booking-api' })],
    ['an unknown kid', () => jwt.sign({ role: 'user' }, 'c'.repeat(40), { algorithm: 'HS256', keyid: 'k9', subject: 'u1', issuer: 'flight-booking', audience: 'flight-booking-api' })],
    ['another issuer', () => jwt.sign({ role: 'user' }, 'c'.repeat(40), { algorithm: 'HS256', keyid: 'k2', subject: 'u1', issuer: 'evil', audience: 'flight-booking-api' })],
    ['another audience', () => jwt.sign({ role: 'user' }, 'c'.repeat(40), { algorithm: 'HS256', keyid: 'k2', subject: 'u1', issuer: 'flight-booking', audience: 'other' })],
    ['HS512 with the right key', () => jwt.sign({ role: 'user' }, 'c'.repeat(40), { algorithm: 'HS512', keyid: 'k2', subject: 'u1', issuer: 'flight-booking', audience: 'flight-booking-api' })],
    ['an expired token', () => jwt.sign({ role: 'user', exp: Math.floor(Date.now() / 1000) - 10 }, 'c'.repeat(40), { algorithm: 'HS256', keyid: 'k2', subject: 'u1', issuer: 'flight-booking', audience: 'flight-booking-api' })],
    ['an unknown role', () => jwt.sign({ role: 'root' }, 'c'.repeat(40), { algorithm: 'HS256', keyid: 'k2', subject: 'u1', issuer: 'flight-booking', audience: 'flight-booking-api' })],
    [
      'a role edited in the payload',
      () => {
        const [header, payload, signature] = signAccessToken({ sub: 'u1', role: 'user' }).token.split('.');
        const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
        return [header, Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url'), signature].join('.');
      },
    ],
  ];

  it.each(forged)('refuses %s', (_, make) => {
    expect(() => verifyAccessToken(make())).toThrow(InvalidTokenError);
  });

  it('accepts a hand-made token only when everything is right (the forgeries above differ from it in one thing)', () => {
    expect(verifyAccessToken(craft({ alg: 'HS256', kid: 'k2' }, validClaims())).userId).toBe('u1');
  });

  it('refuses short secrets and malformed key lists at start', () => {
    expect(() => parseKeyRing('k1:short')).toThrow(/at least 32/);
    expect(() => parseKeyRing('no-colon-here-but-long-enough-xxxxxxxxxxxxxxxxx')).toThrow(/kid:secret/);
  });
});
