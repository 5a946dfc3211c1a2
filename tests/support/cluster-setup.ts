import { startTestStack } from './stack-setup';

/** The `cluster` project: the seats store is a local Redis Cluster (3 primaries, 3 replicas). */
export default async function setup(): Promise<void> {
  await startTestStack({ redisTopology: 'cluster', redlockServers: false });
}
