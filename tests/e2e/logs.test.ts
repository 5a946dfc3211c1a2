import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { api, loginAdmin, registerUser } from '../support/http';
import { flightNumber, seatMap, checkoutFor } from '../support/seats';

/**
 * What the functions write to their logs (the emulator's offline.log, as CloudWatch Logs would get it):
 * structured Powertools lines with the Lambda context and the request id as correlation id, the
 * business metrics as embedded metric format, and never a password, token or signing key, whatever
 * the requests carried.
 */
const logFile = () => path.join(process.env.TEST_DATA_DIR!, 'offline.log');
const jsonLines = () =>
  readFileSync(logFile(), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, any>];
      } catch {
        return [];
      }
    });

describe('the functions’ logs and metrics', () => {
  const secrets: string[] = [];
  let holdRequestId: string;

  beforeAll(async () => {
    const admin = await loginAdmin();
    const user = await registerUser('logs');
    secrets.push(user.password, user.accessToken, user.refreshToken, admin.accessToken, admin.refreshToken, process.env.ADMIN_PASSWORD!);
    secrets.push(...process.env.JWT_KEYS!.split(',').map((entry) => entry.split(':')[1]!));

    const refreshed = await api('POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    secrets.push(refreshed.body.accessToken, refreshed.body.refreshToken);
    await api('POST', '/auth/login', { body: { email: user.email, password: 'a wrong password, also secret' } });
    secrets.push('a wrong password, also secret');
    await api('GET', '/users/me', { token: `${user.accessToken}x` });

    const flight = await api('POST', '/flights', {
      token: admin.accessToken,
      body: { flightNumber: flightNumber(), origin: 'DUB', destination: 'EDI', departureTime: '2027-08-01T08:00:00Z', arrivalTime: '2027-08-01T09:30:00Z', seatMap: seatMap(3) },
    });
    const hold = await api('POST', `/flights/${flight.body.id}/holds`, { token: refreshed.body.accessToken, body: { seats: ['1A'] }, headers: { 'idempotency-key': randomUUID() } });
    holdRequestId = hold.headers.get('x-request-id')!;
    await api('POST', `/holds/${hold.body.holdId}/confirm`, { token: refreshed.body.accessToken, body: checkoutFor(['1A']) });
    // The emulator writes its log asynchronously.
    await new Promise((resolve) => setTimeout(resolve, 500));
  });

  it('never contains a password, token or signing key that the requests carried', () => {
    const log = readFileSync(logFile(), 'utf8');
    expect(secrets.filter((secret) => secret.length >= 8 && log.includes(secret))).toEqual([]);
  });

  it('writes Powertools JSON lines with the service, the Lambda context and the request id as correlation id', () => {
    const line = jsonLines().find((entry) => entry.message === 'request' && entry.correlation_id === holdRequestId);
    expect(line).toMatchObject({ level: 'INFO', service: 'seats', function_name: expect.stringContaining('createHold'), cold_start: expect.any(Boolean), method: 'POST', status: 201 });
  });

  it('writes the business metrics in CloudWatch embedded metric format, per service', () => {
    const metricLines = jsonLines().filter((entry) => entry._aws?.CloudWatchMetrics);
    const emitted = new Set(metricLines.flatMap((entry) => (entry._aws.CloudWatchMetrics as { Metrics: { Name: string }[] }[]).flatMap((m) => m.Metrics.map((metric) => `${entry.service}:${metric.Name}`))));
    expect([...emitted]).toEqual(expect.arrayContaining(['seats:HoldsWon', 'seats:Bookings']));
    expect(metricLines.every((entry) => entry._aws.CloudWatchMetrics[0].Namespace === 'FlightBooking')).toBe(true);
  });
});
