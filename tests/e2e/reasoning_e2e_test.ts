/**
 * Native reasoning end to end (spec §8.6): the fake Kiro advertises a schema for one model and
 * streams reasoningContentEvents only when the native field is sent; the official SDKs read
 * every stream, and signatures come back to Kiro on the next turn.
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import {
  advertiseNativeModel,
  type FakeKiro,
  GENERATE_PATH,
  NATIVE_MODEL_ID,
  nativeReasoningReply,
  TAG_MODEL_ID,
} from "../fake_kiro.ts";
import { contextUsageFrame, textFrame, tokenUsageFrame } from "../frames.ts";
import { within } from "../helpers.ts";
import { NATIVE_REJECTION_TTL_MS } from "../../src/kiro/backend.ts";
import { startE2eGateway } from "./gateway.ts";
import { anthropicClient, openAiClient } from "./sdk_clients.ts";

interface PayloadView {
  additionalModelRequestFields?: unknown;
  conversationState: {
    currentMessage: { userInputMessage: { content: string } };
    history?: { assistantResponseMessage?: { reasoningContent?: unknown } }[];
  };
}

/** The additionalModelRequestFields of a native reasoning request at `effort`. */
function nativeFields(effort: string) {
  return { thinking: { type: "adaptive", display: "summarized" }, output_config: { effort } };
}
const PNG_1X1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

async function nextPayload(kiro: FakeKiro): Promise<PayloadView> {
  return (await within(kiro.nextRequest(GENERATE_PATH))).body as PayloadView;
}

function currentText(payload: PayloadView): string {
  return payload.conversationState.currentMessage.userInputMessage.content;
}

async function nativeGateway() {
  const gw = await startE2eGateway();
  advertiseNativeModel(gw.kiro);
  return gw;
}

Deno.test("OpenAI SDK: native reasoning arrives as reasoning_content, effort clamped", async (t) => {
  await using gw = await nativeGateway();
  const client = openAiClient(gw.url);

  await t.step("streamed, xhigh becomes the model's max", async () => {
    gw.kiro.replay(nativeReasoningReply());
    const stream = client.chat.completions.stream({
      model: NATIVE_MODEL_ID,
      reasoning_effort: "xhigh",
      messages: [{ role: "user", content: "Why?" }],
      stream_options: { include_usage: true },
    });
    const reasoning: string[] = [];
    stream.on("chunk", (chunk) => {
      const delta = chunk.choices[0]?.delta as { reasoning_content?: string } | undefined;
      if (delta?.reasoning_content) reasoning.push(delta.reasoning_content);
    });
    const completion = await within(stream.finalChatCompletion());
    assert.equal(reasoning.join(""), "Native thoughts.");
    assert.equal(completion.choices[0]?.message.content, "The answer.");
    assert.ok(completion.usage!.completion_tokens_details!.reasoning_tokens! > 0);
    const payload = await nextPayload(gw.kiro);
    assert.deepEqual(payload.additionalModelRequestFields, nativeFields("max"));
    assert.doesNotMatch(currentText(payload), /thinking_mode/);
  });

  await t.step("not streamed, minimal becomes low", async () => {
    gw.kiro.replay(nativeReasoningReply());
    const reply = await client.chat.completions.create({
      model: NATIVE_MODEL_ID,
      reasoning_effort: "minimal",
      messages: [{ role: "user", content: "Why?" }],
    });
    const message = reply.choices[0]!.message as { reasoning_content?: string };
    assert.equal(message.reasoning_content, "Native thoughts.");
    const payload = await nextPayload(gw.kiro);
    assert.deepEqual(payload.additionalModelRequestFields, nativeFields("low"));
  });

  await t.step("none sends no field and gets no reasoning", async () => {
    gw.kiro.replay({ frames: [textFrame("Plain."), contextUsageFrame(1)] });
    const reply = await client.chat.completions.create({
      model: NATIVE_MODEL_ID,
      reasoning_effort: "none",
      messages: [{ role: "user", content: "Why?" }],
    });
    assert.equal(reply.choices[0]!.message.content, "Plain.");
    const payload = await nextPayload(gw.kiro);
    assert.equal(payload.additionalModelRequestFields, undefined);
    assert.doesNotMatch(currentText(payload), /thinking_mode/);
  });

  await t.step("a model without a schema keeps tag injection", async () => {
    gw.kiro.replay(nativeReasoningReply());
    const stream = client.chat.completions.stream({
      model: TAG_MODEL_ID,
      reasoning_effort: "high",
      messages: [{ role: "user", content: "Why?" }],
    });
    const completion = await within(stream.finalChatCompletion());
    const message = completion.choices[0]!.message as { reasoning_content?: string };
    assert.equal(message.reasoning_content, "Tagged thoughts.");
    assert.equal(completion.choices[0]!.message.content, "The answer.");
    const payload = await nextPayload(gw.kiro);
    assert.equal(payload.additionalModelRequestFields, undefined);
    assert.match(currentText(payload), /^<thinking_mode>enabled<\/thinking_mode>/);
  });
});

