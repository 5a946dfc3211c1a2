import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import document from '../../functions/gateway/openapi.json';

/**
 * Validates an API answer against the OpenAPI document's schema for that route and status: the
 * end-to-end tests run every response through it, so the spec cannot drift from what the API says.
 */
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'openapi', components: document.components }, 'openapi');

type Schema = Record<string, unknown>;
type Doc = typeof document & { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>> };
const paths = (document as Doc).paths;
const matchers = Object.keys(paths).map((template) => ({ template, pattern: new RegExp(`^${template.replace(/\{[^/}]+\}/g, '[^/]+')}$`) }));
const validators = new Map<string, ReturnType<typeof ajv.compile>>();

/** A response schema, with its references into the document's components made absolute. */
function validatorFor(schema: Schema) {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(JSON.parse(key.replaceAll('"$ref":"#/', '"$ref":"openapi#/')) as Schema);
    validators.set(key, validate);
  }
  return validate;
}

/** Returns a description of what is wrong, or undefined when the answer fits the spec. */
export function specViolation(method: string, url: string, status: number, contentType: string | null, body: unknown): string | undefined {
  // the API's own path prefix (LocalStack's path-style /_aws/execute-api/<id>/<stage>) is not the document's
  const base = process.env.API_URL ? new URL(process.env.API_URL).pathname.replace(/\/$/, '') : '';
  const full = new URL(url).pathname;
  const pathname = base && full.startsWith(base) ? full.slice(base.length) || '/' : full;
  const template = matchers.find((m) => m.pattern.test(pathname))?.template;
  const operation = template ? paths[template]?.[method.toLowerCase()] : undefined;
  if (!operation) return status === 404 || status === 405 ? undefined : `${method} ${pathname} is not in the OpenAPI document`;
  if (status === 304) return undefined;
  const response = operation.responses[String(status)] ?? operation.responses[`${Math.floor(status / 100)}XX`];
  if (!response) return `${method} ${template} answered ${status}, which the OpenAPI document does not list`;
  const mediaTypes = Object.keys(response.content ?? {});
  if (mediaTypes.length === 0) return undefined;
  const mediaType = contentType?.split(';')[0]?.trim() ?? '';
  const media = response.content?.[mediaType];
  if (!media) return `${method} ${template} ${status}: content-type ${contentType}, the document says ${mediaTypes.join(' or ')}`;
  const validate = validatorFor(media.schema);
  return validate(body) ? undefined : `${method} ${template} ${status} does not fit its schema: ${ajv.errorsText(validate.errors)}`;
}
