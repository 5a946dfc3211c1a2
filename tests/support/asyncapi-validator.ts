import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

/**
 * Validates a live seat map message against docs/asyncapi.yaml: the end-to-end tests run every message
 * they send and receive through it, so the document cannot drift from what the WebSocket API says.
 *
 * The document describes the API, so what a client sends is the messages of its `receive` operations
 * and what a client receives those of its `send` operations (and the replies). `direction` here is the
 * client's, as the tests are clients. A message is told apart by its `action` (client to API) or its
 * `type` (API to client).
 */

type Schema = Record<string, any>;
type Ref = { $ref: string };
type Operation = { action: 'send' | 'receive'; channel: Ref; messages: Ref[]; reply?: { channel: Ref; messages: Ref[] } };
export type AsyncApiDocument = {
  asyncapi: string;
  channels: Record<string, { messages: Record<string, Ref> }>;
  operations: Record<string, Operation>;
  components: { messages: Record<string, { name: string; payload: Schema; examples?: { name: string; payload: unknown }[] }>; schemas: Record<string, Schema> };
};
export type Direction = 'send' | 'receive';

export const asyncApiDocument = parse(readFileSync(path.join(__dirname, '..', '..', 'docs', 'asyncapi.yaml'), 'utf8')) as AsyncApiDocument;

/** What a local reference (`#/a/b`) points at in the document. */
export function resolveRef<T = Schema>({ $ref }: Ref): T {
  if (!$ref.startsWith('#/')) throw new Error(`only local references are supported: ${$ref}`);
  const found = $ref
    .slice(2)
    .split('/')
    .reduce<any>((node, key) => node?.[key.replaceAll('~1', '/').replaceAll('~0', '~')], asyncApiDocument);
  if (found === undefined) throw new Error(`${$ref} points at nothing in docs/asyncapi.yaml`);
  return found as T;
}
/** A message, following a channel's reference to components.messages. */
const messageAt = (ref: Ref) => {
  const message = resolveRef<Schema>(ref);
  return (message.$ref ? resolveRef(message as Ref) : message) as AsyncApiDocument['components']['messages'][string];
};

/** The names of the messages a client sends ('send') or receives ('receive'), from the operations. */
export function messageNames(direction: Direction): string[] {
  const names = Object.values(asyncApiDocument.operations).flatMap((operation) => {
    const fromClient = operation.action === 'receive';
    const own = fromClient === (direction === 'send') ? operation.messages : [];
    const replies = fromClient && direction === 'receive' ? (operation.reply?.messages ?? []) : [];
    return [...own, ...replies].map((ref) => messageAt(ref).name);
  });
  return [...new Set(names)];
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'asyncapi', components: { schemas: asyncApiDocument.components.schemas } });

const discriminator = (direction: Direction) => (direction === 'send' ? 'action' : 'type');

/** Per direction: the validator of each message's payload, by its `action` or `type`. */
const validators = Object.fromEntries(
  (['send', 'receive'] as const).map((direction) => {
    const byTag = new Map<string, ReturnType<typeof ajv.compile>>();
    for (const name of messageNames(direction)) {
      const payload = asyncApiDocument.components.messages[name]!.payload;
      const schema = payload.$ref ? resolveRef(payload as Ref) : payload;
      const tag = schema.properties?.[discriminator(direction)]?.const as string | undefined;
      if (!tag) throw new Error(`docs/asyncapi.yaml: message ${name} has no constant ${discriminator(direction)}`);
      byTag.set(tag, ajv.compile(JSON.parse(JSON.stringify(payload).replaceAll('"$ref":"#/', '"$ref":"asyncapi#/')) as Schema));
    }
    return [direction, byTag];
  }),
) as Record<Direction, Map<string, ReturnType<typeof ajv.compile>>>;

/** Returns a description of what is wrong, or undefined when the message fits the document. */
export function asyncApiViolation(direction: Direction, message: unknown): string | undefined {
  const key = discriminator(direction);
  const who = direction === 'send' ? 'a client sends' : 'the API sends';
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return `${who} JSON objects only, not ${JSON.stringify(message)}`;
  const tag = (message as Record<string, unknown>)[key];
  const validate = typeof tag === 'string' ? validators[direction].get(tag) : undefined;
  if (!validate) return `no message ${who} has ${key} ${JSON.stringify(tag)} (there are: ${[...validators[direction].keys()].join(', ')})`;
  return validate(message) ? undefined : `${key} ${tag} does not fit its schema: ${ajv.errorsText(validate.errors)}`;
}
