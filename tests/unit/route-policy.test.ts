import { serverlessConfig } from '../../scripts/stack';
import { isAllowed, routePolicy, routesForPath } from '../../lib/http/route-policy';
import { policyFor } from '../../functions/gateway/authorizer';

jest.mock('../../lib/clients/mongo', () => ({ mongoDb: () => ({ collection: () => ({}) }) }));

interface HttpEvent {
  method: string;
  path: string;
  authorizer?: unknown;
}

const slsRoutes = Object.values<{ events?: { http?: HttpEvent }[] }>(serverlessConfig('dev').doc.functions)
  .flatMap((fn) => fn.events ?? [])
  .flatMap((event) => (event.http ? [event.http] : []))
  .filter((http) => http.method !== 'any')
  .map((http) => ({ key: `${http.method.toUpperCase()} ${http.path}`, authorized: http.authorizer !== undefined }));

describe('route policy', () => {
  it('lists every route serverless.yml declares, and no other', () => {
    expect(slsRoutes.map((r) => r.key).sort()).toEqual(routePolicy.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('puts the authorizer on exactly the routes that are not public', () => {
    for (const route of slsRoutes) {
      const policy = routePolicy.find((p) => `${p.method} ${p.path}` === route.key)!;
      expect({ route: route.key, authorized: route.authorized }).toEqual({ route: route.key, authorized: policy.access !== 'public' });
    }
  });

  it.each(routePolicy.map((r) => [r.method, r.path, r.access] as const))('%s %s: %p', (_method, _path, access) => {
    const roles = ['user', 'admin', 'service'] as const;
    for (const role of roles) {
      expect(isAllowed({ access }, role)).toBe(access === 'public' || access.includes(role));
    }
  });

  /** API Gateway's matching of a policy resource: `*` stands for any run of characters. */
  const allows = (role: 'user' | 'admin' | 'service', methodArn: string) =>
    policyFor(role, methodArn)
      .Statement.filter((s) => s.Effect === 'Allow')
      .flatMap((s) => ('Resource' in s ? [s.Resource].flat() : []))
      .some((resource) => new RegExp(`^${String(resource).split('*').map((p) => p.replace(/[.?+^$()[\]{}|\\/]/g, '\\$&')).join('.*')}$`).test(methodArn));
  const arn = (route: string) => `arn:aws:execute-api:us-east-1:123456789012:api/dev/${route}`;

  it('denies a route that is not in the table, for every role', () => {
    for (const role of ['user', 'admin', 'service'] as const) {
      expect(allows(role, arn('GET/admin/secret-thing'))).toBe(false);
      expect(allows(role, arn('DELETE/users/me'))).toBe(false);
    }
  });

  it('allows exactly the listed routes for a role', () => {
    expect(allows('user', arn('GET/users/me'))).toBe(true);
    expect(allows('user', arn('PATCH/admin/users/123'))).toBe(false);
    expect(allows('admin', arn('PATCH/admin/users/123'))).toBe(true);
    expect(allows('service', arn('GET/users/me'))).toBe(false);
  });

  it('gives a user no admin or service routes, and an admin no service-only routes', () => {
    const userResources = JSON.stringify(policyFor('user', 'arn:aws:execute-api:r:a:api/dev/GET/x'));
    expect(userResources).not.toMatch(/\/admin\//);
    expect(userResources).not.toMatch(/\/registry\//);
    expect(userResources).toMatch(/GET\/users\/me/);
  });

  it('finds the routes of a concrete path, for 405 answers', () => {
    expect(routesForPath('/admin/users/123').map((r) => r.method)).toEqual(['PATCH']);
    expect(routesForPath('/nothing')).toEqual([]);
    // a literal segment wins over a parameter, as in API Gateway
    expect(routesForPath('/bookings/lookup').map((r) => `${r.method} ${r.path}`)).toEqual(['GET /bookings/lookup']);
    expect(routesForPath('/bookings/b_1').map((r) => r.method).sort()).toEqual(['DELETE', 'GET']);
  });
});
