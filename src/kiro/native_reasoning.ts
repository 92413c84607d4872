/**
 * Native reasoning (spec §8.6): a model whose catalogue entry advertises an
 * `additionalModelRequestFieldsSchema` is asked to think through a top-level
 * `additionalModelRequestFields` object instead of `<thinking>` tags, and streams
 * `reasoningContentEvent`s back. This file reads what the schema offers and builds the fields.
 */
import { REASONING_EFFORTS, type ThinkingSettings } from "../core/chat.ts";

/** What a model's advertised schema offers for reasoning. */
export interface NativeReasoning {
  /**
   * `output_config`: `{"thinking":{"type":"adaptive","display":…},"output_config":{"effort":…}}`
   * (Claude adaptive thinking); `reasoning`: `{"reasoning":{"effort":…}}`.
   */
  style: "output_config" | "reasoning";
  /** The advertised effort levels in the schema's order; empty when the schema lists none. */
  efforts: string[];
  /** The schema's default effort, if it names one. */
  defaultEffort?: string;
  /** The advertised `thinking.display` values; empty when the schema lists none. */
  displays: string[];
}

/** The effort asked for when neither the client nor the schema names one. */
export const DEFAULT_NATIVE_EFFORT = "high";

type JsonObject = Record<string, unknown>;

/**
 * Reads an advertised `additionalModelRequestFieldsSchema` (a JSON schema object, or its JSON
 * text). Returns undefined when the model advertises nothing usable: no schema, an empty one,
 * or text that is not a JSON object. A schema of an unknown shape gets the `output_config`
 * style, the one Claude models use.
 */
export function parseNativeReasoning(schema: unknown): NativeReasoning | undefined {
  let value = schema;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!isObject(value) || Object.keys(value).length === 0) return undefined;
  const properties = isObject(value.properties) ? value.properties : {};
  const reasoning = propertiesOf(properties.reasoning);
  const outputConfig = propertiesOf(properties.output_config);
  const thinking = propertiesOf(properties.thinking);
  const usesReasoning = reasoning !== undefined && outputConfig === undefined &&
    thinking === undefined;
  const effort = usesReasoning ? reasoning?.effort : outputConfig?.effort;
  const native: NativeReasoning = {
    style: usesReasoning ? "reasoning" : "output_config",
    efforts: stringEnum(effort),
    displays: stringEnum(thinking?.display),
  };
  const defaultEffort = isObject(effort) ? effort.default : undefined;
  if (typeof defaultEffort === "string" && defaultEffort !== "") {
    native.defaultEffort = defaultEffort;
  }
  return native;
}

/**
 * Picks the effort to send (spec §8.6): the requested level when advertised; otherwise the
 * advertised level nearest in the order minimal < low < medium < high < xhigh < max, the
 * higher one on ties (`xhigh` → `max` when the model offers low/medium/high/max); a level
 * outside that order → the last advertised level. With nothing advertised, the request stands.
 */
export function clampEffort(requested: string, advertised: readonly string[]): string {
  if (advertised.length === 0 || advertised.includes(requested)) return requested;
  const rank = effortRank(requested);
  const ranked = advertised.filter((level) => effortRank(level) >= 0);
  if (rank < 0 || ranked.length === 0) return advertised.at(-1) as string;
  let best = ranked[0] as string;
  for (const level of ranked) {
    const distance = Math.abs(effortRank(level) - rank);
    const bestDistance = Math.abs(effortRank(best) - rank);
    if (distance < bestDistance || (distance === bestDistance && effortRank(level) > rank)) {
      best = level;
    }
  }
  return best;
}

/**
 * The `additionalModelRequestFields` for a request, or undefined when the client turned
 * thinking off (the field is then left out and the model does not reason).
 */
export function buildReasoningFields(
  native: NativeReasoning,
  thinking: ThinkingSettings,
): JsonObject | undefined {
  if (!thinking.enabled) return undefined;
  const requested = thinking.effort ?? native.defaultEffort ?? DEFAULT_NATIVE_EFFORT;
  const effort = clampEffort(requested, native.efforts);
  if (native.style === "reasoning") return { reasoning: { effort } };
  const settings: JsonObject = { type: "adaptive" };
  if (native.displays.length === 0 || native.displays.includes("summarized")) {
    settings.display = "summarized";
  }
  return { thinking: settings, output_config: { effort } };
}

function effortRank(level: string): number {
  return (REASONING_EFFORTS as readonly string[]).indexOf(level);
}

function propertiesOf(schema: unknown): JsonObject | undefined {
  if (!isObject(schema)) return undefined;
  return isObject(schema.properties) ? schema.properties : {};
}

function stringEnum(schema: unknown): string[] {
  if (!isObject(schema) || !Array.isArray(schema.enum)) return [];
  return schema.enum.filter((item): item is string => typeof item === "string");
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
