import { randomInt } from 'node:crypto';

/**
 * Booking references (record locators) and e-ticket numbers.
 *
 * A reference is 6 characters from an alphabet without the look-alikes 0/O, 1/I/L, as airlines print
 * them: 31⁶ ≈ 8.9 × 10⁸ codes, drawn at random and reserved with SET NX (store.ts), drawn again on a
 * collision. Ticket numbers are 13 digits, a 3-digit airline accounting code and 10 digits; ours are
 * derived from the reference (its number × 10 + the passenger's place, 0–8), so they are unique exactly
 * when references are, with no counter to keep. The accounting code 000 is made up: no airline issues
 * tickets under it.
 */
export const REFERENCE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const REFERENCE_LENGTH = 6;
export const REFERENCE_PATTERN = new RegExp(`^[${REFERENCE_ALPHABET}]{${REFERENCE_LENGTH}}$`);
export const TICKET_ACCOUNTING_CODE = '000';

export function newReference(): string {
  return Array.from({ length: REFERENCE_LENGTH }, () => REFERENCE_ALPHABET[randomInt(REFERENCE_ALPHABET.length)]).join('');
}

function referenceNumber(reference: string): number {
  return [...reference].reduce((n, char) => n * REFERENCE_ALPHABET.length + REFERENCE_ALPHABET.indexOf(char), 0);
}

/** The ticket of the passenger at `place` (0-based, at most 8) of the booking with this reference. */
export function ticketNumber(reference: string, place: number): string {
  return TICKET_ACCOUNTING_CODE + String(referenceNumber(reference) * 10 + place).padStart(10, '0');
}
