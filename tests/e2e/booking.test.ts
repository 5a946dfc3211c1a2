import { randomUUID } from 'node:crypto';
import { api, loginAdmin, registerUser } from '../support/http';
import { flightNumber, seatMap, checkoutFor } from '../support/seats';

describe('flights, seats and bookings over HTTP', () => {
  let admin: string;
  beforeAll(async () => {
    admin = (await loginAdmin()).accessToken;
  });

  async function createFlight(rows = 3, overrides: Record<string, unknown> = {}) {
    const res = await api('POST', '/flights', {
      token: admin,
      body: {
        flightNumber: flightNumber(),
        origin: 'SFO',
        destination: 'NRT',
        departureTime: '2027-03-01T10:00:00Z',
        arrivalTime: '2027-03-02T14:00:00+09:00',
        seatMap: seatMap(rows),
        ...overrides,
      },
    });
    if (res.status !== 201) throw new Error(`create flight: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; flightNumber: string };
  }

  it('admin creates → user finds → holds two → map shows them held → confirms → sees booking → cancels → seats free', async () => {
    const flight = await createFlight();
    const user = await registerUser('journey');

    const found = await api('GET', '/flights?origin=SFO&destination=NRT&date=2027-03-01&limit=100');
    expect(found.status).toBe(200);
    expect(found.body.items.map((f: { id: string }) => f.id)).toContain(flight.id);

    const hold = await api('POST', `/flights/${flight.id}/holds`, { token: user.accessToken, body: { seats: ['2A', '2B'] }, headers: { 'idempotency-key': randomUUID() } });
    expect(hold).toMatchObject({ status: 201, body: { flightId: flight.id, seats: ['2A', '2B'], expiresAt: expect.any(String) } });

    const map = await api('GET', `/flights/${flight.id}/seats`);
    expect(map.status).toBe(200);
    expect(map.body.counts).toEqual({ available: 16, held: 2, booked: 0, total: 18 });
    expect(map.body.seats.filter((s: { status: string }) => s.status === 'held').map((s: { id: string }) => s.id)).toEqual(['2A', '2B']);
    expect(JSON.stringify(map.body)).not.toContain(user.user.id);
    const etag = map.headers.get('etag')!;
    expect((await api('GET', `/flights/${flight.id}/seats`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const booking = await api('POST', `/holds/${hold.body.holdId}/confirm`, { token: user.accessToken, body: checkoutFor(hold.body.seats) });
    expect(booking).toMatchObject({ status: 201, body: { flightId: flight.id, userId: user.user.id, status: 'confirmed', total: { amount: 20_000, currency: 'USD' } } });
    expect((await api('GET', `/flights/${flight.id}/seats`, { headers: { 'if-none-match': etag } })).status).toBe(200);

    const mine = await api('GET', '/bookings', { token: user.accessToken });
    expect(mine.body.items.map((b: { bookingId: string }) => b.bookingId)).toEqual([booking.body.bookingId]);
    expect((await api('GET', `/bookings/${booking.body.bookingId}`, { token: admin })).status).toBe(200);

    const cancelled = await api('DELETE', `/bookings/${booking.body.bookingId}`, { token: user.accessToken });
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    expect((await api('GET', `/flights/${flight.id}/seats`)).body.counts).toEqual({ available: 18, held: 0, booked: 0, total: 18 });

    const audit = await api('GET', `/admin/flights/${flight.id}/seats/audit`, { token: admin });
    expect(audit).toMatchObject({ status: 200, body: { ok: true, problems: [] } });
  });

  it('through the gateway, concurrent users racing for one seat get exactly one hold', async () => {
    const flight = await createFlight(1);
    const users = await Promise.all(Array.from({ length: 20 }, () => registerUser('racer')));
    const answers = await Promise.all(users.map((u) => api('POST', `/flights/${flight.id}/holds`, { token: u.accessToken, body: { seats: ['1C'] } })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.code === 'SEAT_UNAVAILABLE' && a.body.unavailable[0] === '1C')).toBe(true);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(19);
  });

  it('cancelling a flight voids holds, marks bookings flight_cancelled, and refuses new holds', async () => {
    const flight = await createFlight();
    const user = await registerUser('cancelled');
    const hold = await api('POST', `/flights/${flight.id}/holds`, { token: user.accessToken, body: { seats: ['1A'] } });
    const booking = await api('POST', `/holds/${hold.body.holdId}/confirm`, { token: user.accessToken, body: checkoutFor(['1A']) });
    const other = await api('POST', `/flights/${flight.id}/holds`, { token: user.accessToken, body: { seats: ['1B'] } });
    const cancelled = await api('DELETE', `/flights/${flight.id}`, { token: admin });
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    expect((await api('GET', `/bookings/${booking.body.bookingId}`, { token: user.accessToken })).body.status).toBe('flight_cancelled');
    expect((await api('GET', `/holds/${other.body.holdId}`, { token: user.accessToken })).body.status).toBe('voided');
    const refused = await api('POST', `/flights/${flight.id}/holds`, { token: user.accessToken, body: { seats: ['2A'] } });
    expect(refused).toMatchObject({ status: 409, body: { code: 'FLIGHT_CANCELLED' } });
  });

  describe('bad input gets its documented code and changes nothing', () => {
    let flight: { id: string; flightNumber: string };
    let owner: Awaited<ReturnType<typeof registerUser>>;
    let stranger: Awaited<ReturnType<typeof registerUser>>;
    let holdId: string;
    beforeAll(async () => {
      flight = await createFlight();
      owner = await registerUser('owner');
      stranger = await registerUser('stranger');
      holdId = (await api('POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, body: { seats: ['3F'] } })).body.holdId;
    });
    afterAll(async () => {
      const audit = await api('GET', `/admin/flights/${flight.id}/seats/audit`, { token: admin });
      expect(audit.body).toMatchObject({ ok: true, counts: { held: 1, booked: 0 } });
    });

    const cases: [string, () => [string, string, Record<string, unknown>], number, string][] = [
      ['an unknown flight', () => ['GET', '/flights/fl-0000000000000000', {}], 404, 'FLIGHT_NOT_FOUND'],
      ['a malformed flight id', () => ['GET', '/flights/nope/seats', {}], 404, 'FLIGHT_NOT_FOUND'],
      ['an unknown flight for a hold', () => ['POST', '/flights/fl-0000000000000000/holds', { token: owner.accessToken, body: { seats: ['1A'] } }], 404, 'FLIGHT_NOT_FOUND'],
      ['a seat not on the map', () => ['POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, body: { seats: ['1A', '40K'] } }], 404, 'SEAT_NOT_FOUND'],
      ['a duplicate seat in one hold', () => ['POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, body: { seats: ['1A', '1A'] } }], 400, 'VALIDATION_FAILED'],
      ['no seats', () => ['POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, body: { seats: [] } }], 400, 'VALIDATION_FAILED'],
      ['ten seats', () => ['POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, body: { seats: ['1A', '1B', '1C', '1D', '1E', '1F', '2A', '2B', '2C', '2D'] } }], 400, 'VALIDATION_FAILED'],
      ['a seat someone holds', () => ['POST', `/flights/${flight.id}/holds`, { token: stranger.accessToken, body: { seats: ['3F'] } }], 409, 'SEAT_UNAVAILABLE'],
      ['confirming someone else\'s hold', () => ['POST', `/holds/${holdId}/confirm`, { token: stranger.accessToken, body: checkoutFor(['3F']) }], 403, 'FORBIDDEN'],
      ['reading someone else\'s hold', () => ['GET', `/holds/${holdId}`, { token: stranger.accessToken }], 404, 'HOLD_NOT_FOUND'],
      ['an unknown hold', () => ['POST', `/holds/h_${flight.id}_AAAAAAAAAAAAAAAA/confirm`, { token: owner.accessToken, body: checkoutFor(['1A']) }], 404, 'HOLD_NOT_FOUND'],
      ['an unknown booking', () => ['GET', `/bookings/b_${flight.id}_AAAAAAAAAAAAAAAA`, { token: owner.accessToken }], 404, 'BOOKING_NOT_FOUND'],
      ['a non-JSON body', () => ['POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, rawBody: 'seats=1A' }], 400, 'INVALID_JSON'],
      ['an oversized body', () => ['POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, rawBody: JSON.stringify({ seats: ['1A'], pad: 'x'.repeat(300_000) }) }], 413, 'PAYLOAD_TOO_LARGE'],
      ['limit=0', () => ['GET', '/bookings?limit=0', { token: owner.accessToken }], 400, 'VALIDATION_FAILED'],
      ['limit=1000', () => ['GET', '/bookings?limit=1000', { token: owner.accessToken }], 400, 'VALIDATION_FAILED'],
      ['a forged cursor', () => ['GET', '/bookings?cursor=eyJvZmZzZXQiOjV9.forged', { token: owner.accessToken }], 400, 'INVALID_CURSOR'],
      ['a forged search cursor', () => ['GET', '/flights?origin=SFO&destination=NRT&date=2027-03-01&cursor=abc.def', {}], 400, 'INVALID_CURSOR'],
      ['a search without a date', () => ['GET', '/flights?origin=SFO&destination=NRT', {}], 400, 'VALIDATION_FAILED'],
      ['a user creating a flight', () => ['POST', '/flights', { token: owner.accessToken, body: {} }], 403, ''],
      ['a flight with arrival before departure', () => ['POST', '/flights', { token: admin, body: { flightNumber: 'ZZ1', origin: 'SFO', destination: 'NRT', departureTime: '2027-03-01T10:00:00Z', arrivalTime: '2027-03-01T09:00:00Z', seatMap: seatMap(1) } }], 400, 'VALIDATION_FAILED'],
      ['a seat map with duplicate seats', () => ['POST', '/flights', { token: admin, body: { flightNumber: 'ZZ2', origin: 'SFO', destination: 'NRT', departureTime: '2027-03-01T10:00:00Z', arrivalTime: '2027-03-01T19:00:00Z', seatMap: { seats: [...seatMap(1).seats, ...seatMap(1).seats] } } }], 400, 'VALIDATION_FAILED'],
      ['a user calling a service-only route', () => ['PUT', `/internal/flights/${flight.id}/seats`, { token: owner.accessToken, body: {} }], 403, ''],
    ];

    it.each(cases)('%s', async (_, request, status, code) => {
      const [method, path, options] = request();
      const res = await api(method, path, options as Parameters<typeof api>[2]);
      expect(res.status).toBe(status);
      if (code) expect(res.body.code).toBe(code);
    });

    it('the same flight number on the same day is 409 FLIGHT_EXISTS', async () => {
      const res = await api('POST', '/flights', {
        token: admin,
        body: { flightNumber: flight.flightNumber, origin: 'SFO', destination: 'NRT', departureTime: '2027-03-01T22:00:00Z', arrivalTime: '2027-03-02T09:00:00Z', seatMap: seatMap(1) },
      });
      expect(res).toMatchObject({ status: 409, body: { code: 'FLIGHT_EXISTS' } });
    });

    it('confirming twice: with the same key replays the booking, without a key is 409, a reused key with another body is 422', async () => {
      const hold = await api('POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, body: { seats: ['1D'] } });
      const key = randomUUID();
      const first = await api('POST', `/holds/${hold.body.holdId}/confirm`, { token: owner.accessToken, body: checkoutFor(['1D']), headers: { 'idempotency-key': key } });
      const again = await api('POST', `/holds/${hold.body.holdId}/confirm`, { token: owner.accessToken, body: checkoutFor(['1D']), headers: { 'idempotency-key': key } });
      expect(first.status).toBe(201);
      expect(again).toMatchObject({ status: 201, body: { bookingId: first.body.bookingId } });
      const bare = await api('POST', `/holds/${hold.body.holdId}/confirm`, { token: owner.accessToken, body: checkoutFor(['1D']) });
      expect(bare).toMatchObject({ status: 409, body: { code: 'HOLD_ALREADY_CONFIRMED', bookingId: first.body.bookingId } });
      const reused = await api('POST', `/flights/${flight.id}/holds`, { token: owner.accessToken, body: { seats: ['1E'] }, headers: { 'idempotency-key': key } });
      expect(reused).toMatchObject({ status: 422, body: { code: 'IDEMPOTENCY_KEY_REUSED' } });
      const mine = await api('GET', '/bookings', { token: owner.accessToken });
      expect(mine.body.items.filter((b: { bookingId: string }) => b.bookingId === first.body.bookingId)).toHaveLength(1);
      await api('DELETE', `/bookings/${first.body.bookingId}`, { token: owner.accessToken });
      expect((await api('DELETE', `/bookings/${first.body.bookingId}`, { token: owner.accessToken })).body.code).toBe('ALREADY_CANCELLED');
    });
  });
});
