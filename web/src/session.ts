import { api } from './api';
import type { ApiError } from './errors';

/**
 * Who is logged in, and their tokens, in sessionStorage: a reload keeps the tab logged in, nothing
 * outlives the tab, and no cookie is sent anywhere. The page's Content-Security-Policy allows only
 * this origin's scripts, which is what keeps other code away from that storage. Refreshing rotates the
 * refresh token (the API revokes the old one, and a reuse of it revokes its successors too);
 * concurrent callers share one refresh. The access token is kept beside it so that a reload does not
 * refresh: a reload during a refresh would lose the rotated token and, on the next try, present the
 * old one — which the API treats as theft and answers by ending the session.
 */
export interface User {
  id: string;
  email: string;
  name: string;
  role: 'user' | 'admin';
  disabled: boolean;
  createdAt: string;
}

export interface TokenPair {
  user?: User;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

const REFRESH_KEY = 'flight-booking.refreshToken';
const ACCESS_KEY = 'flight-booking.accessToken';
const USER_KEY = 'flight-booking.user';
// Refresh a little before the access token expires, so a request never carries a token about to lapse.
const EARLY_SECONDS = 30;

type Listener = (user: User | undefined) => void;

interface AccessToken {
  token: string;
  expiresAt: number;
}

class Session {
  private refreshing: Promise<boolean> | undefined;
  private readonly listeners = new Set<Listener>();

  user(): User | undefined {
    const saved = sessionStorage.getItem(USER_KEY);
    return saved ? (JSON.parse(saved) as User) : undefined;
  }

  loggedIn(): boolean {
    return sessionStorage.getItem(REFRESH_KEY) !== null;
  }

  isAdmin(): boolean {
    return this.user()?.role === 'admin';
  }

  onChange(listener: Listener): void {
    this.listeners.add(listener);
  }

  start(pair: TokenPair): void {
    this.keep(pair);
    if (pair.user) sessionStorage.setItem(USER_KEY, JSON.stringify(pair.user));
    this.notify();
  }

  end(): void {
    sessionStorage.removeItem(ACCESS_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    sessionStorage.removeItem(USER_KEY);
    this.notify();
  }

  refreshToken(): string | undefined {
    return sessionStorage.getItem(REFRESH_KEY) ?? undefined;
  }

  /** A valid access token, refreshed first when it is missing (after a reload) or about to expire. */
  async accessToken(): Promise<string | undefined> {
    if (!this.loggedIn()) return undefined;
    const current = this.access();
    if (current && current.expiresAt - EARLY_SECONDS * 1000 > Date.now()) return current.token;
    await this.refresh();
    return this.access()?.token;
  }

  /** Trades the refresh token for a new pair; false (and logged out) when the API refuses it. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.rotate().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async rotate(): Promise<boolean> {
    const refreshToken = this.refreshToken();
    if (!refreshToken) return false;
    try {
      const pair = await api<TokenPair>('POST', '/auth/refresh', { body: { refreshToken }, auth: false });
      this.keep(pair);
      return true;
    } catch (error) {
      // A refused refresh token ends the session; an outage leaves it for the next try.
      if ((error as ApiError).problem?.status === 401) this.end();
      return false;
    }
  }

  private access(): AccessToken | undefined {
    const saved = sessionStorage.getItem(ACCESS_KEY);
    return saved ? (JSON.parse(saved) as AccessToken) : undefined;
  }

  private keep(pair: TokenPair): void {
    const access: AccessToken = { token: pair.accessToken, expiresAt: Date.now() + pair.expiresIn * 1000 };
    sessionStorage.setItem(ACCESS_KEY, JSON.stringify(access));
    sessionStorage.setItem(REFRESH_KEY, pair.refreshToken);
  }

  private notify(): void {
    for (const listener of this.listeners) listener(this.user());
  }
}

export const session = new Session();
