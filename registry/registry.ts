import { config } from '../lib/config';
import { dynamo } from '../lib/clients/dynamo';
import { RegistryStore } from './store';

/** The registry store for this stage's namespace, one per container. */
let store: RegistryStore | undefined;

export function registryStore(): RegistryStore {
  if (!store) {
    const { REGISTRY_INSTANCE_TTL_SECONDS } = config('registry');
    store = new RegistryStore(dynamo(), config('dynamo').REGISTRY_TABLE, config('service').STAGE, {
      instanceTtlSeconds: REGISTRY_INSTANCE_TTL_SECONDS,
      // Dead instances stay visible (as UNHEALTHY) for ten TTLs, then DynamoDB deletes them.
      expireAfterSeconds: REGISTRY_INSTANCE_TTL_SECONDS * 10,
    });
  }
  return store;
}
