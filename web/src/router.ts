/**
 * Hash routes (`#/flights/ID`): the server serves one page at `/`, so every route works after a reload
 * and under any stage prefix without server-side rewrites. Each render gets a fresh view inside <main>:
 * a page still loading when the route changes goes on writing into its own view, which is no longer
 * shown, instead of over the next page. A page may return a cleanup (timers, sockets) that runs when
 * the route changes. Hashes that are not routes (`#main`, the skip link's) are left to the browser.
 */
export type Cleanup = () => void;
export type Params = Record<string, string>;
export type Page = (main: HTMLElement, params: Params) => void | Cleanup | Promise<void | Cleanup>;

interface Route {
  pattern: RegExp;
  names: string[];
  load: () => Promise<Page>;
}

const routes: Route[] = [];

/** `path` like `/flights/:flightId`; `load` resolves the page (a dynamic import keeps admin pages out of the traveller bundle). */
export function route(path: string, load: () => Promise<Page> | Page): void {
  const names: string[] = [];
  const pattern = new RegExp(`^${path.replace(/:(\w+)/g, (_, name: string) => (names.push(name), '([^/]+)'))}$`);
  routes.push({ pattern, names, load: async () => load() });
}

export function navigate(path: string): void {
  location.hash = `#${path}`;
}

export function currentPath(): string {
  return location.hash.replace(/^#/, '') || '/';
}

let cleanup: Cleanup | undefined;
let rendering = 0;

function isRoute(): boolean {
  return location.hash === '' || location.hash.startsWith('#/');
}

/** The page and its parameters for a path; a malformed %-escape names no page. */
async function resolve(path: string, query: string, notFound: Page): Promise<[Page, Params]> {
  const params: Params = Object.fromEntries(new URLSearchParams(query));
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path);
    if (!match) continue;
    try {
      const named = Object.fromEntries(candidate.names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
      return [await candidate.load(), { ...params, ...named }];
    } catch {
      return [notFound, params];
    }
  }
  return [notFound, params];
}

async function render(main: HTMLElement, notFound: Page): Promise<void> {
  const ticket = ++rendering;
  cleanup?.();
  cleanup = undefined;
  const [path = '/', query = ''] = currentPath().split('?');
  const [page, params] = await resolve(path, query, notFound);
  if (ticket !== rendering) return;
  const view = document.createElement('div');
  main.replaceChildren(view);
  const result = await page(view, params);
  if (ticket !== rendering) result?.();
  else cleanup = result ?? undefined;
  if (ticket !== rendering) return;
  // Move focus to the new content, as a full page load would, and name the page in the title.
  const heading = view.querySelector('h1');
  document.title = heading ? `${heading.textContent} · Flight booking` : 'Flight booking';
  main.focus({ preventScroll: true });
}

export function startRouter(main: HTMLElement, notFound: Page): void {
  window.addEventListener('hashchange', () => {
    if (isRoute()) void render(main, notFound);
  });
  void render(main, notFound);
}

/** Renders the current route again (after logging in or out). */
export function refreshRoute(main: HTMLElement, notFound: Page): void {
  void render(main, notFound);
}
