import { escape } from 'html-escaper';
import { money } from '../../lib/money';
import type { BookingNotice, EmailInput, FlightSummary, NoticeMoney, RenderedEmail } from './model';

/**
 * The notifications service's emails (API.md, "Notifications (email)"). Each kind is written once, as
 * a short list of blocks (paragraphs, label/value facts, a table, a link); the plain-text and the HTML
 * part are both rendered from that list, so they cannot say different things.
 *
 * What goes in is only what a template picks out of its event by name: an event never carries a
 * password, a token (but a reset's own), a payment method or id or a user id, and nothing here passes
 * an event through as a whole, so a field added to an event later does not reach an email by itself.
 */
export function renderEmail(input: EmailInput): RenderedEmail {
  const email = compose(input);
  return { subject: email.subject, text: toText(email), html: toHtml(email) };
}

// ---------------------------------------------------------------------------------------------------
// Formatting

const utcParts = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/**
 * "Mon 14 Dec 2026, 09:30 UTC". UTC because the email cannot know where its reader is and a flight's
 * two airports are in different zones: one clock, named, is never misread. Assembled from parts
 * because en-GB's own pattern puts a comma after the weekday.
 */
function utc(iso: string, { withTime = true } = {}): string {
  const part = Object.fromEntries(utcParts.formatToParts(new Date(iso)).map(({ type, value }) => [type, value]));
  const day = `${part.weekday} ${part.day} ${part.month} ${part.year}`;
  return withTime ? `${day}, ${part.hour}:${part.minute} UTC` : day;
}

/**
 * "$120.00", "¥12,000". The web app's formatter, so an email and the booking page show one amount:
 * it divides by the ISO 4217 minor unit (what the API's amounts count), where Intl's own digits differ
 * for a few currencies (HUF, IDR: Intl shows none, ISO has 2, so Intl's would show 100 times the price).
 */
const amount = (price: NoticeMoney): string => money(price);

// ---------------------------------------------------------------------------------------------------
// What an email says, before it is text or HTML

type Block =
  | { type: 'paragraph'; text: string }
  /** Label/value pairs: a booking's reference, flight, times, total. */
  | { type: 'facts'; rows: [label: string, value: string][] }
  /** A data table under a heading; each row's first cell names the row. */
  | { type: 'table'; title: string; columns: string[]; rows: string[][] }
  /** A link that says where it goes: a button in HTML, its label and address in text. */
  | { type: 'link'; label: string; href: string };

interface Email {
  subject: string;
  heading: string;
  blocks: Block[];
  /** Why the reader got this email, under it. */
  footer: string;
}

type BookingInput = Extract<EmailInput, { booking: BookingNotice }>;
type AccountInput = Extract<EmailInput, { name: string }>;

