/**
 * A flight and an airport as the API answers them (API.md, "Flights", "Public"). A file of its own with
 * no imports, so that the web app (web/src/types.ts) reads these definitions without pulling in the
 * service's code.
 */
export interface Flight {
  id: string;
  flightNumber: string;
  origin: string;
  destination: string;
  departureTime: string;
  arrivalTime: string;
  status: 'scheduled' | 'cancelled';
  seatMapVersion: number;
  createdAt: string;
  updatedAt: string;
}

/** GET /airports: an airport flights are scheduled from or to. */
export interface Airport {
  code: string;
  city: string;
  name: string;
  /** IANA zone; null for a code the airport dataset lacks (such a code is accepted everywhere, shown as itself). */
  timeZone: string | null;
}
