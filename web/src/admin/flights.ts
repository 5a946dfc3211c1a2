import { api } from '../api';
import { dateTime, field, h, show } from '../dom';
import { navigate, type Page, type Params } from '../router';
import { announce, onSubmit, requireAdmin, showError, showMessage } from '../ui';
import { adminHeading, formProblem, section, showMoreButton } from './nav';
import { airportInput, flightFields, flightPath, sent, statusBadge } from './flight-fields';
import { layoutFieldset, seatsOrProblem } from './seatmap-editor';
import type { Flight, List } from '../types';

/** The admin's flights page: find a flight to manage, or create one with a generated seat map. */

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
  const first = await api<List<Flight>>('GET', listPath());
  const list = h('ul', { class: 'cards', tabindex: -1, 'aria-label': 'Flights found' }, first.items.map(flightCard));
  const route = `${query.get('origin')} to ${query.get('destination')} on ${query.get('date')}`;
  const summary = first.items.length === 0 ? `No flights from ${route}.` : `Flights from ${route}:`;
  const more = showMoreButton(first.nextCursor, list, async (cursor) => {
    const page = await api<List<Flight>>('GET', listPath(cursor));
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