function compose(input: EmailInput): Email {
  switch (input.kind) {
    case 'booking-confirmed':
      return {
        subject: `Booking ${input.booking.reference} confirmed: ${flightLine(input)}${input.flight ? `, ${utc(input.flight.departureTime, { withTime: false })}` : ''}`,
        heading: 'Your booking is confirmed',
        blocks: [
          { type: 'paragraph', text: `Thank you for booking with us. Your booking reference is ${input.booking.reference}: keep it to find your booking again.` },
          bookingFacts(input, [['Total paid', amount(input.booking.total)]]),
          passengerTable(input.booking),
          bookingLink(input),
        ],
        footer: bookingFooter(input),
      };
    case 'booking-cancelled':
      return {
        subject: `Booking ${input.booking.reference} cancelled: ${refundHeadline(input.booking)}`,
        heading: 'Your booking is cancelled',
        blocks: [{ type: 'paragraph', text: `Your booking ${input.booking.reference} has been cancelled. ${refundSentence(input.booking)}` }, bookingFacts(input, [['Refund', amount(refund(input.booking))]]), bookingLink(input)],
        footer: bookingFooter(input),
      };
    case 'flight-cancelled': {
      const flight = input.flight ? `flight ${input.flight.flightNumber} from ${input.flight.origin} to ${input.flight.destination} on ${utc(input.flight.departureTime, { withTime: false })}` : `flight ${input.booking.flightId}`;
      return {
        subject: `Flight cancelled: ${flightLine(input)} (booking ${input.booking.reference})`,
        heading: 'Your flight is cancelled',
        blocks: [
          { type: 'paragraph', text: `We are sorry: ${flight} has been cancelled, and your booking ${input.booking.reference} with it. ${refundSentence(input.booking)}` },
          bookingFacts(input, [['Refund', amount(refund(input.booking))]]),
          bookingLink(input),
        ],
        footer: bookingFooter(input),
      };
    }
    case 'flight-retimed': {
      const [from, to] = input.flight ? [`Departs ${input.flight.origin}`, `Arrives ${input.flight.destination}`] : ['Departs', 'Arrives'];
      return {
        subject: `New times for ${flightLine(input)} (booking ${input.booking.reference})`,
        heading: 'Your flight has new times',
        blocks: [
          { type: 'paragraph', text: `The times of the flight of your booking ${input.booking.reference} have changed. Please check them before you travel.` },
          bookingFacts(input, [], { withTimes: false }),
          {
            type: 'table',
            title: 'New times',
            columns: ['Time', 'Was', 'Now'],
            rows: [
              [from, utc(input.previous.departureTime), utc(input.current.departureTime)],
              [to, utc(input.previous.arrivalTime), utc(input.current.arrivalTime)],
            ],
          },
          bookingLink(input),
        ],
        footer: bookingFooter(input),
      };
    }
    case 'password-reset':
      return {
        subject: 'Reset your password',
        heading: 'Reset your password',
        blocks: [
          { type: 'paragraph', text: `Hello ${input.name}, someone asked to reset the password of your account (${input.to}). To choose a new one, follow this link:` },
          // The token's only appearance: the link is the reset, so it goes nowhere else in the email.
          { type: 'link', label: 'Choose a new password', href: `${input.webAppUrl}#/reset?token=${encodeURIComponent(input.token)}` },
          // The time it ends rather than "30 minutes": the email may be read long after it was sent.
          { type: 'paragraph', text: `The link works once, and only until ${utc(input.expiresAt)}.` },
          { type: 'paragraph', text: 'If you did not ask, ignore this email: your password stays as it is.' },
        ],
        footer: accountFooter(input),
      };
    case 'password-changed':
      return {
        subject: `Your password was ${input.how}`,
        heading: `Your password was ${input.how}`,
        blocks: [
          {
            type: 'paragraph',
            text: `Hello ${input.name}, the password of your account (${input.to}) was ${input.how === 'reset' ? 'reset with a link sent by email' : 'changed'} on ${utc(input.at)}. If that was you, there is nothing to do.`,
          },
          { type: 'paragraph', text: 'If it was not you, someone else may be able to log in to your account: reset your password now, then contact our support team.' },
          { type: 'link', label: 'Reset your password', href: `${input.webAppUrl}#/forgot` },
        ],
        footer: accountFooter(input),
      };
  }
}

/** "FB 123 LHR → JFK"; without the flight's details (the flights service did not answer), its id. */
function flightLine({ flight, booking }: BookingInput): string {
  return flight ? `${flight.flightNumber} ${flight.origin} → ${flight.destination}` : `flight ${booking.flightId}`;
}

function bookingFacts(input: BookingInput, extra: [string, string][], { withTimes = true } = {}): Block {
  const { flight, booking } = input;
  const times = (f: FlightSummary): [string, string][] => [
    ['Departure', `${f.origin}, ${utc(f.departureTime)}`],
    ['Arrival', `${f.destination}, ${utc(f.arrivalTime)}`],
  ];
  return {
    type: 'facts',
    rows: [['Reference', booking.reference], ['Flight', flight ? `${flight.flightNumber}, ${flight.origin} → ${flight.destination}` : booking.flightId], ...(flight && withTimes ? times(flight) : []), ...extra],
  };
}

