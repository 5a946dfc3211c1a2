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
    expect(parseConfig('seats', {})).toEqual({ HOLD_TTL_SECONDS: 600, IDEMPOTENCY_TTL_SECONDS: 86_400, PAYMENT_GUARD_SECONDS: 120 });
    expect(parseConfig('sales', {})).toEqual({ SALES_CLOSE_MINUTES: 60 });
    expect(parseConfig('seats', { HOLD_TTL_SECONDS: '5' }).HOLD_TTL_SECONDS).toBe(5);
  });

  describe('the seats store: a single server or a cluster', () => {
    it('takes cluster seeds, TLS and the replica acknowledgements, and needs no REDIS_URL then', () => {
      expect(parseConfig('redis', { REDIS_CLUSTER_NODES: 'clustercfg.example.internal:6379, 10.0.0.2:6380', REDIS_TLS: 'true', REDIS_MIN_REPLICA_ACKS: '2' })).toMatchObject({
        REDIS_CLUSTER_NODES: ['clustercfg.example.internal:6379', '10.0.0.2:6380'],
        REDIS_TLS: true,
        REDIS_MIN_REPLICA_ACKS: 2,
        REDIS_REPLICA_ACK_TIMEOUT_MS: 500,
      });
      const single = parseConfig('redis', { REDIS_URL: 'redis://127.0.0.1:6379' });
      expect(single).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_TLS: false });
      expect(single.REDIS_MIN_REPLICA_ACKS).toBeUndefined();
    });

    it('refuses malformed seeds, flags and counts by name', () => {
      expect(() => parseConfig('redis', { REDIS_CLUSTER_NODES: 'redis://host:6379' })).toThrow(/REDIS_CLUSTER_NODES.*host:port/);
      expect(() => parseConfig('redis', { REDIS_CLUSTER_NODES: 'host' })).toThrow(/REDIS_CLUSTER_NODES/);
      expect(() => parseConfig('redis', { REDIS_URL: 'redis://h:1', REDIS_TLS: 'yes' })).toThrow(/REDIS_TLS/);
      expect(() => parseConfig('redis', { REDIS_URL: 'redis://h:1', REDIS_MIN_REPLICA_ACKS: '-1' })).toThrow(/REDIS_MIN_REPLICA_ACKS/);
      expect(() => parseConfig('redlock', { REDLOCK_URLS: 'redis://a:1,http://b:2' })).toThrow(/REDLOCK_URLS/);
    });
  });
});
