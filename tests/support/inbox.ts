import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The emails the local SES emulator (aws-ses-v2-local, started by the test stack: SES_ENDPOINT) has
 * received, as its `GET /store` lists them.
 */
export interface SentEmail {
  messageId: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** Seconds since the epoch. */
  at: number;
}

export interface EmailFilter {
  to?: string;
  subjectIncludes?: string;
  textIncludes?: string;
}

interface StoredEmail {
  messageId: string;
  from: string;
  destination: { to: string[] };
  subject: string;
  body: { text?: string; html?: string };
  at: number;
}

const matches = (email: SentEmail, filter: EmailFilter) =>
  (!filter.to || email.to.some((to) => to.toLowerCase() === filter.to!.toLowerCase())) &&
  (!filter.subjectIncludes || email.subject.includes(filter.subjectIncludes)) &&
  (!filter.textIncludes || email.text.includes(filter.textIncludes));

export function inbox(url = process.env.SES_ENDPOINT) {
  if (!url) throw new Error('SES_ENDPOINT is not set: the test stack starts the SES emulator and sets it');
  const emails = async (filter: EmailFilter = {}): Promise<SentEmail[]> => {
    const response = await fetch(`${url}/store`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`the SES emulator answered ${response.status}`);
    const { emails: stored } = (await response.json()) as { emails: StoredEmail[] };
    return stored
      .map((e) => ({ messageId: e.messageId, from: e.from, to: e.destination.to, subject: e.subject, text: e.body.text ?? '', html: e.body.html ?? '', at: e.at }))
      .filter((email) => matches(email, filter));
  };
  return {
    emails,
    /** Waits until at least `count` emails match (default 1), and answers all that match then. */
    async waitFor(filter: EmailFilter, count = 1, timeoutMs = 30_000): Promise<SentEmail[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await emails(filter);
        if (found.length >= count) return found;
        if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${count} email(s) matching ${JSON.stringify(filter)}; found ${found.length}`);
        await sleep(200);
      }
    },
  };
}
