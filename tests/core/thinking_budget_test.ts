import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import { thinkingFromAnthropic, thinkingFromEffort } from "../../src/core/thinking_budget.ts";

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
      assert.deepEqual(thinkingFromEffort(effort, maxTokens, CONFIG), {
        enabled,
        budgetTokens: budget,
      });
    });
  }
});

Deno.test("thinkingFromAnthropic follows the thinking object", async (t) => {
  const cases: [string, unknown, string | undefined, boolean, number][] = [
    ["no thinking gives the default", undefined, undefined, true, 4000],
    ["a non-object gives the default", "yes", undefined, true, 4000],
    ["enabled uses budget_tokens", { type: "enabled", budget_tokens: 8000 }, undefined, true, 8000],
    [
      "a budget above the cap is capped",
      { type: "enabled", budget_tokens: 16000 },
      undefined,
      true,
      10000,
    ],
    ["enabled without a budget gets the default", { type: "enabled" }, undefined, true, 4000],
    ["disabled turns thinking off", { type: "disabled" }, undefined, false, 0],
    ["an unknown type gives the default", { type: "mystery" }, undefined, true, 4000],
    ["adaptive without effort gives the default", { type: "adaptive" }, undefined, true, 4000],
    ["adaptive low halves the default", { type: "adaptive" }, "low", true, 2000],
    ["adaptive medium is the default", { type: "adaptive" }, "medium", true, 4000],
    ["adaptive high doubles the default", { type: "adaptive" }, "high", true, 8000],
    ["adaptive max is capped", { type: "adaptive" }, "max", true, 10000],
  ];
  for (const [name, thinking, effort, enabled, budget] of cases) {
    await t.step(name, () => {
      assert.deepEqual(thinkingFromAnthropic(thinking, effort, CONFIG), {
        enabled,
        budgetTokens: budget,
      });
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

Deno.test("thinking is disabled whenever FAKE_REASONING is off", () => {
  const config = defaultConfig({ fakeReasoning: false });
  assert.equal(thinkingFromEffort(undefined, undefined, config).enabled, false);
  assert.equal(thinkingFromEffort("high", 4096, config).enabled, false);
  assert.equal(
    thinkingFromAnthropic({ type: "enabled", budget_tokens: 8000 }, undefined, config).enabled,
    false,
  );
});
