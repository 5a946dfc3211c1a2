/** The API's objects as the web app reads them (../shared/API.md): one definition for every page. */
// The flight as the flights service answers it: the web app reads the one definition the API has.
export type { Airport, Flight } from '../../functions/flights/flight';

/** A page of a list: `?limit=` and `?cursor=`. */
export interface List<T> {
  items: T[];
  nextCursor: string | null;
}
