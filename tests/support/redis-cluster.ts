import Redis from 'ioredis';

/** A Redis Cluster node as CLUSTER NODES describes it, for tests that watch roles and failovers. */
export interface ClusterNode {
  id: string;
  port: number;
  primary: boolean;
  primaryId?: string;
  /** Marked failing (fail, or fail? while the others have not agreed yet). */
  failed: boolean;
  /** The slot ranges a primary serves. */
  slots: [number, number][];
}

/** A CLUSTER subcommand's answer from the first of these nodes that answers (drills kill and freeze some). */
export async function askCluster(ports: number[], ...args: string[]): Promise<unknown> {
  for (const port of ports) {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: 500, commandTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null, disconnectTimeout: 100 });
    client.on('error', () => undefined);
    try {
      return await client.call('CLUSTER', ...args);
    } catch {
      // a killed or frozen node: ask the next
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`no cluster node answers (ports ${ports.join(', ')})`);
}

/** The cluster as the first answering node sees it (CLUSTER NODES). */
export async function clusterNodes(ports: number[]): Promise<ClusterNode[]> {
  return String(await askCluster(ports, 'NODES'))
    .trim()
    .split('\n')
    .map((line) => {
      // <id> <host:port@bus> <flags> <primary id or -> <ping> <pong> <epoch> <link> <slot ranges…>
      const [id, address, flags, primaryId, , , , , ...ranges] = line.split(' ');
      const slots = ranges.filter((range) => /^\d/.test(range)).map((range) => range.split('-').map(Number));
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(address!)![1]),
        primary: flags!.includes('master'),
        primaryId: primaryId === '-' ? undefined : primaryId,
        failed: /\bfail\b/.test(flags!),
        slots: slots.map(([from, to]) => [from!, to ?? from!] as [number, number]),
      };
    });
}