Deno.test("OpenAI SDK: a rejected native field falls back to tags, once per model", async () => {
  await using gw = await nativeGateway();
  const client = openAiClient(gw.url);
  const rejecting = nativeReasoningReply({ reject: true });
  gw.kiro.replay(rejecting, rejecting, rejecting);
  const ask = () =>
    within(
      client.chat.completions.stream({
        model: NATIVE_MODEL_ID,
        messages: [{ role: "user", content: "Why?" }],
      }).finalChatCompletion(),
    );
  const first = await ask();
  const message = first.choices[0]!.message as { reasoning_content?: string };
  assert.equal(message.reasoning_content, "Tagged thoughts.");
  assert.equal(first.choices[0]!.message.content, "The answer.");
  const rejected = await nextPayload(gw.kiro);
  assert.deepEqual(rejected.additionalModelRequestFields, nativeFields("high"));
  const retried = await nextPayload(gw.kiro);
  assert.equal(retried.additionalModelRequestFields, undefined);
  assert.match(currentText(retried), /^<thinking_mode>enabled/);
  assert.ok(gw.logs.some((line) => line.includes("Kiro rejected the native reasoning fields")));

  await ask();
  const remembered = await nextPayload(gw.kiro);
  assert.equal(remembered.additionalModelRequestFields, undefined, "not asked natively again");
  assert.equal(
    gw.kiro.requestsTo(GENERATE_PATH).length,
    3,
    "one rejected call, one retry, then straight to tags",
  );
});

