/**
 * Client intents Kiro has no field for, end to end in each dialect: structured output reaches
 * Kiro as an instruction quoting the schema and the fenced JSON answer comes back bare
 * (streaming and not); a forced tool choice reaches Kiro as an instruction; each is logged at
 * debug level.
 */
import assert from "node:assert/strict";
import { GENERATE_PATH } from "../fake_kiro.ts";
import { structuredAnswers, viewPayload } from "../kiro_script.ts";
import { E2E_KEY, type E2eGateway, startE2eGateway } from "./gateway.ts";

const SCHEMA = {
  type: "object",
  properties: { title: { type: "string" }, done: { type: "boolean" } },
  required: ["title", "done"],
  additionalProperties: false,
};
const ANSWER = { title: "Agent test", done: false };

const WEATHER_TOOL = {
  name: "get_weather",
  description: "Weather for a city",
  schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

interface Dialect {
  name: string;
  path: string;
  /** A request body asking for `SCHEMA`. */
  structured(stream: boolean): Record<string, unknown>;
  /** A request body forcing `choice` ("any" or the weather tool). */
  forced(choice: "any" | "named"): Record<string, unknown>;
  /** The answer text of a reply. */
  text(res: Response, stream: boolean): Promise<string>;
}

const DIALECTS: Dialect[] = [
  {
    name: "OpenAI chat completions",
    path: "/v1/chat/completions",
    structured: (stream) => ({
      model: "claude-sonnet-4.5",
      stream,
      messages: [{ role: "user", content: "Name the task" }],
      response_format: { type: "json_schema", json_schema: { name: "task", schema: SCHEMA } },
    }),
    forced: (choice) => ({
      model: "claude-sonnet-4.5",
      messages: [{ role: "user", content: "Weather?" }],
      tools: [{
        type: "function",
        function: {
          name: WEATHER_TOOL.name,
          description: WEATHER_TOOL.description,
          parameters: WEATHER_TOOL.schema,
        },
      }],
      tool_choice: choice === "any"
        ? "required"
        : { type: "function", function: { name: WEATHER_TOOL.name } },
    }),
    async text(res, stream) {
      if (!stream) return (await res.json()).choices[0].message.content;
      return sseData(await res.text()).map((d) => d.choices?.[0]?.delta?.content ?? "").join("");
    },
  },
  {
    name: "Anthropic messages",
    path: "/v1/messages",
    structured: (stream) => ({
      model: "claude-sonnet-4.5",
      max_tokens: 1024,
      stream,
      messages: [{ role: "user", content: "Name the task" }],
      output_config: { format: { type: "json_schema", schema: SCHEMA } },
    }),
    forced: (choice) => ({
      model: "claude-sonnet-4.5",
      max_tokens: 1024,
      messages: [{ role: "user", content: "Weather?" }],
      tools: [{
        name: WEATHER_TOOL.name,
        description: WEATHER_TOOL.description,
        input_schema: WEATHER_TOOL.schema,
      }],
      tool_choice: choice === "any" ? { type: "any" } : { type: "tool", name: WEATHER_TOOL.name },
    }),
    async text(res, stream) {
      if (!stream) {
        const body = await res.json();
        return body.content.filter((b: { type: string }) => b.type === "text")
          .map((b: { text: string }) => b.text).join("");
      }
      return sseData(await res.text()).map((d) =>
        d.delta?.type === "text_delta" ? d.delta.text : ""
      )
        .join("");
    },
  },
  {
    name: "OpenAI Responses",
    path: "/v1/responses",
    structured: (stream) => ({
      model: "claude-sonnet-4.5",
      stream,
      store: false,
      input: "Name the task",
      text: { format: { type: "json_schema", name: "task", schema: SCHEMA } },
    }),
    forced: (choice) => ({
      model: "claude-sonnet-4.5",
      store: false,
      input: "Weather?",
      tools: [{
        type: "function",
        name: WEATHER_TOOL.name,
        description: WEATHER_TOOL.description,
        parameters: WEATHER_TOOL.schema,
      }],
      tool_choice: choice === "any" ? "required" : { type: "function", name: WEATHER_TOOL.name },
    }),
    async text(res, stream) {
      if (!stream) {
        const body = await res.json();
        return body.output.filter((item: { type: string }) => item.type === "message")
          .flatMap((item: { content: { text: string }[] }) => item.content.map((c) => c.text))
          .join("");
      }
      return sseData(await res.text()).map((d) =>
        d.type === "response.output_text.delta" ? d.delta : ""
      ).join("");
    },
  },
];

// deno-lint-ignore no-explicit-any
function sseData(text: string): any[] {
  return text.split("\n").filter((line) => line.startsWith("data: ") && line !== "data: [DONE]")
    .map((line) => JSON.parse(line.slice(6)));
}

function post(gw: E2eGateway, path: string, body: unknown): Promise<Response> {
  return fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${E2E_KEY}`,
      "x-api-key": E2E_KEY,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
}

/** The system text the gateway sent to Kiro (it leads the first user turn). */
async function upstreamPrompt(gw: E2eGateway): Promise<string> {
  const request = await gw.kiro.nextRequest(GENERATE_PATH);
  return viewPayload(request.body).texts[0] ?? "";
}

Deno.test("structured output is an instruction upstream and a bare JSON answer", async (t) => {
  for (const dialect of DIALECTS) {
    for (const stream of [false, true]) {
      await t.step(`${dialect.name}${stream ? ", streaming" : ""}`, async () => {
        await using gw = await startE2eGateway();
        gw.kiro.respond(structuredAnswers());
        const res = await post(gw, dialect.path, dialect.structured(stream));
        assert.equal(res.status, 200);
        const text = await dialect.text(res, stream);
        assert.deepEqual(JSON.parse(text), ANSWER, text);
        assert.ok(!text.includes("```"), "the code fence is gone");
        const prompt = await upstreamPrompt(gw);
        assert.ok(prompt.includes(`\n${JSON.stringify(SCHEMA)}\n</json_schema>`), prompt);
        assert.ok(
          gw.logs.some((line) =>
            /DEBUG/.test(line) && line.includes("Structured output requested")
          ),
          "logged at debug level",
        );
        assert.ok(gw.logs.some((line) => line.includes("Unwrapped the JSON answer")));
      });
    }
  }
});

Deno.test("a forced tool choice is an instruction upstream", async (t) => {
  for (const dialect of DIALECTS) {
    for (const choice of ["any", "named"] as const) {
      await t.step(`${dialect.name}, ${choice}`, async () => {
        await using gw = await startE2eGateway();
        const res = await post(gw, dialect.path, dialect.forced(choice));
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const prompt = await upstreamPrompt(gw);
        const wanted = choice === "any"
          ? "answer by calling one or more of the available tools"
          : `answer by calling the tool "${WEATHER_TOOL.name}"`;
        assert.ok(prompt.includes(`# Tool Use\n\nThe client requires a tool call`), prompt);
        assert.ok(prompt.includes(wanted), prompt);
        assert.ok(
          gw.logs.some((line) => /DEBUG/.test(line) && line.includes("Forced tool choice")),
          "logged at debug level",
        );
      });
    }
  }
});

Deno.test("without intents the prompt carries no such instruction", async () => {
  await using gw = await startE2eGateway();
  const res = await post(gw, "/v1/chat/completions", {
    model: "claude-sonnet-4.5",
    messages: [{ role: "user", content: "Hi" }],
  });
  await res.body?.cancel();
  const prompt = await upstreamPrompt(gw);
  assert.ok(!prompt.includes("# Response Format") && !prompt.includes("# Tool Use"), prompt);
});
