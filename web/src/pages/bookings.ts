import { api } from '../api';
import { dateTime, h, money, show } from '../dom';
import { ApiError } from '../errors';
import type { Page } from '../router';
import { act, requireLogin, showError, showMessage, twoStepAction } from '../ui';
import { flightTimes } from '../airports';
import type { Money } from '../money';
import type { Flight, List } from '../types';

/**
 * The caller's bookings, one booking's page, and cancelling; the booking's summary (reference,
 * passengers with their seats and ticket numbers, what was paid and refunded) is shared with the
 * public "Manage booking" page (manage.ts). Cancelling takes a second click on "Really cancel?"
 * instead of a browser dialog, so keyboard users and tests need no dialog handling.
 */
export interface Booking {
  bookingId: string;
  /** The record locator travellers quote (6 characters). */
  reference?: string;
  flightId: string;
  seats: { id: string; class: string; price: Money }[];
  passengers?: { seat: string; firstName: string; lastName: string; ticketNumber: string }[];
  total?: Money;
  payment?: { provider: string; paymentId: string; status: 'succeeded' | 'refund_pending' | 'refunded'; refundedAt?: string };
  /** Where the booking's emails go (left out by the public "Manage booking" look-up). */
  contact?: { email: string; phone?: string };
  status: 'confirmed' | 'cancelled' | 'flight_cancelled';
  createdAt: string;
}

/** "1A (economy, $120.00), 1B (economy, $120.00)": the booking's seats as they were bought. */
const seatsText = (booking: Booking) => booking.seats.map((seat) => `${seat.id} (${seat.class}, ${money(seat.price)})`).join(', ');

/** "Ann Lee (1A, ticket 0012345678901)": who flies in which seat. */
const passengersText = (booking: Booking) =>
  booking.passengers?.map((p) => `${p.firstName} ${p.lastName} (${p.seat}, ticket ${p.ticketNumber})`).join(', ') ?? '';

/** What was paid: the booking's total, else its seats' prices. */
function paid(booking: Booking): Money | undefined {
  if (booking.total) return booking.total;
  const currency = booking.seats[0]?.price.currency;
  return currency ? { amount: booking.seats.reduce((sum, seat) => sum + seat.price.amount, 0), currency } : undefined;
}

/** "Refund pending", "Refunded on 7 Dec 2026, 12:00 UTC", or nothing when nothing is refunded. */
function refundText(booking: Booking): string | undefined {
  if (booking.payment?.status === 'refund_pending') return 'Refund pending';
  if (booking.payment?.status === 'refunded') return booking.payment.refundedAt ? `Refunded on ${dateTime(booking.payment.refundedAt)}` : 'Refunded';
  return undefined;
}

/** "$200.00", "$200.00 · Refund pending". */
function paymentText(booking: Booking): string {
  const amount = paid(booking);
  return [amount ? money(amount) : '', refundText(booking)].filter(Boolean).join(' · ');
}

/** The booking's reference, shown large: the one thing a traveller needs to quote. */
function referenceBlock(booking: Booking): HTMLElement | false {
  return (
    !!booking.reference &&
    h('p', { class: 'reference' }, h('span', { class: 'reference-label' }, 'Booking reference'), ' ', h('strong', { class: 'reference-code' }, booking.reference))
  );
}

/**
 * The booking as its traveller reads it: reference, flight, passengers (seat and ticket number),
 * amount paid and refund, status; the API's booking id only when there is no reference (an older booking).
 */
export function bookingSummary(booking: Booking, flight: Flight | undefined): HTMLElement[] {
  const passengers = booking.passengers ?? [];
  const seatClass = new Map(booking.seats.map((seat) => [seat.id, seat.class]));
  const refund = refundText(booking);
  const amount = paid(booking);
  const parts: (HTMLElement | false)[] = [
    referenceBlock(booking),
    h(
      'dl',
      { class: 'summary' },
      !booking.reference && [h('dt', {}, 'Booking number'), h('dd', {}, booking.bookingId)],
      h('dt', {}, 'Flight'),
      h('dd', {}, flightName(flight, booking.flightId), flight && flightTimes(flight)),
      passengers.length === 0 && [h('dt', {}, 'Seats'), h('dd', {}, seatsText(booking))],
      h('dt', {}, 'Status'),
      h('dd', {}, STATUS_TEXT[booking.status]),
      amount && [h('dt', {}, booking.payment ? 'Amount paid' : 'Total'), h('dd', {}, money(amount))],
      refund && [h('dt', {}, 'Refund'), h('dd', {}, refund)],
      h('dt', {}, 'Booked'),
      h('dd', {}, dateTime(booking.createdAt)),
    ),
    passengers.length > 0 &&
      h(
        'table',
        { class: 'passengers' },
        h('caption', {}, 'Passengers'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Passenger'), h('th', { scope: 'col' }, 'Seat'), h('th', { scope: 'col' }, 'Ticket number'))),
        h(
          'tbody',
          {},
          passengers.map((p) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, `${p.firstName} ${p.lastName}`),
              h('td', {}, p.seat, seatClass.has(p.seat) && ` (${seatClass.get(p.seat)})`),
              h('td', { class: 'ticket-number' }, p.ticketNumber),
            ),
          ),
        ),
      ),
  ];
  return parts.filter((part): part is HTMLElement => part !== false);
}

const STATUS_TEXT: Record<Booking['status'], string> = {
  confirmed: 'Confirmed',
  cancelled: 'Cancelled',
  flight_cancelled: 'Cancelled by the airline (the flight was cancelled)',
};

const bookingPath = (id: string) => `/bookings/${encodeURIComponent(id)}`;

/** A booking's flight, or undefined when it cannot be fetched (the booking is then shown by flight id). */
export function fetchFlight(flightId: string): Promise<Flight | undefined> {
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
  const amount = paid(booking);
  showMessage(`Your booking is cancelled. Its seats are free again.${booking.payment && amount ? ` ${money(amount)} will be refunded to the card you paid with.` : ''}`);
}

function bookingCard(booking: Booking, flight: Flight | undefined): HTMLElement {
  const card: HTMLElement = h(
    'li',
    { class: 'card' },
    h('h2', {}, flightName(flight, booking.flightId)),
    referenceBlock(booking),
    flight && flightTimes(flight),
    booking.passengers?.length ? h('p', {}, `Passengers: ${passengersText(booking)}`) : h('p', {}, `Seats: ${seatsText(booking)}`),
    h('p', {}, 'Status: ', h('strong', {}, STATUS_TEXT[booking.status])),
    h('p', {}, booking.payment ? 'Paid: ' : 'Total: ', paymentText(booking)),
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

/** Where the booking's confirmation (and any later news of it) was emailed: the checkout lands here after paying. */
function emailedTo(booking: Booking): HTMLElement | false {
  const email = booking.contact?.email;
  if (!email) return false;
  return booking.status === 'confirmed'
    ? h('p', { class: 'emailed' }, 'Confirmation sent to ', h('strong', {}, email))
    : h('p', { class: 'emailed' }, 'Emails about this booking go to ', h('strong', {}, email));
}

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
      bookingSummary(booking, flight),
      emailedTo(booking),
      booking.status === 'confirmed' &&
        cancelControl(booking, (cancelled) => {
          render(cancelled);
          main.querySelector('h1')?.focus();
        }),
      h('p', {}, h('a', { href: '#/bookings' }, 'All your bookings')),
    );
  render(booking);
};
