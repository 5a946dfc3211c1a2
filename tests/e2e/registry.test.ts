import { api, loginAdmin, registerUser } from '../support/http';

describe('the service registry over HTTP', () => {
  let admin: string;
  beforeAll(async () => {
    admin = (await loginAdmin()).accessToken;
  });

  it('lists every service with at least one healthy instance after start', async () => {
    const res = await api('GET', '/registry/services', { token: admin });
    expect(res.status).toBe(200);
    for (const name of ['users', 'flights', 'seats', 'payments', 'notifications', 'registry']) {
      const service = res.body.items.find((s: { name: string }) => s.name === name);
      expect({ name, healthy: service?.healthy >= 1 }).toEqual({ name, healthy: true });
    }
  });

  it('refuses to deregister or overwrite an instance its own service keeps alive (it would cut callers off)', async () => {
    const seats = await api('GET', '/registry/services/seats/instances?health=HEALTHY', { token: admin });
    const own = (seats.body.items as { instanceId: string; attributes: Record<string, string> }[]).find((i) => i.attributes.selfRegistered === 'true')!;
    expect(own).toBeDefined();
    expect(await api('DELETE', `/registry/services/seats/instances/${own.instanceId}`, { token: admin })).toMatchObject({ status: 409, body: { code: 'INSTANCE_ALIVE' } });
    const overwrite = await api('POST', '/registry/services/seats/instances', { token: admin, body: { instanceId: own.instanceId, attributes: { url: 'http://127.0.0.1:9' } } });
    expect(overwrite).toMatchObject({ status: 409, body: { code: 'INSTANCE_ALIVE' } });
    const after = await api('GET', '/registry/services/seats/instances', { token: admin });
    expect(after.body.items).toContainEqual(expect.objectContaining({ instanceId: own.instanceId, attributes: own.attributes }));
  });

  it('registers, lists with health filters, heart-beats and deregisters an instance', async () => {
    const created = await api('POST', '/registry/services/billing/instances', {
      token: admin,
      body: { instanceId: 'billing-1', attributes: { url: 'https://billing.example.com', version: '2' } },
    });
    expect(created).toMatchObject({ status: 201, body: { instanceId: 'billing-1', service: 'billing', health: 'HEALTHY' } });
    const healthy = await api('GET', '/registry/services/billing/instances?health=HEALTHY', { token: admin });
    expect(healthy.body.items.map((i: { instanceId: string }) => i.instanceId)).toEqual(['billing-1']);
    const unhealthy = await api('GET', '/registry/services/billing/instances?health=UNHEALTHY', { token: admin });
    expect(unhealthy.body.items).toEqual([]);
    expect((await api('PUT', '/registry/services/billing/instances/billing-1/heartbeat', { token: admin })).status).toBe(204);
    expect((await api('DELETE', '/registry/services/billing/instances/billing-1', { token: admin })).status).toBe(204);
    expect((await api('DELETE', '/registry/services/billing/instances/billing-1', { token: admin })).body.code).toBe('INSTANCE_NOT_FOUND');
  });

  describe('bad input', () => {
    it('a plain user may not register (403)', async () => {
      const user = await registerUser('registry');
      const res = await api('POST', '/registry/services/evil/instances', { token: user.accessToken, body: { attributes: { url: 'http://x.example' } } });
      expect(res.status).toBe(403);
    });

    it.each([
      ['an unknown service', 'GET', '/registry/services/no-such-service/instances', undefined, 404, 'SERVICE_NOT_FOUND'],
      ['a heartbeat of an unknown instance', 'PUT', '/registry/services/users/instances/nobody/heartbeat', undefined, 404, 'INSTANCE_NOT_FOUND'],
      ['a URL that is not http(s)', 'POST', '/registry/services/billing/instances', { attributes: { url: 'ftp://x.example' } }, 400, 'VALIDATION_FAILED'],
      ['no URL', 'POST', '/registry/services/billing/instances', { attributes: { version: '1' } }, 400, 'VALIDATION_FAILED'],
      ['the marker of a self-registered instance', 'POST', '/registry/services/billing/instances', { attributes: { url: 'http://x.example', selfRegistered: 'true' } }, 400, 'VALIDATION_FAILED'],
      ['an invalid instance id', 'POST', '/registry/services/billing/instances', { instanceId: '../../etc', attributes: { url: 'http://x.example' } }, 400, 'VALIDATION_FAILED'],
      ['an invalid service name (names nothing)', 'POST', '/registry/services/Bad_Name/instances', { attributes: { url: 'http://x.example' } }, 404, 'SERVICE_NOT_FOUND'],
      ['an unknown health filter', 'GET', '/registry/services/users/instances?health=SOMETIMES', undefined, 400, 'VALIDATION_FAILED'],
    ])('%s', async (_, method, path, body, status, code) => {
      const res = await api(method, path, { token: admin, body });
      expect(res).toMatchObject({ status, body: { code } });
    });
  });
});
