import { api } from '../api';
import { dateTime, field, h, show } from '../dom';
import { currentPath, navigate, type Page } from '../router';
import type { Flight, List } from '../types';
import { act, announce, onSubmit } from '../ui';

/**
 * The start page: search flights by route and day. The query lives in the hash (`#/?origin=…`), so a
 * reload, a shared link and the back button all show the same results.
 */

interface Query {
  origin: string;
  destination: string;
  date: string;
}

/** A flight's status as words (never colour alone). */
export function flightStatus(flight: Flight): HTMLElement {
  return flight.status === 'cancelled'
    ? h('span', { class: 'badge cancelled' }, 'Cancelled')
    : h('span', { class: 'badge' }, 'Scheduled');
}

export function flightTimes(flight: Flight): HTMLElement {
  return h(
    'p',
    {},
    'Departs ',
    h('time', { datetime: flight.departureTime }, dateTime(flight.departureTime)),
    ' · Arrives ',
    h('time', { datetime: flight.arrivalTime }, dateTime(flight.arrivalTime)),
  );
}

function airportInput(name: string, value: string | undefined): HTMLInputElement {
  const input = h('input', {
    name,
    value,
    required: true,
    pattern: '[A-Za-z]{3}',
    maxlength: 3,
    size: 5,
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
  });
  input.addEventListener('input', () => (input.value = input.value.toUpperCase()));
  return input;
}

function flightCard(flight: Flight): HTMLElement {
  return h(
    'li',
    { class: 'card' },
    h('h3', {}, `${flight.flightNumber} · ${flight.origin} → ${flight.destination}`),
    flightTimes(flight),
    h('p', {}, 'Status: ', flightStatus(flight)),
    h('p', {}, h('a', { href: `#/flights/${encodeURIComponent(flight.id)}` }, `Choose seats on ${flight.flightNumber}`)),
  );
}

function fetchFlights(query: Query, cursor?: string): Promise<List<Flight>> {
  const search = new URLSearchParams({ ...query, ...(cursor ? { cursor } : {}) });
  return api<List<Flight>>('GET', `/flights?${search}`, { auth: false });
}

async function search(results: HTMLElement, query: Query): Promise<void> {
  show(results, h('h2', {}, 'Results'), h('p', { class: 'muted' }, 'Searching…'));
  const first = await fetchFlights(query);
  if (first.items.length === 0) {
    show(results, h('h2', {}, 'Results'), h('p', {}, `No flights from ${query.origin} to ${query.destination} on ${query.date}.`));
    announce('No flights found.');
    return;
  }
  const list = h('ul', { class: 'cards' }, first.items.map(flightCard));
  const more = h('button', { type: 'button', class: 'secondary' }, 'Show more');
  let cursor = first.nextCursor;
  more.hidden = !cursor;
  more.addEventListener('click', () =>
    void act(more, async () => {
      const page = await fetchFlights(query, cursor ?? undefined);
      const cards = page.items.map(flightCard);
      list.append(...cards);
      cursor = page.nextCursor;
      more.hidden = !cursor;
      // Keyboard users continue at the first new flight instead of losing their place.
      cards[0]?.querySelector('a')?.focus();
    }),
  );
  show(results, h('h2', {}, 'Results'), list, more);
  announce(`${first.items.length}${cursor ? ' or more' : ''} flights found.`);
}

export const searchPage: Page = (main, params) => {
  const origin = airportInput('origin', params.origin);
  const destination = airportInput('destination', params.destination);
  const date = h('input', { type: 'date', name: 'date', required: true, value: params.date ?? new Date().toISOString().slice(0, 10) });
  const results = h('section');
  const form = h(
    'form',
    { class: 'inline', role: 'search', 'aria-label': 'Flights' },
    field('From', origin),
    field('To', destination),
    field('Date', date),
    h('button', { type: 'submit' }, 'Search'),
  );
  const query = (): Query => ({ origin: origin.value.trim().toUpperCase(), destination: destination.value.trim().toUpperCase(), date: date.value });
  onSubmit(form, async () => {
    const target = `/?${new URLSearchParams({ ...query() })}`;
    // A new query goes through the hash (history and reload); the same one again just searches again.
    if (currentPath() === target) await search(results, query());
    else navigate(target);
  });
  show(main, h('h1', {}, 'Search flights'), form, results);
  if (params.origin && params.destination && params.date) void act(undefined, () => search(results, query()));
};