function passengerTable(booking: BookingNotice): Block {
  const seatClass = (seat: string) => {
    const name = booking.seats.find((s) => s.id === seat)?.class;
    return name ? name.charAt(0).toUpperCase() + name.slice(1) : '—';
  };
  return {
    type: 'table',
    title: 'Passengers',
    columns: ['Passenger', 'Seat', 'Class', 'Ticket number'],
    rows: booking.passengers.map((p) => [`${p.firstName} ${p.lastName}`, p.seat, seatClass(p.seat), p.ticketNumber]),
  };
}

const bookingLink = ({ booking, webAppUrl }: BookingInput): Block => ({
  type: 'link',
  label: `View booking ${booking.reference} in the web app`,
  href: `${webAppUrl}#/bookings/${encodeURIComponent(booking.bookingId)}`,
});

/** A cancellation refunds the whole total (API.md); the sender says so in `refund`, the total stands in when it does not. */
const refund = (booking: BookingNotice): NoticeMoney => booking.refund ?? booking.total;

/** Only the card the booking was paid with is known to exist: the email names no card, no bank, no date. */
function refundSentence(booking: BookingNotice): string {
  const refunded = refund(booking);
  return refunded.amount === 0 ? 'Nothing was paid for it, so there is nothing to refund.' : `A refund of ${amount(refunded)} is on its way to the card you paid with.`;
}

const refundHeadline = (booking: BookingNotice): string => (refund(booking).amount === 0 ? 'nothing to refund' : `${amount(refund(booking))} refunded`);

const bookingFooter = ({ to, booking }: BookingInput) => `This email was sent to ${to}, the contact of booking ${booking.reference}.`;
const accountFooter = ({ to }: AccountInput) => `This email was sent to ${to} about your Flight booking account.`;

// ---------------------------------------------------------------------------------------------------
// Plain text

function toText(email: Email): string {
  const blocks = email.blocks.map((block): string => {
    switch (block.type) {
      case 'paragraph':
        return block.text;
      case 'facts': {
        const width = Math.max(...block.rows.map(([label]) => label.length)) + 2;
        return block.rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join('\n');
      }
      case 'table':
        // A list reads better than a text grid in a proportional font: "- Ada Lovelace: seat 12A, ...".
        return [underline(block.title, '-'), ...block.rows.map(([first, ...rest]) => `- ${first}: ${rest.map((cell, i) => `${block.columns[i + 1]?.toLowerCase()} ${cell}`).join(', ')}`)].join('\n');
      case 'link':
        // The address on a line of its own, so that mail clients make all of it a link.
        return `${block.label}:\n${block.href}`;
    }
  });
  return [underline(email.heading, '='), ...blocks, `-- \n${email.footer}`].join('\n\n') + '\n';
}

const underline = (title: string, line: string) => `${title}\n${line.repeat(title.length)}`;

// ---------------------------------------------------------------------------------------------------
// HTML

/**
 * Markup that is safe to put in HTML. Only the `html` tag makes it, and the tag escapes every value
 * it is given that is not already such markup, so no event's text reaches the page unescaped.
 */
class Html {
  constructor(readonly markup: string) {}
}
type Value = Html | string | number | readonly Value[];

function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  return new Html(strings.reduce((out, literal, i) => out + literal + (i < values.length ? markup(values[i]!) : ''), ''));
}
const markup = (value: Value): string => (value instanceof Html ? value.markup : Array.isArray(value) ? value.map(markup).join('') : escape(String(value)));

/**
 * The web app's colours, all at least 4.5:1 on what they sit on (WCAG AA). Mail clients drop <style>
 * blocks and classes, and Outlook's tables do not inherit fonts: every element carries its own style.
 */
