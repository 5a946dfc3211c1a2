import { contentSecurityPolicy, handler } from '../../functions/web/handler';

// Unit tests run without Redis: the per-caller limit is the HTTP stack's, tested in tests/unit/http-stack.test.ts.
jest.mock('../../lib/http/rate-limit', () => ({ enforceRateLimit: async () => ({}) }));
import { apiEvent, lambdaContext } from '../support/events';

describe('the web app function', () => {
  it.each([
    ['/dev', 'dev/'],
    ['/prod/v1', 'v1/'],
  ])('redirects the page at %s to %s (relative: the browser knows its own URL), so that its relative URLs stay under the stage', async (full, location) => {
    const event = apiEvent({ path: '/', resource: '/' });
    (event.requestContext as { path?: string }).path = full;
    const response = await handler(event, lambdaContext);
    expect(response.statusCode).toBe(308);
    expect(response.headers?.location).toBe(location);
  });

  it('allows scripts and styles from its own origin only, and the WebSocket API as a connection', () => {
    const policy = contentSecurityPolicy('wss://abc.execute-api.eu-west-1.amazonaws.com/dev');
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("connect-src 'self' wss://abc.execute-api.eu-west-1.amazonaws.com;");
    expect(policy).not.toContain('unsafe');
  });

  it('keeps the policy valid when the WebSocket URL is missing or not a URL', () => {
    expect(contentSecurityPolicy(undefined)).toContain("connect-src 'self';");
    expect(contentSecurityPolicy('[object Object]')).toContain("connect-src 'self';");
  });
});
