import { api } from '../api';
import { field, h, money, show } from '../dom';
import { ApiError } from '../errors';
import { drawSeatMap } from '../pages/seatmap';
import type { Page } from '../router';
import { act, announce, onSubmit, requireAdmin, showError, showMessage, twoStepAction } from '../ui';
import { flightFields, flightPath, statusBadge } from './flight-fields';
import type { Flight } from '../types';
import { adminHeading, dataTable, formProblem, section, tableRow, type Child } from './nav';
import {
  compareSeatIds,
  diffSeatMaps,
  formatSeatLines,
  layoutFieldset,
  parseSeatLines,
  seatsOrProblem,
  type SeatMapDiff,
  type SeatMapView,
} from './seatmap-editor';

/**
 * One flight for an admin: edit its details, migrate its seat map and follow the migration's report,
 * cancel it, audit its seats. The migration id goes into the hash, so a reload shows the report again.
 */

interface MigrationReport {
  migrationId: string;
  flightId: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  policy?: 'reject' | 'keep';
  fromVersion: number | null;
  toVersion: number | null;
  added: number;
  removed: number;
  changed: number;
  conflicts: { seat: string; status: 'held' | 'booked'; resolution: string }[];
  startedAt: string | null;
  finishedAt: string | null;
  /** Why it failed, a phrase written for people (functions/flights/migrations.ts). */
  error?: string;
}

interface AuditReport {
  ok: boolean;
  counts: SeatMapView['counts'];
  problems: string[];
}

const POLL_MS = 1000;
const FINISHED = new Set<MigrationReport['status']>(['succeeded', 'failed']);
/** Seat ids listed in a report line before "and N more". */
const MAX_LISTED = 40;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const countsText = (counts: SeatMapView['counts']) =>
  `${counts.available} available, ${counts.held} held, ${counts.booked} booked, ${plural(counts.total, 'seat')} in all`;

function detailsSection(flight: Flight, onSaved: (flight: Flight) => void): HTMLElement {
  let saved = flight;
  const details = flightFields(flight);
  const form = h('form', {}, details.fields, h('button', { type: 'submit' }, 'Save changes'));
  onSubmit(form, async () => {
    const changes = details.changes(saved);
    if (Object.keys(changes).length === 0) {
      showMessage('Nothing to save: no field was changed.');
      return;
    }
    saved = await api<Flight>('PATCH', `/flights/${encodeURIComponent(saved.id)}`, { body: changes });
    onSaved(saved);
    showMessage(`Flight ${saved.flightNumber} saved.`);
  });
  return section('Details', form);
}

function seatsTable(view: SeatMapView): HTMLElement {
  const { table, body } = dataTable('Seat list', ['Seat', 'Class', 'Price', 'Status']);
  const seats = [...view.seats].sort((a, b) => compareSeatIds(a.id, b.id));
  body.append(...seats.map((seat) => tableRow(seat.id, seat.class, money(seat.price), seat.status)));
  return h('details', { class: 'seat-list' }, h('summary', {}, `Show all ${plural(view.seats.length, 'seat')} as a list`), table);
}

/**
 * The current seat map (counts, a read-only drawing and a list) and the migration form. `onSubmitted` gets the new
 * migration's id and what the submitted map changes seat by seat (the report only counts).
 */
function seatMapSection(flightId: string, onSubmitted: (migrationId: string, diff: SeatMapDiff) => void) {
  let current: SeatMapView | undefined;
  const overview = h('div', { class: 'seat-overview' });
  const textarea = h('textarea', { rows: 14, spellcheck: 'false', autocomplete: 'off', class: 'seat-lines' });
  const policy = h(
    'select',
    {},
    h('option', { value: 'reject', selected: true }, 'Reject the migration'),
    h('option', { value: 'keep' }, 'Keep those seats until released'),
  );
  const problem = formProblem();
  const form = h(
    'form',
    { class: 'wide' },
    field('Seat map (one seat per line: id class price)', textarea, 'Like 12A economy 120.00. Classes: economy, premium, business, first. Prices in USD.'),
    field('When a held or booked seat is dropped', policy, 'Reject: the migration fails and nothing changes. Keep: those seats stay until released, listed as conflicts.'),
    problem.element,
    h('button', { type: 'submit' }, 'Submit migration'),
  );
  onSubmit(form, async () => {
    const seats = seatsOrProblem(problem, () => parseSeatLines(textarea.value), textarea);
    if (!seats) return;
    const diff = diffSeatMaps(current?.seats ?? [], seats);
    const answer = await api<{ migrationId: string; status: string }>('PUT', `/flights/${encodeURIComponent(flightId)}/seatmap`, {
      body: { seatMap: { seats }, policy: policy.value },
    });
    showMessage('The migration is submitted; its report follows below.');
    onSubmitted(answer.migrationId, diff);
  });

  const load = async () => {
    current = await api<SeatMapView>('GET', `/flights/${encodeURIComponent(flightId)}/seats`);
    show(
      overview,
      h('p', {}, `Seat map version ${current.seatMapVersion}: ${countsText(current.counts)}.`),
      // The traveller pages' drawing, read-only, as a preview; the list below has the same facts as text.
      drawSeatMap(current.seats, { readOnly: true, headingLevel: 4 }).element,
      seatsTable(current),
    );
    textarea.value = formatSeatLines(current.seats);
  };

  const element = section(
    'Seat map',
    h('h3', {}, 'Current seats'),
    overview,
    h('h3', {}, 'Change the seat map'),
    h('p', {}, 'A migration replaces the whole map: seats not listed are dropped, listed ones are added or get their new class and price.'),
    regenerator(textarea),
    form,
  );
  return { element, load };
}

