import { auditSnapshot } from '../../functions/seats/audit';
import type { FullSnapshot } from '../../functions/seats/store';

const seat = JSON.stringify({ class: 'economy', price: { amount: 1, currency: 'USD' } });
const now = 1_000_000;

function snapshot(overrides: Partial<FullSnapshot> = {}): FullSnapshot {
  return {
    meta: { version: '3', mapVersion: '1', status: 'scheduled' },
    map: { '1A': seat, '1B': seat, '1C': seat, '1D': seat },
    state: { '1A': 'H:h1', '1B': 'B:b1' },
    holds: { h1: JSON.stringify({ holdId: 'h1', userId: 'u', seats: ['1A'], expiresAtMs: now + 1000, createdAt: '', status: 'active', counted: true }) },
    activeHoldExpiries: { h1: now + 1000 },
    bookings: { b1: JSON.stringify({ bookingId: 'b1', userId: 'u', seats: [{ id: '1B' }], status: 'confirmed' }) },
    nowMs: now,
    retired: [],
    heldBy: { u: 1 },
    expired: 0,
    ...overrides,
  };
}

describe('seat audit', () => {
  it('passes a consistent flight and counts it', () => {
    expect(auditSnapshot(snapshot())).toEqual({ ok: true, counts: { available: 2, held: 1, booked: 1, total: 4 }, problems: [] });
  });

  it('leaves a hold made before the hold cap existed out of the count', () => {
    const legacy = JSON.stringify({ holdId: 'h1', userId: 'u', seats: ['1A'], expiresAtMs: now + 1000, createdAt: '', status: 'active' });
    expect(auditSnapshot(snapshot({ holds: { h1: legacy }, heldBy: {} })).ok).toBe(true);
  });

  it.each([
    ['a seat held by an unknown hold', { state: { '1A': 'H:nope', '1B': 'B:b1' } }, /unknown hold nope/],
    ['a seat booked by an unknown booking', { state: { '1A': 'H:h1', '1B': 'B:nope' } }, /unknown booking nope/],
    ['a hold that has expired but still holds', { nowMs: now + 5000 }, /has expired/],
    ['a status on a seat not on the map', { state: { '1A': 'H:h1', '1B': 'B:b1', '9K': 'B:b1' } }, /not on the seat map/],
    [
      'a seat in two bookings',
      {
        bookings: {
          b1: JSON.stringify({ bookingId: 'b1', seats: [{ id: '1B' }], status: 'confirmed' }),
          b2: JSON.stringify({ bookingId: 'b2', seats: [{ id: '1B' }], status: 'confirmed' }),
        },
      },
      /two confirmed bookings/,
    ],
    ['a booking that lost its seat', { state: { '1A': 'H:h1' } }, /lost seat 1B/],
    ['a hold cap count that disagrees with the live holds', { heldBy: { u: 3 } }, /holds 1 seats but the hold cap counts 3/],
    ['a hold cap count for someone without holds', { heldBy: { u: 1, v: 2 } }, /user v holds 0 seats/],
  ])('reports %s', (_, overrides, problem) => {
    const report = auditSnapshot(snapshot(overrides as Partial<FullSnapshot>));
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(problem);
  });
});
