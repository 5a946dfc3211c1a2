import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { OPENAPI_FILES, buildOpenApi, operations, renderOpenApi } from '../../scripts/openapi';
import { routePolicy } from '../../lib/http/route-policy';
import { serverlessConfig } from '../../scripts/stack';

describe('the OpenAPI document', () => {
  it('is up to date in docs/openapi.yaml and functions/gateway/openapi.json (run `npm run openapi`)', () => {
    const rendered = renderOpenApi();
    expect(readFileSync(OPENAPI_FILES.yaml, 'utf8')).toBe(rendered.yaml);
    expect(readFileSync(OPENAPI_FILES.json, 'utf8')).toBe(rendered.json);
  });

  it('has exactly the routes serverless.yml declares (the catch-all aside)', () => {
    const doc = buildOpenApi();
    const specRoutes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    const slsRoutes = Object.values<{ events?: { http?: { method: string; path: string } }[] }>(serverlessConfig('dev').doc.functions)
      .flatMap((fn) => fn.events ?? [])
      .flatMap((e) => (e.http && e.http.method !== 'any' ? [`${e.http.method.toUpperCase()} ${e.http.path}`] : []));
    expect(specRoutes.sort()).toEqual(slsRoutes.sort());
    expect(Object.keys(operations).sort()).toEqual(routePolicy.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('declares valid JSON Schemas (2020-12, as OpenAPI 3.1 uses)', () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    const doc = buildOpenApi();
    expect(() => ajv.compile({ components: doc.components, $ref: '#/components/schemas/Booking' })).not.toThrow();
    for (const methods of Object.values(doc.paths)) {
      for (const op of Object.values(methods) as { requestBody?: { content: Record<string, { schema: object }> } }[]) {
        if (op.requestBody) expect(() => ajv.compile(op.requestBody!.content['application/json']!.schema)).not.toThrow();
      }
    }
  });

  it('says public routes need no token and the others do', () => {
    const doc = buildOpenApi();
    expect((doc.paths['/flights'] as any).get.security).toEqual([]);
    expect((doc.paths['/users/me'] as any).get.security).toBeUndefined();
    expect(doc.security).toEqual([{ bearer: [] }]);
  });
});
