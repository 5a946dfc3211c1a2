import { api, idempotencyKey, serverNow } from '../api';
import { h, money, show } from '../dom';
import { ApiError, UserError } from '../errors';
import { emailProblem, Field, FormCheck } from '../field';
import type { Money } from '../money';
import { navigate, type Cleanup, type Page } from '../router';
import { session, type User } from '../session';
import { stripeConfig, mountCard, type CardForm } from '../stripe';
import type { Flight } from '../types';
import { act, announce, requireLogin, showError, showMessage } from '../ui';
import { forgetHold, ownHold, rememberHold, type OwnHold, type PendingPayment } from './holds';
import { flightTimes } from '../airports';
import { bySeat, classLabel, type Seat } from './seatmap';

/**
 * The checkout of one hold (`#/holds/<holdId>/checkout`): a passenger per held seat, the contact, the
 * total and the payment, while the hold's countdown runs. Paying is `POST /holds/{id}/confirm`; a
 * payment attempt has its own Idempotency-Key, reused only when the attempt is sent again after an
 * answer that never came (a network error, a 5xx), and remembered with the hold (holds.ts) so that even
 * a reload retries the same request. A declined card leaves the hold as it was: the sentence says why
 * and another card is a new attempt (a new key).
 *
 * Payment methods: the payment provider's test cards by name (locally and in the tests), or Stripe's
 * card element when the page carries a publishable key (stripe.ts). A total of 0 sends none.
 */

interface Hold {
  holdId: string;
  flightId: string;
  seats: string[];
  total?: Money;
  expiresAt: string;
  status?: 'active' | 'confirmed' | 'released' | 'expired' | 'voided';
  bookingId?: string;
}
interface SeatMapAnswer {
  seats: Seat[];
}
interface Passenger {
  seat: string;
  firstName: string;
  lastName: string;
}
interface Details {
  passengers: Passenger[];
  contact: { email: string; phone?: string };
}
interface Booking {
  bookingId: string;
}

/** The provider's documented test payment methods (../shared/API.md, Checkout). */
const TEST_CARDS: [label: string, paymentMethod: string][] = [
  ['Visa (succeeds)', 'pm_card_visa'],
  ['Mastercard (succeeds)', 'pm_card_mastercard'],
  ['Declined card', 'pm_card_chargeDeclined'],
  ['Insufficient funds', 'pm_card_chargeDeclinedInsufficientFunds'],
  ['Expired card', 'pm_card_chargeDeclinedExpiredCard'],
  ['Needs authentication', 'pm_card_authenticationRequired'],
];

