import type { DynamoDocuments } from '../lib/clients/dynamo';
import type { HealthStatus, Instance, InstanceAttributes, ServiceSummary } from './model';

/** The registry table (see model.ts for its layout and access patterns). */

export interface RegistryTiming {
  /** A heartbeat older than this makes an instance UNHEALTHY. */
  instanceTtlSeconds: number;
  /** How long after its last heartbeat an instance is deleted by the table's TTL. */
  expireAfterSeconds: number;
}

interface Item {
  namespace: string;
  instanceKey: string;
  kind: 'service' | 'instance';
  service: string;
  instanceId?: string;
  attributes?: InstanceAttributes;
  status?: HealthStatus;
  lastHeartbeatAt?: string;
  heartbeatAtMs?: number;
  expiresAt?: number;
  createdAt: string;
}

const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

export class RegistryStore {
  constructor(
    private readonly db: DynamoDocuments,
    private readonly table: string,
    private readonly namespace: string,
    private readonly timing: RegistryTiming,
    private readonly now: () => number = Date.now,
  ) {}

  private toInstance(item: Item): Instance {
    const stale = this.now() - (item.heartbeatAtMs ?? 0) > this.timing.instanceTtlSeconds * 1000;
    return {
      instanceId: item.instanceId!,
      service: item.service,
      attributes: item.attributes!,
      health: item.status === 'HEALTHY' && !stale ? 'HEALTHY' : 'UNHEALTHY',
      lastHeartbeatAt: item.lastHeartbeatAt!,
    };
  }

  private live(item: Item): boolean {
    return item.kind === 'service' || (item.expiresAt ?? 0) * 1000 > this.now();
  }

  private async query(prefix?: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.query({
        TableName: this.table,
        KeyConditionExpression: prefix ? 'namespace = :ns AND begins_with(instanceKey, :prefix)' : 'namespace = :ns',
        ExpressionAttributeValues: { ':ns': this.namespace, ...(prefix ? { ':prefix': prefix } : {}) },
        ExclusiveStartKey: start,
      });
      items.push(...(page.Items as unknown as Item[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.filter((item) => this.live(item));
  }

  private heartbeatFields(nowMs: number) {
    return {
      lastHeartbeatAt: new Date(nowMs).toISOString(),
      heartbeatAtMs: nowMs,
      expiresAt: Math.ceil(nowMs / 1000) + this.timing.expireAfterSeconds,
    };
  }

  /** Instances of a service, or undefined when the namespace has no such service. */
  async instances(service: string): Promise<Instance[] | undefined> {
    const items = await this.query(`${service}#`);
    if (!items.some((item) => item.kind === 'service')) return undefined;
    return items.filter((item) => item.kind === 'instance').map((item) => this.toInstance(item));
  }

  async services(): Promise<ServiceSummary[]> {
    const summaries = new Map<string, ServiceSummary>();
    for (const item of await this.query()) {
      const summary = summaries.get(item.service) ?? { name: item.service, instances: 0, healthy: 0 };
      if (item.kind === 'instance') {
        summary.instances += 1;
        if (this.toInstance(item).health === 'HEALTHY') summary.healthy += 1;
      }
      summaries.set(item.service, summary);
    }
    return [...summaries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Creates or replaces an instance (and its service, the first time). */
  async register(service: string, instanceId: string, attributes: InstanceAttributes, status: HealthStatus = 'HEALTHY'): Promise<Instance> {
    await this.ensureService(service);
    return (await this.upsertInstance(service, instanceId, attributes, status))!;
  }

  /**
   * A service's own heartbeat: writes the instance if it is missing or its heartbeat is older than
   * `staleAfterMs`, and does nothing when another container of the same deployment refreshed it
   * recently. One conditional write, so many containers cost about one write per interval.
   * Returns the instance when it wrote, undefined when the heartbeat was fresh already.
   */
  async refreshOwnInstance(service: string, instanceId: string, attributes: InstanceAttributes, staleAfterMs: number): Promise<Instance | undefined> {
    return this.upsertInstance(service, instanceId, attributes, 'HEALTHY', staleAfterMs);
  }

  async ensureService(service: string): Promise<void> {
    await this.db
      .put({
        TableName: this.table,
        Item: { namespace: this.namespace, instanceKey: `${service}#`, kind: 'service', service, createdAt: new Date(this.now()).toISOString() } satisfies Item,
        ConditionExpression: 'attribute_not_exists(instanceKey)',
      })
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  private async upsertInstance(
    service: string,
    instanceId: string,
    attributes: InstanceAttributes,
    status: HealthStatus,
    staleAfterMs?: number,
  ): Promise<Instance | undefined> {
    const nowMs = this.now();
    const fields = this.heartbeatFields(nowMs);
    try {
      const result = await this.db.update({
        TableName: this.table,
        Key: { namespace: this.namespace, instanceKey: `${service}#${instanceId}` },
        UpdateExpression:
          'SET kind = :kind, service = :service, instanceId = :id, attributes = :attrs, #status = :status, ' +
          'lastHeartbeatAt = :at, heartbeatAtMs = :ms, expiresAt = :exp, createdAt = if_not_exists(createdAt, :at)',
        ...(staleAfterMs === undefined ? {} : { ConditionExpression: 'attribute_not_exists(instanceKey) OR heartbeatAtMs < :stale' }),
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':kind': 'instance',
          ':service': service,
          ':id': instanceId,
          ':attrs': attributes,
          ':status': status,
          ':at': fields.lastHeartbeatAt,
          ':ms': fields.heartbeatAtMs,
          ':exp': fields.expiresAt,
          ...(staleAfterMs === undefined ? {} : { ':stale': nowMs - staleAfterMs }),
        },
        ReturnValues: 'ALL_NEW',
      });
      return this.toInstance(result.Attributes as unknown as Item);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** The registry API's heartbeat: refreshes an existing instance; false when there is no such instance. */
  async heartbeat(service: string, instanceId: string): Promise<boolean> {
    const fields = this.heartbeatFields(this.now());
    try {
      await this.db.update({
        TableName: this.table,
        Key: { namespace: this.namespace, instanceKey: `${service}#${instanceId}` },
        UpdateExpression: 'SET lastHeartbeatAt = :at, heartbeatAtMs = :ms, expiresAt = :exp',
        ConditionExpression: 'attribute_exists(instanceKey)',
        ExpressionAttributeValues: { ':at': fields.lastHeartbeatAt, ':ms': fields.heartbeatAtMs, ':exp': fields.expiresAt },
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async deregister(service: string, instanceId: string): Promise<boolean> {
    try {
      await this.db.delete({
        TableName: this.table,
        Key: { namespace: this.namespace, instanceKey: `${service}#${instanceId}` },
        ConditionExpression: 'attribute_exists(instanceKey)',
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
