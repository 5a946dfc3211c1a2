import { api, idempotencyKey, serverNow } from '../api';
import { h, money, show } from '../dom';
import { ApiError } from '../errors';
import { watchFlight, type LiveMode, type SeatStatus } from '../live';
import { navigate, type Cleanup, type Page } from '../router';
import { session } from '../session';
import { act, announce, clearMessages, showError, showMessage } from '../ui';
import { forgetHold, keepPicked, ownHolds, rememberHold, takePicked, type OwnHold } from './holds';
import { flightTimes } from '../airports';
import type { Flight } from '../types';
import { bySeat, classLabel, drawSeatMap, type DrawnSeat, type Seat, type SeatMap } from './seatmap';

/**
 * One flight: the live seat map, picking seats, holding them (with a countdown), and the way to each
 * hold's checkout (checkout.ts). Seat statuses come from live.ts (WebSocket, or polling); what is
 * selected and which holds are the caller's own is known only here (holds.ts remembers the holds
 * across reloads).
 */
const MAX_SEATS = 9;
const MODE_TEXT: Record<LiveMode, string> = { connecting: 'Connecting…', live: 'Live', polling: 'Updating every few seconds' };
const CANCELLED = 'This flight has been cancelled; its seats cannot be booked.';

interface SeatMapAnswer {
  version: number;
  seats: Seat[];
}
interface Hold {
  holdId: string;
  flightId: string;
  seats: string[];
  expiresAt: string;
  /** GET /holds/{id} keeps answering for ended holds, with how they ended. */
  status?: 'active' | 'confirmed' | 'released' | 'expired' | 'voided';
  bookingId?: string;
}

const flightPath = (id: string) => `/flights/${encodeURIComponent(id)}`;
const holdPath = (id: string) => `/holds/${encodeURIComponent(id)}`;
const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
const seatList = (ids: string[], word = 'Seat') => `${word}${ids.length === 1 ? '' : 's'} ${[...ids].sort(bySeat).join(', ')}`;

function total(seats: Seat[]): string {
  const sums = new Map<string, number>();
  for (const seat of seats) sums.set(seat.price.currency, (sums.get(seat.price.currency) ?? 0) + seat.price.amount);
  return [...sums].map(([currency, amount]) => money({ amount, currency })).join(' + ');
}

function secondsLeft(hold: OwnHold): number {
  return Math.max(0, Math.ceil((Date.parse(hold.expiresAt) - serverNow()) / 1000));
}

