/** The API's objects as the web app reads them (../shared/API.md): one definition for every page. */
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

/** A page of a list: `?limit=` and `?cursor=`. */
export interface List<T> {
  items: T[];
  nextCursor: string | null;
}
