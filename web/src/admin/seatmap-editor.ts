import { field, h } from '../dom';

/**
 * Seat maps for admins: generating one from a cabin layout (rows × letters × price), the textarea form
 * (one seat per line), and what a new map changes. The parsing and generating functions are pure, so
 * the new-flight form and the flight page share them; their errors are sentences an admin can act on.
 */

export const SEAT_CLASSES = ['economy', 'premium', 'business', 'first'] as const;
export type SeatClass = (typeof SEAT_CLASSES)[number];
export interface Money {
  amount: number;
  currency: string;
}
export interface SeatInput {
  id: string;
  class: SeatClass;
  price: Money;
}
export interface SeatView extends SeatInput {
  status: 'available' | 'held' | 'booked';
}
/** GET /flights/{id}/seats. */
export interface SeatMapView {
  flightId: string;
  version: number;
  seatMapVersion: number;
  seats: SeatView[];
  counts: { available: number; held: number; booked: number; total: number };
}

export const CURRENCY = 'USD';
const MAX_ROW = 999;
const MAX_SEATS = 1000;
const SEAT_ID = /^[1-9][0-9]{0,2}[A-K]$/;
const PRICE = /^\d{1,7}(\.\d{1,2})?$/;

/** A problem with what an admin typed; `control` (when known) is the input to fix. */
export class SeatMapError extends Error {
  constructor(
    message: string,
    readonly control?: HTMLElement,
  ) {
    super(message);
  }
}

/** Seats sort by row number, then letter (2A before 10A), as the API does. */
export function compareSeatIds(a: string, b: string): number {
  return parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b);
}

/** "600.00" → 60000 minor units. */
export function parsePrice(text: string, currency = CURRENCY): Money {
  const value = text.trim();
  if (!PRICE.test(value)) throw new SeatMapError(`“${value}” is not a price: write it like 120.00.`);
  const [whole = '0', cents = ''] = value.split('.');
  return { amount: Number(whole) * 100 + Number(cents.padEnd(2, '0')), currency };
}

export function formatPrice(price: Money): string {
  return (price.amount / 100).toFixed(2);
}

/** "AC DF" → ['A','C','D','F']: letters are seats, spaces are aisles (they only make the layout readable). */
export function parseLayout(text: string): string[] {
  const letters = text.toUpperCase().replace(/\s+/g, '').split('');
  if (letters.length === 0) throw new SeatMapError('A layout needs at least one seat letter, like ABC DEF.');
  const wrong = letters.find((letter) => letter < 'A' || letter > 'K');
  if (wrong) throw new SeatMapError(`“${wrong}” is not a seat letter: use the letters A to K, and spaces for aisles.`);
  const twice = letters.find((letter, i) => letters.indexOf(letter) !== i);
  if (twice) throw new SeatMapError(`The letter ${twice} appears twice in the layout “${text.trim()}”.`);
  return letters;
}

export interface Cabin {
  seatClass: SeatClass;
  rows: number;
  letters: string[];
  price: Money;
}

/** The cabins' seats, rows numbered from 1 in the order given (business before economy). */
export function generateSeats(cabins: Cabin[]): SeatInput[] {
  const seats: SeatInput[] = [];
  let row = 0;
  for (const cabin of cabins) {
    for (let i = 0; i < cabin.rows; i += 1) {
      row += 1;
      for (const letter of cabin.letters) seats.push({ id: `${row}${letter}`, class: cabin.seatClass, price: cabin.price });
    }
  }
  if (row > MAX_ROW) throw new SeatMapError(`That makes ${row} rows; a seat map has at most ${MAX_ROW}.`);
  if (seats.length === 0) throw new SeatMapError('That layout has no seats: give at least one row.');
  if (seats.length > MAX_SEATS) throw new SeatMapError(`That makes ${seats.length} seats; a seat map has at most ${MAX_SEATS}.`);
  return seats;
}

/** The textarea form of a seat map: `12A economy 120.00` per line (a currency other than USD follows the price). */
export function formatSeatLines(seats: SeatInput[]): string {
  return [...seats]
    .sort((a, b) => compareSeatIds(a.id, b.id))
    .map((seat) => [seat.id, seat.class, formatPrice(seat.price), seat.price.currency === CURRENCY ? '' : seat.price.currency].join(' ').trim())
    .join('\n');
}

function parseSeatLine(line: string): SeatInput {
  const [id = '', seatClass = '', price = '', currency = CURRENCY, ...extra] = line.split(/\s+/);
  if (extra.length > 0 || !price) throw new SeatMapError('write a seat id, a class and a price, like 12A economy 120.00');
  const seatId = id.toUpperCase();
  if (!SEAT_ID.test(seatId)) throw new SeatMapError(`“${id}” is not a seat id: write a row from 1 to 999 and a letter from A to K, like 12A`);
  const cls = seatClass.toLowerCase();
  if (!(SEAT_CLASSES as readonly string[]).includes(cls)) throw new SeatMapError(`“${seatClass}” is not a class: use ${SEAT_CLASSES.join(', ')}`);
  if (!PRICE.test(price)) throw new SeatMapError(`“${price}” is not a price: write it like 120.00`);
  if (!/^[A-Za-z]{3}$/.test(currency)) throw new SeatMapError(`“${currency}” is not a currency code like USD`);
  return { id: seatId, class: cls as SeatClass, price: parsePrice(price, currency.toUpperCase()) };
}

