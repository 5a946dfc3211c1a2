import { randomUUID } from 'node:crypto';
import { api, loginAdmin, registerUser } from '../support/http';
import { flightNumber } from '../support/seats';
import { checkoutBody } from './checkout-steps';
import { alertText, loginAdminViaUi, open, registerAndLogin, showMoreUntil, unexpectedConsoleErrors, until, useBrowser, type UserPage } from '../support/browser';

/**
 * The admin pages in chromium against the running stack: creating a flight with the form, seat map
 * migrations whose conflict report renders (rejected, then kept), the users page with the admin's own
 * row locked, the registry, and a non-admin turned away.
 */

jest.setTimeout(90_000);

describe('the admin pages', () => {
  const { newUser } = useBrowser();
  let admin: UserPage;
  let adminToken: string;

  beforeAll(async () => {
    admin = await newUser();
    await loginAdminViaUi(admin.page);
    adminToken = (await loginAdmin()).accessToken;
  });

  afterAll(() => {
    expect(admin.errors).toEqual([]);
    expect(unexpectedConsoleErrors(admin)).toEqual([]);
    expect(admin.foreignRequests).toEqual([]);
  });

  /** A page section by its h2 (the admin pages' sections are not landmarks). */
  const sectionOf = (heading: string) => admin.page.locator('section').filter({ has: admin.page.getByRole('heading', { level: 2, name: heading, exact: true }) });
  const reportStatus = async () => (await sectionOf('Migration report').innerText()).match(/Status\s+(\w+)/)?.[1];

  /** The rows of the "Conflicts" table, as arrays of cell texts. */
  async function conflictRows(): Promise<string[][]> {
    const table = admin.page.getByRole('table', { name: 'Conflicts' });
    await table.waitFor();
    return table.locator('tbody tr').evaluateAll((rows) => rows.map((row: any) => [...row.children].map((cell: any) => String(cell.textContent).trim())));
  }

  async function submitMigration(removeSeat: string, policy: RegExp): Promise<void> {
    const textarea = admin.page.getByLabel('Seat map (one seat per line: id class price)');
    // The page fills the textarea with the current map once it has loaded it.
    const lines = await until(async () => {
      const current = (await textarea.inputValue()).split('\n');
      if (!current.some((line) => line.startsWith(`${removeSeat} `))) throw new Error(`the seat map text has no line for ${removeSeat} yet`);
      return current;
    }, { what: `the seat map text to list ${removeSeat}` });
    await textarea.fill(lines.filter((line) => !line.startsWith(`${removeSeat} `)).join('\n'));
    await admin.page.getByLabel('When a held or booked seat is dropped').selectOption({ label: (await optionLabel(policy))! });
    await admin.page.getByRole('button', { name: 'Submit migration' }).click();
  }

  async function optionLabel(pattern: RegExp): Promise<string | undefined> {
    const labels = await admin.page.getByLabel('When a held or booked seat is dropped').locator('option').allInnerTexts();
    return labels.find((label) => pattern.test(label));
  }

  it('creates a flight with the form, then runs migrations whose conflict report renders', async () => {
    const number = flightNumber();
    await admin.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await admin.page.getByRole('heading', { level: 1, name: 'Admin: flights' }).waitFor();
    await admin.page.getByRole('heading', { level: 2, name: 'New flight' }).waitFor();
    const form = sectionOf('New flight');
    await form.getByLabel('Flight number').fill(number);
    await form.getByLabel('From', { exact: true }).fill('AMS');
    await form.getByLabel('To', { exact: true }).fill('BOS');
    await form.getByLabel('Departure (UTC)').fill('2027-09-10T11:00');
    await form.getByLabel('Arrival (UTC)').fill('2027-09-10T19:30');
    await form.getByLabel('Business rows').fill('1');
    await form.getByLabel('Business layout').fill('AC DF');
    await form.getByLabel('Business price').fill('600.00');
    await form.getByLabel('Economy rows').fill('2');
    await form.getByLabel('Economy layout').fill('ABC DEF');
    await form.getByLabel('Economy price').fill('120.00');
    await form.getByRole('button', { name: 'Create flight' }).click();
    await admin.page.getByRole('heading', { level: 1, name: `Manage ${number}` }).waitFor();
    const flightId = decodeURIComponent(/#\/admin\/flights\/([^/?]+)/.exec(admin.page.url())?.[1] ?? '');

    // What the form made, as the API has it: 1 business row of 4, 2 economy rows of 6, at those prices.
    const created = await api('GET', `/flights/${flightId}`);
    expect(created).toMatchObject({ status: 200, body: { flightNumber: number, origin: 'AMS', destination: 'BOS', departureTime: '2027-09-10T11:00:00.000Z' } });
    const map = (await api('GET', `/flights/${flightId}/seats`)).body as { seats: { id: string; class: string; price: { amount: number } }[] };
    expect(map.seats.map((s) => s.id)).toEqual(['1A', '1C', '1D', '1F', '2A', '2B', '2C', '2D', '2E', '2F', '3A', '3B', '3C', '3D', '3E', '3F']);
    expect(map.seats.find((s) => s.id === '1A')).toMatchObject({ class: 'business', price: { amount: 60_000 } });
    expect(map.seats.find((s) => s.id === '3F')).toMatchObject({ class: 'economy', price: { amount: 12_000 } });

    // A traveller holds 1A and books 2B.
    const traveller = await registerUser('migrated');
    const hold = await api('POST', `/flights/${flightId}/holds`, { token: traveller.accessToken, body: { seats: ['1A'] }, headers: { 'idempotency-key': randomUUID() } });
    expect(hold.status).toBe(201);
    const toBook = await api('POST', `/flights/${flightId}/holds`, { token: traveller.accessToken, body: { seats: ['2B'] } });
    expect((await api('POST', `/holds/${toBook.body.holdId}/confirm`, { token: traveller.accessToken, body: checkoutBody(['2B']) })).status).toBe(201);
    // The page shows the seat map as it is now.
    await admin.page.reload();
    await admin.page.getByRole('heading', { level: 1, name: `Manage ${number}` }).waitFor();
    for (const name of ['Details', 'Seat map', 'Cancel flight', 'Seat audit']) await admin.page.getByRole('heading', { level: 2, name }).waitFor();

    // Dropping the booked seat under "reject": the migration fails, the report lists the conflict, nothing changes.
    await submitMigration('2B', /reject/i);
    await until(async () => expect(await reportStatus()).toBe('failed'), { what: 'the migration to fail', timeoutMs: 30_000 });
    expect(await sectionOf('Migration report').innerText()).toMatch(/The migration failed: .+\./);
    expect(await conflictRows()).toEqual([['2B', 'booked', expect.any(String)]]);
    expect((await api('GET', `/flights/${flightId}/seats`)).body.seats).toHaveLength(16);

    // Dropping the held seat under "keep": it succeeds, and 1A is listed as kept until released.
    await admin.page.reload();
    await admin.page.getByRole('heading', { level: 1, name: `Manage ${number}` }).waitFor();
    await submitMigration('1A', /keep/i);
    await until(async () => expect(await reportStatus()).toBe('succeeded'), { what: 'the migration to succeed', timeoutMs: 30_000 });
    const rows = await conflictRows();
    expect(rows).toEqual([['1A', 'held', expect.any(String)]]);
    expect(rows[0]![2]).not.toBe('');
    const after = await api('GET', `/flights/${flightId}`);
    expect(after.body.seatMapVersion).toBeGreaterThan(created.body.seatMapVersion);

    // The seat audit runs from the page and reports no problem.
    await admin.page.getByRole('button', { name: 'Run seat audit' }).click();
    await until(async () => expect(await sectionOf('Seat audit').innerText()).toMatch(/Audit OK: \d+ available, \d+ held, \d+ booked/), { what: 'the audit result' });
  });

  it('a flight number already flying that day is refused with a sentence', async () => {
    const existing = (await api('POST', '/flights', {
      token: adminToken,
      body: { flightNumber: flightNumber(), origin: 'AMS', destination: 'BOS', departureTime: '2027-09-11T11:00:00Z', arrivalTime: '2027-09-11T19:00:00Z', seatMap: { seats: [{ id: '1A', class: 'economy', price: { amount: 100, currency: 'USD' } }] } },
    })).body as { flightNumber: string };
    await open(admin.page, '#/admin', 'Admin: flights');
    const form = sectionOf('New flight');
    await form.getByLabel('Flight number').fill(existing.flightNumber);
    await form.getByLabel('From', { exact: true }).fill('AMS');
    await form.getByLabel('To', { exact: true }).fill('BOS');
    await form.getByLabel('Departure (UTC)').fill('2027-09-11T11:00');
    await form.getByLabel('Arrival (UTC)').fill('2027-09-11T19:00');
    await form.getByRole('button', { name: 'Create flight' }).click();
    await alertText(admin.page, 'A flight with this number already departs on that day.');
  });

  it('the users page shows the admin\'s own row "(you)" with its controls disabled, and others\' enabled', async () => {
    const other = await registerUser('listed');
    await admin.page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Users' }).click();
    await admin.page.getByRole('heading', { level: 1, name: 'Admin: users' }).waitFor();
    await admin.page.getByRole('table', { name: 'Users' }).waitFor();
    const mine = admin.page.getByRole('row').filter({ hasText: '(you)' });
    await showMoreUntil(admin.page, mine, 'the admin\'s own row');
    expect(await mine.innerText()).toContain(process.env.ADMIN_EMAIL!.toLowerCase());
    const controls = mine.locator('button, select, input');
    expect(await controls.count()).toBeGreaterThan(0);
    for (const control of await controls.all()) expect(await control.isDisabled()).toBe(true);

    // Someone else's row can be changed (the list may be paged: show more until the new user is there).
    const theirs = admin.page.getByRole('row').filter({ hasText: other.email });
    await showMoreUntil(admin.page, theirs, `${other.email} in the users list`);
    const theirControls = theirs.locator('button, select, input');
    expect(await theirControls.count()).toBeGreaterThan(0);
    for (const control of await theirControls.all()) expect(await control.isDisabled()).toBe(false);
  });

  it('the registry page lists the registered services', async () => {
    const services = (await api('GET', '/registry/services', { token: adminToken })).body.items as { name: string }[];
    expect(services.length).toBeGreaterThan(0);
    await admin.page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Registry' }).click();
    await admin.page.getByRole('heading', { level: 1, name: 'Admin: registry' }).waitFor();
    for (const { name } of services) await admin.page.getByRole('main').getByText(name, { exact: true }).first().waitFor();
  });

  it('someone who is not an admin is turned away from the admin pages', async () => {
    const visitor = await newUser();
    await registerAndLogin(visitor.page, 'notadmin');
    expect(await visitor.page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await open(visitor.page, '#/admin/users', 'Admin');
    await visitor.page.getByText('These pages are for admins. Your account is not an admin account.').waitFor();
  });
});
