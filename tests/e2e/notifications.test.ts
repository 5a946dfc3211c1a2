import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { api, loginAdmin, registerUser, uniqueEmail } from '../support/http';
import { inbox, type SentEmail } from '../support/inbox';
import { flightNumber, seatMap } from '../support/seats';

/**
 * Booking emails over HTTP (API.md, Notifications): each event of a booking — confirmed, cancelled with
 * its refund, its flight retimed, its flight cancelled — reaches the booking's contact address as
 * exactly one email, through the seats scripts' notices, the relay, the notifications service and SES
 * (the test stack's SES emulator), all through sls offline.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mail = inbox();
const table = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT, region: 'us-east-1' }));

/** Waits for the email, then a little longer, and answers every email matching: a second one would be a duplicate. */
async function exactlyOne(filter: Parameters<typeof mail.waitFor>[0]): Promise<SentEmail> {
  await mail.waitFor(filter);
  await sleep(1_500);
  const found = await mail.emails(filter);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('booking emails', () => {
  let admin: string;
  beforeAll(async () => {
    admin = (await loginAdmin()).accessToken;
  });

  async function createFlight() {
    const departureTime = '2027-10-05T09:30:00Z';
    const res = await api('POST', '/flights', {
      token: admin,
      body: { flightNumber: flightNumber(), origin: 'LHR', destination: 'JFK', departureTime, arrivalTime: '2027-10-05T17:45:00Z', seatMap: seatMap(2) },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; flightNumber: string };
  }

  async function book(flightId: string, seats: string[], contactEmail: string) {
    const traveller = await registerUser('emails');
    const hold = await api('POST', `/flights/${flightId}/holds`, { token: traveller.accessToken, body: { seats } });
    expect(hold.status).toBe(201);
    const passengers = seats.map((seat, i) => ({ seat, firstName: 'Ada', lastName: `Lovelace${'ABC'[i]}` }));
    const confirmed = await api('POST', `/holds/${(hold.body as { holdId: string }).holdId}/confirm`, {
      token: traveller.accessToken,
      body: { passengers, contact: { email: contactEmail }, paymentMethod: 'pm_card_visa' },
    });
    expect(confirmed.status).toBe(201);
    return { token: traveller.accessToken, booking: confirmed.body as { bookingId: string; reference: string; passengers: { ticketNumber: string }[] } };
  }

  it('confirms a booking, then its cancellation with the refund, each in exactly one email', async () => {
    const flight = await createFlight();
    const contact = uniqueEmail('confirm');
    const { token, booking } = await book(flight.id, ['1A', '1B'], contact);

    const confirmation = await exactlyOne({ to: contact, subjectIncludes: booking.reference });
    for (const part of [confirmation.text, confirmation.html]) {
      expect(part).toContain(booking.reference);
      expect(part).toContain(flight.flightNumber);
      expect(part).toContain('LHR');
      expect(part).toContain('JFK');
      for (const passenger of booking.passengers) expect(part).toContain(passenger.ticketNumber);
      expect(part).toContain(`#/bookings/${booking.bookingId}`);
      expect(part).not.toMatch(/pm_card|Bearer/);
    }
    const record = await table.send(new GetCommand({ TableName: process.env.NOTIFICATIONS_TABLE, Key: { eventId: `booking-confirmed:${booking.bookingId}` } }));
    expect(record.Item).toMatchObject({ status: 'sent', kind: 'booking-confirmed' });
    // A sent record keeps its receipt, not the email's contents.
    expect(record.Item).not.toHaveProperty('event');

    expect((await api('DELETE', `/bookings/${booking.bookingId}`, { token })).status).toBe(200);
    const cancellation = await exactlyOne({ to: contact, subjectIncludes: 'cancelled' });
    expect(cancellation.text).toContain(booking.reference);
    expect(cancellation.text).toMatch(/refund/i);
    // Still exactly one confirmation.
    expect(await mail.emails({ to: contact, subjectIncludes: booking.reference })).toHaveLength(2);
  });

  it("tells every booking of a flight of its new times, then of the flight's cancellation", async () => {
    const flight = await createFlight();
    const [first, second] = [uniqueEmail('retime-a'), uniqueEmail('retime-b')];
    const bookings = [await book(flight.id, ['1A'], first), await book(flight.id, ['2A'], second)];
    for (const contact of [first, second]) await exactlyOne({ to: contact, subjectIncludes: 'confirmed' });

    const retimed = await api('PATCH', `/flights/${flight.id}`, { token: admin, body: { departureTime: '2027-10-05T11:00:00Z', arrivalTime: '2027-10-05T19:15:00Z' } });
    expect(retimed.status).toBe(200);
    for (const [i, contact] of [first, second].entries()) {
      const email = await exactlyOne({ to: contact, textIncludes: '11:00' });
      expect(email.text).toContain(bookings[i]!.booking.reference);
      expect(email.text).toContain('09:30');
    }
    // A change of anything but the times tells nobody.
    expect((await api('PATCH', `/flights/${flight.id}`, { token: admin, body: { destination: 'EWR' } })).status).toBe(200);

    expect((await api('DELETE', `/flights/${flight.id}`, { token: admin })).status).toBe(200);
    for (const [i, contact] of [first, second].entries()) {
      const email = await exactlyOne({ to: contact, subjectIncludes: 'cancelled' });
      expect(email.text).toContain(bookings[i]!.booking.reference);
      expect(email.text).toMatch(/refund/i);
    }
    for (const contact of [first, second]) expect(await mail.emails({ to: contact })).toHaveLength(3);
  });
});
