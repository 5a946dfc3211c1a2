import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * The web app's weight and self-containment, from the build (web/dist, made by Vite before sls offline
 * starts). Traveller pages — the page, its entry and every chunk reachable from it except the admin
 * pages' — stay within 100 KB gzipped; the admin pages are chunks of their own, loaded only by admins.
 * Nothing refers to another host, so the app works offline and leaks nothing to third parties. (With
 * STRIPE_PUBLISHABLE_KEY set, the served page names Stripe.js in a meta tag the web function adds; the
 * built files still name no other host: web/src/stripe.ts reads the address from that tag.)
 */

// WEB_DIST_DIR: another build to check (a `vite build --outDir` elsewhere); web/dist by default.
const DIST = path.resolve(process.env.WEB_DIST_DIR ?? path.join(__dirname, '..', '..', 'web', 'dist'));
const BUDGET_BYTES = 100 * 1024;

interface ManifestChunk {
  file: string;
  name?: string;
  src?: string;
  isEntry?: boolean;
  isDynamicEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
  assets?: string[];
}

const gzipped = (file: string) => gzipSync(readFileSync(path.join(DIST, file)), { level: 9 }).length;
// web/vite.config.ts puts the admin pages in one chunk named `admin`.
const isAdmin = (chunk: ManifestChunk) => chunk.name === 'admin' || (chunk.src?.startsWith('src/admin/') ?? false);

describe('the web app build', () => {
  let manifest: Record<string, ManifestChunk>;
  let page: string;
  beforeAll(() => {
    const manifestFile = path.join(DIST, '.vite', 'manifest.json');
    if (!existsSync(manifestFile)) throw new Error(`${manifestFile} is missing: the web build did not run, or build.manifest is off in web/vite.config.ts`);
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    page = readFileSync(path.join(DIST, 'index.html'), 'utf8');
  });

  /** Every file the traveller pages can load: what the page names (icon included), and the entry's graph without the admin pages' chunks. */
  function travellerFiles(): Set<string> {
    const files = new Set<string>(['index.html']);
    for (const [, reference] of page.matchAll(/(?:src|href)="\.?\/?(app\/[^"]+)"/g)) files.add(reference!);
    const seen = new Set<string>();
    const visit = (key: string) => {
      const chunk = manifest[key];
      if (!chunk) throw new Error(`the manifest names ${key} but has no entry for it`);
      if (seen.has(key) || isAdmin(chunk)) return;
      seen.add(key);
      files.add(chunk.file);
      for (const file of [...(chunk.css ?? []), ...(chunk.assets ?? [])]) files.add(file);
      for (const next of [...(chunk.imports ?? []), ...(chunk.dynamicImports ?? [])]) visit(next);
    };
    const entries = Object.entries(manifest).filter(([, chunk]) => chunk.isEntry);
    expect(entries.map(([key]) => key)).toEqual(['index.html']);
    visit(entries[0]![0]);
    return files;
  }

  it('the traveller pages weigh at most 100 KB gzipped (page, scripts and styles), the admin pages load apart', () => {
    const files = travellerFiles();
    const sizes = [...files].map((file) => ({ file, bytes: gzipped(file) }));
    const total = sizes.reduce((sum, { bytes }) => sum + bytes, 0);
    const report = sizes.map(({ file, bytes }) => `${file} ${(bytes / 1024).toFixed(1)} KB`).join(', ');
    if (total > BUDGET_BYTES) throw new Error(`the traveller pages weigh ${(total / 1024).toFixed(1)} KB gzipped, over the ${BUDGET_BYTES / 1024} KB budget: ${report}`);
    console.log(`[budget] traveller pages: ${(total / 1024).toFixed(1)} KB gzipped (${report})`);

    // The page loads the entry and its styles; every traveller route's module is in the set.
    const entry = Object.values(manifest).find((chunk) => chunk.isEntry)!;
    expect(page).toContain(entry.file);
    for (const css of entry.css ?? []) expect(page).toContain(css);
    const travellerSources = Object.values(manifest).filter((chunk) => files.has(chunk.file)).map((chunk) => chunk.src);
    expect(travellerSources).toEqual(expect.arrayContaining(['src/pages/search.ts', 'src/pages/auth.ts', 'src/pages/flight.ts', 'src/pages/bookings.ts', 'src/pages/checkout.ts', 'src/pages/manage.ts']));

    // The admin pages are chunks of their own, none of them loaded by the traveller pages.
    const admin = Object.values(manifest).filter(isAdmin);
    expect(admin.map((chunk) => chunk.src)).toEqual(expect.arrayContaining(['src/admin/flights.ts', 'src/admin/flight.ts', 'src/admin/users.ts', 'src/admin/registry.ts']));
    for (const chunk of admin) expect(files.has(chunk.file)).toBe(false);
  });

  it('refers to no other host: no absolute URL in the page, the scripts or the styles', () => {
    const appDir = path.join(DIST, 'app');
    const assets = readdirSync(appDir).filter((name) => /\.(js|css|html|svg)$/.test(name));
    expect(assets.some((name) => name.endsWith('.js'))).toBe(true);
    const found: string[] = [];
    for (const [name, text] of [['index.html', page] as const, ...assets.map((name) => [`app/${name}`, readFileSync(path.join(appDir, name), 'utf8')] as const)]) {
      // XML namespace names (http://www.w3.org/2000/svg) are identifiers that nothing fetches.
      const urls = [...text.matchAll(/(?:https?|wss?):\/\/[^\s"'`)<>]*/g)].map((m) => m[0]).filter((url) => !url.startsWith('http://www.w3.org/'));
      // Protocol-relative references (//host/x) in markup and styles load from elsewhere too.
      const relative = [...text.matchAll(/(?:src|href)\s*=\s*["']\/\/[^"']+|url\(\s*["']?\/\/[^)]+/g)].map((m) => m[0]);
      found.push(...[...urls, ...relative].map((url) => `${name}: ${url}`));
    }
    expect(found).toEqual([]);
    // The page itself loads only relative URLs under app/.
    const references = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const reference of references) expect(reference).toMatch(/^(\.\/app\/|app\/|#)/);
  });
});
