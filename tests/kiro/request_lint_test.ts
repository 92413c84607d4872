import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import { GatewayError } from "../../src/errors.ts";
import {
  buildKiroRequest,
  type KiroPayload,
  type KiroUserInputMessage,
} from "../../src/kiro/request.ts";
import {
  assertValidPayload,
  describeLikelyCause,
  lintKiroPayload,
} from "../../src/kiro/request_lint.ts";

const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABCDEFGHIJKL";

/** A valid payload: one tool round trip with the results in the current message. */
function valid(): KiroPayload {
  return buildKiroRequest({
    model: "m",
    system: "",
    messages: [
      { role: "user", text: "List", images: [], toolCalls: [], toolResults: [] },
      {
        role: "assistant",
        text: "",
        images: [],
        toolCalls: [{ id: "call_9", name: "bash", input: {} }],
        toolResults: [],
      },
      {
        role: "user",
        text: "",
        images: [],
        toolCalls: [],
        toolResults: [{ toolUseId: "call_9", content: "a", isError: false }],
      },
    ],
    tools: [{ name: "bash", description: "Run", inputSchema: { type: "object", properties: {} } }],
    thinking: { enabled: false, budgetTokens: 0 },
    stream: false,
  }, {
    modelId: "claude-sonnet-4.5",
    profileArn: ARN,
    conversationId: "c",
    config: defaultConfig({ fakeReasoning: false, truncationRecovery: false }),
  }).payload;
}

function current(payload: KiroPayload): KiroUserInputMessage {
  return payload.conversationState.currentMessage.userInputMessage;
}
function tool(payload: KiroPayload) {
  const spec = current(payload).userInputMessageContext?.tools?.[0]?.toolSpecification;
  assert.ok(spec);
  return spec;
}
function history(payload: KiroPayload) {
  const entries = payload.conversationState.history;
  assert.ok(entries);
  return entries;
}
function assistantAt(payload: KiroPayload, index: number) {
  const entry = history(payload)[index];
  assert.ok(entry && "assistantResponseMessage" in entry);
  return entry.assistantResponseMessage;
}

Deno.test("a payload built from a valid conversation has no findings", () => {
  assert.deepEqual(lintKiroPayload(valid()), []);
  assertValidPayload(valid());
  assert.equal(describeLikelyCause(valid()), undefined);
});

Deno.test("lintKiroPayload reports each rule Kiro enforces", async (t) => {
  const cases: [string, string, (p: KiroPayload) => void][] = [
    ["a missing profileArn", "profile-arn", (p) => delete p.profileArn],
    ["a malformed profileArn", "profile-arn", (p) => (p.profileArn = "arn:aws:iam::123:user/x")],
    ["history that starts with the assistant", "history-order", (p) => history(p).shift()],
    [
      "history that repeats a role",
      "history-order",
      (p) => history(p).splice(1, 0, structuredClone(history(p)[0]!)),
    ],
    ["a missing current user message", "current-user", (p) => {
      (p.conversationState.currentMessage as { userInputMessage?: unknown }).userInputMessage =
        undefined;
    }],
    ["empty user content", "empty-content", (p) => (current(p).content = "")],
    ["whitespace assistant content", "empty-content", (p) => (assistantAt(p, 1).content = "  ")],
    ["a result for a call that was not made", "tool-result-pairing", (p) => {
      current(p).userInputMessageContext!.toolResults![0]!.toolUseId = "call_other";
    }],
    [
      "tool results without tools",
      "tools-missing",
      (p) => delete current(p).userInputMessageContext!.tools,
    ],
    ["tool uses without tools", "tools-missing", (p) => {
      delete current(p).userInputMessageContext!.tools;
      delete current(p).userInputMessageContext!.toolResults;
    }],
    ["a tool name that is too long", "tool-name", (p) => (tool(p).name = "n".repeat(65))],
    ["a tool name with a dot", "tool-name", (p) => (tool(p).name = "files.read")],
    ["a tool declared twice", "tool-name", (p) => {
      current(p).userInputMessageContext!.tools!.push(
        structuredClone(current(p).userInputMessageContext!.tools![0]!),
      );
    }],
    ["an empty description", "tool-description", (p) => (tool(p).description = " ")],
    [
      "a description over 10000 characters",
      "tool-description",
      (p) => (tool(p).description = "d".repeat(10001)),
    ],
    [
      "an empty required list",
      "schema-keywords",
      (p) => (tool(p).inputSchema.json = { type: "object", required: [] }),
    ],
    ["a nested additionalProperties", "schema-keywords", (p) => {
      tool(p).inputSchema.json = {
        type: "object",
        properties: { a: { type: "object", additionalProperties: false } },
      };
    }],
    ["a tool-use id with a newline", "tool-use-id", (p) => {
      assistantAt(p, 1).toolUses![0]!.toolUseId = "call\n9";
      current(p).userInputMessageContext!.toolResults![0]!.toolUseId = "call\n9";
    }],
    [
      "a history tool use of an undeclared tool",
      "undeclared-tool",
      (p) => (assistantAt(p, 1).toolUses![0]!.name = "gone"),
    ],
    ["an oversized payload", "payload-size", (p) => (current(p).content = "x".repeat(620_000))],
  ];
  for (const [name, rule, breakIt] of cases) {
    await t.step(`${name} breaks "${rule}"`, () => {
      const payload = valid();
      breakIt(payload);
      const rules = lintKiroPayload(payload).map((finding) => finding.rule);
      assert.ok(rules.includes(rule), `expected "${rule}" in ${JSON.stringify(rules)}`);
    });
  }
});

Deno.test("lintKiroPayload accepts properties named like schema keywords", () => {
  const payload = valid();
  tool(payload).inputSchema.json = {
    type: "object",
    properties: { additionalProperties: { type: "string" }, required: { type: "boolean" } },
    default: { required: [] },
  };
  assert.deepEqual(lintKiroPayload(payload), []);
});

Deno.test("assertValidPayload names the first broken rule", () => {
  const payload = valid();
  tool(payload).name = "files.read";
  assert.throws(() => assertValidPayload(payload), (err) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.kind, "invalid_request");
    assert.match(err.message, /^Cannot send request to Kiro: tool-name: "files\.read" must match/);
    return true;
  });
});

Deno.test("describeLikelyCause summarizes the findings", () => {
  const payload = valid();
  delete payload.profileArn;
  assert.equal(describeLikelyCause(payload), "likely cause: profile-arn: profileArn is missing");
});
