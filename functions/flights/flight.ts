/**
 * A flight as the API answers it (API.md, "Flights"). A file of its own with no imports, so that the
 * web app (web/src/types.ts) reads this one definition without pulling in the service's code.
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