function heldFor(hold: OwnHold): string {
  const left = secondsLeft(hold);
  return `Held for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}

/** After a network error or a 5xx nobody knows whether the hold was made: a retry reuses the key. */
function outcomeUnknown(error: unknown): boolean {
  return !(error instanceof ApiError) || error.problem.status >= 500;
}

/** The hold is gone on the server (expired, released, confirmed elsewhere) or is not this person's. */
function holdGone(error: unknown): boolean {
  return error instanceof ApiError && [403, 404, 410].includes(error.problem.status);
}

class FlightView {
  private readonly seats: Map<string, Seat>;
  private readonly selected = new Set<string>();
  private holds: OwnHold[];
  private version: number;
  private cancelled: boolean;
  private stopped = false;
  private map: SeatMap | undefined;
  /** The last hold request whose outcome is unknown, so pressing the button again repeats it exactly. */
  private retry: { seats: string; key: string } | undefined;
  private readonly timers = new Map<string, HTMLElement>();

  private readonly live = h('p', { class: 'live-mode', 'data-mode': 'connecting' }, MODE_TEXT.connecting);
  private readonly cancelledNote = h('p', { class: 'message error' }, CANCELLED);
  private readonly mapSlot = h('div');
  private readonly holdSection = h('section', { 'aria-labelledby': 'hold-heading' });
  private readonly selectionList = h('ul', { class: 'selection-list' });
  private readonly selectionNote = h('p');
  private readonly holdButton = h('button', { type: 'button' });
  private readonly selectionSection = h(
    'section',
    { 'aria-labelledby': 'selection-heading' },
    h('h2', { id: 'selection-heading' }, 'Your selection'),
    this.selectionList,
    this.selectionNote,
    this.holdButton,
  );

  constructor(
    private readonly main: HTMLElement,
    private readonly flight: Flight,
    answer: SeatMapAnswer,
  ) {
    this.seats = new Map(answer.seats.map((seat) => [seat.id, seat]));
    this.version = answer.version;
    this.cancelled = flight.status === 'cancelled';
    this.holds = session.loggedIn() && !this.cancelled ? ownHolds(flight.id) : [];
    // The seats picked before logging in, those still free.
    if (session.loggedIn() && !this.cancelled) {
      for (const id of takePicked(flight.id).slice(0, MAX_SEATS)) if (this.seats.get(id)?.status === 'available') this.selected.add(id);
    }
    this.holdButton.addEventListener('click', () => this.onHoldButton());
  }

  start(): Cleanup {
    this.render();
    const stop = watchFlight(this.flight.id, {
      snapshot: (statuses, version) => {
        this.version = version;
        if ([...statuses.keys()].some((id) => !this.seats.has(id))) void this.reloadSeats(); // the map changed meanwhile
        this.applyStatuses([...statuses].map(([id, { status }]) => [id, status]));
      },
      changes: (changes, version) => {
        this.version = version;
        this.applyStatuses(changes.map((change) => [change.seat, change.status]));
      },
      seatMapChanged: () => void this.reloadSeats(),
      flightCancelled: () => this.cancel(),
      mode: (mode) => {
        this.live.textContent = MODE_TEXT[mode];
        this.live.dataset.mode = mode;
      },
    });
    const timer = setInterval(() => this.tick(), 1000);
    void this.verifyHolds();
    return () => {
      this.stopped = true;
      stop();
      clearInterval(timer);
    };
  }

  private render(): void {
    const { flightNumber, origin, destination } = this.flight;
    this.cancelledNote.hidden = !this.cancelled;
    show(
      this.main,
      h('h1', {}, `${flightNumber} ${origin} → ${destination}`),
      flightTimes(this.flight),
      this.live,
      this.cancelledNote,
      h(
        'div',
        { class: 'flight-layout' },
        h('section', { 'aria-labelledby': 'seatmap-heading' }, h('h2', { id: 'seatmap-heading' }, 'Seat map'), this.mapSlot),
        h('div', { class: 'flight-side' }, this.holdSection, this.selectionSection),
      ),
    );
    this.drawMap();
    this.renderHolds();
    this.renderSummary();
  }

  // --- the map -------------------------------------------------------------------------------------

  private isMine(id: string): boolean {
    return this.holds.some((hold) => hold.seats.includes(id));
  }

  /** Held or booked by someone else. */
  private taken(id: string): boolean {
    const seat = this.seats.get(id);
    return seat !== undefined && seat.status !== 'available' && !this.isMine(id);
  }

  private drawn(seat: Seat): DrawnSeat {
    return { ...seat, mine: this.isMine(seat.id), selected: this.selected.has(seat.id) };
  }

  private drawMap(): void {
    const focused = this.map?.focusedSeat();
    this.map = drawSeatMap([...this.seats.values()].map((seat) => this.drawn(seat)), { readOnly: this.cancelled, onPick: (id) => this.pick(id) });
    show(this.mapSlot, this.map.element);
    if (focused) this.map.focus(focused);
  }

  private redrawSeat(id: string): void {
    const seat = this.seats.get(id);
    if (seat) this.map?.update(this.drawn(seat));
  }

  private pick(id: string): void {
    const seat = this.seats.get(id);
    if (!seat || this.cancelled) return;
    if (this.selected.has(id)) {
      this.selected.delete(id);
    } else if (this.isMine(id)) {
      showMessage(`Seat ${id} is already in your hold.`);
      return;
    } else if (seat.status !== 'available') {
      showMessage(`Seat ${id} is taken. Pick another seat.`);
      return;
    } else if (this.selected.size >= MAX_SEATS) {
      showMessage(`You can pick at most ${MAX_SEATS} seats at a time.`);
      return;
    } else {
      this.selected.add(id);
    }
    clearMessages();
    this.redrawSeat(id);
    this.renderSummary();
  }

  /**
   * Live statuses onto the map. A seat this person selected that someone else takes stays selected
   * but is marked and announced: they learn it now, and holding anyway gets the API's clear answer.
   */
  private applyStatuses(statuses: [string, SeatStatus][]): void {
    const changed: string[] = [];
    const lost: string[] = [];
    for (const [id, status] of statuses) {
      const seat = this.seats.get(id);
      if (!seat || seat.status === status) continue;
      const wasTaken = this.taken(id);
      seat.status = status;
      this.redrawSeat(id);
      changed.push(id);
      if (this.selected.has(id) && !wasTaken && this.taken(id)) lost.push(id);
    }
    if (changed.some((id) => this.selected.has(id))) this.renderSummary();
    if (lost.length) announce(`${seatList(lost)}, which you selected, ${lost.length === 1 ? 'was' : 'were'} just taken by someone else.`);
  }

  /** GET the seat map again: after a migration (new seats, classes, prices) or when a hold of ours ended. */
  private async reloadSeats(): Promise<void> {
    let answer: SeatMapAnswer;
    try {
      answer = await api<SeatMapAnswer>('GET', `${flightPath(this.flight.id)}/seats`, { auth: false });
    } catch (error) {
      if (!this.stopped) showError(error);
      return;
    }
    if (this.stopped) return;
    const sameLayout =
      answer.seats.length === this.seats.size &&
      answer.seats.every((seat) => {
        const known = this.seats.get(seat.id);
        return known?.class === seat.class && known.price.amount === seat.price.amount && known.price.currency === seat.price.currency;
      });
    // Statuses older than what live.ts already delivered are not applied.
    const fresh = answer.version >= this.version;
    if (fresh) this.version = answer.version;
    if (sameLayout) {
      if (fresh) this.applyStatuses(answer.seats.map((seat) => [seat.id, seat.status]));
      return;
    }
    const known = new Map(this.seats);
    this.seats.clear();
    for (const seat of answer.seats) this.seats.set(seat.id, fresh || !known.has(seat.id) ? seat : { ...seat, status: known.get(seat.id)!.status });
    const gone = [...this.selected].filter((id) => !this.seats.has(id));
    for (const id of gone) this.selected.delete(id);
    this.drawMap();
    this.renderSummary();
    const unselected = gone.length === 1 ? 'no longer exists and was unselected' : 'no longer exist and were unselected';
    announce(gone.length ? `The seat map changed. ${seatList(gone)} ${unselected}.` : 'The seat map changed.');
  }

  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    // Cancelling a flight ends its holds on the server.
    for (const hold of this.holds) forgetHold(this.flight.id, hold.holdId);
    this.holds = [];
    this.selected.clear();
    this.cancelledNote.hidden = false;
    this.drawMap();
    this.renderHolds();
    this.renderSummary();
    showMessage(CANCELLED);
  }

  // --- selection and holding -------------------------------------------------------------------------

  private renderSummary(): void {
    const seats = [...this.selected].sort(bySeat).flatMap((id) => this.seats.get(id) ?? []);
    this.selectionSection.hidden = this.cancelled;
    show(
      this.selectionList,
      seats.map((seat) =>
        h(
          'li',
          {},
          `${seat.id} · ${classLabel(seat.class)} · ${money(seat.price)}`,
          this.taken(seat.id) && h('span', { class: 'taken' }, ' — taken by someone else'),
        ),
      ),
    );
    this.selectionList.hidden = seats.length === 0;
    show(this.selectionNote, seats.length ? `Total: ${total(seats)}` : 'No seats selected yet. Pick available seats on the map.');
    if (!session.loggedIn()) {
      this.holdButton.textContent = 'Log in to hold seats';
      this.holdButton.disabled = false;
    } else {
      this.holdButton.textContent = seats.length ? `Hold ${plural(seats.length, 'seat')}` : 'Hold seats';
      this.holdButton.disabled = seats.length === 0;
    }
  }

  private onHoldButton(): void {
    if (!session.loggedIn()) {
      keepPicked(this.flight.id, [...this.selected]);
      navigate(`/login?next=/flights/${encodeURIComponent(this.flight.id)}`);
      return;
    }
    void act(this.holdButton, () => this.hold()).then(() => this.renderSummary());
  }

  private async hold(): Promise<void> {
    const seats = [...this.selected].sort(bySeat);
    const request = seats.join(',');
    const key = this.retry?.seats === request ? this.retry.key : idempotencyKey();
    this.retry = { seats: request, key };
    let hold: Hold;
    try {
      hold = await api<Hold>('POST', `${flightPath(this.flight.id)}/holds`, { body: { seats }, idempotencyKey: key });
    } catch (error) {
      if (!outcomeUnknown(error)) this.retry = undefined;
      throw error;
    }
    this.retry = undefined;
    const own: OwnHold = { holdId: hold.holdId, flightId: this.flight.id, seats: hold.seats, expiresAt: hold.expiresAt };
    rememberHold(own);
    if (this.stopped) return;
    this.holds.push(own);
    for (const id of hold.seats) this.selected.delete(id);
    this.applyStatuses(hold.seats.map((id) => [id, 'held']));
    for (const id of hold.seats) this.redrawSeat(id);
    this.renderHolds();
    this.holdSection.querySelector<HTMLElement>('h2')?.focus();
    showMessage(`${seatList(hold.seats)} ${hold.seats.length === 1 ? 'is' : 'are'} held for you. Check out before the time runs out.`);
  }

  // --- the caller's holds ----------------------------------------------------------------------------

  private renderHolds(): void {
    this.timers.clear();
    this.holdSection.hidden = this.holds.length === 0;
    show(
      this.holdSection,
      this.holds.length > 0 && h('h2', { id: 'hold-heading', tabindex: -1 }, this.holds.length === 1 ? 'Your hold' : 'Your holds'),
      this.holds.map((hold) => this.holdView(hold)),
    );
  }

  private holdView(hold: OwnHold): HTMLElement {
    const timer = h('p', { role: 'timer', class: 'hold-timer' }, heldFor(hold));
    this.timers.set(hold.holdId, timer);
    // Passengers, contact and payment are the checkout page's (checkout.ts).
    const checkout = h('a', { class: 'button', href: `#/holds/${encodeURIComponent(hold.holdId)}/checkout` }, 'Check out');
    const release = h('button', { type: 'button', class: 'secondary' }, 'Release hold');
    release.addEventListener('click', () => void act(release, () => this.release(hold)));
    const seats = hold.seats.flatMap((id) => this.seats.get(id) ?? []);
    return h('div', { class: 'hold' }, h('p', {}, seatList(hold.seats), seats.length > 0 && ` · Total: ${total(seats)}`), timer, h('div', { class: 'actions' }, checkout, release));
  }

  /** Every second: the countdowns, and holds whose time is up end here (the API frees their seats by itself). */
  private tick(): void {
    for (const hold of [...this.holds]) {
      if (secondsLeft(hold) > 0) {
        this.timers.get(hold.holdId)?.replaceChildren(heldFor(hold));
        continue;
      }
      this.dropHold(hold);
      showMessage(`Your hold expired: ${seatList(hold.seats, 'seat')} ${hold.seats.length === 1 ? 'was' : 'were'} released. Pick your seats again.`);
      void this.reloadSeats();
    }
  }

  private dropHold(hold: OwnHold): void {
    const hadFocus = this.holdSection.contains(document.activeElement);
    this.holds = this.holds.filter((kept) => kept.holdId !== hold.holdId);
    forgetHold(this.flight.id, hold.holdId);
    for (const id of hold.seats) this.redrawSeat(id);
    this.renderHolds();
    // The focused button is gone: continue on the map, at the seat that was released.
    if (hadFocus && hold.seats[0]) this.map?.focus(hold.seats[0]);
  }

  private async release(hold: OwnHold): Promise<void> {
    try {
      await api('DELETE', holdPath(hold.holdId));
    } catch (error) {
      if (holdGone(error)) this.dropHold(hold);
      throw error;
    }
    this.dropHold(hold);
    showMessage(`Your hold was released: ${seatList(hold.seats, 'seat')} ${hold.seats.length === 1 ? 'is' : 'are'} free again.`);
    void this.reloadSeats();
  }

  /** After a reload: forget remembered holds the API no longer has (released elsewhere, confirmed, expired). */
  private async verifyHolds(): Promise<void> {
    for (const hold of [...this.holds]) {
      try {
        const current = await api<Hold>('GET', holdPath(hold.holdId));
        if (this.stopped) return;
        if (current.status !== undefined && current.status !== 'active') {
          this.dropHold(hold);
          // A confirm whose answer was lost (a reload, a dropped connection) still made the booking.
          if (current.status === 'confirmed' && current.bookingId) showMessage(`${seatList(hold.seats)} ${hold.seats.length === 1 ? 'is' : 'are'} already booked: see booking ${current.bookingId} in My bookings.`);
          continue;
        }
        if (current.expiresAt === hold.expiresAt) continue;
        hold.expiresAt = current.expiresAt;
        rememberHold(hold);
      } catch (error) {
        if (!this.stopped && holdGone(error)) this.dropHold(hold);
      }
    }
  }
}

export const flightPage: Page = async (main, params) => {
  const flightId = params.flightId ?? '';
  show(main, h('p', { class: 'muted' }, 'Loading the flight…'));
  let flight: Flight;
  let seats: SeatMapAnswer;
  try {
    [flight, seats] = await Promise.all([
      api<Flight>('GET', flightPath(flightId), { auth: false }),
      api<SeatMapAnswer>('GET', `${flightPath(flightId)}/seats`, { auth: false }),
    ]);
  } catch (error) {
    // No such flight, or the API cannot answer now (an outage: the sentence says when to try again).
    const missing = error instanceof ApiError && error.problem.status === 404;
    const retry = h('button', { type: 'button', class: 'secondary' }, 'Try again');
    retry.addEventListener('click', () => location.reload());
    show(main, h('h1', {}, missing ? 'Flight not found' : 'The flight could not be loaded'), h('p', { class: 'actions' }, missing ? false : retry, h('a', { href: '#/' }, 'Search flights')));
    showError(error);
    return;
  }
  return new FlightView(main, flight, seats).start();
};