// The API's rules (API.md): names of 1–50 letters of any script, spaces, - and '; a phone of digits.
const NAME = /^[\p{L}\p{M}][\p{L}\p{M} '’-]*$/u;
const PHONE = /^\+?[0-9 ()-]{5,20}$/;

const holdPath = (id: string) => `/holds/${encodeURIComponent(id)}`;
const flightHash = (id: string) => `#/flights/${encodeURIComponent(id)}`;

function nameProblem(value: string, which: string): string | undefined {
  if (!value) return `Enter the ${which}.`;
  if (value.length > 50) return `The ${which} can have at most 50 characters.`;
  if (!NAME.test(value)) return `Use letters, spaces, hyphens (-) and apostrophes (') only.`;
  return undefined;
}

/** After a network error or a 5xx nobody knows whether the payment went through: a retry reuses the key. */
function outcomeUnknown(error: unknown): boolean {
  return !(error instanceof ApiError) || error.problem.status >= 500;
}

class Checkout {
  private readonly own: OwnHold;
  private readonly names = new Map<string, { first: Field; last: Field }>();
  private readonly email: Field;
  private readonly phone: Field;
  private readonly cards: HTMLInputElement[] = [];
  private readonly paymentError = h('p', { class: 'field-error', id: 'payment-error', hidden: true });
  private readonly paymentGroup = h('fieldset', { class: 'payment-choice', 'aria-describedby': 'payment-error', tabindex: -1 });
  private readonly timer = h('p', { role: 'timer', class: 'hold-timer' });
  private readonly form = h('form', { class: 'checkout', novalidate: true });
  private readonly submit = h('button', { type: 'submit' });
  private readonly stripe = stripeConfig();
  private card: CardForm | undefined;
  private paying = false;
  private ended = false;
  private warned = false;
  private checking = false;

  constructor(
    private readonly main: HTMLElement,
    private readonly hold: Hold,
    private readonly flight: Flight | undefined,
    private readonly seats: Map<string, Seat>,
    email: string,
  ) {
    // The tab remembers its holds (with a payment whose answer never came); a hold opened here from
    // another tab or a link is remembered from now on, so the flight page shows it too.
    this.own = ownHold(hold.flightId, hold.holdId) ?? { holdId: hold.holdId, flightId: hold.flightId, seats: hold.seats, expiresAt: hold.expiresAt };
    this.own.expiresAt = hold.expiresAt;
    rememberHold(this.own);
    this.email = new Field(h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, maxlength: 254, value: email }), 'Email', 'The booking confirmation is sent here.');
    this.phone = new Field(h('input', { type: 'tel', name: 'phone', autocomplete: 'tel', maxlength: 20 }), 'Phone (optional)', 'With the country code, e.g. +44 20 7946 0958.');
  }

  private get total(): Money | undefined {
    if (this.hold.total) return this.hold.total;
    // An API without the hold's total: the sum of the seats' prices (one currency per flight).
    const prices = this.hold.seats.map((id) => this.seats.get(id)?.price);
    if (prices.some((price) => !price)) return undefined;
    return { amount: prices.reduce((sum, price) => sum + price!.amount, 0), currency: prices[0]!.currency };
  }

  /** Nothing to pay: the confirm goes without a payment method. */
  private get free(): boolean {
    return this.total?.amount === 0;
  }

  start(): Cleanup {
    this.render();
    this.tick();
    const interval = setInterval(() => this.tick(), 1000);
    if (this.stripe && !this.free) void this.mountStripe();
    return () => {
      clearInterval(interval);
      this.card?.destroy();
    };
  }

  private secondsLeft(): number {
    return Math.max(0, Math.ceil((Date.parse(this.hold.expiresAt) - serverNow()) / 1000));
  }

  private render(): void {
    const seats = [...this.hold.seats].sort(bySeat);
    const total = this.total;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (this.paying || this.ended) return;
      void act(this.form, () => this.pay());
    });
    this.submit.textContent = this.free ? 'Confirm booking' : total ? `Pay ${money(total)}` : 'Pay';
    show(
      this.form,
      h('h2', {}, seats.length === 1 ? 'Passenger' : 'Passengers'),
      h('p', { class: 'muted' }, 'Names as they appear on the passport or ID each passenger travels with.'),
      seats.map((id, index) => this.passengerFieldset(id, index)),
      h('h2', {}, 'Contact'),
      h('fieldset', {}, h('legend', {}, 'Contact details'), this.email.element, this.phone.element),
      h('h2', {}, 'Payment'),
      h('p', { class: 'total' }, 'Total: ', h('strong', {}, total ? money(total) : 'unknown')),
      this.free ? h('p', {}, 'There is nothing to pay for these seats.') : this.paymentChoice(),
      h('div', { class: 'actions' }, this.submit, h('a', { href: flightHash(this.hold.flightId) }, 'Back to the seat map')),
    );
    show(
      this.main,
      h('h1', {}, 'Checkout'),
      this.flight && h('p', { class: 'flight-name' }, `${this.flight.flightNumber} ${this.flight.origin} → ${this.flight.destination}`),
      this.flight && flightTimes(this.flight),
      h('p', {}, `Seat${seats.length === 1 ? '' : 's'} ${seats.join(', ')}`),
      this.timer,
      this.form,
    );
  }

  private passengerFieldset(seatId: string, index: number): HTMLElement {
    const seat = this.seats.get(seatId);
    const prefix = h('span', { class: 'visually-hidden' }, `Seat ${seatId} — `);
    // The first passenger's fields may be the account holder's: the browser may fill them; not the others'.
    const autocomplete = (kind: string) => (index === 0 ? kind : 'off');
    const first = new Field(h('input', { name: `firstName-${seatId}`, autocomplete: autocomplete('given-name'), maxlength: 50, required: true }), [prefix, 'First name']);
    const last = new Field(h('input', { name: `lastName-${seatId}`, autocomplete: autocomplete('family-name'), maxlength: 50, required: true }), [prefix.cloneNode(true), 'Last name']);
    this.names.set(seatId, { first, last });
    return h(
      'fieldset',
      { class: 'passenger' },
      h('legend', {}, `Seat ${seatId}`, seat && ` · ${classLabel(seat.class)} · ${money(seat.price)}`),
      h('div', { class: 'name-fields' }, first.element, last.element),
    );
  }

  private paymentChoice(): HTMLElement {
    if (this.stripe) {
      show(this.paymentGroup, h('legend', {}, 'Card'), h('div', { class: 'card-element', id: 'card-element' }, h('p', { class: 'muted' }, 'Loading the card form…')), this.paymentError);
      return this.paymentGroup;
    }
    const choices = TEST_CARDS.map(([label, paymentMethod]) => {
      const radio = h('input', { type: 'radio', name: 'paymentMethod', value: paymentMethod, id: `card-${paymentMethod}` });
      radio.addEventListener('change', () => this.setPaymentError(undefined));
      this.cards.push(radio);
      return h('div', { class: 'choice' }, radio, h('label', { for: radio.id }, label));
    });
    show(
      this.paymentGroup,
      h('legend', {}, 'Card'),
      h('p', { class: 'muted', id: 'payment-hint' }, 'A test environment: choose one of the payment provider’s test cards. No money moves.'),
      choices,
      this.paymentError,
    );
    this.paymentGroup.setAttribute('aria-describedby', 'payment-hint payment-error');
    return this.paymentGroup;
  }

  private async mountStripe(): Promise<void> {
    const target = this.paymentGroup.querySelector<HTMLElement>('#card-element')!;
    try {
      target.replaceChildren();
      this.card = await mountCard(this.stripe!, target, (message) => this.setPaymentError(message || undefined));
    } catch {
      show(target, h('p', {}, 'The card form could not be loaded. Reload the page to try again.'));
    }
  }

  private setPaymentError(message: string | undefined): void {
    this.paymentError.hidden = !message;
    this.paymentError.textContent = message ?? '';
  }

  // --- the countdown ----------------------------------------------------------------------------------

  private tick(): void {
    if (this.ended) return;
    const left = this.secondsLeft();
    this.timer.textContent = `Held for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    if (left <= 60 && left > 0 && !this.warned) {
      this.warned = true;
      announce('One minute left to complete the checkout before your hold expires.');
    }
    // A hold cannot expire while its payment is in flight: the answer decides then.
    if (left === 0 && !this.paying) void this.checkExpiry();
  }

  /**
   * The countdown reached zero: the API has the last word (a payment may have kept the hold longer,
   * or booked it from another tab).
   */
  private async checkExpiry(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    const current = await this.current();
    this.checking = false;
    if (this.ended || this.paying) return;
    if (current?.status === 'confirmed' && current.bookingId) return this.booked(current.bookingId);
    if (current && (current.status ?? 'active') === 'active' && Date.parse(current.expiresAt) > serverNow()) {
      this.hold.expiresAt = current.expiresAt;
      return;
    }
    this.end('Your hold expired before it was paid for, so the seats were released. Pick your seats again.');
  }

  /** The hold as the API has it now, or undefined when it cannot be read (gone, or an outage). */
  private current(): Promise<Hold | undefined> {
    return api<Hold>('GET', holdPath(this.hold.holdId)).catch(() => undefined);
  }

  /** Booked (by this attempt, or by one whose answer was lost): the booking's page. */
  private booked(bookingId: string, note?: string): void {
    forgetHold(this.hold.flightId, this.hold.holdId);
    this.ended = true;
    if (note) showMessage(note);
    navigate(`/bookings/${encodeURIComponent(bookingId)}`);
  }

  /** The checkout cannot go on (the hold expired or ended, sales closed): say so, and lead back to the flight. */
  private end(sentence: string, error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.card?.destroy();
    this.card = undefined;
    checkoutEnded(this.main, this.hold, sentence, error);
  }

  // --- paying ---------------------------------------------------------------------------------------

  /** The form as the confirm's passengers and contact; otherwise the problems beside the fields, and a UserError. */
  private read(): Details {
    const form = new FormCheck();
    const passengers: Passenger[] = [];
    for (const [seat, { first, last }] of this.names) {
      form.check(first, nameProblem(first.value, 'first name'));
      form.check(last, nameProblem(last.value, 'last name'));
      passengers.push({ seat, firstName: first.value, lastName: last.value });
    }
    const email = this.email.value;
    form.check(this.email, emailProblem(this.email));
    const phone = this.phone.value;
    form.check(this.phone, phone && !PHONE.test(phone) ? 'Enter a phone number: digits, spaces, ( ) and -, with an optional + first.' : undefined);
    if (!this.free && !this.stripe && !this.chosenCard()) {
      this.setPaymentError('Choose a card.');
      form.flag(this.cards[0]!);
    }
    form.done();
    return { passengers, contact: phone ? { email, phone } : { email } };
  }

  private chosenCard(): string | undefined {
    return this.cards.find((radio) => radio.checked)?.value;
  }

  private keepPending(pending: PendingPayment | undefined): void {
    if (pending) this.own.pendingPayment = pending;
    else delete this.own.pendingPayment;
    rememberHold(this.own);
  }

  /**
   * This attempt: the one whose answer never came if the form still says the same (same key, same
   * body: the API answers it as the first time, and never charges twice), otherwise a new one.
   */
  private async attempt(details: Details): Promise<PendingPayment> {
    const json = JSON.stringify(details);
    const pending = this.own.pendingPayment;
    if (pending && pending.details === json && (this.stripe || this.free || pending.paymentMethod === this.chosenCard())) return pending;
    let paymentMethod: string | undefined;
    if (this.free) paymentMethod = undefined;
    else if (this.stripe) {
      if (!this.card) throw new UserError('The card form is not loaded yet. Wait a moment, or reload the page.');
      paymentMethod = await this.card.paymentMethod({ name: `${details.passengers[0]!.firstName} ${details.passengers[0]!.lastName}`, email: details.contact.email });
    } else paymentMethod = this.chosenCard();
    return { key: idempotencyKey(), details: json, ...(paymentMethod ? { paymentMethod } : {}) };
  }

  private async pay(): Promise<void> {
    this.setPaymentError(undefined);
    const details = this.read();
    this.paying = true;
    this.submit.textContent = this.free ? 'Confirming…' : 'Paying…';
    try {
      const attempt = await this.attempt(details);
      this.keepPending(attempt);
      const body = { ...details, ...(attempt.paymentMethod ? { paymentMethod: attempt.paymentMethod } : {}) };
      let booking: Booking;
      try {
        booking = await api<Booking>('POST', `${holdPath(this.hold.holdId)}/confirm`, { body, idempotencyKey: attempt.key });
      } catch (error) {
        if (!outcomeUnknown(error)) this.keepPending(undefined);
        await this.refused(error);
        return;
      }
      this.booked(booking.bookingId);
    } finally {
      this.paying = false;
      const total = this.total;
      this.submit.textContent = this.free ? 'Confirm booking' : total ? `Pay ${money(total)}` : 'Pay';
    }
    if (!this.ended && this.secondsLeft() === 0) this.tick();
  }

  /** What a refused or failed payment does to the page; the sentence goes to the alert region. */
  private async refused(error: unknown): Promise<void> {
    if (!(error instanceof ApiError) || outcomeUnknown(error)) throw error; // the next press retries the same attempt
    const { status, code } = error.problem;
    if (code === 'PAYMENT_DECLINED') {
      // The hold is as it was: another card is a new attempt.
      showError(error);
      (this.cards.find((radio) => radio.checked) ?? this.paymentGroup).focus();
      const current = await this.current();
      if (current?.status === 'active') this.hold.expiresAt = current.expiresAt;
      return;
    }
    if (status === 400 && this.showFieldErrors(error)) return;
    if (status === 400 || status === 429 || code === 'PAYMENT_IN_PROGRESS') throw error;
    // The hold may have ended meanwhile (expired, released, booked by an answer that was lost).
    const current = await this.current();
    if (current?.status === 'confirmed' && current.bookingId) return this.booked(current.bookingId, 'These seats are already booked and paid for.');
    if (current && current.status === 'active' && Date.parse(current.expiresAt) > serverNow() && ![409, 410].includes(status)) throw error;
    this.end(closing(code), error);
  }

  /** VALIDATION_FAILED's field errors beside their fields; false when none of them names a field here. */
  private showFieldErrors(error: ApiError): boolean {
    const seats = [...this.names.keys()];
    const placed: HTMLElement[] = [];
    for (const { field, message } of error.problem.errors ?? []) {
      const path = field.replace(/\[(\d+)\]/g, '.$1').replace(/^body\./, '').split('.');
      const text = `This ${path.at(-1) === 'firstName' ? 'first name' : path.at(-1) === 'lastName' ? 'last name' : 'field'} ${message}.`;
      let target: Field | undefined;
      if (path[0] === 'passengers' && path.length === 3) {
        const names = this.names.get(seats[Number(path[1])] ?? '');
        target = path[2] === 'firstName' ? names?.first : path[2] === 'lastName' ? names?.last : undefined;
      } else if (path[0] === 'contact' && path[1] === 'email') target = this.email;
      else if (path[0] === 'contact' && path[1] === 'phone') target = this.phone;
      if (target) {
        target.setError(path[0] === 'contact' ? `This ${path[1]} ${message}.` : text);
        placed.push(target.input);
      } else if (path[0] === 'paymentMethod') {
        this.setPaymentError(`The payment method ${message}.`);
        placed.push(this.cards[0] ?? this.paymentGroup);
      }
    }
    if (!placed.length) return false;
    placed[0]!.focus();
    showError(new UserError('Please check the form: the marked fields were not accepted.'));
    return true;
  }
}

/** Why a checkout ended, for the page (the alert region has the API's sentence). */
function closing(code: string | undefined): string {
  switch (code) {
    case 'FLIGHT_CLOSED':
      return 'Sales for this flight have closed, so it can no longer be booked. Nothing was charged.';
    case 'FLIGHT_CANCELLED':
      return 'This flight has been cancelled, so it can no longer be booked. Nothing was charged.';
    case 'HOLD_EXPIRED':
      return 'Your hold expired, so the seats were released. Nothing was charged. Pick your seats again.';
    default:
      return 'This hold has ended (it expired or was released). Nothing was charged. Pick your seats again.';
  }
}

/** The page of a checkout that cannot go on: the sentence, and the way back to the flight (focused). */
function checkoutEnded(main: HTMLElement, hold: Hold, sentence: string, error?: unknown): void {
  forgetHold(hold.flightId, hold.holdId);
  const back = h('a', { href: flightHash(hold.flightId) }, 'Back to the flight');
  show(main, h('h1', {}, 'Checkout'), h('p', {}, sentence), h('p', {}, back));
  if (error) showError(error);
  else showMessage(sentence);
  back.focus();
}

/** The signed-in person's email, for the contact: from the session, or GET /users/me. */
async function accountEmail(): Promise<string> {
  const known = session.user()?.email;
  if (known) return known;
  return (await api<User>('GET', '/users/me').catch(() => undefined))?.email ?? '';
}

export const checkoutPage: Page = async (main, params) => {
  if (!requireLogin()) return;
  const holdId = params.holdId ?? '';
  show(main, h('p', { class: 'muted' }, 'Loading your hold…'));
  let hold: Hold;
  try {
    hold = await api<Hold>('GET', holdPath(holdId));
  } catch (error) {
    show(main, h('h1', {}, 'Checkout'), h('p', {}, 'This hold cannot be shown. ', h('a', { href: '#/' }, 'Search flights')));
    showError(error);
    return;
  }
  if (hold.status === 'confirmed' && hold.bookingId) {
    forgetHold(hold.flightId, hold.holdId);
    showMessage('These seats are already booked and paid for.');
    navigate(`/bookings/${encodeURIComponent(hold.bookingId)}`);
    return;
  }
  const [flight, seatMap, email] = await Promise.all([
    api<Flight>('GET', `/flights/${encodeURIComponent(hold.flightId)}`, { auth: false }).catch(() => undefined),
    api<SeatMapAnswer>('GET', `/flights/${encodeURIComponent(hold.flightId)}/seats`, { auth: false }).catch(() => undefined),
    accountEmail(),
  ]);
  if ((hold.status && hold.status !== 'active') || Date.parse(hold.expiresAt) <= serverNow()) {
    checkoutEnded(main, hold, closing(hold.status === 'expired' ? 'HOLD_EXPIRED' : undefined));
    return;
  }
  return new Checkout(main, hold, flight, new Map(seatMap?.seats.map((seat) => [seat.id, seat])), email).start();
};