const INK = '#1b1f24';
const MUTED = '#4a5561';
const PANEL = '#f3f5f7';
const LINE = '#c9d0d7';
const ACCENT = '#0b5cad';
/** Text in the one font stack (system fonts: nothing to load), at a size, colour and weight. */
const font = (size: number, { color = INK, weight = 400, lineHeight = 1.5 } = {}) =>
  `font-family:-apple-system,BlinkMacSystemFont,Segoe UI,Roboto,Helvetica Neue,Arial,sans-serif;font-size:${size}px;line-height:${lineHeight};font-weight:${weight};color:${color}`;
const CELL = 'padding:8px 12px 8px 0;text-align:left;vertical-align:top';
const RULE = `border-bottom:1px solid ${LINE}`;

/** A time and its zone on one line: a narrow column would otherwise leave "UTC" alone under its time. */
const unsplit = (text: string) => text.replace(/(\d{2}:\d{2}) UTC/g, '$1\u00a0UTC');

function block(block: Block): Html {
  switch (block.type) {
    case 'paragraph':
      return html`<p style="${font(16)};margin:0 0 16px">${unsplit(block.text)}</p>`;
    case 'facts':
      return html`<table cellpadding="0" cellspacing="0" border="0" style="width:100%;border-collapse:collapse;margin:8px 0 24px">${block.rows.map(
        ([label, value]) => html`<tr><th scope="row" style="${font(16, { color: MUTED, weight: 600 })};${CELL};${RULE};white-space:nowrap;width:1%">${label}</th><td style="${font(16)};${CELL};${RULE}">${unsplit(value)}</td></tr>`,
      )}</table>`;
    case 'table':
      return html`<h2 style="${font(18, { weight: 700, lineHeight: 1.3 })};margin:0 0 8px">${block.title}</h2><table cellpadding="0" cellspacing="0" border="0" style="width:100%;border-collapse:collapse;margin:0 0 24px"><thead><tr>${block.columns.map(
        (column) => html`<th scope="col" style="${font(14, { color: MUTED, weight: 600 })};${CELL};border-bottom:2px solid ${INK}">${column}</th>`,
      )}</tr></thead><tbody>${block.rows.map(
        ([first, ...rest]) => html`<tr><th scope="row" style="${font(16, { weight: 600 })};${CELL};${RULE}">${first ?? ''}</th>${rest.map((cell) => html`<td style="${font(16)};${CELL};${RULE}">${unsplit(cell)}</td>`)}</tr>`,
      )}</tbody></table>`;
    case 'link':
      // A "bulletproof" button: the colour on the cell (bgcolor too, for clients that drop styles), the link filling it.
      return html`<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:8px 0 24px"><tr><td bgcolor="${ACCENT}" style="background-color:${ACCENT};border-radius:4px"><a href="${block.href}" style="${font(16, { color: '#ffffff', weight: 700, lineHeight: 1.3 })};display:inline-block;padding:12px 20px;text-decoration:none;border-radius:4px">${block.label}</a></td></tr></table>`;
  }
}

function toHtml(email: Email): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${email.subject}</title>
</head>
<body style="margin:0;padding:0;background-color:${PANEL}">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:${PANEL}">
<tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:600px;background-color:#ffffff;border:1px solid ${LINE}">
<tr><td style="${font(18, { color: '#ffffff', weight: 700, lineHeight: 1.3 })};background-color:${INK};padding:16px 24px">Flight booking</td></tr>
<tr><td style="${font(16)};padding:24px 24px 8px">
<h1 style="${font(24, { weight: 700, lineHeight: 1.25 })};margin:0 0 16px">${email.heading}</h1>
${email.blocks.map(block)}
</td></tr>
<tr><td style="${font(14, { color: MUTED })};background-color:${PANEL};padding:16px 24px;border-top:1px solid ${LINE}">${email.footer}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`.markup;
}
