import { serverlessConfig } from '../../scripts/stack';

/**
 * The choice and rendering of the gateway's own answers under `sls offline`, with serverless.yml's
 * GatewayResponse resources. The plugin is plain CommonJS (serverless loads it with `require`); its
 * hooking into the emulator is covered over HTTP by tests/e2e/gateway.test.ts.
 */
interface Declared {
  statusCode?: number;
  headers: { header: string; literal?: string }[];
  body: string;
}
interface EmulatorResponse {
  isBoom?: boolean;
  output?: { statusCode: number };
}
const { declaredGatewayResponses, responseTypeFor, gatewayAnswer, allowedOrigins, dropEmulatorCors } = require('../../scripts/offline-gateway-responses.js') as {
  declaredGatewayResponses(resources: unknown, warn: (message: string) => void): Map<string, Declared>;
  responseTypeFor(response: EmulatorResponse, lambdaFailure: unknown): string | undefined;
  gatewayAnswer(declared: Map<string, Declared>, type: string, emulatorStatus: number): Declared & { statusCode: number } | undefined;
  allowedOrigins(cors: unknown): string[];
  dropEmulatorCors(headers: Record<string, string>, origin: string, allowed: string[]): void;
};

const boom = (statusCode: number): EmulatorResponse => ({ isBoom: true, output: { statusCode } });
const handlerAnswer: EmulatorResponse = { isBoom: false };
/** What serverless-offline fails a function's run with when it runs past its timeout. */
const lambdaTimeout = Object.assign(new Error('[504] - Lambda timeout.'), { name: 'LambdaTimeoutError' });

describe('the gateway answers sls offline gives (scripts/offline-gateway-responses.js)', () => {
  const warnings: string[] = [];
  const declared = declaredGatewayResponses(serverlessConfig('dev').doc.resources, (message) => warnings.push(message));

  function answer(response: EmulatorResponse, lambdaFailure?: unknown, emulatorStatus = response.output?.statusCode ?? 502) {
    const type = responseTypeFor(response, lambdaFailure);
    const rendered = type === undefined ? undefined : gatewayAnswer(declared, type, emulatorStatus);
    if (!rendered) return { type };
    const headers = Object.fromEntries(rendered.headers.map(({ header, literal }) => [header.toLowerCase(), literal]));
    return { type, status: rendered.statusCode, headers, body: JSON.parse(rendered.body) };
  }

  it('reads every header of serverless.yml\'s gateway responses without a warning', () => {
    expect(warnings).toEqual([]);
    expect(declared.get('UNAUTHORIZED')?.headers).toContainEqual({ header: 'Content-Type', literal: 'application/problem+json' });
  });

  it.each([
    ['a missing or refused token', 'UNAUTHORIZED', boom(401), undefined, 401, 'UNAUTHORIZED'],
    ['an authorizer that threw Unauthorized', 'UNAUTHORIZED', boom(401), new Error('Unauthorized'), 401, 'UNAUTHORIZED'],
    ['an authorizer that threw another error', 'AUTHORIZER_CONFIGURATION_ERROR', boom(401), new Error('The account check is unavailable'), 503, 'SERVICE_UNAVAILABLE'],
    ['an authorizer that timed out', 'AUTHORIZER_CONFIGURATION_ERROR', boom(401), lambdaTimeout, 503, 'SERVICE_UNAVAILABLE'],
    ['a route the policy denies', 'ACCESS_DENIED', boom(403), undefined, 403, 'FORBIDDEN'],
    ['a body over the limit', 'REQUEST_TOO_LARGE', boom(413), undefined, 413, 'PAYLOAD_TOO_LARGE'],
    ['another refusal of the emulator', 'DEFAULT_4XX', boom(415), undefined, 415, 'BAD_REQUEST'],
    ['a function that crashed', 'DEFAULT_5XX', handlerAnswer, new Error('boom'), 502, 'INTERNAL'],
  ])('answers %s with %s', (_, type, response, failure, status, code) => {
    expect(answer(response, failure)).toMatchObject({ type, status, headers: { 'content-type': 'application/problem+json' }, body: { code } });
  });

  it('says nosniff on every gateway answer, and admits no origin (no Access-Control-Allow-Origin), as serverless.yml declares', () => {
    for (const [type, response] of declared) {
      const headers = Object.fromEntries(response.headers.map(({ header, literal }) => [header.toLowerCase(), literal]));
      expect({ type, nosniff: headers['x-content-type-options'], cors: Object.keys(headers).filter((name) => name.startsWith('access-control-')) }).toEqual({ type, nosniff: 'nosniff', cors: [] });
    }
  });

  it("takes back the emulator's CORS headers from a foreign origin's answer, and the credentials from any origin's", () => {
    const allowed = allowedOrigins({ origins: ['https://app.example.com'] });
    const emulated = () => ({ 'content-type': 'application/json', 'access-control-allow-origin': 'x', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'etag' });
    const foreign = emulated();
    dropEmulatorCors(foreign, 'https://evil.example', allowed);
    expect(foreign).toEqual({ 'content-type': 'application/json' });
    const own = emulated();
    dropEmulatorCors(own, 'https://app.example.com', allowed);
    expect(own).toEqual({ 'content-type': 'application/json', 'access-control-allow-origin': 'x', 'access-control-expose-headers': 'etag' });
    // serverless.yml's custom.cors is `false` without CORS_ORIGINS: every origin is foreign
    const none = emulated();
    dropEmulatorCors(none, 'https://app.example.com', allowedOrigins(false));
    expect(none).toEqual({ 'content-type': 'application/json' });
  });

  it('says Retry-After on the 503 of a failed authorizer, as serverless.yml declares', () => {
    expect(answer(boom(401), new Error('down')).headers).toMatchObject({ 'retry-after': '5' });
  });

  it('leaves alone every answer a handler gave', () => {
    expect(answer(handlerAnswer)).toEqual({ type: undefined });
  });

  it('falls back to DEFAULT_4XX/DEFAULT_5XX for an undeclared type, and warns about mappings it cannot emulate', () => {
    const messages: string[] = [];
    const fallbackOnly = declaredGatewayResponses(
      {
        Resources: {
          Fallback: { Type: 'AWS::ApiGateway::GatewayResponse', Properties: { ResponseType: 'DEFAULT_5XX', ResponseTemplates: { 'application/json': '{"code":"INTERNAL"}' } } },
          Echo: {
            Type: 'AWS::ApiGateway::GatewayResponse',
            Properties: { ResponseType: 'UNAUTHORIZED', ResponseParameters: { 'gatewayresponse.header.X-Origin': 'method.request.header.Origin' } },
          },
        },
      },
      (message) => messages.push(message),
    );
    expect(gatewayAnswer(fallbackOnly, 'AUTHORIZER_CONFIGURATION_ERROR', 401)).toMatchObject({ statusCode: 500, body: '{"code":"INTERNAL"}' });
    expect(gatewayAnswer(fallbackOnly, 'ACCESS_DENIED', 403)).toBeUndefined();
    expect(messages).toEqual([expect.stringContaining('method.request.header.Origin')]);
  });
});
