import './seatmap.css';
import { h, money } from '../dom';

/**
 * The cabin drawing: rows by seat number, columns by letter with aisles between letter groups, a
 * heading where the class changes, and a legend. Every seat is a real button named in words (status
 * and selection too), and every status has a shape as well as a colour. `update` redraws one seat in
 * place, so live changes on a 1000-seat map touch only the changed buttons and keyboard focus stays.
 * Used by the flight page (pick seats) and the admin pages (read-only).
 */
export type SeatStatus = 'available' | 'held' | 'booked';
export type SeatClass = 'economy' | 'premium' | 'business' | 'first';
export interface Money {
  amount: number;
  currency: string;
}
export interface Seat {
  id: string;
  class: SeatClass;
  price: Money;
  status: SeatStatus;
}
/** A seat as this person sees it: the public status plus what only they know. */
export interface DrawnSeat extends Seat {
  mine?: boolean;
  selected?: boolean;
}

export interface SeatMapOptions {
  /** Admin view: seats can be explored with the keyboard but not picked. */
  readOnly?: boolean;
  /** Click, Enter or Space on a seat (not called in read-only mode). */
  onPick?: (seatId: string) => void;
  /** Level of the class headings, to fit the page's outline (default 3). */
  headingLevel?: 2 | 3 | 4 | 5;
}

export interface SeatMap {
  element: HTMLElement;
  update(seat: DrawnSeat): void;
  focus(seatId: string): void;
  /** The seat whose button has keyboard focus, if any (to restore it after a redraw). */
  focusedSeat(): string | undefined;
}

const CLASS_NAMES: Record<SeatClass, string> = { first: 'first', business: 'business', premium: 'premium economy', economy: 'economy' };

