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

type Doc = typeof document & { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>> };
const paths = (document as Doc).paths;
const matchers = Object.keys(paths).map((template) => ({ template, pattern: new RegExp(`^${template.replace(/\{[^/}]+\}/g, '[^/]+')}$`) }));
const validators = new Map<string, ReturnType<typeof ajv.compile>>();

function validatorFor(ref: string) {
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: `openapi${ref}` });
    validators.set(ref, validate);
  }
  return validate;
}

/** Returns a description of what is wrong, or undefined when the answer fits the spec. */
export function specViolation(method: string, url: string, status: number, contentType: string | null, body: unknown): string | undefined {
  const pathname = new URL(url).pathname;
  const template = matchers.find((m) => m.pattern.test(pathname))?.template;
  const operation = template ? paths[template]?.[method.toLowerCase()] : undefined;
  if (!operation) return status === 404 || status === 405 ? undefined : `${method} ${pathname} is not in the OpenAPI document`;
  if (status === 304) return undefined;
  const key = status >= 400 ? `${Math.floor(status / 100)}XX` : String(status);
  const response = operation.responses[key];
  if (!response) return `${method} ${template} answered ${status}, which the OpenAPI document does not list`;
  const [mediaType, media] = Object.entries(response.content ?? {})[0] ?? [];
  if (!media?.schema.$ref) return undefined;
  if (contentType?.split(';')[0]?.trim() !== mediaType) return `${method} ${template} ${status}: content-type ${contentType}, the document says ${mediaType}`;
  const validate = validatorFor(media.schema.$ref);
  return validate(body) ? undefined : `${method} ${template} ${status} does not fit ${media.schema.$ref}: ${ajv.errorsText(validate.errors)}`;
}
