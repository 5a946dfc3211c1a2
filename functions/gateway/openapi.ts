import { httpHandler } from '../../lib/http/stack';
import document from './openapi.json';

/** GET /openapi.json: the OpenAPI 3.1 document (generated from the code by `npm run openapi`). */
export const handler = httpHandler({ route: 'GET /openapi.json' }, async () => ({ status: 200, body: document, headers: { 'cache-control': 'public, max-age=300' } }));
