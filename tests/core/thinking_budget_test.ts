import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import {
  effortFromBudget,
  thinkingFromAnthropic,
  thinkingFromEffort,
} from "../../src/core/thinking_budget.ts";

const CONFIG = defaultConfig({
  fakeReasoning: true,
  fakeReasoningMaxTokens: 4000,
  fakeReasoningBudgetCap: 10000,
});

Deno.test("thinkingFromEffort follows OpenAI reasoning_effort", async (t) => {
  const cases: [string, string | undefined, number | undefined, boolean, number][] = [
    ["high with max_tokens 4096 gives 3276", "high", 4096, true, 3276],
    ["medium with 10000 gives 5000", "medium", 10000, true, 5000],
    ["none disables thinking", "none", 4096, false, 0],
    ["absent gives the default budget", undefined, 4096, true, 4000],
    ["no max_tokens uses 4096", "low", undefined, true, 819],
    ["minimal takes a tenth", "minimal", 10000, true, 1000],
    ["xhigh takes 95 percent before the cap", "xhigh", 8000, true, 7600],
    ["a budget above the cap is capped", "xhigh", 100000, true, 10000],
    ["an unknown effort gives the default budget", "extreme", 4096, true, 4000],
  ];
  for (const [name, effort, maxTokens, enabled, budget] of cases) {
    await t.step(name, () => {
      const expected = enabled && effort !== undefined
        ? { enabled, budgetTokens: budget, effort }
        : { enabled, budgetTokens: budget };
      assert.deepEqual(thinkingFromEffort(effort, maxTokens, CONFIG), expected);
    });
  }
});

Deno.test("thinkingFromAnthropic follows the thinking object", async (t) => {
  const cases: [string, unknown, string | undefined, boolean, number, string | undefined][] = [
    ["no thinking gives the default", undefined, undefined, true, 4000, undefined],
    ["a non-object gives the default", "yes", undefined, true, 4000, undefined],
    [
      "enabled uses budget_tokens, its range gives the effort",
      { type: "enabled", budget_tokens: 8000 },
      undefined,
      true,
      8000,
      "medium",
    ],
    [
      "a budget above the cap is capped, the effort follows the client's budget",
      { type: "enabled", budget_tokens: 16000 },
      undefined,
      true,
      10000,
      "high",
    ],
    [
      "output_config.effort wins over the budget range",
      { type: "enabled", budget_tokens: 1024 },
      "max",
      true,
      1024,
      "max",
    ],
    [
      "enabled without a budget gets the default",
      { type: "enabled" },
      undefined,
      true,
      4000,
      undefined,
    ],
    ["disabled turns thinking off", { type: "disabled" }, "high", false, 0, undefined],
    ["an unknown type gives the default", { type: "mystery" }, undefined, true, 4000, undefined],
    [
      "adaptive without effort gives the default",
      { type: "adaptive" },
      undefined,
      true,
      4000,
      undefined,
    ],
    ["adaptive low halves the default", { type: "adaptive" }, "low", true, 2000, "low"],
    ["adaptive medium is the default", { type: "adaptive" }, "medium", true, 4000, "medium"],
    ["adaptive high doubles the default", { type: "adaptive" }, "high", true, 8000, "high"],
    ["adaptive max is capped", { type: "adaptive" }, "max", true, 10000, "max"],
    ["Claude Code's effort without thinking is kept", undefined, "low", true, 4000, "low"],
  ];
  for (const [name, thinking, outputEffort, enabled, budget, effort] of cases) {
    await t.step(name, () => {
      const expected = effort === undefined
        ? { enabled, budgetTokens: budget }
        : { enabled, budgetTokens: budget, effort };
      assert.deepEqual(thinkingFromAnthropic(thinking, outputEffort, CONFIG), expected);
    });
  }
});

Deno.test("a budget cap of 0 means no cap", () => {
  const config = defaultConfig({ fakeReasoning: true, fakeReasoningBudgetCap: 0 });
  assert.equal(
    thinkingFromAnthropic({ type: "enabled", budget_tokens: 50000 }, undefined, config)
      .budgetTokens,
    50000,
  );
  assert.equal(thinkingFromEffort("high", 100000, config).budgetTokens, 80000);
});

Deno.test("FAKE_REASONING off leaves the client's choice alone (it only stops the tags)", () => {
  const config = defaultConfig({ fakeReasoning: false });
  assert.equal(thinkingFromEffort(undefined, undefined, config).enabled, true);
  assert.equal(thinkingFromEffort("none", 4096, config).enabled, false);
  assert.equal(thinkingFromAnthropic({ type: "disabled" }, undefined, config).enabled, false);
});

Deno.test("Anthropic budgets map to efforts by range", async (t) => {
  const cases: [number, string][] = [
    [1024, "low"],
    [2047, "low"],
    [2048, "medium"],
    [4000, "medium"],
    [8192, "high"],
    [10000, "high"],
    [24576, "max"],
    [31999, "max"],
  ];
  for (const [budget, effort] of cases) {
    await t.step(`${budget} → ${effort}`, () => assert.equal(effortFromBudget(budget), effort));
  }
});
