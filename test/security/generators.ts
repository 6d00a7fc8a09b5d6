import fc from 'fast-check';

/**
 * Generators of hostile requests. Values are produced as raw text, not JS values, so a body can
 * carry what JSON.stringify never writes (1e400, -0, duplicate keys, 10,000 levels of nesting).
 */

/** A schema as it appears in the OpenAPI document (only what the generators look at). */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
}

/**
 * Stands for a real id of the fixture, resolved when the request is sent (fixtures can be recreated);
 * inside body text the same thing is written `@@name@@`.
 */
export interface Ref {
  ref: string;
}
export type PathValue = { raw: string } | { text: string } | Ref;

const nest = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);

const hostileStrings = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '../../../../etc/passwd',
  '..',
  '%00',
  '\r\nX-Injected: 1',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '"; DROP TABLE apps; --',
  '${jndi:ldap://x}',
  '\u202e\u0645\u0631\u062d\u0628\u0627',
  '\ud83d\ude00\ud83d\udca5',
  '\ud800',
  'ﬀ\uFEFF\u200b',
  '-rf',
  '--upload-pack=touch /tmp/pwned',
  'admin',
  '__proto__',
  'constructor',
  'x'.repeat(129),
  'x'.repeat(70_000),
];

const numberTokens = [
  '0',
  '-0',
  '-1',
  '1.5',
  '1e400',
  '-1e400',
  '1e-400',
  '2147483647',
  '2147483648',
  '-2147483649',
  '9007199254740993',
  '99999999999999999999999999',
  '1E2',
];

/** Raw JSON text of one hostile value; `schema` (when known) adds the edges it declares. */
export function valueText(schema?: JsonSchema, refs: string[] = []): fc.Arbitrary<string> {
  const edges: string[] = [];
  if (schema) {
    if (schema.minimum !== undefined) edges.push(String(schema.minimum), String(schema.minimum - 1));
    if (schema.maximum !== undefined) edges.push(String(schema.maximum), String(schema.maximum + 1));
    if (schema.maxLength !== undefined) edges.push(JSON.stringify('a'.repeat(schema.maxLength)), JSON.stringify('a'.repeat(schema.maxLength + 1)));
    if (schema.maxItems !== undefined) edges.push(JSON.stringify(Array.from({ length: schema.maxItems + 1 }, (_, i) => `K${i}`)));
    for (const e of schema.enum ?? []) edges.push(JSON.stringify(e));
    for (const alt of schema.anyOf ?? []) for (const e of alt.enum ?? []) edges.push(JSON.stringify(e));
  }
  const arbs: fc.Arbitrary<string>[] = [
    fc.json({ depthSize: 'small' }),
    fc.constantFrom(...numberTokens),
    fc.constantFrom('null', 'true', 'false', '[]', '{}', '""', '[null]', '{"__proto__":{"is_admin":true}}'),
    fc.constantFrom(...hostileStrings).map((s) => JSON.stringify(s)),
    fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)),
    fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => JSON.stringify(s)),
    fc.integer({ min: 1, max: 20_000 }).map((d) => nest(d, '[', ']')),
    fc.integer({ min: 1, max: 5_000 }).map((d) => nest(d, '{"a":', '}')),
  ];
  if (edges.length) arbs.push(fc.constantFrom(...edges));
  if (refs.length) arbs.push(fc.constantFrom(...refs).map((r) => JSON.stringify(`@@${r}@@`)));
  return fc.oneof(...arbs);
}

/** An object with the schema's own keys (and sometimes one more), each holding a hostile value. */
function shapedObject(schema: JsonSchema, refs: string[]): fc.Arbitrary<string> {
  const keys = Object.keys(schema.properties ?? {});
  const entry = (k: string) =>
    fc.oneof(
      { weight: 3, arbitrary: valueText(schema.properties![k], refs) },
      { weight: 1, arbitrary: schema.properties![k].properties ? shapedObject(schema.properties![k], refs) : valueText(undefined, refs) },
    ).map((v) => `${JSON.stringify(k)}:${v}`);
  const extra = fc.constantFrom('extra', '__proto__', 'constructor', '', '\u0000', 'is_admin', 'owner').chain((k) => valueText(undefined, refs).map((v) => `${JSON.stringify(k)}:${v}`));
  return fc
    .tuple(fc.subarray(keys).chain((ks) => fc.tuple(...ks.map(entry))), fc.option(extra, { freq: 4 }), fc.boolean())
    .map(([parts, more, dup]) => {
      const all = [...parts];
      if (more) all.push(more);
      if (dup && all.length) all.push(all[0]);
      return `{${all.join(',')}}`;
    });
}

