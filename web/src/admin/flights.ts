import { api } from '../api';
import { dateTime, field, h, show } from '../dom';
import { navigate, type Page, type Params } from '../router';
import { announce, onSubmit, requireAdmin, showError, showMessage } from '../ui';
import { adminHeading, formProblem, section, showMoreButton } from './nav';
import { layoutFieldset, seatsOrProblem } from './seatmap-editor';

/**
 * The admin's flights page: find a flight to manage, or create one with a generated seat map. The
 * flight's fields (number, airports, UTC times) are built here and reused by the flight page's edit form.
 */

export interface Flight {
  id: string;
  flightNumber: string;
  origin: string;
  destination: string;
  departureTime: string;
  arrivalTime: string;
  status: 'scheduled' | 'cancelled';
  seatMapVersion: number;
  createdAt: string;
  updatedAt: string;
}

type FlightDetails = Pick<Flight, 'flightNumber' | 'origin' | 'destination' | 'departureTime' | 'arrivalTime'>;

interface FlightList {
  items: Flight[];
  nextCursor: string | null;
}

export const flightPath = (flightId: string) => `/admin/flights/${encodeURIComponent(flightId)}`;

/** The status as a word (the colour only repeats it). */
export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status}` }, status);
}

/** An IATA airport code input; the API wants upper case, the CSS shows it so while typing. */
function airportInput(value = ''): HTMLInputElement {
  return h('input', { type: 'text', required: true, value, pattern: '[A-Za-z]{3}', maxlength: 3, autocomplete: 'off', spellcheck: 'false', class: 'upper' });
}

// datetime-local has no zone: these pages read and write its value as UTC ("2026-12-24T10:30" ↔ ISO with Z).
const toInputTime = (iso: string) => new Date(iso).toISOString().slice(0, 16);
const fromInputTime = (value: string) => new Date(`${value}Z`).toISOString();

const DETAIL_FIELDS: { key: keyof FlightDetails; label: string; hint: string; input: () => HTMLInputElement }[] = [
  {
    key: 'flightNumber',
    label: 'Flight number',
    hint: 'Like BA117.',
    input: () => h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9]{2}[0-9]{1,4}[A-Za-z]?', maxlength: 7, autocomplete: 'off', spellcheck: 'false', class: 'upper' }),
  },
  { key: 'origin', label: 'From', hint: 'Airport code, like LHR.', input: () => airportInput() },
  { key: 'destination', label: 'To', hint: 'Airport code, like JFK.', input: () => airportInput() },
  { key: 'departureTime', label: 'Departure (UTC)', hint: 'Date and time in UTC.', input: () => h('input', { type: 'datetime-local', required: true }) },
  { key: 'arrivalTime', label: 'Arrival (UTC)', hint: 'Date and time in UTC.', input: () => h('input', { type: 'datetime-local', required: true }) },
];

const isTime = (key: keyof FlightDetails) => key === 'departureTime' || key === 'arrivalTime';
const shown = (key: keyof FlightDetails, value: string) => (isTime(key) ? toInputTime(value) : value);
const sent = (key: keyof FlightDetails, value: string) => (isTime(key) ? fromInputTime(value) : value.trim().toUpperCase());

/**
 * The five flight fields, prefilled from `flight` when editing. `changes(since)` answers only the fields
 * whose value differs from `since`, compared as sent to the API (so "lhr" equals "LHR").
 */
export function flightFields(flight?: FlightDetails): {
  fields: HTMLElement[];
  read: () => FlightDetails;
  changes: (since: FlightDetails) => Partial<FlightDetails>;
} {
  const inputs = DETAIL_FIELDS.map((spec) => {
    const input = spec.input();
    if (flight) input.value = shown(spec.key, flight[spec.key]);
    return { spec, input };
  });
  const entries = () => inputs.map(({ spec, input }) => [spec.key, sent(spec.key, input.value)] as const);
  return {
    fields: inputs.map(({ spec, input }) => field(spec.label, input, spec.hint)),
    read: () => Object.fromEntries(entries()) as FlightDetails,
    changes: (since) => Object.fromEntries(entries().filter(([key, value]) => value !== sent(key, shown(key, since[key])))),
  };
}

function flightCard(flight: Flight): HTMLElement {
  return h(
    'li',
    { class: 'card' },
    h('p', {}, h('strong', {}, `${flight.flightNumber} ${flight.origin} → ${flight.destination}`), ' ', statusBadge(flight.status)),
    h('p', {}, `Departs ${dateTime(flight.departureTime)}, arrives ${dateTime(flight.arrivalTime)}.`),
    h('a', { href: `#${flightPath(flight.id)}` }, `Manage ${flight.flightNumber}`),
  );
}

async function findFlights(query: URLSearchParams, results: HTMLElement): Promise<void> {
  const listPath = (cursor?: string) => `/flights?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
  const first = await api<FlightList>('GET', listPath());
  const list = h('ul', { class: 'cards', tabindex: -1, 'aria-label': 'Flights found' }, first.items.map(flightCard));
  const route = `${query.get('origin')} to ${query.get('destination')} on ${query.get('date')}`;
  const summary = first.items.length === 0 ? `No flights from ${route}.` : `Flights from ${route}:`;
  const more = showMoreButton(first.nextCursor, list, async (cursor) => {
    const page = await api<FlightList>('GET', listPath(cursor));
    list.append(...page.items.map(flightCard));
    return page.nextCursor;
  });
  show(results, h('p', {}, summary), first.items.length > 0 && list, more);
  announce(summary);
}

/** The search runs again from the hash's query, so Back from a flight's page shows the same results. */
function searchSection(params: Params): HTMLElement {
  const origin = airportInput(params.origin);
  const destination = airportInput(params.destination);
  const date = h('input', { type: 'date', required: true, value: params.date });
  const results = h('div', { class: 'search-results' });
  const form = h('form', { class: 'inline' }, field('From', origin), field('To', destination), field('Date', date), h('button', { type: 'submit' }, 'Find flights'));
  onSubmit(form, async () => {
    const query = new URLSearchParams({ origin: sent('origin', origin.value), destination: sent('destination', destination.value), date: date.value });
    // replaceState, not navigate: the hash remembers the search without rendering the page again.
    history.replaceState(history.state, '', `#/admin?${query}`);
    await findFlights(query, results);
  });
  if (params.origin && params.destination && params.date) {
    findFlights(new URLSearchParams({ origin: params.origin, destination: params.destination, date: params.date }), results).catch(showError);
  }
  return section('Find flights', form, results);
}

function newFlightSection(): HTMLElement {
  const details = flightFields();
  const layout = layoutFieldset('Seat map');
  const problem = formProblem();
  const form = h('form', {}, details.fields, layout.element, problem.element, h('button', { type: 'submit' }, 'Create flight'));
  onSubmit(form, async () => {
    const seats = seatsOrProblem(problem, layout.seats);
    if (!seats) return;
    const flight = await api<Flight>('POST', '/flights', { body: { ...details.read(), seatMap: { seats } } });
    navigate(flightPath(flight.id));
    showMessage(`Flight ${flight.flightNumber} created.`);
  });
  return section('New flight', form);
}

export const adminFlightsPage: Page = (main, params) => {
  if (!requireAdmin(main)) return;
  adminHeading(main, 'Admin: flights');
  main.append(searchSection(params), newFlightSection());
};
