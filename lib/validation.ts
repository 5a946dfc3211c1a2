import { config } from 'zod/mini';
import { en } from 'zod/locales';

/**
 * The schema library every service validates with: zod's tree-shakable "mini" build with English
 * messages. Import it as a namespace (`import * as z from '.../lib/validation'`) so the bundler keeps
 * only what is used: the classic `zod` import cannot be tree-shaken and put 440 KB into every
 * function bundle (docs/benchmarks.md).
 */
config(en());

export * from 'zod/mini';
