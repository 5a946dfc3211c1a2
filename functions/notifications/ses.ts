import { SESClient, SendEmailCommand } from '@aws-sdk/client-ses';
import type { Mailer } from './service';

/**
 * Email through Amazon SES's SendEmail (API v1: the one LocalStack community serves; the local emulator
 * of `npm start` answers it too). One attempt per call with a short deadline: the sender retries with
 * backoff (service.ts), and a send must never hold a sender past its lease.
 */
export function sesMailer(options: { region: string; from: string; endpoint?: string }): Mailer {
  const ses = new SESClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
  });
  return {
    async send({ to, subject, text, html }) {
      const { MessageId } = await ses.send(
        new SendEmailCommand({
          Source: options.from,
          Destination: { ToAddresses: [to] },
          Message: {
            Subject: { Data: subject, Charset: 'UTF-8' },
            Body: { Text: { Data: text, Charset: 'UTF-8' }, Html: { Data: html, Charset: 'UTF-8' } },
          },
        }),
      );
      return { messageId: MessageId ?? '' };
    },
  };
}