Deno.test("a model that rejected the native field is asked natively again an hour later", async () => {
  const clock = { now: Date.now() };
  await using gw = await startE2eGateway({}, { now: () => clock.now });
  advertiseNativeModel(gw.kiro);
  const client = openAiClient(gw.url);
  const ask = () =>
    client.chat.completions.create({
      model: NATIVE_MODEL_ID,
      messages: [{ role: "user", content: "Why?" }],
    });
  const rejecting = nativeReasoningReply({ reject: true });
  gw.kiro.replay(rejecting, rejecting, rejecting, nativeReasoningReply());
  await ask();
  assert.notEqual((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
  assert.equal((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
  clock.now += NATIVE_REJECTION_TTL_MS - 1;
  await ask();
  assert.equal((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
  clock.now += 1;
  const reply = await ask();
  assert.notEqual((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
  const message = reply.choices[0]!.message as { reasoning_content?: string };
  assert.equal(message.reasoning_content, "Native thoughts.");
});

Deno.test("Anthropic SDK: native thinking keeps Kiro's signature and hands it back", async (t) => {
  await using gw = await nativeGateway();
  const client = anthropicClient(gw.url);
  const question = { role: "user" as const, content: "Why?" };
  const base = { model: NATIVE_MODEL_ID, max_tokens: 4096 };

  let signed: Anthropic.ContentBlock[] = [];
  await t.step(
    "streamed thinking has the real signature; the budget picks the effort",
    async () => {
      gw.kiro.replay(nativeReasoningReply());
      const stream = client.messages.stream({
        ...base,
        thinking: { type: "enabled", budget_tokens: 10000 },
        messages: [question],
      });
      const message = await within(stream.finalMessage());
      assert.deepEqual(message.content, [
        { type: "thinking", thinking: "Native thoughts.", signature: "kgw1.sig.KIRO-SIGNATURE==" },
        { type: "text", text: "The answer." },
      ]);
      signed = message.content;
      const payload = await nextPayload(gw.kiro);
      assert.deepEqual(payload.additionalModelRequestFields, nativeFields("high"));
      assert.doesNotMatch(currentText(payload), /thinking_mode/);
    },
  );

  await t.step("the signed block comes back as reasoningContent", async () => {
    gw.kiro.replay(nativeReasoningReply());
    await client.messages.create({
      ...base,
      messages: [question, { role: "assistant", content: signed }, {
        role: "user",
        content: "And then?",
      }],
    });
    const payload = await nextPayload(gw.kiro);
    assert.deepEqual(payload.conversationState.history?.[1]?.assistantResponseMessage, {
      content: "The answer.",
      reasoningContent: {
        reasoningText: { text: "Native thoughts.", signature: "KIRO-SIGNATURE==" },
      },
    });
  });

  await t.step("redacted thinking streams as a block and comes back", async () => {
    gw.kiro.replay(nativeReasoningReply({ redacted: "UkVEQUNURUQ=" }));
    const params = {
      ...base,
      thinking: { type: "adaptive" },
      output_config: { effort: "xhigh" },
      messages: [question],
    } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    const message = await within(client.messages.stream(params).finalMessage());
    assert.deepEqual(message.content[0], {
      type: "redacted_thinking",
      data: "kgw1.red.UkVEQUNURUQ=",
    });
    const asked = await nextPayload(gw.kiro);
    assert.deepEqual(asked.additionalModelRequestFields, nativeFields("max"));
    gw.kiro.replay(nativeReasoningReply());
    await client.messages.create({
      ...base,
      messages: [question, { role: "assistant", content: message.content }, {
        role: "user",
        content: "Go on.",
      }],
    });
    const payload = await nextPayload(gw.kiro);
    assert.deepEqual(payload.conversationState.history?.[1]?.assistantResponseMessage, {
      content: "The answer.",
      reasoningContent: { redactedContent: "UkVEQUNURUQ=" },
    });
  });

  await t.step("placeholder and foreign signatures are never sent back", async () => {
    gw.kiro.replay(nativeReasoningReply());
    await client.messages.create({
      ...base,
      messages: [
        question,
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Tagged.", signature: `sig_${"0".repeat(32)}` },
            { type: "redacted_thinking", data: "EqQBCgIYAhIM" },
            { type: "text", text: "Earlier." },
          ],
        },
        { role: "user", content: "More?" },
      ],
    });
    const payload = await nextPayload(gw.kiro);
    assert.deepEqual(payload.conversationState.history?.[1]?.assistantResponseMessage, {
      content: "Earlier.",
    });
  });

  await t.step("non-streaming create gives the same blocks", async () => {
    gw.kiro.replay(nativeReasoningReply());
    const message = await client.messages.create({ ...base, messages: [question] });
    assert.deepEqual(message.content, signed);
    assert.notEqual((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
  });

  await t.step("disabled thinking sends no field", async () => {
    gw.kiro.replay({ frames: [textFrame("Plain."), contextUsageFrame(1)] });
    await within(
      client.messages.stream({ ...base, thinking: { type: "disabled" }, messages: [question] })
        .finalMessage(),
    );
    const payload = await nextPayload(gw.kiro);
    assert.equal(payload.additionalModelRequestFields, undefined);
  });

  await t.step("a model without a schema keeps tags and the placeholder signature", async () => {
    gw.kiro.replay(nativeReasoningReply());
    const message = await within(
      client.messages.stream({ ...base, model: TAG_MODEL_ID, messages: [question] })
        .finalMessage(),
    );
    const thinking = message.content[0] as Anthropic.ThinkingBlock;
    assert.equal(thinking.thinking, "Tagged thoughts.");
    assert.match(thinking.signature, /^sig_[0-9a-f]{32}$/);
    const payload = await nextPayload(gw.kiro);
    assert.equal(payload.additionalModelRequestFields, undefined);
    assert.match(currentText(payload), /^<thinking_mode>enabled/);
  });
});

Deno.test("a rejection of a request with signed history falls back without marking the model", async () => {
  await using gw = await nativeGateway();
  const client = anthropicClient(gw.url);
  const rejecting = nativeReasoningReply({ reject: true });
  gw.kiro.replay(rejecting, rejecting, nativeReasoningReply());
  const messages: Anthropic.MessageParam[] = [
    { role: "user", content: "Why?" },
    {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "Old.", signature: "kgw1.sig.EXPIRED" },
        { type: "text", text: "Because." },
      ],
    },
    { role: "user", content: "Sure?" },
  ];
  const first = await client.messages.create({
    model: NATIVE_MODEL_ID,
    max_tokens: 1024,
    messages,
  });
  assert.equal((first.content[0] as Anthropic.ThinkingBlock).thinking, "Tagged thoughts.");
  const rejected = await nextPayload(gw.kiro);
  assert.notEqual(rejected.additionalModelRequestFields, undefined);
  assert.notEqual(
    rejected.conversationState.history?.[1]?.assistantResponseMessage?.reasoningContent,
    undefined,
  );
  const retried = await nextPayload(gw.kiro);
  assert.equal(retried.additionalModelRequestFields, undefined);
  assert.equal(
    retried.conversationState.history?.[1]?.assistantResponseMessage?.reasoningContent,
    undefined,
  );
  await client.messages.create({
    model: NATIVE_MODEL_ID,
    max_tokens: 1024,
    messages: [{ role: "user", content: "New chat" }],
  });
  assert.notEqual((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
});

Deno.test("the SDKs read a signature without reasoning text (display omitted)", async () => {
  await using gw = await nativeGateway();
  const onlySignature = nativeReasoningReply({ reasoning: [], signature: "SIG-ONLY" });
  gw.kiro.replay(onlySignature, onlySignature);
  const message = await within(
    anthropicClient(gw.url).messages.stream({
      model: NATIVE_MODEL_ID,
      max_tokens: 1024,
      messages: [{ role: "user", content: "Why?" }],
    }).finalMessage(),
  );
  assert.deepEqual(message.content, [
    { type: "thinking", thinking: "", signature: "kgw1.sig.SIG-ONLY" },
    { type: "text", text: "The answer." },
  ]);
  const response = await within(
    openAiClient(gw.url).responses.stream({
      model: NATIVE_MODEL_ID,
      input: "Why?",
      include: ["reasoning.encrypted_content"],
      store: false,
    }).finalResponse(),
  );
  assert.deepEqual(response.output[0], {
    id: response.output[0]!.id,
    type: "reasoning",
    summary: [],
    encrypted_content: "kgw1.sig.SIG-ONLY",
  });
  assert.equal(response.output_text, "The answer.");
});

Deno.test("Anthropic SDK: a rejected native field falls back to tags", async () => {
  await using gw = await nativeGateway();
  const rejecting = nativeReasoningReply({ reject: true });
  gw.kiro.replay(rejecting, rejecting);
  const message = await within(
    anthropicClient(gw.url).messages.stream({
      model: NATIVE_MODEL_ID,
      max_tokens: 1024,
      messages: [{ role: "user", content: "Why?" }],
    }).finalMessage(),
  );
  assert.equal((message.content[0] as Anthropic.ThinkingBlock).thinking, "Tagged thoughts.");
  assert.notEqual((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
  assert.equal((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
});

Deno.test("count_tokens equals message_start and the final input count", async (t) => {
  await using gw = await nativeGateway();
  const client = anthropicClient(gw.url);
  const tool = {
    name: "get_weather",
    description: "Current weather for a city",
    input_schema: {
      type: "object" as const,
      properties: { city: { type: "string" } },
      required: ["city"],
    },
  };
  const paragraphs = [
    "The gateway turns client requests into Kiro requests and streams the answers back.",
    "It counts the input the client sent, the same way for every route, so numbers agree.",
    "Thinking instructions the gateway adds on its own are not part of that count.",
  ].join("\n\n");
  const cases: { name: string; params: Record<string, unknown> }[] = [
    { name: "a plain message", params: { messages: [{ role: "user", content: "Hi" }] } },
    {
      name: "a system prompt, one tool and three paragraphs",
      params: {
        system: "You are a careful assistant.",
        tools: [tool],
        messages: [{ role: "user", content: paragraphs }],
      },
    },
    {
      name: "thinking enabled on the tag model",
      params: {
        model: TAG_MODEL_ID,
        thinking: { type: "enabled", budget_tokens: 2048 },
        system: "You are a careful assistant.",
        tools: [tool],
        messages: [{ role: "user", content: paragraphs }],
      },
    },
    {
      name: "adaptive thinking on the native model",
      params: { thinking: { type: "adaptive" }, messages: [{ role: "user", content: paragraphs }] },
    },
    {
      name: "an image",
      params: {
        messages: [{
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: PNG_1X1 } },
            { type: "text", text: "What is this?" },
          ],
        }],
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const params = { model: NATIVE_MODEL_ID, ...c.params } as Anthropic.MessageCountTokensParams;
      const counted = await client.messages.countTokens(params);
      gw.kiro.replay(nativeReasoningReply());
      let started = -1;
      let finalInput = -1;
      const stream = client.messages.stream({
        ...params,
        max_tokens: 4096,
      } as Anthropic.MessageCreateParamsStreaming);
      stream.on("streamEvent", (event) => {
        if (event.type === "message_start") started = event.message.usage.input_tokens;
        if (event.type === "message_delta") finalInput = event.usage.input_tokens ?? -1;
      });
      const message = await within(stream.finalMessage());
      await nextPayload(gw.kiro);
      assert.ok(counted.input_tokens > 3);
      assert.equal(started, counted.input_tokens);
      assert.equal(finalInput, counted.input_tokens);
      assert.equal(message.usage.input_tokens, counted.input_tokens);
      assert.equal(message.usage.cache_read_input_tokens, 0);
      assert.equal(message.usage.cache_creation_input_tokens, 0);
    });
  }
});

Deno.test("Kiro's own token counts win, cache fields included, in both dialects", async () => {
  await using gw = await nativeGateway();
  const usage = tokenUsageFrame({
    uncachedInputTokens: 120,
    cacheReadInputTokens: 3000,
    cacheWriteInputTokens: 400,
    outputTokens: 55,
  });
  const reply = nativeReasoningReply({ tail: [usage, contextUsageFrame(2)] });
  gw.kiro.replay(reply, reply);
  const message = await within(
    anthropicClient(gw.url).messages.stream({
      model: NATIVE_MODEL_ID,
      max_tokens: 1024,
      messages: [{ role: "user", content: "Hi" }],
    }).finalMessage(),
  );
  assert.deepEqual(
    {
      input_tokens: message.usage.input_tokens,
      cache_creation_input_tokens: message.usage.cache_creation_input_tokens,
      cache_read_input_tokens: message.usage.cache_read_input_tokens,
      output_tokens: message.usage.output_tokens,
    },
    {
      input_tokens: 120,
      cache_creation_input_tokens: 400,
      cache_read_input_tokens: 3000,
      output_tokens: 55,
    },
  );
  const completion = await openAiClient(gw.url).chat.completions.create({
    model: NATIVE_MODEL_ID,
    messages: [{ role: "user", content: "Hi" }],
  });
  assert.equal(completion.usage?.prompt_tokens, 3520);
  assert.equal(completion.usage?.completion_tokens, 55);
  assert.equal(completion.usage?.prompt_tokens_details?.cached_tokens, 3000);
  const reasoningTokens = completion.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
  assert.ok(reasoningTokens > 0 && reasoningTokens <= 55);
});

Deno.test("OpenAI SDK Responses: reasoning items carry the signature when include asks", async (t) => {
  await using gw = await nativeGateway();
  const client = openAiClient(gw.url);
  const include: OpenAI.Responses.ResponseIncludable[] = ["reasoning.encrypted_content"];
  const question = { role: "user" as const, content: "Why?" };

  let output: OpenAI.Responses.ResponseOutputItem[] = [];
  await t.step("streamed: summary text and encrypted_content; xhigh becomes max", async () => {
    gw.kiro.replay(nativeReasoningReply());
    const stream = client.responses.stream({
      model: NATIVE_MODEL_ID,
      input: [question],
      reasoning: { effort: "xhigh" },
      include,
      store: false,
    });
    const response = await within(stream.finalResponse());
    assert.deepEqual(response.output[0], {
      id: response.output[0]!.id,
      type: "reasoning",
      summary: [{ type: "summary_text", text: "Native thoughts." }],
      encrypted_content: "kgw1.sig.KIRO-SIGNATURE==",
    });
    assert.equal(response.output_text, "The answer.");
    assert.ok(response.usage!.output_tokens_details.reasoning_tokens > 0);
    output = response.output;
    const payload = await nextPayload(gw.kiro);
    assert.deepEqual(payload.additionalModelRequestFields, nativeFields("max"));
  });

  await t.step("the reasoning item in the next input goes back as reasoningContent", async () => {
    gw.kiro.replay(nativeReasoningReply());
    await client.responses.create({
      model: NATIVE_MODEL_ID,
      input: [
        question,
        ...output as OpenAI.Responses.ResponseInputItem[],
        { role: "user", content: "And then?" },
      ],
      include,
      store: false,
    });
    const payload = await nextPayload(gw.kiro);
    assert.deepEqual(payload.conversationState.history?.[1]?.assistantResponseMessage, {
      content: "The answer.",
      reasoningContent: {
        reasoningText: { text: "Native thoughts.", signature: "KIRO-SIGNATURE==" },
      },
    });
  });

  await t.step("without include the item has no encrypted_content", async () => {
    gw.kiro.replay(nativeReasoningReply());
    const response = await client.responses.create({
      model: NATIVE_MODEL_ID,
      input: [question],
      store: false,
    });
    assert.equal(response.output[0]!.type, "reasoning");
    assert.equal("encrypted_content" in response.output[0]!, false);
    await nextPayload(gw.kiro);
  });

  await t.step(
    "redacted reasoning is an item with encrypted_content only, and comes back",
    async () => {
      gw.kiro.replay(nativeReasoningReply({ redacted: "UkVE" }));
      const response = await within(
        client.responses.stream({
          model: NATIVE_MODEL_ID,
          input: [question],
          include,
          store: false,
        })
          .finalResponse(),
      );
      assert.deepEqual(response.output[0], {
        id: response.output[0]!.id,
        type: "reasoning",
        summary: [],
        encrypted_content: "kgw1.red.UkVE",
      });
      await nextPayload(gw.kiro);
      gw.kiro.replay(nativeReasoningReply());
      await client.responses.create({
        model: NATIVE_MODEL_ID,
        input: [
          question,
          ...response.output as OpenAI.Responses.ResponseInputItem[],
          { role: "user", content: "Go on." },
        ],
        store: false,
      });
      const payload = await nextPayload(gw.kiro);
      assert.deepEqual(payload.conversationState.history?.[1]?.assistantResponseMessage, {
        content: "The answer.",
        reasoningContent: { redactedContent: "UkVE" },
      });
    },
  );

  await t.step("foreign encrypted_content is never sent back", async () => {
    gw.kiro.replay(nativeReasoningReply());
    await client.responses.create({
      model: NATIVE_MODEL_ID,
      input: [
        question,
        {
          type: "reasoning",
          id: "rs_1",
          summary: [{ type: "summary_text", text: "OpenAI's own." }],
          encrypted_content: "gAAAAABfake",
        },
        { role: "assistant", content: "Earlier." },
        { role: "user", content: "More?" },
      ] as OpenAI.Responses.ResponseInputItem[],
      store: false,
    });
    const payload = await nextPayload(gw.kiro);
    assert.deepEqual(payload.conversationState.history?.[1]?.assistantResponseMessage, {
      content: "Earlier.",
    });
  });

  await t.step("a model without a schema keeps tags", async () => {
    gw.kiro.replay(nativeReasoningReply());
    const response = await within(
      client.responses.stream({ model: TAG_MODEL_ID, input: [question], include, store: false })
        .finalResponse(),
    );
    assert.deepEqual(response.output[0], {
      id: response.output[0]!.id,
      type: "reasoning",
      summary: [{ type: "summary_text", text: "Tagged thoughts." }],
    });
    const payload = await nextPayload(gw.kiro);
    assert.equal(payload.additionalModelRequestFields, undefined);
    assert.match(currentText(payload), /^<thinking_mode>enabled/);
  });

  await t.step("effort none sends no field", async () => {
    gw.kiro.replay({ frames: [textFrame("Plain."), contextUsageFrame(1)] });
    await client.responses.create({
      model: NATIVE_MODEL_ID,
      input: [question],
      reasoning: { effort: "none" as OpenAI.ReasoningEffort },
      store: false,
    });
    assert.equal((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
  });
});

Deno.test("OpenAI SDK Responses: a rejected native field falls back to tags", async () => {
  await using gw = await nativeGateway();
  const rejecting = nativeReasoningReply({ reject: true });
  gw.kiro.replay(rejecting, rejecting);
  const response = await within(
    openAiClient(gw.url).responses.stream({
      model: NATIVE_MODEL_ID,
      input: "Why?",
      store: false,
    }).finalResponse(),
  );
  assert.deepEqual(
    (response.output[0] as OpenAI.Responses.ResponseReasoningItem).summary,
    [{ type: "summary_text", text: "Tagged thoughts." }],
  );
  assert.notEqual((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
  assert.equal((await nextPayload(gw.kiro)).additionalModelRequestFields, undefined);
});
