import { minReplicaAcks } from '../../lib/clients/redis';
import { resetConfigCache } from '../../lib/config';

describe('replica acknowledgements of bookings', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    resetConfigCache();
  });

  const given = (env: Record<string, string>) => {
    for (const name of ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_MIN_REPLICA_ACKS']) delete process.env[name];
    Object.assign(process.env, env);
    resetConfigCache();
  };

  it('waits for one replica on a cluster and for none on a single server, unless told otherwise', () => {
    given({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' });
    expect(minReplicaAcks()).toBe(1);
    given({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(minReplicaAcks()).toBe(0);
    given({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_MIN_REPLICA_ACKS: '0' });
    expect(minReplicaAcks()).toBe(0);
    given({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_MIN_REPLICA_ACKS: '2' });
    expect(minReplicaAcks()).toBe(2);
  });
});