/** Optional helper: fills the textarea from a cabin layout, for review before submitting. */
function regenerator(textarea: HTMLTextAreaElement): HTMLElement {
  const layout = layoutFieldset('Layout');
  const problem = formProblem();
  const button = h('button', { type: 'button', class: 'secondary' }, 'Regenerate from layout');
  button.addEventListener('click', () => {
    const seats = seatsOrProblem(problem, layout.seats);
    if (!seats) return;
    textarea.value = formatSeatLines(seats);
    textarea.focus();
    announce(`The seat map below now lists ${plural(seats.length, 'seat')} from the layout. Review it, then submit the migration.`);
  });
  return h('details', { class: 'regenerate' }, h('summary', {}, 'Generate the seat map from a layout'), layout.element, problem.element, button);
}

function idList(ids: string[]): string {
  const listed = ids.slice(0, MAX_LISTED).join(', ');
  return ids.length > MAX_LISTED ? `${listed} and ${ids.length - MAX_LISTED} more` : listed;
}

/** "Removed: 0 seats (the submitted map drops 12A, 12B)": the API's count, and the ids when this page submitted the map. */
function changeLine(count: number, ids: string[] | undefined, verb: string): string {
  const which = ids && ids.length > 0 ? ` (the submitted map ${verb} ${idList(ids)})` : '';
  return `${plural(count, 'seat')}${which}`;
}

function versionLine(report: MigrationReport): string {
  if (report.fromVersion === null || report.toVersion === null) return FINISHED.has(report.status) ? 'unchanged' : 'not applied yet';
  return `${report.fromVersion} → ${report.toVersion}`;
}

function conflictsView(report: MigrationReport): HTMLElement {
  if (report.conflicts.length === 0) return h('p', {}, 'No conflicts: no held or booked seat was dropped.');
  const { table, body } = dataTable('Conflicts', ['Seat', 'Status', 'Resolution']);
  body.append(...report.conflicts.map((conflict) => tableRow(conflict.seat, conflict.status, conflict.resolution)));
  return table;
}

function reportView(report: MigrationReport, diff: SeatMapDiff | undefined): Child[] {
  const entry = (term: string, ...description: (string | HTMLElement)[]) => [h('dt', {}, term), h('dd', {}, description)];
  return [
    h(
      'dl',
      { class: 'report' },
      entry('Migration', report.migrationId),
      entry('Status', h('span', { class: `badge migration-${report.status}` }, report.status)),
      report.policy ? entry('Policy', report.policy === 'keep' ? 'keep dropped held or booked seats' : 'reject if a held or booked seat is dropped') : [],
      entry('Seat map version', versionLine(report)),
      entry('Added', changeLine(report.added, diff?.added, 'adds')),
      entry('Removed', changeLine(report.removed, diff?.removed, 'drops')),
      entry('Changed', changeLine(report.changed, diff?.changed, 'changes')),
    ),
    report.status === 'failed' && h('p', { class: 'report-error' }, `The migration failed: ${report.error ?? 'no reason was given'}.`),
    FINISHED.has(report.status) ? conflictsView(report) : h('p', { class: 'muted' }, 'Checking again every second…'),
  ];
}

/**
 * Polls a migration's report every second until it has finished. Only the latest `follow` polls;
 * `stop` (the page's cleanup) ends it. Errors other than "busy, try later" end the polling too.
 */
