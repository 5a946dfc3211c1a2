import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../../lib/http/errors';
import { PATH_PARAMS } from '../../lib/http/path-params';
import { httpHandler, type HttpResponse } from '../../lib/http/stack';
import * as z from '../../lib/validation';

/**
 * The web app (web/, built by Vite into web/dist): `GET /` answers its page and `GET /app/{file}` its
 * assets, so the app works wherever the API runs (sls offline, LocalStack, AWS) and calls the API on
 * its own origin. The files travel in this function's package (serverless.yml: package.patterns) and
 * are read once per cold start. Every URL in the app is relative to the page's, which must therefore
 * end with a slash: `https://…/dev` is redirected to `https://…/dev/` (the function cannot know the
 * browser's URL in general — custom domains, LocalStack's `/_aws/execute-api/…/local/` — but the
 * browser does).
 */

// In the function's package, web/dist sits at the root beside functions/web/; `sls offline` runs the
// bundle from its own work folder, in the project folder, where the build writes web/dist.
const DIST = [path.resolve(__dirname, '../../web/dist'), path.resolve('web/dist')].find((dir) => existsSync(path.join(dir, 'index.html')));

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

interface Files {
  page: string;
  assets: Map<string, string>;
}

let files: Files | undefined;

function load(): Files {
  if (files) return files;
  // Missing only when the build did not run: an operator's problem, said plainly in the logs (500).
  if (!DIST) throw new Error('the web app is not built: no web/dist/index.html (the web-build plugin builds it before sls offline and packaging)');
  const page = path.join(DIST, 'index.html');
  const appDir = path.join(DIST, 'app');
  const assets = new Map<string, string>();
  for (const name of existsSync(appDir) ? readdirSync(appDir) : []) {
    if (path.extname(name) in CONTENT_TYPES) assets.set(name, readFileSync(path.join(appDir, name), 'utf8'));
  }
  files = { page: readFileSync(page, 'utf8'), assets };
  return files;
}

/**
 * Stripe's card element (web/src/stripe.ts), used by the checkout only when STRIPE_PUBLISHABLE_KEY is
 * set: the page then carries the key and Stripe.js's address in a meta tag, and the policy admits
 * Stripe.js, its frames and its API (Stripe's documented CSP). Without the key the page names no other
 * host. Untested here (no internet): docs/web.md.
 */
const STRIPE_JS = 'https://js.stripe.com/v3';

/** The publishable key when it is set and well-formed (`pk_test_…`, `pk_live_…`); anything else is ignored. */
export function stripePublishableKey(value = process.env.STRIPE_PUBLISHABLE_KEY): string | undefined {
  return value && /^pk_(test|live)_[A-Za-z0-9]{1,200}$/.test(value) ? value : undefined;
}

/** The page, with the Stripe meta tag when a publishable key is configured. */
export function pageHtml(page: string, publishableKey: string | undefined): string {
  if (!publishableKey) return page;
  return page.replace('</head>', `  <meta name="stripe-publishable-key" content="${publishableKey}" data-script="${STRIPE_JS}" />\n  </head>`);
}

/**
 * Only this origin's scripts and styles, and API calls to this origin and the WebSocket API: no inline
 * script can run, which is what keeps the refresh token in sessionStorage out of injected code's reach.
 * With `stripe`, Stripe.js, its frames and its API too.
 */
export function contentSecurityPolicy(websocketUrl: string | undefined, { stripe = false } = {}): string {
  let websocketOrigin = '';
  try {
    if (websocketUrl) websocketOrigin = ` ${new URL(websocketUrl).origin.replace(/^http/, 'ws')}`;
  } catch {
    // An unset or unrendered URL (a stage without the WebSocket API): the app then polls.
  }
  return [
    "default-src 'self'",
    `script-src 'self'${stripe ? ' https://js.stripe.com' : ''}`,
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${websocketOrigin}${stripe ? ' https://api.stripe.com' : ''}`,
    ...(stripe ? ['frame-src https://js.stripe.com https://hooks.stripe.com'] : []),
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** The page. Never cached: it names the current assets. (nosniff and Referrer-Policy, as on every answer: lib/http/stack.ts.) */
function pageResponse(): HttpResponse {
  const publishableKey = stripePublishableKey();
  return {
    status: 200,
    text: pageHtml(load().page, publishableKey),
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-cache',
      'content-security-policy': contentSecurityPolicy(process.env.WEBSOCKET_URL, { stripe: publishableKey !== undefined }),
    },
  };
}

/**
 * `/dev` → `/dev/`: relative URLs from `/dev` would resolve outside the stage. The Location is itself
 * relative (`dev/`), so the browser resolves it against the URL it used, whatever a proxy made of it.
 */
function slashRedirect(fullPath: string): HttpResponse {
  return { status: 308, headers: { location: `${fullPath.split('/').pop()}/`, 'cache-control': 'public, max-age=300' } };
}

/** A built asset. Names carry a content hash, so they are cached for good. */
function assetResponse(file: string): HttpResponse {
  const text = load().assets.get(file);
  if (text === undefined) throw new AppError('NOT_FOUND', 'No such file of the web app');
  return {
    status: 200,
    text,
    headers: {
      'content-type': CONTENT_TYPES[path.extname(file)]!,
      'cache-control': /-[\w-]{8}\.\w+$/.test(file) ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
    },
  };
}

const webParams = z.object({ file: z.optional(z.string().check(z.regex(PATH_PARAMS.file.pattern))) });

/** GET / (the page) and GET /app/{file} (its assets): one small function for the whole app. */
export const handler = httpHandler({ route: ['GET /', 'GET /app/{file}'], params: webParams }, async ({ params, fullPath }) => {
  if (params.file !== undefined) return assetResponse(params.file);
  return fullPath.endsWith('/') ? pageResponse() : slashRedirect(fullPath);
});
