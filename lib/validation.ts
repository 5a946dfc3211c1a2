import { config, globalRegistry, type ZodMiniType } from 'zod/mini';
import { en } from 'zod/locales';

/**
 * The schema library every service validates with: zod's tree-shakable "mini" build with English
 * messages. Import it as a namespace (`import * as z from '.../lib/validation'`) so the bundler keeps
 * only what is used: the classic `zod` import cannot be tree-shaken and put 440 KB into every
 * function bundle (docs/benchmarks.md).
 */
config(en());

export * from 'zod/mini';

/**
 * Adds JSON Schema keywords to a schema's published form (the OpenAPI document) for a rule zod checks
 * with a refinement, which its JSON Schema output cannot show: `minProperties`, `uniqueItems`, …
 * The refinement stays the check; this only keeps the document saying the same thing.
 */
export function documentedAs<T extends ZodMiniType>(schema: T, keywords: Record<string, unknown>): T {
  globalRegistry.add(schema, keywords);
  return schema;
}