/** Parses the textarea; the first bad line is reported by number and content, before anything is sent. */
export function parseSeatLines(text: string): SeatInput[] {
  const seats: SeatInput[] = [];
  const lineOf = new Map<string, number>();
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (!line) return;
    const number = index + 1;
    let seat: SeatInput;
    try {
      seat = parseSeatLine(line);
    } catch (error) {
      throw new SeatMapError(`Line ${number} (“${line}”): ${(error as Error).message}.`);
    }
    const first = lineOf.get(seat.id);
    if (first) throw new SeatMapError(`Line ${number} (“${line}”): seat ${seat.id} is already on line ${first}; each seat appears once.`);
    lineOf.set(seat.id, number);
    seats.push(seat);
  });
  if (seats.length === 0) throw new SeatMapError('The seat map is empty: give at least one seat, like 12A economy 120.00.');
  if (seats.length > MAX_SEATS) throw new SeatMapError(`The seat map has ${seats.length} seats; at most ${MAX_SEATS} are allowed.`);
  return seats;
}

export interface SeatMapDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/** What replacing `before` with `after` does, seat by seat (the migration report only counts them). */
export function diffSeatMaps(before: SeatInput[], after: SeatInput[]): SeatMapDiff {
  const old = new Map(before.map((seat) => [seat.id, seat]));
  const next = new Map(after.map((seat) => [seat.id, seat]));
  const differs = (a: SeatInput, b: SeatInput) => a.class !== b.class || a.price.amount !== b.price.amount || a.price.currency !== b.price.currency;
  const sorted = (ids: string[]) => ids.sort(compareSeatIds);
  return {
    added: sorted(after.filter((seat) => !old.has(seat.id)).map((seat) => seat.id)),
    removed: sorted(before.filter((seat) => !next.has(seat.id)).map((seat) => seat.id)),
    changed: sorted(after.filter((seat) => old.has(seat.id) && differs(old.get(seat.id)!, seat)).map((seat) => seat.id)),
  };
}

/** Reads one input with a pure parser; a failure names that input, so the form can focus it. */
function readInput<T>(input: HTMLInputElement, label: string, parse: (value: string) => T): T {
  try {
    return parse(input.value);
  } catch (error) {
    if (error instanceof SeatMapError) throw new SeatMapError(`${label}: ${error.message}`, input);
    throw error;
  }
}

function parseRows(text: string): number {
  const rows = Number(text);
  if (!Number.isInteger(rows) || rows < 0 || rows > MAX_ROW) throw new SeatMapError(`give a whole number of rows from 0 to ${MAX_ROW}.`);
  return rows;
}

interface CabinDefaults {
  seatClass: SeatClass;
  label: string;
  rows: number;
  layout: string;
  price: string;
}

const DEFAULT_CABINS: CabinDefaults[] = [
  { seatClass: 'business', label: 'Business', rows: 2, layout: 'AC DF', price: '600.00' },
  { seatClass: 'economy', label: 'Economy', rows: 10, layout: 'ABC DEF', price: '120.00' },
];

/** One cabin's three inputs ("Business rows", "Business layout", "Business price") and how to read them. */
function cabinFields(cabin: CabinDefaults): { fields: HTMLElement[]; read: () => Cabin } {
  const rows = h('input', { type: 'number', min: 0, max: MAX_ROW, step: 1, required: true, value: cabin.rows, inputmode: 'numeric' });
  const layout = h('input', { type: 'text', required: true, value: cabin.layout, autocomplete: 'off', spellcheck: 'false', class: 'upper' });
  const price = h('input', { type: 'text', required: true, value: cabin.price, inputmode: 'decimal', autocomplete: 'off', pattern: PRICE.source.slice(1, -1) });
  return {
    fields: [
      field(`${cabin.label} rows`, rows),
      field(`${cabin.label} layout`, layout, 'Seat letters A–K; a space is an aisle.'),
      field(`${cabin.label} price`, price, `In ${CURRENCY}, like ${cabin.price}.`),
    ],
    read: () => ({
      seatClass: cabin.seatClass,
      rows: readInput(rows, `${cabin.label} rows`, parseRows),
      letters: readInput(layout, `${cabin.label} layout`, parseLayout),
      price: readInput(price, `${cabin.label} price`, (value) => parsePrice(value)),
    }),
  };
}

/**
 * The layout generator's fields (business cabin first, then economy) in a fieldset with `legend`;
 * `seats()` generates the map or throws a SeatMapError naming the input to fix.
 */
export function layoutFieldset(legend: string): { element: HTMLFieldSetElement; seats: () => SeatInput[] } {
  const cabins = DEFAULT_CABINS.map(cabinFields);
  const element = h(
    'fieldset',
    { class: 'layout-generator' },
    h('legend', {}, legend),
    h('p', { class: 'muted' }, `Rows are numbered from 1, business first. Prices are in ${CURRENCY}.`),
    cabins.map((cabin) => h('div', { class: 'cabin' }, cabin.fields)),
  );
  return { element, seats: () => generateSeats(cabins.map((cabin) => cabin.read())) };
}

/**
 * Runs a seat map reader (the textarea's parser, the layout generator); a SeatMapError is shown by
 * `problem`, next to the input at fault (the error's own, else `control`), and answers undefined so
 * the caller sends nothing.
 */
export function seatsOrProblem(
  problem: { show: (message: string, control?: HTMLElement) => void; clear: () => void },
  read: () => SeatInput[],
  control?: HTMLElement,
): SeatInput[] | undefined {
  problem.clear();
  try {
    return read();
  } catch (error) {
    if (!(error instanceof SeatMapError)) throw error;
    problem.show(error.message, error.control ?? control);
    return undefined;
  }
}
