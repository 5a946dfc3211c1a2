import { unescape } from 'html-escaper';
import { NOTIFICATION_KINDS, notificationEvent, type EmailInput, type FlightSummary, type NotificationKind } from '../../functions/notifications/model';
import { renderEmail } from '../../functions/notifications/templates';
import { SAMPLE_BOOKING_ID, SAMPLE_RESET_TOKEN, sampleBooking, sampleEmails, sampleFlight } from '../support/email-samples';

const WEB = 'https://app.example.com/';
const BOOKING_ID = SAMPLE_BOOKING_ID;
const TOKEN = SAMPLE_RESET_TOKEN;
const flight = sampleFlight;
const booking = sampleBooking;
const inputs = sampleEmails(WEB);

/** What API.md says each email says: in its subject, and in both its parts (as a reader sees them). */
const expected: Record<NotificationKind, { subject: string[]; facts: string[]; links: string[] }> = {
  'booking-confirmed': {
    subject: ['K7MQ2X', 'confirmed', 'FB 123', 'LHR → JFK'],
    facts: ['K7MQ2X', 'FB 123', 'LHR → JFK', 'Mon 14 Dec 2026, 09:30 UTC', 'Mon 14 Dec 2026, 17:45 UTC', 'Ada Lovelace', '12A', '1254830000012', 'Grace Hopper', '12B', '1254830000013', '€846.00'],
    links: [`${WEB}#/bookings/${BOOKING_ID}`],
  },
  'booking-cancelled': {
    subject: ['K7MQ2X', 'cancelled', '€846.00'],
    facts: ['K7MQ2X', 'cancelled', 'A refund of €846.00 is on its way to the card you paid with.'],
    links: [`${WEB}#/bookings/${BOOKING_ID}`],
  },
  'flight-cancelled': {
    subject: ['K7MQ2X', 'cancelled', 'FB 123'],
    facts: ['K7MQ2X', 'flight FB 123 from LHR to JFK on Mon 14 Dec 2026 has been cancelled', 'A refund of $912.50 is on its way to the card you paid with.'],
    links: [`${WEB}#/bookings/${BOOKING_ID}`],
  },
  'flight-retimed': {
    subject: ['K7MQ2X', 'New times', 'FB 123'],
    facts: ['K7MQ2X', 'FB 123', 'Mon 14 Dec 2026, 08:15 UTC', 'Mon 14 Dec 2026, 16:30 UTC', 'Mon 14 Dec 2026, 09:30 UTC', 'Mon 14 Dec 2026, 17:45 UTC'],
    links: [`${WEB}#/bookings/${BOOKING_ID}`],
  },
  'password-reset': {
    subject: ['Reset your password'],
    facts: ['Hello Ada Lovelace', 'works once', 'until Mon 7 Dec 2026, 10:30 UTC', 'If you did not ask, ignore this email'],
    links: [`${WEB}#/reset?token=${TOKEN}`],
  },
  'password-changed': {
    subject: ['password was changed'],
    facts: ['Hello Ada Lovelace', 'was changed on Mon 7 Dec 2026, 10:12 UTC', 'If it was not you', 'reset your password', 'contact our support team'],
    links: [`${WEB}#/forgot`],
  },
};

