import { api } from '../api';
import { airportName, flightTimes, loadAirports } from '../airports';
import { field, h, show } from '../dom';
import { currentPath, navigate, type Page } from '../router';
import type { Airport, Flight, List } from '../types';
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

/** How far the "no flights that day" answer looks either side for the nearest days with flights (API.md: flexDays ≤ 3). */
const NEAREST_DAYS = 3;

/** A flight's status as words (never colour alone). */
function flightStatus(flight: Flight): HTMLElement {
  return flight.status === 'cancelled'
    ? h('span', { class: 'badge cancelled' }, 'Cancelled')
    : h('span', { class: 'badge' }, 'Scheduled');
}

const AIRPORT_OPTIONS = 'airport-options';

/**
 * An airport code field with the scheduled airports as suggestions (a native datalist: announced and
 * keyboard-operable in every browser), and under it, the airport the code names. Typing a city name
 * finds its airport among the suggestions; a code the suggestions lack is still searched as it is.
 */
function airportField(label: string, name: string, value: string | undefined, known: Promise<Map<string, Airport>>): { input: HTMLInputElement; element: HTMLElement } {
  const input = h('input', {
    name,
    value,
    required: true,
    list: AIRPORT_OPTIONS,
    pattern: '[A-Za-z]{3}',
    title: 'A 3-letter airport code such as LHR: type a city or a code and pick a suggestion',
    size: 8,
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
  });
  const element = field(label, input);
  const hint = h('small', { id: `${input.id}-airport`, class: 'muted' });
  input.setAttribute('aria-describedby', hint.id);
  element.append(hint);
  const describe = () =>
    void known.then((airports) => {
      const airport = airports.get(input.value.trim().toUpperCase());
      show(hint, airport && airport.city !== airport.code ? `${airport.city}: ${airport.name}` : '');
    });
  input.addEventListener('input', describe);
  // Once typed (not while: "Lon" is on its way to "London"), a code is shown in capitals.
  input.addEventListener('change', () => {
    if (/^[a-z]{3}$/i.test(input.value.trim())) input.value = input.value.trim().toUpperCase();
  });
  describe();
  return { input, element };
}

function airportOptions(known: Promise<Map<string, Airport>>): HTMLDataListElement {
  const list = h('datalist', { id: AIRPORT_OPTIONS });
  void known.then((airports) => show(list, [...airports.values()].map((a) => h('option', { value: a.code }, `${a.city} — ${a.name}`))));
  return list;
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

function fetchFlights(query: Query, options: { cursor?: string; flexDays?: number } = {}): Promise<List<Flight>> {
  const search = new URLSearchParams({ ...query, ...(options.cursor ? { cursor: options.cursor } : {}), ...(options.flexDays ? { flexDays: String(options.flexDays), limit: '100' } : {}) });
  return api<List<Flight>>('GET', `/flights?${search}`, { auth: false });
}

const longDay = (day: string) => new Intl.DateTimeFormat('en', { timeZone: 'UTC', weekday: 'long', month: 'long', day: 'numeric' }).format(new Date(`${day}T00:00:00Z`));
const dayDistance = (a: string, b: string) => Math.abs(Date.parse(a) - Date.parse(b)) / 86_400_000;

/**
 * The days near `date` that have flights (one search with flexDays), nearest first, each a link that
 * searches that day: a traveller whose day has no flight sees at once which days do.
 */
async function nearestDays(query: Query): Promise<HTMLElement> {
  const around = await fetchFlights(query, { flexDays: NEAREST_DAYS });
  const counts = new Map<string, number>();
  // The API's `date` is the UTC day of departure, so the days are counted the same way.
  for (const day of around.items.map((flight) => flight.departureTime.slice(0, 10))) counts.set(day, (counts.get(day) ?? 0) + 1);
  const days = [...counts.keys()].sort((a, b) => dayDistance(a, query.date) - dayDistance(b, query.date) || a.localeCompare(b));
  if (days.length === 0) return h('p', {}, `None within ${NEAREST_DAYS} days either side either.`);
  return h(
    'div',
    {},
    h('p', {}, 'The nearest days with flights:'),
    h(
      'ul',
      { class: 'nearest-days' },
      days.map((day) => {
        const count = counts.get(day)!;
        return h('li', {}, h('a', { href: `#/?${new URLSearchParams({ ...query, date: day })}` }, `${longDay(day)}: ${count} flight${count === 1 ? '' : 's'}`));
      }),
    ),
  );
}

async function search(results: HTMLElement, query: Query): Promise<void> {
  show(results, h('h2', {}, 'Results'), h('p', { class: 'muted' }, 'Searching…'));
  const first = await fetchFlights(query);
  if (first.items.length === 0) {
    const known = await loadAirports();
    show(results, h('h2', {}, 'Results'), h('p', {}, `No flights from ${airportName(query.origin, known)} to ${airportName(query.destination, known)} on ${longDay(query.date)}.`), await nearestDays(query));
    announce('No flights found that day.');
    return;
  }
  const list = h('ul', { class: 'cards' }, first.items.map(flightCard));
  const more = h('button', { type: 'button', class: 'secondary' }, 'Show more');
  let cursor = first.nextCursor;
  more.hidden = !cursor;
  more.addEventListener('click', () =>
    void act(more, async () => {
      const page = await fetchFlights(query, { cursor: cursor ?? undefined });
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
  const known = loadAirports();
  const from = airportField('From', 'origin', params.origin, known);
  const to = airportField('To', 'destination', params.destination, known);
  const [origin, destination] = [from.input, to.input];
  const date = h('input', { type: 'date', name: 'date', required: true, value: params.date ?? new Date().toISOString().slice(0, 10) });
  const results = h('section');
  const form = h(
    'form',
    { class: 'inline search', role: 'search', 'aria-label': 'Flights' },
    from.element,
    to.element,
    airportOptions(known),
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
