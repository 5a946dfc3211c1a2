import { append, h } from '../dom';
import { currentPath } from '../router';
import { act } from '../ui';
import './admin.css';

/**
 * What every admin page shares: its heading with the admin sub-navigation under it, tables with a
 * caption and header cells, the "Show more" button of a cursor list, and problems with a form's input
 * shown next to that input (before any request is made).
 */

/** Whatever h() accepts as a child (dom.ts does not export the name). */
export type Child = Parameters<typeof append>[1][number];

const SECTIONS = [
  { label: 'Flights', path: '/admin', owns: (path: string) => path === '/admin' || path.startsWith('/admin/flights') },
  { label: 'Users', path: '/admin/users', owns: (path: string) => path.startsWith('/admin/users') },
  { label: 'Registry', path: '/admin/registry', owns: (path: string) => path.startsWith('/admin/registry') },
];

export function adminNav(): HTMLElement {
  const path = currentPath().split('?')[0] ?? '/';
  return h(
    'nav',
    { 'aria-label': 'Admin', class: 'admin-nav' },
    h(
      'ul',
      {},
      SECTIONS.map((section) => h('li', {}, h('a', { href: `#${section.path}`, 'aria-current': section.owns(path) ? 'page' : undefined }, section.label))),
    ),
  );
}

/** Starts an admin page: its one h1, then the admin navigation. Returns the h1 (a page may retitle it). */
export function adminHeading(main: HTMLElement, title: string): HTMLHeadingElement {
  const heading = h('h1', {}, title);
  main.append(heading, adminNav());
  return heading;
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', {}, h('h2', {}, title), children);
}

/** A table with a caption and column headers; rows go into `body`. */
export function dataTable(caption: string, columns: string[]): { table: HTMLTableElement; body: HTMLTableSectionElement } {
  const body = h('tbody');
  const table = h(
    'table',
    { tabindex: -1 },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column)))),
    body,
  );
  return { table, body };
}

/** A table row whose first cell is the row's header (a seat, a user, an instance). */
export function tableRow(header: Child, ...cells: Child[]): HTMLTableRowElement {
  return h('tr', {}, h('th', { scope: 'row' }, header), cells.map((cell) => h('td', {}, cell)));
}

/**
 * "Show more" for a cursor list: `load(cursor)` appends the next page and answers the next cursor.
 * At the end the button hides itself and focus goes to `list`, so keyboard users are not left on nothing.
 */
export function showMoreButton(cursor: string | null, list: HTMLElement, load: (cursor: string) => Promise<string | null>): HTMLButtonElement {
  let next = cursor;
  const button = h('button', { type: 'button', class: 'secondary', hidden: next === null }, 'Show more');
  button.addEventListener('click', () =>
    void act(button, async () => {
      if (next === null) return;
      next = await load(next);
      if (next === null) {
        button.hidden = true;
        list.focus();
      }
    }),
  );
  return button;
}

let problemCount = 0;

/**
 * A form's own problem message (a bad line in a seat map, a layout letter twice): shown under the
 * form's fields, tied to the input at fault with aria-invalid and aria-describedby, and that input is
 * focused, as WCAG's error identification asks. API errors still go to showError.
 */
export function formProblem(): { element: HTMLElement; show: (message: string, control?: HTMLElement) => void; clear: () => void } {
  problemCount += 1;
  const element = h('p', { id: `form-problem-${problemCount}`, class: 'form-problem', role: 'alert', hidden: true });
  let blamed: HTMLElement | undefined;
  const clear = () => {
    element.hidden = true;
    element.textContent = '';
    if (!blamed) return;
    blamed.removeAttribute('aria-invalid');
    const rest = (blamed.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => id && id !== element.id);
    if (rest.length) blamed.setAttribute('aria-describedby', rest.join(' '));
    else blamed.removeAttribute('aria-describedby');
    blamed = undefined;
  };
  const show = (message: string, control?: HTMLElement) => {
    clear();
    element.textContent = message;
    element.hidden = false;
    if (!control) return;
    blamed = control;
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), element.id].filter(Boolean).join(' '));
    control.focus();
  };
  return { element, show, clear };
}