/** The HTML body as a reader sees it: no tags, entities decoded, white space as one space. */
function visible(html: string): string {
  return unescape(html.slice(html.indexOf('<body')).replace(/<[^>]*>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}
const oneLine = (text: string) => text.replace(/\s+/g, ' ');
const hrefs = (html: string) => [...html.matchAll(/href="([^"]*)"/g)].map((match) => unescape(match[1]!));
const textLinks = (text: string) => text.match(/https?:\/\/\S+/g) ?? [];
const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

/** Everything a template must leave out, added where a careless template would pick it up. */
const SECRETS = {
  userId: '7f3c2a10-5b4e-4d8a-9c1f-2e6b8d0a4c3e',
  paymentMethod: 'pm_card_visa',
  payment: { provider: 'stripe', paymentId: 'pi_3SxFakePaymentId', status: 'succeeded' },
  accessToken: 'Bearer eyJhbGciOiJIUzI1NiJ9.access',
  refreshToken: 'rt_0123456789abcdef0123456789abcdef',
  password: 'correct horse battery staple',
  contact: { email: 'ada@example.com', phone: '+44 20 7946 0000' },
};
function tempting(input: EmailInput): EmailInput {
  return { ...input, ...SECRETS, ...('booking' in input ? { booking: { ...input.booking, ...SECRETS } } : {}) } as EmailInput;
}

describe('notification emails', () => {
  it('renders events the intake accepts (the fixtures are real events)', () => {
    for (const kind of NOTIFICATION_KINDS) {
      const { flight: _flight, webAppUrl: _url, ...event } = inputs[kind];
      expect(notificationEvent.safeParse(event).success).toBe(true);
    }
  });

  it.each(NOTIFICATION_KINDS)('%s: the subject and both parts say what API.md lists, with the same links', (kind) => {
    const email = renderEmail(inputs[kind]);
    const { subject, facts, links } = expected[kind];
    for (const fact of subject) expect(email.subject).toContain(fact);
    for (const fact of facts) {
      expect(oneLine(email.text)).toContain(fact);
      expect(visible(email.html)).toContain(fact);
    }
    expect(hrefs(email.html).sort()).toEqual([...links].sort());
    expect(textLinks(email.text).sort()).toEqual([...links].sort());
    // Each link on a line of its own in the text part, so that a mail client links all of it.
    for (const link of links) expect(email.text.split('\n')).toContain(link);
    for (const part of [email.subject, email.text, email.html]) expect(part).not.toMatch(/undefined|NaN|Invalid Date|\[object/);
  });

  it('lists the passengers in a real table, with seats, classes and ticket numbers', () => {
    const { html, text } = renderEmail(inputs['booking-confirmed']);
    const columns = [...html.matchAll(/<th scope="col"[^>]*>([^<]*)<\/th>/g)].map((match) => match[1]);
    expect(columns).toEqual(['Passenger', 'Seat', 'Class', 'Ticket number']);
    expect(visible(html)).toContain('Ada Lovelace 12A Economy 1254830000012 Grace Hopper 12B Economy 1254830000013');
    expect(text).toContain('- Ada Lovelace: seat 12A, class Economy, ticket number 1254830000012');
  });

  it('shows a retimed flight\'s old and new times side by side', () => {
    const { html, text } = renderEmail(inputs['flight-retimed']);
    expect(visible(html)).toContain('Time Was Now Departs LHR Mon 14 Dec 2026, 08:15 UTC Mon 14 Dec 2026, 09:30 UTC Arrives JFK Mon 14 Dec 2026, 16:30 UTC Mon 14 Dec 2026, 17:45 UTC');
    expect(text).toContain('- Departs LHR: was Mon 14 Dec 2026, 08:15 UTC, now Mon 14 Dec 2026, 09:30 UTC');
    expect(text).toContain('- Arrives JFK: was Mon 14 Dec 2026, 16:30 UTC, now Mon 14 Dec 2026, 17:45 UTC');
  });

  it('says how a password changed: by the person, or through a reset', () => {
    const reset = renderEmail({ ...inputs['password-changed'], how: 'reset' } as EmailInput);
    expect(reset.subject).toBe('Your password was reset');
    expect(oneLine(reset.text)).toContain('was reset with a link sent by email on Mon 7 Dec 2026, 10:12 UTC');
  });

  it('escapes every value in the HTML and leaves the text part as it is', () => {
    const input = {
      ...inputs['booking-confirmed'],
      booking: booking({
        passengers: [
          { seat: '12A', firstName: '<script>alert(1)</script>', lastName: 'Smith', ticketNumber: '1254830000012' },
          { seat: '12B', firstName: 'Pat', lastName: "O'Brien & Sons", ticketNumber: '1254830000013' },
        ],
      }),
      flight: { ...flight, flightNumber: 'FB "1" <i>' },
      webAppUrl: 'https://app.example.com/?a=1&b="2"/',
    } as EmailInput;
    const { subject, text, html } = renderEmail(input);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('O&#39;Brien &amp; Sons');
    expect(html).toContain('FB &quot;1&quot; &lt;i&gt;');
    expect(html).not.toContain('<script');
    expect(html).not.toContain("O'Brien & Sons");
    expect(html).not.toContain('<i>');
    expect(html).toMatch(/<title>[^<]*FB &quot;1&quot; &lt;i&gt;[^<]*<\/title>/);
    expect(unescape(html.match(/<title>([^<]*)<\/title>/)![1]!)).toBe(subject);
    expect(hrefs(html)).toEqual([`https://app.example.com/?a=1&b="2"/#/bookings/${BOOKING_ID}`]);
    expect(html).toContain('href="https://app.example.com/?a=1&amp;b=&quot;2&quot;/#/bookings/');
    expect(text).toContain('<script>alert(1)</script> Smith');
    expect(text).toContain("Pat O'Brien & Sons");
    expect(subject).toContain('FB "1" <i>');
  });

  it.each(NOTIFICATION_KINDS)('%s: carries no password, token, payment method, payment id or user id', (kind) => {
    const email = renderEmail(tempting(inputs[kind]));
    const all = [email.subject, email.text, email.html].join('\n');
    for (const secret of ['pm_', 'pi_', 'Bearer', 'eyJ', 'rt_', SECRETS.password, SECRETS.userId, SECRETS.contact.phone, 'stripe']) expect(all).not.toContain(secret);
  });

  it('puts the reset token in the reset link and nowhere else', () => {
    const { subject, text, html } = renderEmail(tempting(inputs['password-reset']));
    const link = `${WEB}#/reset?token=${TOKEN}`;
    expect(subject).not.toContain(TOKEN);
    expect(count(text, TOKEN)).toBe(1);
    expect(text.split('\n')).toContain(link);
    expect(count(html, TOKEN)).toBe(1);
    expect(hrefs(html)).toEqual([link]);
    expect(visible(html)).toContain('Choose a new password');
  });

  it('encodes a token for the URL it goes in', () => {
    // The intake allows only URL-safe tokens; the template must not rely on it.
    const { html, text } = renderEmail({ ...inputs['password-reset'], token: 'a+b/c=d&e' } as EmailInput);
    expect(hrefs(html)).toEqual([`${WEB}#/reset?token=a%2Bb%2Fc%3Dd%26e`]);
    expect(textLinks(text)).toEqual([`${WEB}#/reset?token=a%2Bb%2Fc%3Dd%26e`]);
  });

  it.each(NOTIFICATION_KINDS)('%s: HTML that mail clients render: a full document, inline styles, tables for layout', (kind) => {
    const { subject, html } = renderEmail(inputs[kind]);
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(unescape(html.match(/<title>([^<]*)<\/title>/)![1]!)).toBe(subject);
    for (const banned of ['<style', '<script', 'class=', '<link', '<img', 'src=', 'url(', '@import', 'javascript:']) expect(html.toLowerCase()).not.toContain(banned);
    const elements = new Set([...html.matchAll(/<\/?([a-z0-9!]+)/gi)].map((match) => match[1]!.toLowerCase()));
    expect([...elements].filter((name) => !['!doctype', 'html', 'head', 'meta', 'title', 'body', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'h1', 'h2', 'p', 'a'].includes(name))).toEqual([]);
    expect(html).toContain('max-width:600px');
    // Layout tables say so; data tables (facts, passengers) do not.
    expect(count(html, '<table role="presentation"')).toBeGreaterThanOrEqual(2);
    // Body text no smaller than 14px.
    for (const [, size] of html.matchAll(/font-size:(\d+)px/g)) expect(Number(size)).toBeGreaterThanOrEqual(14);
    expect(html).not.toContain(' href="#');
  });

  it('shows money in its currency, by the currency\'s minor unit', () => {
    const total = (amount: number, currency: string) => {
      const { text, html } = renderEmail({ ...inputs['booking-confirmed'], booking: booking({ total: { amount, currency } }) } as EmailInput);
      // Intl puts a no-break space between a currency code and its amount.
      const shown = oneLine(text.match(/^Total paid: +(.+)$/m)![1]!);
      expect(visible(html)).toContain(`Total paid ${shown}`);
      return shown;
    };
    expect(total(91_250, 'USD')).toBe('$912.50');
    expect(total(12_000, 'JPY')).toBe('¥12,000');
    expect(total(84_600, 'EUR')).toBe('€846.00');
    // As the booking page shows it: ISO 4217's 2 digits, where Intl's own currency data has none.
    expect(total(12_000, 'HUF')).toBe('HUF 120.00');
    expect(total(0, 'USD')).toBe('$0.00');
  });

  it('says there is nothing to refund for a booking that cost nothing, and refunds the total when the event does not say', () => {
    const free = renderEmail({ ...inputs['booking-cancelled'], booking: booking({ total: { amount: 0, currency: 'USD' }, refund: { amount: 0, currency: 'USD' } }) } as EmailInput);
    expect(oneLine(free.text)).toContain('there is nothing to refund');
    expect(free.text).not.toContain('on its way');
    const unsaid = renderEmail({ ...inputs['flight-cancelled'], booking: booking() } as EmailInput);
    expect(oneLine(unsaid.text)).toContain('A refund of €846.00 is on its way');
  });

  it.each(['booking-confirmed', 'booking-cancelled', 'flight-cancelled', 'flight-retimed'] as const)('%s: without the flight\'s details, names the flight by its id', (kind) => {
    const { flight: _flight, ...input } = inputs[kind] as EmailInput & { flight?: FlightSummary };
    const email = renderEmail(input as EmailInput);
    expect(email.subject).toContain('K7MQ2X');
    expect(email.text).toContain('fl-3f9a1c2e4b6d8a0f');
    expect(visible(email.html)).toContain('fl-3f9a1c2e4b6d8a0f');
    for (const part of [email.subject, email.text, email.html]) expect(part).not.toMatch(/undefined|NaN|Invalid Date/);
  });
});
