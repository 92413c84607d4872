import assert from "node:assert/strict";
import { FrameDecoderStream } from "../src/kiro/eventstream.ts";
import { type KiroEvent, KiroEventStream } from "../src/kiro/events.ts";
import { GENERATE_PATH, startFakeKiro } from "./fake_kiro.ts";
import { collect, within } from "./helpers.ts";
import { sampleOf, structuredAnswers, thinkingAnswer, toolLoop } from "./kiro_script.ts";

function payload(
  options: { history?: unknown[]; current: string; tools?: string[]; results?: number },
) {
  const context: Record<string, unknown> = {};
  if (options.tools) {
    context.tools = options.tools.map((name) => ({
      toolSpecification: { name, description: name, inputSchema: { json: {} } },
    }));
  }
  if (options.results) {
    context.toolResults = Array.from({ length: options.results }, (_, i) => ({
      content: [{ text: "ok" }],
      status: "success",
      toolUseId: `tooluse_script${i}`,
    }));
  }
  return {
    conversationState: {
      history: options.history ?? [],
      currentMessage: {
        userInputMessage: { content: options.current, userInputMessageContext: context },
      },
    },
  };
}

async function ask(url: string, body: unknown): Promise<KiroEvent[]> {
  const res = await fetch(`${url}${GENERATE_PATH}`, { method: "POST", body: JSON.stringify(body) });
  const events = res.body!.pipeThrough(new FrameDecoderStream()).pipeThrough(
    new KiroEventStream(),
  );
  return await within(collect(events));
}

function textOf(events: KiroEvent[]): string {
  return events.map((event) => event.type === "text" ? event.text : "").join("");
}

Deno.test("a tool loop script calls each tool in turn, then answers", async () => {
  await using kiro = await startFakeKiro();
  kiro.respond(toolLoop({
    marker: "loop-marker",
    calls: [{ name: "write", input: { path: "a.txt" } }, { name: "bash", input: { cmd: "ls" } }],
    answer: "All done",
  }));
  const first = await ask(
    kiro.url,
    payload({ current: "loop-marker go", tools: ["write", "bash"] }),
  );
  const call = first.find((event) => event.type === "tool_start");
  assert.ok(call && call.type === "tool_start");
  assert.equal(call.name, "write");
  const history = [{ userInputMessage: { content: "loop-marker go" } }];
  const second = await ask(
    kiro.url,
    payload({ history, current: "", tools: ["write", "bash"], results: 1 }),
  );
  const next = second.find((event) => event.type === "tool_start");
  assert.ok(next && next.type === "tool_start");
  assert.equal(next.name, "bash");
  const third = await ask(
    kiro.url,
    payload({ history, current: "", tools: ["write", "bash"], results: 2 }),
  );
  assert.equal(textOf(third), "All done");
  // A request without tools (a title request quoting the prompt) is left to the default.
  const title = await ask(kiro.url, payload({ current: "Title for: loop-marker go" }));
  assert.equal(textOf(title), "Hello from the fake Kiro");
  // A tool that is not offered is named in the answer, so a renamed agent tool fails loudly.
  const renamed = await ask(kiro.url, payload({ current: "loop-marker", tools: ["edit"] }));
  assert.equal(textOf(renamed), 'Tool "write" was not offered; offered: edit');
});

Deno.test("a thinking script thinks only when the request asks for it", async () => {
  await using kiro = await startFakeKiro();
  kiro.respond(thinkingAnswer({ marker: "think-marker", thinking: "Hmm.", answer: "42" }));
  const asked = "<thinking_mode>enabled</thinking_mode>\n\nthink-marker";
  assert.equal(
    textOf(await ask(kiro.url, payload({ current: asked }))),
    "<thinking>Hmm.</thinking>\n\n42",
  );
  assert.equal(textOf(await ask(kiro.url, payload({ current: "think-marker" }))), "42");
});

Deno.test("structured answers fit the schema of the gateway's instruction", async (t) => {
  await t.step("a schema instruction gets a fenced JSON value of that schema", async () => {
    await using kiro = await startFakeKiro();
    kiro.respond(structuredAnswers());
    const schema = {
      type: "object",
      properties: { title: { type: "string" }, n: { type: "integer", minimum: 1 } },
      required: ["title", "n"],
    };
    const prompt = `Do it\n<json_schema>\n${JSON.stringify(schema)}\n</json_schema>`;
    const text = textOf(await ask(kiro.url, payload({ current: prompt })));
    assert.equal(text, '```json\n{\n  "title": "Agent test",\n  "n": 1\n}\n```');
  });

  await t.step("sampleOf covers enums, arrays and alternatives", () => {
    assert.deepEqual(
      sampleOf({
        type: "object",
        properties: {
          kind: { enum: ["a", "b"] },
          tags: { type: "array", items: { type: "string" }, minItems: 1 },
          either: { anyOf: [{ type: "boolean" }, { type: "null" }] },
        },
      }),
      { kind: "a", tags: ["Agent test"], either: false },
    );
  });
});
