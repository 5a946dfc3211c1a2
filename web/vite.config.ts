import { defineConfig } from 'vite';

/**
 * The web app's build: plain TypeScript modules bundled into web/dist, served by functions/web. Asset
 * URLs are relative (`./app/…`) to the page's, so they work under a stage prefix (`/dev/`) as well as
 * at the root. The admin pages are a chunk of
 * their own, loaded only when an admin opens them. Run from web/ (scripts/build-web.ts does).
 */
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'app',
    target: 'es2022',
    // The preload polyfill is an inline script, which the page's Content-Security-Policy forbids.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    // web/dist/.vite/manifest.json: which chunks each page loads (the budget test reads it).
    manifest: true,
  },
});
