import { newReference, REFERENCE_ALPHABET, REFERENCE_PATTERN, ticketNumber } from '../../functions/seats/references';

describe('booking references and ticket numbers', () => {
  it('draws 6-character references without look-alike characters', () => {
    const drawn = Array.from({ length: 2_000 }, newReference);
    expect(drawn.every((reference) => REFERENCE_PATTERN.test(reference))).toBe(true);
    expect(drawn.join('')).not.toMatch(/[01ILO]/);
    // 31⁶ codes: 2,000 draws practically never collide, and the draw is not stuck on a few codes.
    expect(new Set(drawn).size).toBeGreaterThan(1_990);
  });

  it('derives 13-digit tickets, unique across passengers and references, even at the largest reference', () => {
    const last = REFERENCE_ALPHABET.at(-1)!.repeat(6);
    const first = REFERENCE_ALPHABET[0]!.repeat(6);
    const tickets = [first, 'ABCDEF', 'ABCDEG', last].flatMap((reference) => Array.from({ length: 9 }, (_, place) => ticketNumber(reference, place)));
    expect(tickets.every((ticket) => /^\d{13}$/.test(ticket))).toBe(true);
    expect(new Set(tickets).size).toBe(tickets.length);
    expect(ticketNumber(first, 0)).toBe('0000000000000');
    expect(Number(ticketNumber(last, 8).slice(3))).toBeLessThan(1e10);
  });
});
