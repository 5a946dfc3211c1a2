import { api } from './api';

/**
 * A flight's seat statuses as they change: the live seat maps' WebSocket API (API.md, "Live seat
 * maps"), with polling (ETag, 304 when nothing changed) whenever the socket cannot be had. The socket
 * path: a single-use ticket from POST /realtime/tickets, connect to its `url`, subscribe. Messages
 * carry the status `version`: a `seats` message applies when it starts at or before the next version
 * (`fromVersion`); a gap means something was missed, and subscribing again (with `sinceVersion`)
 * catches up from the server's stream or answers a fresh snapshot. A dropped socket reconnects with
 * backoff, polling meanwhile.
 */
export type SeatStatus = 'available' | 'held' | 'booked';
export interface SeatChange {
  seat: string;
  status: SeatStatus;
  expiresAt?: string;
}
export type LiveMode = 'connecting' | 'live' | 'polling';
export type Statuses = Map<string, { status: SeatStatus; expiresAt?: string }>;

export interface LiveHandlers {
  /** Every seat's status (after subscribing, after a resync, or from a poll). */
  snapshot(statuses: Statuses, version: number): void;
  /** Changes in version order, on top of the last snapshot. */
  changes(changes: SeatChange[], version: number): void;
  /** A migration changed the seat map: fetch it again. */
  seatMapChanged(): void;
  flightCancelled(): void;
  mode(mode: LiveMode): void;
}

interface SeatsPage {
  version: number;
  seats: { id: string; status: SeatStatus }[];
}

type ServerMessage =
  | { type: 'snapshot'; flightId: string; version: number; seats: { id: string; status: SeatStatus; expiresAt?: string }[] }
  | { type: 'seats'; flightId: string; fromVersion: number; version: number; changes: SeatChange[] }
  | { type: 'seatmap'; flightId: string }
  | { type: 'flight'; flightId: string; status: 'cancelled' }
  | { type: 'unsubscribed'; flightId: string }
  | { type: 'error'; code: string; detail: string };

const POLL_MS = 5000;
const RECONNECT_MS = [1000, 2000, 5000, 10_000, 30_000];

export function watchFlight(flightId: string, handlers: LiveHandlers): () => void {
  let stopped = false;
  let socket: WebSocket | undefined;
  let version: number | undefined;
  let etag: string | undefined;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  /** Whether the socket delivers this flight's changes; polling runs whenever it does not. */
  let subscribed = false;

  const snapshot = (seats: { id: string; status: SeatStatus; expiresAt?: string }[], at: number) => {
    version = at;
    handlers.snapshot(new Map(seats.map((seat) => [seat.id, { status: seat.status, ...(seat.expiresAt ? { expiresAt: seat.expiresAt } : {}) }])), at);
  };

  const poll = async () => {
    pollTimer = undefined;
    if (stopped || subscribed) return;
    try {
      const page = await api<SeatsPage | undefined>('GET', `/flights/${flightId}/seats`, { auth: false, etag, onEtag: (tag) => (etag = tag) });
      if (page && !stopped && page.version !== version) snapshot(page.seats, page.version);
    } catch {
      // An outage: the next poll tries again.
    }
    if (!stopped) pollTimer = setTimeout(() => void poll(), POLL_MS);
  };

  // Reconnect attempts come faster than polls: a running poll loop is left to its rhythm.
  const startPolling = () => {
    handlers.mode('polling');
    pollTimer ??= setTimeout(() => void poll(), POLL_MS);
  };

  const subscribe = () => socket?.send(JSON.stringify({ action: 'subscribe', flightId, ...(version === undefined ? {} : { sinceVersion: version }) }));

  const onMessage = (message: ServerMessage) => {
    if ('flightId' in message && message.flightId !== flightId) return;
    switch (message.type) {
      case 'snapshot':
        failures = 0;
        subscribed = true;
        handlers.mode('live');
        snapshot(message.seats, message.version);
        break;
      case 'seats':
        failures = 0;
        subscribed = true;
        handlers.mode('live');
        if (version !== undefined && message.version <= version) break; // already seen
        if (version !== undefined && message.fromVersion > version + 1) {
          subscribe(); // a gap: catch up from the stream, or a snapshot
          break;
        }
        version = message.version;
        if (message.changes.length > 0) handlers.changes(message.changes, message.version);
        break;
      case 'seatmap':
        handlers.seatMapChanged();
        break;
      case 'flight':
        handlers.flightCancelled();
        break;
      case 'error':
        // The server refused the subscription (say, the flight is gone): the page keeps working by polling.
        subscribed = false;
        startPolling();
        break;
      case 'unsubscribed':
        break;
    }
  };

  const reconnectLater = () => {
    if (stopped) return;
    startPolling();
    const delay = RECONNECT_MS[Math.min(failures, RECONNECT_MS.length - 1)]!;
    failures += 1;
    reconnectTimer = setTimeout(() => void connect(), delay);
  };

  const connect = async () => {
    if (stopped) return;
    handlers.mode('connecting');
    let ticket: { ticket: string; url: string };
    try {
      ticket = await api('POST', '/realtime/tickets');
    } catch {
      reconnectLater();
      return;
    }
    if (stopped) return;
    let opened: WebSocket;
    try {
      const url = new URL(ticket.url);
      url.searchParams.set('ticket', ticket.ticket);
      opened = new WebSocket(url);
    } catch {
      // A URL the browser will not open (malformed, or refused by a policy): poll, and try again later.
      reconnectLater();
      return;
    }
    socket = opened;
    opened.addEventListener('open', subscribe);
    opened.addEventListener('message', (event) => {
      try {
        onMessage(JSON.parse(String(event.data)) as ServerMessage);
      } catch {
        // Not a message of ours: ignored.
      }
    });
    opened.addEventListener('close', () => {
      if (socket !== opened) return;
      socket = undefined;
      subscribed = false;
      reconnectLater();
    });
  };

  void connect();
  return () => {
    stopped = true;
    clearTimeout(pollTimer);
    clearTimeout(reconnectTimer);
    if (socket) {
      const closing = socket;
      socket = undefined;
      closing.close();
    }
  };
}
