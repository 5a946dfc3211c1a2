import { api } from '../api';
import { dateTime, h, money, show } from '../dom';
import { ApiError } from '../errors';
import type { Page } from '../router';
import { act, requireLogin, showError, showMessage, twoStepAction } from '../ui';
import { flightTimes } from './search';
import type { Flight, List } from '../types';

/**
 * The caller's bookings, one booking's page, and cancelling. Cancelling takes a second click on
 * "Really cancel?" instead of a browser dialog, so keyboard users and tests need no dialog handling.
 */
interface Booking {
  bookingId: string;
  flightId: string;
  seats: { id: string; class: string; price: { amount: number; currency: string } }[];
  status: 'confirmed' | 'cancelled' | 'flight_cancelled';
  createdAt: string;
}

/** "1A (economy, $120.00), 1B (economy, $120.00)": the booking's seats as they were bought. */
const seatsText = (booking: Booking) => booking.seats.map((seat) => `${seat.id} (${seat.class}, ${money(seat.price)})`).join(', ');

const STATUS_TEXT: Record<Booking['status'], string> = {
  confirmed: 'Confirmed',
  cancelled: 'Cancelled',
  flight_cancelled: 'Cancelled by the airline (the flight was cancelled)',
};

const bookingPath = (id: string) => `/bookings/${encodeURIComponent(id)}`;

/** A booking's flight, or undefined when it cannot be fetched (the booking is then shown by flight id). */
function fetchFlight(flightId: string): Promise<Flight | undefined> {
  return api<Flight>('GET', `/flights/${encodeURIComponent(flightId)}`, { auth: false }).catch(() => undefined);
}

function flightName(flight: Flight | undefined, flightId: string): string {
  return flight ? `${flight.flightNumber} ${flight.origin} → ${flight.destination}` : `Flight ${flightId}`;
}

/** "Cancel booking", then "Really cancel?" / "Keep"; `done` gets the cancelled booking. */
function cancelControl(booking: Booking, done: (cancelled: Booking) => void): HTMLElement {
  return twoStepAction({ ask: 'Cancel booking', really: 'Really cancel?', keep: 'Keep' }, () => cancelBooking(booking, done));
}

async function cancelBooking(booking: Booking, done: (cancelled: Booking) => void): Promise<void> {
  try {
    done(await api<Booking>('DELETE', bookingPath(booking.bookingId)));
  } catch (error) {
    // Cancelled meanwhile (another tab, an admin): show it as it is, with the API's sentence.
    if (error instanceof ApiError && error.code === 'ALREADY_CANCELLED') done({ ...booking, status: 'cancelled' });
    throw error;
  }
  showMessage('Your booking is cancelled. Its seats are free again.');
}

function bookingCard(booking: Booking, flight: Flight | undefined): HTMLElement {
  const card: HTMLElement = h(
    'li',
    { class: 'card' },
    h('h2', {}, flightName(flight, booking.flightId)),
    flight && flightTimes(flight),
    h('p', {}, `Seats: ${seatsText(booking)}`),
    h('p', {}, 'Status: ', h('strong', {}, STATUS_TEXT[booking.status])),
    h(
      'div',
      { class: 'actions' },
      h('a', { href: `#${bookingPath(booking.bookingId)}` }, 'View booking'),
      booking.status === 'confirmed' &&
        cancelControl(booking, (cancelled) => {
          const updated = bookingCard(cancelled, flight);
          card.replaceWith(updated);
          updated.querySelector('a')?.focus();
        }),
    ),
  );
  return card;
}

export const bookingsPage: Page = async (main) => {
  if (!requireLogin()) return;
  // Many bookings share a flight: fetch each flight once per page view.
  const flights = new Map<string, Promise<Flight | undefined>>();
  const flightOf = (flightId: string) => {
    if (!flights.has(flightId)) flights.set(flightId, fetchFlight(flightId));
    return flights.get(flightId)!;
  };
  const list = h('ul', { class: 'cards' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show more');
  let cursor: string | null = null;
  const load = async () => {
    const page = await api<List<Booking>>('GET', `/bookings${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
    const cards = await Promise.all(page.items.map(async (booking) => bookingCard(booking, await flightOf(booking.flightId))));
    list.append(...cards);
    cursor = page.nextCursor;
    more.hidden = !cursor;
    return cards;
  };
  more.addEventListener('click', () =>
    void act(more, async () => {
      const cards = await load();
      cards[0]?.querySelector('a')?.focus();
    }),
  );
  show(main, h('h1', {}, 'My bookings'), list, more);
  try {
    if ((await load()).length === 0) list.replaceWith(h('p', {}, 'You have no bookings yet. ', h('a', { href: '#/' }, 'Search flights')));
  } catch (error) {
    showError(error);
  }
};

export const bookingPage: Page = async (main, params) => {
  if (!requireLogin()) return;
  let booking: Booking;
  try {
    booking = await api<Booking>('GET', bookingPath(params.bookingId ?? ''));
  } catch (error) {
    show(main, h('h1', {}, 'Booking'), h('p', {}, h('a', { href: '#/bookings' }, 'All your bookings')));
    showError(error);
    return;
  }
  const flight = await fetchFlight(booking.flightId);
  const render = (booking: Booking) =>
    show(
      main,
      h('h1', { tabindex: -1 }, booking.status === 'confirmed' ? 'Booking confirmed' : 'Booking'),
      h(
        'dl',
        {},
        h('dt', {}, 'Booking number'),
        h('dd', {}, booking.bookingId),
        h('dt', {}, 'Flight'),
        h('dd', {}, flightName(flight, booking.flightId), flight && flightTimes(flight)),
        h('dt', {}, 'Seats'),
        h('dd', {}, seatsText(booking)),
        h('dt', {}, 'Status'),
        h('dd', {}, STATUS_TEXT[booking.status]),
        h('dt', {}, 'Booked'),
        h('dd', {}, dateTime(booking.createdAt)),
      ),
      booking.status === 'confirmed' &&
        cancelControl(booking, (cancelled) => {
          render(cancelled);
          main.querySelector('h1')?.focus();
        }),
      h('p', {}, h('a', { href: '#/bookings' }, 'All your bookings')),
    );
  render(booking);
};
