/**
 * Stored responses over any StateStore (spec §7.7): each response with the conversation items
 * that led to it, so `previous_response_id` can continue it, `GET /v1/responses/{id}` can
 * return it, `GET /v1/responses/{id}/input_items` can list its input and
 * `DELETE /v1/responses/{id}` can remove it. Bounded both ways: every entry expires after the maximum age, and a ring of
 * numbered slots forgets the oldest entry once the maximum count is reached.
 */
import type { StateStore } from "../../state/state.ts";
import type { InputItem } from "./schema.ts";

/** A stored response and its conversation. */
export interface StoredResponse {
  /** The response object as the client received it. */
  response: Record<string, unknown>;
  /** The input items and then the output items, oldest first: the next turn's history. */
  items: InputItem[];
  /**
   * Where the response's own input starts in `items` (after the history of its
   * `previous_response_id`) and how many items it has. Absent in entries stored before the
   * input was tracked: their input is then every item before the output.
   */
  input?: { start: number; count: number };
}

/** Limits of a ResponseStore. */
export interface ResponseStoreLimits {
  /** How many responses are kept; 0 keeps none. */
  maxEntries: number;
  /** How long a response is kept, in milliseconds. */
  maxAgeMs: number;
}

const ENTRY = "responses:entry:";
const ITEM = "responses:item:";
const SLOT = "responses:slot:";
const COUNT = "responses:count";

/** Saves and loads stored responses in a StateStore under `responses:` keys. */
export class ResponseStore {
  #state: StateStore;
  #limits: ResponseStoreLimits;

  constructor(state: StateStore, limits: ResponseStoreLimits) {
    this.#state = state;
    this.#limits = limits;
  }

  /**
   * Saves `stored` under `id`, with an index from each output item's id to it (for
   * `item_reference` inputs), and forgets the response whose slot it takes.
   */
  async save(id: string, stored: StoredResponse): Promise<void> {
    const { maxEntries, maxAgeMs } = this.#limits;
    if (maxEntries <= 0) return;
    const ttl = { ttlMs: maxAgeMs };
    await this.#state.set(ENTRY + id, JSON.stringify(stored), ttl);
    for (const itemId of outputItemIds(stored)) await this.#state.set(ITEM + itemId, id, ttl);
    // The counter is atomic in every backend, so concurrent saves take different slots.
    const count = await this.#state.increment(COUNT);
    const slot = SLOT + ((count - 1) % maxEntries);
    const evicted = await this.#state.get(slot);
    await this.#state.set(slot, id, ttl);
    if (evicted !== undefined && evicted !== id) await this.delete(evicted);
  }

  /** The output item `itemId` of a stored response, or undefined when it is not known. */
  async loadItem(itemId: string): Promise<InputItem | undefined> {
    const id = await this.#state.get(ITEM + itemId);
    if (id === undefined) return undefined;
    const stored = await this.load(id);
    const output = stored?.response.output;
    if (!Array.isArray(output)) return undefined;
    return output.find((item: { id?: unknown }) => item.id === itemId) as InputItem | undefined;
  }

  /**
   * Forgets the response `id` and its item index; answers whether it was stored. Its ring slot
   * keeps the id until reused, which then deletes nothing.
   */
  async delete(id: string): Promise<boolean> {
    const stored = await this.load(id);
    if (!stored) return false;
    for (const itemId of outputItemIds(stored)) await this.#state.delete(ITEM + itemId);
    await this.#state.delete(ENTRY + id);
    return true;
  }

  /** The response stored under `id`, or undefined when it is unknown, expired or evicted. */
  async load(id: string): Promise<StoredResponse | undefined> {
    const text = await this.#state.get(ENTRY + id);
    return text === undefined ? undefined : JSON.parse(text) as StoredResponse;
  }
}

function outputItemIds(stored: StoredResponse): string[] {
  const output = stored.response.output;
  if (!Array.isArray(output)) return [];
  return output.flatMap((item: { id?: unknown }) => typeof item.id === "string" ? [item.id] : []);
}
