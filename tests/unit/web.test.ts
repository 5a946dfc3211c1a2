import { contentSecurityPolicy, handler, pageHtml, stripePublishableKey } from '../../functions/web/handler';
import { minorDigits, money } from '../../web/src/money';

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

  it('names no other host without a Stripe publishable key; with one, the page carries it and the policy admits Stripe.js, its frames and its API only then', () => {
    const page = '<html><head><title>x</title></head><body></body></html>';
    expect(pageHtml(page, undefined)).toBe(page);
    expect(contentSecurityPolicy(undefined)).not.toContain('stripe');
    const withKey = pageHtml(page, 'pk_test_abc123');
    expect(withKey).toContain('<meta name="stripe-publishable-key" content="pk_test_abc123" data-script="https://js.stripe.com/v3" />');
    expect(withKey.indexOf('stripe-publishable-key')).toBeLessThan(withKey.indexOf('</head>'));
    const policy = contentSecurityPolicy(undefined, { stripe: true });
    expect(policy).toContain("script-src 'self' https://js.stripe.com;");
    expect(policy).toContain("connect-src 'self' https://api.stripe.com;");
    expect(policy).toContain('frame-src https://js.stripe.com https://hooks.stripe.com');
    expect(policy).not.toContain('unsafe');
  });

  it('takes only a well-formed publishable key (never a secret key, nothing that could break out of the attribute)', () => {
    expect(stripePublishableKey('pk_test_51Habc')).toBe('pk_test_51Habc');
    expect(stripePublishableKey('pk_live_XYZ9')).toBe('pk_live_XYZ9');
    for (const bad of [undefined, '', 'sk_test_51Habc', 'pk_test_"><script>', 'pk_test_', 'rk_live_abc']) expect(stripePublishableKey(bad)).toBeUndefined();
  });
});

describe('the web app shows money in the currency\'s minor units', () => {
  it.each([
    [12000, 'USD', '$120.00'],
    [12000, 'JPY', '¥12,000'],
    [1250, 'KWD', 'KWD 1.250'],
    [12345, 'HUF', 'HUF 123.45'],
    [0, 'EUR', '€0.00'],
  ])('%i %s is %s', (amount, currency, text) => {
    expect(money({ amount, currency }).replace(/\u00a0/g, ' ')).toBe(text);
  });

  it('knows the zero- and three-decimal currencies (ISO 4217)', () => {
    expect([minorDigits('JPY'), minorDigits('KRW'), minorDigits('USD'), minorDigits('BHD'), minorDigits('jpy')]).toEqual([0, 0, 2, 3, 0]);
  });
});
