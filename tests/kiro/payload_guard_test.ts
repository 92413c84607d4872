import assert from "node:assert/strict";
import { GatewayError } from "../../src/errors.ts";
import { guardPayloadSize, payloadBytes } from "../../src/kiro/payload_guard.ts";
import type { KiroHistoryEntry, KiroPayload } from "../../src/kiro/request.ts";
import { lintKiroPayload } from "../../src/kiro/request_lint.ts";

const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABCDEFGHIJKL";
const BASH = {
  toolSpecification: {
    name: "bash",
    description: "Run",
    inputSchema: { json: { type: "object" } },
  },
};

function userEntry(content: string, results: [string, string][] = []): KiroHistoryEntry {
  const message: KiroHistoryEntry = {
    userInputMessage: { content, modelId: "m", origin: "AI_EDITOR" },
  };
  if (results.length > 0) {
    message.userInputMessage.userInputMessageContext = {
      toolResults: results.map(([id, text]) => ({
        content: [{ text }],
        status: "success",
        toolUseId: id,
      })),
    };
  }
  return message;
}

function assistantEntry(content: string, uses: string[] | undefined = undefined): KiroHistoryEntry {
  const entry: KiroHistoryEntry = { assistantResponseMessage: { content } };
  if (uses) {
    entry.assistantResponseMessage.toolUses = uses.map((id) => ({
      name: "bash",
      input: {},
      toolUseId: id,
    }));
  }
  return entry;
}

function payload(history: KiroHistoryEntry[], currentText = "go"): KiroPayload {
  const result: KiroPayload = {
    conversationState: {
      chatTriggerType: "MANUAL",
      conversationId: "c",
      currentMessage: {
        userInputMessage: {
          content: currentText,
          modelId: "m",
          origin: "AI_EDITOR",
          userInputMessageContext: {
            tools: [BASH],
            toolResults: [{ content: [{ text: "last" }], status: "success", toolUseId: "t9" }],
          },
        },
      },
    },
    profileArn: ARN,
  };
  if (history.length > 0) result.conversationState.history = history;
  return result;
}

function longHistory(): KiroHistoryEntry[] {
  return [
    userEntry("System prompt\n\nfirst question"),
    assistantEntry("first answer", []),
    userEntry("x".repeat(5000)),
    assistantEntry("(empty placeholder)", ["t1"]),
    userEntry("(empty placeholder)", [["t1", "R".repeat(100)]]),
    assistantEntry("done"),
    userEntry("y".repeat(3000)),
    assistantEntry("(empty placeholder)", ["t9"]),
  ];
}

Deno.test("guardPayloadSize leaves a payload under the limit untouched", () => {
  const input = payload(longHistory());
  const guarded = guardPayloadSize(input, { maxBytes: payloadBytes(input), autoTrim: true });
  assert.equal(guarded.payload, input);
  assert.equal(guarded.trimmed, undefined);
});

Deno.test("guardPayloadSize counts UTF-8 bytes of the compact JSON", () => {
  const input = payload([], "日本");
  assert.equal(payloadBytes(input), new TextEncoder().encode(JSON.stringify(input)).byteLength);
  assert.ok(payloadBytes(input) > JSON.stringify(input).length);
});

Deno.test("guardPayloadSize rejects an oversized payload when trimming is off", () => {
  const input = payload(longHistory());
  const bytes = payloadBytes(input);
  assert.throws(() => guardPayloadSize(input, { maxBytes: 1000, autoTrim: false }), (err) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.kind, "context_length");
    assert.ok(err.message.includes(`${bytes} bytes`));
    assert.ok(err.message.includes("1000-byte limit"));
    assert.match(err.message, /AUTO_TRIM_PAYLOAD=true/);
    return true;
  });
});

Deno.test("guardPayloadSize trims the oldest turns after the first pair and keeps results paired", () => {
  const input = payload(longHistory());
  const before = structuredClone(input);
  const guarded = guardPayloadSize(input, { maxBytes: 5000, autoTrim: true });
  assert.deepEqual(input, before, "the input is not changed");
  const history = guarded.payload.conversationState.history ?? [];
  assert.equal(history.length, 6);
  assert.deepEqual(history[0], longHistory()[0], "the first pair carries the system prompt");
  assert.deepEqual(
    history[1],
    { assistantResponseMessage: { content: "first answer" } },
    "empty toolUses removed",
  );
  assert.deepEqual(
    history[2],
    userEntry(`(empty placeholder)\n[trimmed tool result] ${"R".repeat(100)}`),
  );
  assert.deepEqual(history[5], longHistory()[7], "the last pair stays with the current results");
  assert.deepEqual(lintKiroPayload(guarded.payload), []);
  assert.deepEqual(guarded.trimmed, {
    bytesBefore: payloadBytes(input),
    bytesAfter: payloadBytes(guarded.payload),
    entriesBefore: 8,
    entriesAfter: 6,
  });
  assert.ok(payloadBytes(guarded.payload) <= 5000);
});

Deno.test("guardPayloadSize keeps only the results whose call survived", () => {
  const history = [
    userEntry("first"),
    assistantEntry("a"),
    userEntry("z".repeat(4000)),
    assistantEntry("calls", ["t1"]),
    userEntry("results", [["t1", "one"], ["t2", "two"]]),
    assistantEntry("(empty placeholder)", ["t9"]),
  ];
  // t2 was never asked for: once trimming runs, the repair turns it into text.
  const input = payload([
    ...history.slice(0, 4),
    history[4]!,
    assistantEntry("x"),
    userEntry("q"),
    history[5]!,
  ]);
  const guarded = guardPayloadSize(input, { maxBytes: 3000, autoTrim: true });
  const entries = guarded.payload.conversationState.history ?? [];
  assert.equal(entries.length, 6);
  assert.deepEqual(entries[2], userEntry("results\n[trimmed tool result] one; two"));
  assert.deepEqual(lintKiroPayload(guarded.payload), []);
});

Deno.test("guardPayloadSize fails with context_length when trimming is not enough", async (t) => {
  await t.step("the current message alone is too big", () => {
    const input = payload([], "w".repeat(3000));
    assert.throws(() => guardPayloadSize(input, { maxBytes: 1000, autoTrim: true }), (err) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, "context_length");
      assert.match(err.message, /still \d+ bytes after dropping the oldest turns/);
      return true;
    });
  });
  await t.step("the protected first and last pairs are too big", () => {
    const input = payload([
      userEntry("s".repeat(4000)),
      assistantEntry("a"),
      userEntry("q"),
      assistantEntry("(empty placeholder)", ["t9"]),
    ]);
    assert.throws(() => guardPayloadSize(input, { maxBytes: 2000, autoTrim: true }), GatewayError);
  });
});

Deno.test("guardPayloadSize hands back the JSON it measured, so it is serialized once", () => {
  const input = payload(longHistory());
  const guarded = guardPayloadSize(input, { maxBytes: 1_000_000, autoTrim: false });
  assert.equal(guarded.json, JSON.stringify(input));
  assert.equal(guarded.bytes, payloadBytes(input));
  const trimmed = guardPayloadSize(input, { maxBytes: 5000, autoTrim: true });
  assert.ok(trimmed.trimmed);
  assert.equal(trimmed.json, JSON.stringify(trimmed.payload));
  assert.equal(trimmed.bytes, payloadBytes(trimmed.payload));
});
