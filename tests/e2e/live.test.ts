import { loginAdmin } from '../support/http';
import { answerBadMessages, refuseBadTickets, watchJourney, watchStorm } from '../support/live';

/** Live seat maps through sls offline's WebSocket emulation (the scenarios: tests/support/live.ts). */

jest.setTimeout(120_000);

let admin: string;
beforeAll(async () => {
  admin = (await loginAdmin()).accessToken;
});

it('two watchers get every change of a journey, a migration and a cancellation, in version order', () => watchJourney(admin));

it('after a storm of 2,000 random holds, confirms and releases, each watcher folds exactly the seat map', () => watchStorm(admin));

it('refuses a connection without a ticket, with a used one or a made-up one', () => refuseBadTickets());

it('answers bad messages with their error and keeps the connection', () => answerBadMessages(admin));
