/**
 * JSON schema sanitizing for Kiro tool definitions (spec §2.5, §2.9). Kiro answers 400 to
 * schemas with `"required": []` or `additionalProperties` anywhere, and the Bedrock validator
 * behind it rejects `anyOf`/`oneOf`/`allOf` at the top level of an input schema
 * ("input_schema does not support oneOf, allOf, or anyOf at the top level", reported in
 * kirodotdev/Kiro issues 9653 and 10672). Local `$ref`s are inlined because Kiro resolves none.
 */

/** Keys dropped wherever a schema object appears. */
const DROPPED_KEYS = new Set(["additionalProperties", "$schema", "$id", "$defs", "definitions"]);
/** Keys whose value maps names to schemas (the names themselves are data, never dropped). */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "dependentSchemas"]);
/** Keys whose value is literal data, copied as it is. */
const DATA_KEYS = new Set(["enum", "const", "default", "examples", "example"]);
/** Combinators Kiro refuses at the top level of an input schema. */
const COMBINATORS = ["anyOf", "oneOf", "allOf"] as const;

type Json = Record<string, unknown>;

/**
 * Returns a copy of `schema` that Kiro accepts: no empty `required`, no `additionalProperties`,
 * `$schema` or `$id`, local `$ref`s inlined (a cycle becomes `{}`) and `$defs`/`definitions`
 * dropped, top-level combinators merged into one object schema. A missing schema becomes `{}`.
 */
export function sanitizeSchema(schema: unknown): Record<string, unknown> {
  if (!isRecord(schema)) return {};
  const root = schema;
  const cleaned = cleanSchema(root, root, []);
  return isRecord(cleaned) ? flattenTopCombinators(cleaned) : {};
}

function cleanSchema(value: unknown, root: Json, refStack: string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => cleanSchema(item, root, refStack));
  if (!isRecord(value)) return value;
  const ref = value.$ref;
  if (typeof ref === "string") return inlineRef(value, ref, root, refStack);
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (key === "required" && Array.isArray(item) && item.length === 0) continue;
    if (DATA_KEYS.has(key)) out[key] = item;
    else if (SCHEMA_MAPS.has(key) && isRecord(item)) {
      const members: Json = {};
      for (const [name, member] of Object.entries(item)) {
        members[name] = cleanSchema(member, root, refStack);
      }
      out[key] = members;
    } else out[key] = cleanSchema(item, root, refStack);
  }
  return out;
}

function inlineRef(value: Json, ref: string, root: Json, refStack: string[]): Json {
  const { $ref: _ref, ...siblings } = value;
  const cleanedSiblings = cleanSchema(siblings, root, refStack) as Json;
  const target = refStack.includes(ref) ? undefined : resolveLocalRef(root, ref);
  if (target === undefined) return cleanedSiblings; // cycle, remote or unknown: keep the rest
  const inlined = cleanSchema(target, root, [...refStack, ref]);
  return isRecord(inlined) ? { ...inlined, ...cleanedSiblings } : cleanedSiblings;
}

/** Follows `#/$defs/...` or `#/definitions/...` (JSON pointer escapes decoded) inside `root`. */
function resolveLocalRef(root: Json, ref: string): unknown {
  if (!ref.startsWith("#/$defs/") && !ref.startsWith("#/definitions/")) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const segment = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isRecord(node) || !Object.hasOwn(node, segment)) return undefined;
    node = node[segment];
  }
  return node;
}

/** Merges top-level anyOf/oneOf/allOf branches into one object schema (union of properties). */
function flattenTopCombinators(schema: Json): Json {
  if (!COMBINATORS.some((key) => key in schema)) return schema;
  const out: Json = {};
  const properties: Json = isRecord(schema.properties) ? { ...schema.properties } : {};
  for (const [key, item] of Object.entries(schema)) {
    if ((COMBINATORS as readonly string[]).includes(key)) {
      for (const branch of Array.isArray(item) ? item : []) {
        if (isRecord(branch) && isRecord(branch.properties)) {
          for (const [name, member] of Object.entries(branch.properties)) {
            if (!(name in properties)) properties[name] = member;
          }
        }
      }
    } else if (key !== "properties") out[key] = item;
  }
  out.type = "object";
  out.properties = properties;
  return out;
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
