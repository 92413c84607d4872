import assert from "node:assert/strict";
import {
  buildReasoningFields,
  clampEffort,
  parseNativeReasoning,
} from "../../src/kiro/native_reasoning.ts";
import { NATIVE_REASONING_SCHEMA } from "../fake_kiro.ts";

Deno.test("parseNativeReasoning reads what an advertised schema offers", async (t) => {
  await t.step("the output_config schema of Opus 4.6", () => {
    assert.deepEqual(parseNativeReasoning(NATIVE_REASONING_SCHEMA), {
      style: "output_config",
      efforts: ["low", "medium", "high", "max"],
      defaultEffort: "high",
      displays: ["summarized", "omitted"],
    });
  });
  await t.step("the same schema sent as JSON text", () => {
    assert.deepEqual(
      parseNativeReasoning(JSON.stringify(NATIVE_REASONING_SCHEMA)),
      parseNativeReasoning(NATIVE_REASONING_SCHEMA),
    );
  });
  await t.step("the reasoning style", () => {
    const schema = {
      type: "object",
      properties: {
        reasoning: {
          type: "object",
          properties: { effort: { type: "string", enum: ["low", "medium", "high"] } },
        },
      },
    };
    assert.deepEqual(parseNativeReasoning(schema), {
      style: "reasoning",
      efforts: ["low", "medium", "high"],
      displays: [],
    });
  });
  await t.step("an unknown shape is taken as output_config with nothing advertised", () => {
    assert.deepEqual(parseNativeReasoning({ type: "object" }), {
      style: "output_config",
      efforts: [],
      displays: [],
    });
  });
  for (const none of [undefined, null, {}, "", "not json", "[1]", 7, []]) {
    await t.step(`${JSON.stringify(none) ?? "undefined"} advertises nothing`, () => {
      assert.equal(parseNativeReasoning(none), undefined);
    });
  }
});

Deno.test("clampEffort follows the §8.6 rule", async (t) => {
  const opus = ["low", "medium", "high", "max"];
  const cases: [string, readonly string[], string][] = [
    ["high", opus, "high"],
    ["xhigh", opus, "max"],
    ["minimal", opus, "low"],
    ["max", ["low", "medium", "high"], "high"],
    ["medium", ["low", "high"], "high"],
    ["low", ["minimal", "high"], "minimal"],
    ["extreme", opus, "max"],
    ["extreme", ["high", "low"], "low"],
    ["anything", [], "anything"],
    ["high", ["fast", "slow"], "slow"],
  ];
  for (const [requested, advertised, expected] of cases) {
    await t.step(`${requested} with [${advertised.join(", ")}] → ${expected}`, () => {
      assert.equal(clampEffort(requested, advertised), expected);
    });
  }
});

Deno.test("buildReasoningFields asks for adaptive, summarized thinking at the clamped effort", async (t) => {
  const native = parseNativeReasoning(NATIVE_REASONING_SCHEMA)!;
  await t.step("a client effort is clamped", () => {
    assert.deepEqual(
      buildReasoningFields(native, { enabled: true, budgetTokens: 4000, effort: "xhigh" }),
      {
        thinking: { type: "adaptive", display: "summarized" },
        output_config: { effort: "max" },
      },
    );
  });
  await t.step("no client effort takes the advertised default", () => {
    assert.deepEqual(buildReasoningFields(native, { enabled: true, budgetTokens: 4000 }), {
      thinking: { type: "adaptive", display: "summarized" },
      output_config: { effort: "high" },
    });
  });
  await t.step("thinking off sends no field", () => {
    assert.equal(buildReasoningFields(native, { enabled: false, budgetTokens: 0 }), undefined);
  });
  await t.step("a schema without summarized display gets no display", () => {
    const fields = buildReasoningFields(
      { ...native, displays: ["omitted"] },
      { enabled: true, budgetTokens: 1, effort: "low" },
    );
    assert.deepEqual(fields, { thinking: { type: "adaptive" }, output_config: { effort: "low" } });
  });
  await t.step("the reasoning style", () => {
    const fields = buildReasoningFields(
      { style: "reasoning", efforts: ["low", "high"], displays: [] },
      { enabled: true, budgetTokens: 1, effort: "medium" },
    );
    assert.deepEqual(fields, { reasoning: { effort: "high" } });
  });
});
