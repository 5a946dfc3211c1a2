import { field, h } from '../dom';
import type { Flight } from '../types';

/**
 * A flight as the admin pages show and edit it: its fields (number, airports, UTC times) for the new
 * flight form and the flight page's edit form. A module of its own, not part of either page: the build
 * then keeps each admin page a chunk of its own (tests/web/budget.test.ts tells them apart by source).
 */


type FlightDetails = Pick<Flight, 'flightNumber' | 'origin' | 'destination' | 'departureTime' | 'arrivalTime'>;

export const flightPath = (flightId: string) => `/admin/flights/${encodeURIComponent(flightId)}`;

/** The status as a word (the colour only repeats it). */
export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status}` }, status);
}

/** An IATA airport code input; the API wants upper case, the CSS shows it so while typing. */
export function airportInput(value = ''): HTMLInputElement {
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
export const sent = (key: keyof FlightDetails, value: string) => (isTime(key) ? fromInputTime(value) : value.trim().toUpperCase());

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
