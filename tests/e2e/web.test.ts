import { api } from '../support/http';

/**
 * The web app as the API serves it (functions/web): the page at /, its files under /app/, with the
 * headers that keep it safe and cacheable. What the pages do is tested in a browser (tests/web).
 */
describe('GET / and /app/{file}', () => {
  it('serves the page with a strict Content-Security-Policy, and no caching', async () => {
    const page = await api('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toMatch(/connect-src 'self' ws:\/\/[\w.]+:\d+/);
    expect(page.body).toContain('<script type="module" crossorigin src="./app/');
    // Everything the page loads is on this origin (it works offline): no http(s) URLs at all.
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('serves every script and style the page names, cached for good (their names carry a hash)', async () => {
    const page = await api('GET', '/');
    const files = [...String(page.body).matchAll(/(?:src|href)="\.\/app\/([^"]+)"/g)].map((match) => match[1]!);
    expect(files.some((file) => file.endsWith('.js'))).toBe(true);
    expect(files.some((file) => file.endsWith('.css'))).toBe(true);
    for (const file of files) {
      const asset = await api('GET', `/app/${file}`);
      expect(asset.status).toBe(200);
      const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'image/svg+xml';
      expect(asset.headers.get('content-type')).toContain(type);
      if (!file.startsWith('favicon')) expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
  });

  it.each(['nope.js', 'index.html', '..%2Fpackage.json', '.env'])('answers /app/%s with a 404 problem, never a file from elsewhere', async (file) => {
    const response = await api('GET', `/app/${file}`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.body.code).toBe('NOT_FOUND');
  });
});
