import { AppError } from '../../lib/http/errors';
import { httpHandler } from '../../lib/http/stack';
import { CATCH_ALL, methodNotAllowed, routesForPath } from '../../lib/http/route-policy';

/**
 * The catch-all route: whatever no other route matched. A known path with another method is 405 with
 * an Allow header; anything else is 404. Both are problem JSON, never the emulator's route listing.
 */
export const handler = httpHandler({ route: CATCH_ALL }, async ({ path }) => {
  const known = routesForPath(path);
  if (known.length === 0) throw new AppError('NOT_FOUND', 'No route matches this path');
  throw methodNotAllowed(known);
});
