import assert from "node:assert/strict";
import { sanitizeSchema } from "../../src/kiro/schema.ts";

Deno.test("sanitizeSchema removes what Kiro rejects", async (t) => {
  const cases: [string, unknown, Record<string, unknown>][] = [
    ["a missing schema becomes {}", undefined, {}],
    ["null becomes {}", null, {}],
    ["an empty schema stays empty", {}, {}],
    ["an empty required list is dropped", { type: "object", required: [] }, { type: "object" }],
    ["a non-empty required list is kept", { type: "object", required: ["x"] }, {
      type: "object",
      required: ["x"],
    }],
    [
      "additionalProperties is dropped at every depth",
      {
        type: "object",
        additionalProperties: false,
        properties: {
          a: { type: "object", additionalProperties: { type: "string" }, required: [] },
          b: { anyOf: [{ type: "object", additionalProperties: true }, "plain", 3] },
        },
      },
      {
        type: "object",
        properties: { a: { type: "object" }, b: { anyOf: [{ type: "object" }, "plain", 3] } },
      },
    ],
    [
      "$schema and $id are dropped",
      { $schema: "https://json-schema.org/draft/2020-12/schema", $id: "urn:x", type: "object" },
      { type: "object" },
    ],
    [
      "properties named like keywords are kept",
      {
        type: "object",
        properties: { additionalProperties: { type: "string" }, required: { type: "boolean" } },
      },
      {
        type: "object",
        properties: { additionalProperties: { type: "string" }, required: { type: "boolean" } },
      },
    ],
    [
      "data values are copied untouched",
      {
        type: "object",
        default: { additionalProperties: 1, required: [] },
        enum: [{ required: [] }],
      },
      {
        type: "object",
        default: { additionalProperties: 1, required: [] },
        enum: [{ required: [] }],
      },
    ],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.deepEqual(sanitizeSchema(input), expected));
  }
});

Deno.test("sanitizeSchema inlines local $refs and drops the definitions", () => {
  const schema = {
    type: "object",
    properties: {
      owner: { $ref: "#/$defs/Person", description: "Who owns it" },
      pet: { $ref: "#/definitions/Pet" },
      remote: { $ref: "https://example.com/schema.json", type: "string" },
    },
    $defs: {
      Person: {
        type: "object",
        properties: { name: { type: "string" } },
        additionalProperties: false,
      },
    },
    definitions: { Pet: { type: "string", enum: ["cat", "dog"] } },
  };
  assert.deepEqual(sanitizeSchema(schema), {
    type: "object",
    properties: {
      owner: {
        type: "object",
        properties: { name: { type: "string" } },
        description: "Who owns it",
      },
      pet: { type: "string", enum: ["cat", "dog"] },
      remote: { type: "string" },
    },
  });
});

Deno.test("sanitizeSchema stops at a $ref cycle", () => {
  const schema = {
    type: "object",
    properties: { root: { $ref: "#/$defs/Node" } },
    $defs: {
      Node: {
        type: "object",
        properties: {
          value: { type: "number" },
          next: { $ref: "#/$defs/Node", description: "The next node" },
        },
      },
    },
  };
  assert.deepEqual(sanitizeSchema(schema), {
    type: "object",
    properties: {
      root: {
        type: "object",
        properties: { value: { type: "number" }, next: { description: "The next node" } },
      },
    },
  });
});

Deno.test("sanitizeSchema merges top-level combinators into one object schema", () => {
  const schema = {
    anyOf: [
      { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
      { type: "object", properties: { slug: { type: "string" } }, additionalProperties: false },
    ],
    description: "Find by id or slug",
  };
  assert.deepEqual(sanitizeSchema(schema), {
    description: "Find by id or slug",
    type: "object",
    properties: { id: { type: "string" }, slug: { type: "string" } },
  });
});

Deno.test("sanitizeSchema does not change its input", () => {
  const schema = { type: "object", additionalProperties: false, required: [] };
  const copy = structuredClone(schema);
  sanitizeSchema(schema);
  assert.deepEqual(schema, copy);
});
