/**
 * The `model` label of metrics and journal totals: the Kiro model id a client's model name
 * resolves to when the catalogue knows it, else `other`, so clients cannot add label values.
 */
import { FALLBACK_MODEL_IDS, normalizeModelName, type ResolvedModel } from "../kiro/models.ts";

/** The label of every model the catalogue does not know. */
export const OTHER_MODEL = "other";

/** Longest model id used as a label; longer catalogue ids are taken as `other`. */
const MAX_MODEL_LABEL_CHARS = 64;

/** Turns a client's model name into a bounded label. */
export type ModelLabeler = (clientModel: string) => string;

/** Labels with the catalogue's resolution: a known id is its own label, the rest `other`. */
export function catalogModelLabeler(
  catalog: { resolve(name: string): ResolvedModel },
): ModelLabeler {
  return (clientModel) => {
    let resolved: ResolvedModel;
    try {
      resolved = catalog.resolve(clientModel);
    } catch {
      return OTHER_MODEL; // a cyclic alias
    }
    return resolved.source === "cache" && resolved.modelId.length <= MAX_MODEL_LABEL_CHARS
      ? resolved.modelId
      : OTHER_MODEL;
  };
}

/** Labels with the built-in model list, for gateways built without a catalogue (tests). */
export function fallbackModelLabel(clientModel: string): string {
  const id = normalizeModelName(clientModel);
  return FALLBACK_MODEL_IDS.includes(id) ? id : OTHER_MODEL;
}
