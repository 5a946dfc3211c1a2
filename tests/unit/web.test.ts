import { contentSecurityPolicy } from '../../functions/web/handler';
import { basePathOf } from '../../lib/http/stack';
import { apiEvent } from '../support/events';

describe('the web app function', () => {
  it.each([
    ['/dev/', '/', '/dev'],
    ['/dev', '/', '/dev'],
    ['/dev/app/index-abc.js', '/app/index-abc.js', '/dev'],
    ['/', '/', ''],
    [undefined, '/', ''],
    ['/prod/v1/', '/', '/prod/v1'],
  ])('finds the mount point of the API from requestContext.path %s and path %s', (full, route, expected) => {
    const event = apiEvent({ path: route });
    (event.requestContext as { path?: string }).path = full;
    expect(basePathOf(event)).toBe(expected);
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
