import { AppError } from '../lib/http/errors';
import { pathParams } from '../lib/http/path-params';
import { serviceHandler } from '../lib/http/stack';
import { instancesQuery, KEPT_BY_ITS_SERVICE, registerInstanceBody, type InstanceAttributes } from './model';
import { applyHealthFilter } from './discovery';
import { registryStore } from './registry';
import { instanceIdFor } from './self-registration';

/** The registry's HTTP API (admin and service roles; the route policy enforces that). */

const http = serviceHandler('registry');
const serviceParams = pathParams('service');
const instanceParams = pathParams('service', 'instanceId');

export const listServices = http({ route: 'GET /registry/services' }, async () => ({ status: 200, body: { items: await registryStore().services() } }));

export const listInstances = http(
  { route: 'GET /registry/services/{service}/instances', params: serviceParams, query: instancesQuery },
  async ({ params, query }) => {
    const instances = await registryStore().instances(params.service);
    if (!instances) throw new AppError('SERVICE_NOT_FOUND');
    return { status: 200, body: { items: applyHealthFilter(instances, query.health) } };
  },
);

/**
 * An instance that its own service registered and still heart-beats is the service's to manage:
 * taking it out (or overwriting its URL) would cut every caller off that service until its next
 * heartbeat put it back. It leaves the registry when its service stops heart-beating.
 */
async function refuseLiveSelfRegistered(service: string, instanceId: string): Promise<void> {
  const instance = (await registryStore().instances(service))?.find((candidate) => candidate.instanceId === instanceId);
  if (instance?.attributes[KEPT_BY_ITS_SERVICE] === 'true' && instance.health === 'HEALTHY') {
    throw new AppError('INSTANCE_ALIVE', `${service} keeps ${instanceId} registered itself and it is heart-beating; it goes when the service stops`);
  }
}

export const registerInstance = http(
  { route: 'POST /registry/services/{service}/instances', params: serviceParams, body: registerInstanceBody },
  async ({ params, body }) => {
    const attributes = body.attributes as InstanceAttributes;
    const id = body.instanceId ?? instanceIdFor(params.service, attributes);
    await refuseLiveSelfRegistered(params.service, id);
    return { status: 201, body: await registryStore().register(params.service, id, attributes) };
  },
);

/** Why an instance write found nothing: the service is unknown, or only the instance is. */
async function instanceNotFound(service: string): Promise<AppError> {
  return (await registryStore().instances(service)) ? new AppError('INSTANCE_NOT_FOUND') : new AppError('SERVICE_NOT_FOUND');
}

export const heartbeat = http({ route: 'PUT /registry/services/{service}/instances/{instanceId}/heartbeat', params: instanceParams }, async ({ params }) => {
  if (!(await registryStore().heartbeat(params.service, params.instanceId))) throw await instanceNotFound(params.service);
  return { status: 204 };
});

export const deregister = http({ route: 'DELETE /registry/services/{service}/instances/{instanceId}', params: instanceParams }, async ({ params }) => {
  await refuseLiveSelfRegistered(params.service, params.instanceId);
  if (!(await registryStore().deregister(params.service, params.instanceId))) throw await instanceNotFound(params.service);
  return { status: 204 };
});

