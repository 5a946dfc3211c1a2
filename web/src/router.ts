/**
 * Hash routes (`#/flights/ID`): the server serves one page at `/`, so every route works after a reload
 * and under any stage prefix without server-side rewrites. A page renders into <main> and may return a
 * cleanup (timers, sockets) that runs when the route changes.
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

async function render(main: HTMLElement, notFound: Page): Promise<void> {
  const ticket = ++rendering;
  cleanup?.();
  cleanup = undefined;
  const [path, query = ''] = currentPath().split('?');
  let page = notFound;
  let params: Params = Object.fromEntries(new URLSearchParams(query));
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path ?? '/');
    if (!match) continue;
    page = await candidate.load();
    params = { ...params, ...Object.fromEntries(candidate.names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)])) };
    break;
  }
  if (ticket !== rendering) return;
  main.replaceChildren();
  const result = await page(main, params);
  if (ticket !== rendering) result?.();
  else cleanup = result ?? undefined;
  // Move focus to the new content, as a full page load would, and name the page in the title.
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · Flight booking` : 'Flight booking';
  main.focus({ preventScroll: true });
}

export function startRouter(main: HTMLElement, notFound: Page): void {
  window.addEventListener('hashchange', () => void render(main, notFound));
  void render(main, notFound);
}

/** Renders the current route again (after logging in or out). */
export function refreshRoute(main: HTMLElement, notFound: Page): void {
  void render(main, notFound);
}