export function classLabel(seatClass: SeatClass): string {
  const name = CLASS_NAMES[seatClass] ?? seatClass;
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function rowOf(id: string): number {
  return Number.parseInt(id, 10);
}

function letterOf(id: string): string {
  return id.slice(-1);
}

/** Seat order on paper: by row, then letter. */
export function bySeat(a: string, b: string): number {
  return rowOf(a) - rowOf(b) || letterOf(a).localeCompare(letterOf(b));
}

/** A seat taken by someone else after this person selected it. */
function conflict(seat: DrawnSeat): boolean {
  return Boolean(seat.selected && !seat.mine && seat.status !== 'available');
}

export function seatLabel(seat: DrawnSeat): string {
  const status = seat.mine ? 'your hold' : seat.status;
  const selected = seat.selected ? ', selected' : '';
  const taken = conflict(seat) ? ', taken by someone else' : '';
  return `Seat ${seat.id}, ${CLASS_NAMES[seat.class] ?? seat.class}, ${money(seat.price)}, ${status}${selected}${taken}`;
}

function paint(button: HTMLButtonElement, seat: DrawnSeat, readOnly: boolean): void {
  const look = seat.mine ? 'mine' : seat.status;
  button.className = `seat is-${look}${seat.selected ? ' is-selected' : ''}${conflict(seat) ? ' is-conflict' : ''}`;
  button.setAttribute('aria-label', seatLabel(seat));
  if (!readOnly) button.setAttribute('aria-pressed', String(Boolean(seat.selected)));
}

function priceRange(seats: Seat[]): string {
  const amounts = seats.map((seat) => seat.price.amount);
  const low = seats.find((seat) => seat.price.amount === Math.min(...amounts))!;
  const high = seats.find((seat) => seat.price.amount === Math.max(...amounts))!;
  return low.price.amount === high.price.amount ? money(low.price) : `${money(low.price)}–${money(high.price)}`;
}

/** Letters with an aisle marker (null) between C|D and G|H when seats exist on both sides. */
function columns(letters: string[]): (string | null)[] {
  const out: (string | null)[] = [];
  for (const letter of letters) {
    const previous = out.at(-1);
    if (previous && ((previous <= 'C' && letter >= 'D') || (previous <= 'G' && letter >= 'H'))) out.push(null);
    out.push(letter);
  }
  return out;
}

interface Block {
  seatClass: SeatClass;
  rows: Map<number, Seat[]>;
}

/** Consecutive rows of one class (a row's class is its first seat's). */
function blocks(seats: Seat[]): Block[] {
  const rows = new Map<number, Seat[]>();
  for (const seat of [...seats].sort((a, b) => bySeat(a.id, b.id))) {
    const row = rows.get(rowOf(seat.id)) ?? [];
    row.push(seat);
    rows.set(rowOf(seat.id), row);
  }
  const out: Block[] = [];
  for (const [number, row] of rows) {
    const seatClass = row[0]!.class;
    let block = out.at(-1);
    if (block?.seatClass !== seatClass) out.push((block = { seatClass, rows: new Map() }));
    block.rows.set(number, row);
  }
  return out;
}

function legend(readOnly: boolean): HTMLElement {
  // [classes of the sample seat, meaning]; selection and holds exist only where seats can be picked.
  const entries: [string, string][] = [['is-available', 'Available']];
  if (!readOnly) entries.push(['is-available is-selected', 'Selected'], ['is-mine', 'Your hold']);
  entries.push(['is-held', 'Held'], ['is-booked', 'Booked']);
  if (!readOnly) entries.push(['is-held is-selected is-conflict', 'Selected, then taken by someone else']);
  return h(
    'ul',
    { class: 'seat-legend', 'aria-label': 'Legend' },
    entries.map(([look, text]) => h('li', {}, h('span', { class: `seat seat-sample ${look}`, 'aria-hidden': 'true' }), text)),
  );
}

let mapCount = 0;

export function drawSeatMap(seats: DrawnSeat[], options: SeatMapOptions = {}): SeatMap {
  const readOnly = options.readOnly ?? false;
  const heading = `h${options.headingLevel ?? 3}` as 'h3';
  const buttons = new Map<string, HTMLButtonElement>();
  const grid: HTMLButtonElement[][] = []; // rows of buttons, for arrow-key moves
  const byId = new Map(seats.map((seat) => [seat.id, seat]));

  const seatButton = (seat: DrawnSeat) => {
    const button = h('button', { type: 'button', tabindex: -1, 'data-seat': seat.id, 'aria-disabled': readOnly ? 'true' : undefined }, seat.id);
    paint(button, seat, readOnly);
    buttons.set(seat.id, button);
    return button;
  };

  mapCount += 1;
  const hint = h('p', { id: `seatmap-hint-${mapCount}`, class: 'muted seat-hint' }, 'Use the arrow keys to move between seats', readOnly ? '.' : '; Enter or Space picks a seat.');
  const cabin = h('div', { class: 'seat-cabin', role: 'group', 'aria-label': 'Seats', 'aria-describedby': hint.id });
  for (const block of blocks(seats)) {
    const all = [...block.rows.values()].flat();
    const letters = [...new Set(all.map((seat) => letterOf(seat.id)))].sort();
    cabin.append(h(heading, { class: 'cabin-band' }, classLabel(block.seatClass), ' ', h('span', { class: 'price-range' }, priceRange(all))));
    for (const [number, row] of block.rows) {
      const inRow = new Map(row.map((seat) => [letterOf(seat.id), byId.get(seat.id)!]));
      const cells = columns(letters).map((letter) => {
        if (letter === null) return h('span', { class: 'seat-aisle' });
        const seat = inRow.get(letter);
        return seat ? seatButton(seat) : h('span', { class: 'seat-none' });
      });
      grid.push(cells.filter((cell): cell is HTMLButtonElement => cell instanceof HTMLButtonElement));
      cabin.append(h('div', { class: 'seat-row' }, h('span', { class: 'row-number', 'aria-hidden': 'true' }, number), cells));
    }
  }

  // Roving tabindex: the map is one Tab stop; arrow keys move between seats.
  let current = grid[0]?.[0];
  current?.setAttribute('tabindex', '0');
  const moveTo = (button: HTMLButtonElement | undefined) => {
    if (!button) return;
    current?.setAttribute('tabindex', '-1');
    current = button;
    button.setAttribute('tabindex', '0');
    button.focus();
  };
  cabin.addEventListener('focusin', (event) => {
    if (event.target instanceof HTMLButtonElement && event.target !== current) moveTo(event.target);
  });
  cabin.addEventListener('keydown', (event) => {
    const target = event.target;
    if (!(target instanceof HTMLButtonElement)) return;
    const row = grid.findIndex((buttons) => buttons.includes(target));
    if (row < 0) return;
    const column = grid[row]!.indexOf(target);
    const nearest = (buttons: HTMLButtonElement[] | undefined) =>
      buttons?.reduce((best, button) => (distance(button, target) < distance(best, target) ? button : best));
    const next: Record<string, () => HTMLButtonElement | undefined> = {
      ArrowLeft: () => grid[row]![column - 1],
      ArrowRight: () => grid[row]![column + 1],
      ArrowUp: () => nearest(grid[row - 1]),
      ArrowDown: () => nearest(grid[row + 1]),
      Home: () => grid[row]![0],
      End: () => grid[row]!.at(-1),
    };
    const move = next[event.key];
    if (!move) return;
    event.preventDefault();
    moveTo(move());
  });
  if (!readOnly && options.onPick) {
    const pick = options.onPick;
    cabin.addEventListener('click', (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>('button[data-seat]');
      if (button?.dataset.seat) pick(button.dataset.seat);
    });
  }

  const element = h('div', { class: 'seatmap' }, hint, legend(readOnly), cabin);
  return {
    element,
    update(seat) {
      const button = buttons.get(seat.id);
      if (button) paint(button, seat, readOnly);
    },
    focus(seatId) {
      moveTo(buttons.get(seatId));
    },
    focusedSeat() {
      const active = document.activeElement;
      return active instanceof HTMLButtonElement && cabin.contains(active) ? active.dataset.seat : undefined;
    },
  };
}

/** Letter distance between two seats, for moving up or down a row of a different layout. */
function distance(a: HTMLButtonElement, b: HTMLButtonElement): number {
  return Math.abs(letterOf(a.dataset.seat!).charCodeAt(0) - letterOf(b.dataset.seat!).charCodeAt(0));
}