function migrationSection(flightId: string, onFinished: (report: MigrationReport) => void) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Submit a seat map migration to see its report here.'));
  let following = 0;
  let timer: number | undefined;
  const stop = () => {
    following += 1;
    window.clearTimeout(timer);
  };
  const follow = (migrationId: string, diff?: SeatMapDiff) => {
    stop();
    const ticket = following;
    let lastStatus: string | undefined;
    const poll = async () => {
      try {
        const report = await api<MigrationReport>('GET', `/flights/${encodeURIComponent(flightId)}/migrations/${encodeURIComponent(migrationId)}`);
        if (ticket !== following) return;
        show(body, reportView(report, diff));
        if (report.status !== lastStatus) announce(`Migration ${report.status}.`);
        lastStatus = report.status;
        if (FINISHED.has(report.status)) return onFinished(report);
      } catch (error) {
        if (ticket !== following) return;
        showError(error);
        const status = error instanceof ApiError ? error.problem.status : 0;
        if (status >= 400 && status < 500 && status !== 429) return;
      }
      if (ticket === following) timer = window.setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
  };
  return { element: section('Migration report', body), follow, stop };
}

/** Two steps, no dialog: "Cancel flight" turns into "Really cancel this flight?" and "Keep flight". */
function cancelSection(flight: Flight, onCancelled: (flight: Flight) => void): HTMLElement {
  const controls = h('div');
  const showCancelled = () => show(controls, h('p', { tabindex: -1 }, 'This flight is cancelled.'));
  const cancel = async () => {
    const cancelled = await api<Flight>('DELETE', `/flights/${encodeURIComponent(flight.id)}`);
    showCancelled();
    controls.querySelector('p')?.focus();
    onCancelled(cancelled);
    showMessage(`Flight ${cancelled.flightNumber} is cancelled.`);
  };
  if (flight.status === 'cancelled') showCancelled();
  else show(controls, twoStepAction({ ask: 'Cancel flight', askClass: 'danger', really: 'Really cancel this flight?', keep: 'Keep flight' }, cancel));
  return section(
    'Cancel flight',
    h('p', {}, 'Cancelling ends every hold on this flight at once, and its bookings become flight_cancelled bookings. Nobody can hold or book its seats afterwards. This cannot be undone.'),
    controls,
  );
}

function auditSection(flightId: string): HTMLElement {
  const result = h('div', { class: 'audit' });
  const button = h('button', { type: 'button', class: 'secondary' }, 'Run seat audit');
  button.addEventListener('click', () =>
    void act(button, async () => {
      const audit = await api<AuditReport>('GET', `/admin/flights/${encodeURIComponent(flightId)}/seats/audit`);
      if (audit.ok) show(result, h('p', { class: 'audit-ok' }, `Audit OK: ${countsText(audit.counts)}.`));
      else show(result, h('p', { class: 'audit-problems' }, `The audit found ${plural(audit.problems.length, 'problem')} (${countsText(audit.counts)}):`), h('ul', {}, audit.problems.map((problem) => h('li', {}, problem))));
      announce(result.textContent ?? '');
    }),
  );
  return section('Seat audit', h('p', {}, 'Checks the seat states against the holds and bookings. It reports problems and repairs nothing.'), button, result);
}

export const adminFlightPage: Page = async (main, params) => {
  if (!requireAdmin(main)) return;
  const flightId = params.flightId ?? '';
  let flight: Flight;
  try {
    flight = await api<Flight>('GET', `/flights/${encodeURIComponent(flightId)}`);
  } catch (error) {
    adminHeading(main, 'Manage flight');
    main.append(h('p', {}, h('a', { href: '#/admin' }, 'Find another flight')));
    showError(error);
    return;
  }

  const heading = adminHeading(main, `Manage ${flight.flightNumber}`);
  const status = h('p', { class: 'flight-status' });
  const showStatus = (current: Flight) => show(status, 'Status: ', statusBadge(current.status));
  showStatus(flight);

  const seatMap = seatMapSection(flightId, (migrationId, diff) => {
    // replaceState, not navigate: the page stays (and keeps polling); a reload finds the report again.
    history.replaceState(history.state, '', `#${flightPath(flightId)}?migration=${encodeURIComponent(migrationId)}`);
    migration.follow(migrationId, diff);
  });
  const migration = migrationSection(flightId, (report) => {
    if (report.status === 'succeeded') seatMap.load().catch(showError);
  });
  main.append(
    status,
    detailsSection(flight, (saved) => (heading.textContent = `Manage ${saved.flightNumber}`)),
    seatMap.element,
    migration.element,
    cancelSection(flight, (cancelled) => {
      showStatus(cancelled);
      // Its holds ended: the counts changed.
      seatMap.load().catch(showError);
    }),
    auditSection(flightId),
  );
  await seatMap.load().catch(showError);
  if (params.migration) migration.follow(params.migration);
  return migration.stop;
};
