import { api } from '../api';
import { field, h, show } from '../dom';
import { ApiError, UserError } from '../errors';
import type { Page } from '../router';
import { onSubmit } from '../ui';
import { bookingSummary, fetchFlight, type Booking } from './bookings';

/**
 * "Manage booking" (`#/manage`), for anyone: a booking found by its reference and a passenger's last
 * name (`GET /bookings/lookup`, public), shown without the contact details (the API leaves them out).
 * Any mismatch is one sentence that does not say which part was wrong, as the API answers the same 404.
 * The reference and name are not put in the address (it would keep them in the history); a link may
 * carry `?reference=` to fill that field.
 */

const REFERENCE = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/;
const NOT_FOUND = 'We found no booking with that reference and last name. Check both and try again.';

export const managePage: Page = (main, params) => {
  const reference = h('input', {
    name: 'reference',
    required: true,
    maxlength: 6,
    size: 8,
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    value: params.reference?.toUpperCase(),
    class: 'reference-input',
  });
  reference.addEventListener('input', () => (reference.value = reference.value.toUpperCase()));
  const lastName = h('input', { name: 'lastName', required: true, maxlength: 50, autocomplete: 'family-name' });
  const result = h('section');
  const form = h(
    'form',
    {},
    field('Booking reference', reference, '6 letters and digits, from your confirmation email.'),
    field('Last name', lastName, 'Of any passenger on the booking.'),
    h('button', { type: 'submit' }, 'Find booking'),
  );
  onSubmit(form, async () => {
    result.replaceChildren();
    const code = reference.value.trim().toUpperCase();
    // Not a reference at all: the same sentence as any mismatch, without asking the API.
    if (!REFERENCE.test(code)) throw new UserError(NOT_FOUND);
    let booking: Booking;
    try {
      const query = new URLSearchParams({ reference: code, lastName: lastName.value.trim() });
      booking = await api<Booking>('GET', `/bookings/lookup?${query}`, { auth: false });
    } catch (error) {
      if (error instanceof ApiError && (error.code === 'BOOKING_NOT_FOUND' || error.problem.status === 404 || error.problem.status === 400)) {
        throw new UserError(NOT_FOUND);
      }
      throw error;
    }
    const flight = await fetchFlight(booking.flightId);
    const heading = h('h2', { tabindex: -1 }, 'Your booking');
    show(result, heading, bookingSummary(booking, flight));
    heading.focus();
  });
  show(
    main,
    h('h1', {}, 'Manage booking'),
    h('p', {}, 'Find a booking with its reference and the last name of a passenger. No account needed.'),
    form,
    result,
  );
};
