/**
 * Per-request thinking settings from the dialects' inputs (spec §8.2, §8.6). Budgets are in
 * tokens and are capped by FAKE_REASONING_BUDGET_CAP; they steer the `<thinking>` tags. Efforts
 * steer native reasoning. Whether thinking is on is the client's choice alone: FAKE_REASONING
 * switches only the tag mechanism, which the request builder and the backend check.
 */
import type { Config } from "../config.ts";
import type { ThinkingSettings } from "./chat.ts";

/** The configuration fields the budget helpers read. */
export type ThinkingConfig = Pick<Config, "fakeReasoningMaxTokens" | "fakeReasoningBudgetCap">;

/** Share of the output limit given to thinking for each OpenAI `reasoning_effort`. */
export const OPENAI_EFFORT_SHARES: Readonly<Record<string, number>> = {
  minimal: 0.1,
  low: 0.2,
  medium: 0.5,
  high: 0.8,
  xhigh: 0.95,
};

/** The output limit assumed when an OpenAI client gives none. */
export const DEFAULT_OPENAI_MAX_TOKENS = 4096;

/**
 * Multiples of FAKE_REASONING_MAX_TOKENS for Anthropic `output_config.effort` with adaptive
 * thinking. Our own choice: with the default 4000 this gives 2000, 4000, 8000 and 16000
 * (the last capped to 10000 by the default cap), so `medium` equals the default budget.
 */
export const ANTHROPIC_EFFORT_FACTORS: Readonly<Record<string, number>> = {
  low: 0.5,
  medium: 1,
  high: 2,
  max: 4,
};

/**
 * Upper bounds (exclusive) of Anthropic `budget_tokens` for each effort of native reasoning;
 * larger budgets get `max`. Our own choice: Claude Code's "think" (4000) is medium, "think
 * hard" (10000) is high, "ultrathink" (31999) is max.
 */
export const ANTHROPIC_BUDGET_EFFORTS: readonly (readonly [below: number, effort: string])[] = [
  [2048, "low"],
  [8192, "medium"],
  [24576, "high"],
];

/**
 * Thinking settings from an OpenAI-style effort (chat `reasoning_effort`, Responses
 * `reasoning.effort`) and the client's output limit: `none` turns thinking off, a known effort
 * takes its share of the limit as the tag budget, anything else gets the default budget. The
 * effort itself is kept for native reasoning (an unknown one too: the clamp handles it).
 */
export function thinkingFromEffort(
  effort: string | undefined,
  maxTokens: number | undefined,
  config: ThinkingConfig,
): ThinkingSettings {
  if (effort === "none") return disabled();
  const share = effort === undefined ? undefined : OPENAI_EFFORT_SHARES[effort];
  if (share === undefined) return enabled(config.fakeReasoningMaxTokens, config, effort);
  const limit = maxTokens !== undefined && maxTokens > 0 ? maxTokens : DEFAULT_OPENAI_MAX_TOKENS;
  return enabled(Math.floor(limit * share), config, effort);
}

/**
 * Thinking settings from an Anthropic `thinking` value and `output_config.effort`: `disabled`
 * turns thinking off; `enabled` uses `budget_tokens` (a missing or non-positive budget gets the
 * default); `adaptive` scales the default by the effort; anything else gets the default. The
 * native effort is `output_config.effort` when given (Claude Code sends it), else the range of
 * ANTHROPIC_BUDGET_EFFORTS the client's own budget falls in, else the model's default.
 */
export function thinkingFromAnthropic(
  thinking: unknown,
  outputEffort: string | undefined,
  config: ThinkingConfig,
): ThinkingSettings {
  if (!isRecord(thinking)) return enabled(config.fakeReasoningMaxTokens, config, outputEffort);
  if (thinking.type === "disabled") return disabled();
  if (thinking.type === "enabled") {
    const budget = thinking.budget_tokens;
    const valid = typeof budget === "number" && Number.isFinite(budget) && budget > 0;
    if (!valid) return enabled(config.fakeReasoningMaxTokens, config, outputEffort);
    return enabled(Math.floor(budget), config, outputEffort ?? effortFromBudget(budget));
  }
  if (thinking.type === "adaptive" && outputEffort !== undefined) {
    const factor = ANTHROPIC_EFFORT_FACTORS[outputEffort];
    if (factor !== undefined) {
      return enabled(Math.floor(config.fakeReasoningMaxTokens * factor), config, outputEffort);
    }
  }
  return enabled(config.fakeReasoningMaxTokens, config, outputEffort);
}

/** The native effort for an Anthropic thinking budget (ANTHROPIC_BUDGET_EFFORTS). */
export function effortFromBudget(budgetTokens: number): string {
  for (const [below, effort] of ANTHROPIC_BUDGET_EFFORTS) {
    if (budgetTokens < below) return effort;
  }
  return "max";
}

/** Applies FAKE_REASONING_BUDGET_CAP (0 means no cap) to a budget. */
export function capBudget(budgetTokens: number, cap: number): number {
  return cap > 0 && budgetTokens > cap ? cap : budgetTokens;
}

function enabled(
  budgetTokens: number,
  config: ThinkingConfig,
  effort: string | undefined,
): ThinkingSettings {
  const settings: ThinkingSettings = {
    enabled: true,
    budgetTokens: capBudget(budgetTokens, config.fakeReasoningBudgetCap),
  };
  if (effort !== undefined) settings.effort = effort;
  return settings;
}

function disabled(): ThinkingSettings {
  return { enabled: false, budgetTokens: 0 };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
