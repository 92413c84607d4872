/**
 * The Responses clients other than the OpenAI SDK, end to end through the real pipeline and
 * the fake Kiro: the Vercel AI SDK's responses model and the OpenAI Agents SDK, each running a
 * one-tool loop to its final answer.
 */
import assert from "node:assert/strict";
import { createOpenAI } from "@ai-sdk/openai";
// The Agents SDK's own packages: `@openai/agents` adds only the realtime (voice) part, whose
// @types/node would replace Deno's node types for the whole test build.
import { Agent, Runner, tool as agentTool } from "@openai/agents-core";
import { OpenAIProvider } from "@openai/agents-openai";
import { stepCountIs, streamText, tool } from "ai";
import { z } from "zod";
import { GENERATE_PATH } from "../fake_kiro.ts";
import { contextUsageFrame, textFrame, toolFrames } from "../frames.ts";
import { within } from "../helpers.ts";
import { E2E_KEY, startE2eGateway } from "./gateway.ts";
import { openAiClient } from "./sdk_clients.ts";

interface KiroPayloadView {
  conversationState: {
    currentMessage: { userInputMessage: Record<string, unknown> };
    history?: Record<string, Record<string, unknown>>[];
  };
}

type ToolResultsView = { toolResults?: { toolUseId: string; content: { text: string }[] }[] };

function currentResults(payload: KiroPayloadView): ToolResultsView["toolResults"] {
  const context = payload.conversationState.currentMessage.userInputMessage
    .userInputMessageContext as ToolResultsView | undefined;
  return context?.toolResults;
}

Deno.test("Vercel AI SDK: the responses model runs a tool loop to the final answer", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay(
    {
      frames: [
        textFrame("Checking the weather."),
        ...toolFrames("tooluse_W1", "weather", ['{"city": ', '"Paris"}']),
        contextUsageFrame(1),
      ],
    },
    { frames: [textFrame("It is sunny in Paris, "), textFrame("21 °C."), contextUsageFrame(1)] },
  );
  const provider = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: E2E_KEY });
  const cities: string[] = [];
  const result = streamText({
    model: provider.responses("claude-sonnet-4.5"),
    prompt: "What is the weather in Paris?",
    tools: {
      weather: tool({
        description: "The current weather in a city",
        inputSchema: z.object({ city: z.string() }),
        execute: ({ city }) => {
          cities.push(city);
          return Promise.resolve(`Sunny, 21 °C in ${city}`);
        },
      }),
    },
    stopWhen: stepCountIs(3),
  });
  const text = await within(Promise.resolve(result.text), 10_000, "the AI SDK answer");
  assert.equal(text, "It is sunny in Paris, 21 °C.");
  assert.deepEqual(cities, ["Paris"]);
  const steps = await result.steps;
  assert.equal(steps.length, 2);
  assert.equal((await result.usage).inputTokens! > 0, true);

  const first = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  const tools = (first.conversationState.currentMessage.userInputMessage
    .userInputMessageContext as { tools: { toolSpecification: { name: string } }[] }).tools;
  assert.deepEqual(tools.map((t) => t.toolSpecification.name), ["weather"]);
  const second = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  const results = currentResults(second)!;
  assert.equal(results[0]?.toolUseId, "tooluse_W1");
  assert.match(results[0]!.content[0]!.text, /Sunny, 21 °C in Paris/);
  // The assistant's earlier text came back (by item_reference to the stored response).
  assert.match(JSON.stringify(second.conversationState.history), /Checking the weather\./);
});

Deno.test("OpenAI Agents SDK: a one-tool agent runs to its final output", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay(
    {
      frames: [
        ...toolFrames("tooluse_A1", "add", ['{"a": 2, "b": 3}']),
        contextUsageFrame(1),
      ],
    },
    { frames: [textFrame("2 + 3 = 5."), contextUsageFrame(1)] },
  );
  const runner = new Runner({
    modelProvider: new OpenAIProvider({
      openAIClient: openAiClient(gw.url),
      useResponses: true,
    }),
    tracingDisabled: true,
  });
  const sums: number[] = [];
  const add = agentTool({
    name: "add",
    description: "Adds two numbers",
    parameters: z.object({ a: z.number(), b: z.number() }),
    execute: ({ a, b }) => {
      sums.push(a + b);
      return String(a + b);
    },
  });
  const agent = new Agent({
    name: "Calculator",
    instructions: "Use the add tool for sums.",
    model: "claude-sonnet-4.5",
    tools: [add],
  });
  const result = await within(runner.run(agent, "What is 2 + 3?"), 10_000, "the agent run");
  assert.equal(result.finalOutput, "2 + 3 = 5.");
  assert.deepEqual(sums, [5]);

  const first = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  assert.match(
    String(first.conversationState.currentMessage.userInputMessage.content),
    /Use the add tool for sums\.[\s\S]*What is 2 \+ 3\?$/,
  );
  const second = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  assert.deepEqual(currentResults(second)?.map((r) => [r.toolUseId, r.content[0]?.text]), [
    ["tooluse_A1", "5"],
  ]);
});