export interface BodyChoice {
  text?: string | Buffer;
  contentType?: string;
}

/** A request body: none, junk text, arbitrary JSON, or an object shaped like the schema with bad values. */
export function bodyArb(schema: JsonSchema | undefined, refs: string[]): fc.Arbitrary<BodyChoice> {
  const json = (a: fc.Arbitrary<string>) => a.map((text) => ({ text, contentType: 'application/json' }));
  const arbs: fc.WeightedArbitrary<BodyChoice>[] = [
    { weight: 1, arbitrary: fc.constant({}) },
    { weight: 2, arbitrary: json(valueText(undefined, refs)) },
    {
      weight: 1,
      arbitrary: json(
        fc.constantFrom('{', '{"a":1', '\u0000', 'nul', '\uFEFF{}', '{"a":1}{"b":2}', '[1,]', "{'a':1}", 'NaN', '\ud800', nest(100_000, '[', ']')),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        text: fc.oneof(fc.constant('{}'), fc.string({ maxLength: 50 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))),
        contentType: fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json; charset=utf-16',
          'application/json; charset=latin1',
          'application/octet-stream',
          '',
          'application/json\r\nX-Bad: 1'.replace(/\r\n.*/, ''),
        ),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ text: JSON.stringify({ name: 'y'.repeat(900 * 1024) }), contentType: 'application/json' }) },
  ];
  if (schema?.properties) arbs.push({ weight: 6, arbitrary: json(shapedObject(schema, refs)) });
  return fc.oneof(...arbs);
}

const rawSegments = ['..', '.', '%2e%2e', '%2E%2E%2F%2E%2E', '%00', 'a%00b', '%ff', '%', '%%', '%zz', '..%2F..%2Fetc', ';', '*', '~', "'", '"', '$', '%0d%0a', 'a'.repeat(5000), '%F0%9F%98%80', '%C0%AE%C0%AE'];

/** A value for a path segment: a real id, a raw hostile segment, or generated text (percent-encoded). */
export function pathValueArb(refs: string[]): fc.Arbitrary<PathValue> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...refs).map((ref): PathValue => ({ ref })) },
    { weight: 2, arbitrary: fc.constantFrom(...rawSegments).map((raw): PathValue => ({ raw })) },
    { weight: 1, arbitrary: fc.constantFrom(...numberTokens, 'NaN', 'Infinity', '0x10', 'true').map((raw): PathValue => ({ raw })) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }).map((text): PathValue => ({ text })) },
    { weight: 1, arbitrary: fc.constantFrom(...hostileStrings.filter((s) => s.length < 200)).map((text): PathValue => ({ text })) },
  );
}

/** Percent-encodes every byte that is not unreserved (works for lone surrogates too). */
export function encodeAll(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A query string: the route's own keys with hostile values, sometimes repeated, sometimes unknown keys. */
export function queryArb(names: string[], refs: string[]): fc.Arbitrary<Array<[string, PathValue]>> {
  const value = fc.oneof(
    pathValueArb(refs),
    fc.constantFrom(...numberTokens, '', 'NaN', 'Infinity', '-Infinity', '1,2', '[]', '{}').map((raw): PathValue => ({ raw })),
  );
  const key = fc.oneof({ weight: 5, arbitrary: names.length ? fc.constantFrom(...names) : fc.constant('x') }, { weight: 1, arbitrary: fc.constantFrom('token', '__proto__', 'x', 'limit', '') });
  return fc.array(fc.tuple(key, value), { maxLength: 4 });
}
