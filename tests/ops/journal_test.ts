import assert from "node:assert/strict";
import { RequestJournal, type RequestRecord } from "../../src/ops/journal.ts";

function record(n: number, extra: Partial<RequestRecord> = {}): RequestRecord {
  return {
    time: new Date(n * 1000).toISOString(),
    requestId: `req_${n}`,
    method: "POST",
    route: "/v1/messages",
    dialect: "anthropic",
    status: 200,
    durationMs: 10,
    ...extra,
  };
}

Deno.test("the journal keeps the newest records, newest first", () => {
  const journal = new RequestJournal({ size: 3 });
  assert.deepEqual(journal.recent(), []);
  for (let n = 1; n <= 5; n++) journal.add(record(n), n * 1000);
  assert.deepEqual(journal.recent().map((r) => r.requestId), ["req_5", "req_4", "req_3"]);
  assert.deepEqual(journal.counts(), { requests: 5, errors: 0 });
});

Deno.test("per-model totals add up every record since start, not only the kept ones", () => {
  const journal = new RequestJournal({ size: 1 });
  const model = "claude-sonnet-4.5";
  journal.add(record(1, { model, inputTokens: 10, outputTokens: 2, credits: 0.1 }), 0);
  journal.add(record(2, { model, inputTokens: 5, outputTokens: 1, credits: 0.2 }), 0);
  journal.add(record(3, { model: "other", status: 502, errorClass: "upstream" }), 0);
  journal.add(record(4), 0); // no model: not a chat
  assert.deepEqual(journal.totals(), {
    [model]: { requests: 2, errors: 0, inputTokens: 15, outputTokens: 3, credits: 0.3 },
    other: { requests: 1, errors: 1, inputTokens: 0, outputTokens: 0, credits: 0 },
  });
  assert.deepEqual(journal.counts(), { requests: 4, errors: 1 });
});

Deno.test("requests per minute cover the kept minutes up to now, oldest first", () => {
  const journal = new RequestJournal({ size: 10, minutes: 3 });
  const minute = 60_000;
  const start = 100 * minute;
  journal.add(record(1), start + 5);
  journal.add(record(2), start + minute + 1);
  journal.add(record(3), start + minute + 2);
  assert.deepEqual(journal.perMinute(start + 2 * minute + 30_000).map((m) => m.requests), [
    1,
    2,
    0,
  ]);
  journal.add(record(4), start + 5 * minute);
  assert.deepEqual(journal.perMinute(start + 5 * minute).map((m) => m.requests), [0, 0, 1]);
  assert.equal(journal.perMinute(start).at(-1)?.minute, new Date(start).toISOString());
});
