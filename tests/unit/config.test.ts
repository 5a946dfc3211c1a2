import { ConfigError, parseConfig } from '../../lib/config';

describe('config', () => {
  it('names a missing variable', () => {
    expect(() => parseConfig('redis', {})).toThrow(new ConfigError(['REDIS_URL is missing']));
  });

  it('treats an empty variable (how serverless.yml passes an unset one) as missing', () => {
    expect(() => parseConfig('mongo', { MONGODB_URI: '' })).toThrow(/MONGODB_URI is missing/);
  });

  it('names a malformed variable and says what is wrong', () => {
    expect(() => parseConfig('mongo', { MONGODB_URI: 'http://localhost' })).toThrow(/MONGODB_URI must be a mongodb/);
    expect(() => parseConfig('seats', { HOLD_TTL_SECONDS: '-5' })).toThrow(/HOLD_TTL_SECONDS/);
  });

  it('applies defaults and coerces numbers', () => {
    expect(parseConfig('seats', {})).toEqual({ HOLD_TTL_SECONDS: 600, IDEMPOTENCY_TTL_SECONDS: 86_400 });
    expect(parseConfig('seats', { HOLD_TTL_SECONDS: '5' }).HOLD_TTL_SECONDS).toBe(5);
  });
});
