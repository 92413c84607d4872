/**
 * The body of `POST /v1/chat/completions` as zod schemas (spec §7.4). Unknown fields are
 * accepted and dropped; only the fields the gateway reads are checked, each with its path.
 */
import { z } from "zod";
import { GatewayError } from "../../errors.ts";

/** The `reasoning_effort` values OpenAI defines. */
export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"] as const;

const imageUrl = z.union([
  z.string(),
  z.looseObject({ url: z.string(), detail: z.string().nullish() }),
]);

/** Part types request.ts reads for something other than a `text` field. */
const NON_TEXT_PART_TYPES: ReadonlySet<string> = new Set([
  "image_url",
  "tool_result",
  "tool_reference",
  "refusal",
]);

/**
 * One content part. `text`, `image_url` and `refusal` parts are checked; a part of any other
 * type is taken as text when it has a string `text` (`input_text`, ...), and refused when it
 * carries nothing Kiro can take (`input_audio`, `file`): the client hears it instead of the
 * part vanishing. Anthropic-style `tool_result` parts pass for request.ts.
 */
const contentPart = z.union([
  z.string(),
  z.looseObject({
    type: z.string(),
    text: z.unknown().optional(),
    image_url: imageUrl.optional(),
    tool_use_id: z.string().optional(),
    content: z.unknown().optional(),
    is_error: z.boolean().nullish(),
  }).check((ctx) => {
    const part = ctx.value;
    if (part.type === "text" && typeof part.text !== "string") {
      ctx.issues.push({
        code: "custom",
        input: part.text,
        path: ["text"],
        message: "a text part needs a string text",
      });
    }
    if (part.type === "image_url" && part.image_url === undefined) {
      ctx.issues.push({
        code: "custom",
        input: part,
        path: ["image_url"],
        message: "an image_url part needs image_url.url",
      });
    }
    if (part.type === "refusal" && typeof part.refusal !== "string") {
      ctx.issues.push({
        code: "custom",
        input: part.refusal,
        path: ["refusal"],
        message: "a refusal part needs a string refusal",
      });
    }
    if (!NON_TEXT_PART_TYPES.has(part.type) && typeof part.text !== "string") {
      ctx.issues.push({
        code: "custom",
        input: part,
        path: ["type"],
        message: `a content part of type ${
          JSON.stringify(part.type)
        } carries nothing Kiro can take: send text or an image_url part`,
      });
    }
  }),
]);

/** A content part of a message, as accepted. */
export type OpenAiContentPart = z.infer<typeof contentPart>;

const content = z.union([z.string(), z.array(contentPart), contentPart]).nullish();

/** Message content as accepted: a string, parts, one part, or nothing. */
export type OpenAiContent = z.infer<typeof content>;

const toolCall = z.looseObject({
  id: z.string(),
  type: z.string().nullish(),
  function: z.looseObject({
    name: z.string().min(1),
    arguments: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
  }),
});

/** An assistant's tool call in history. */
export type OpenAiToolCall = z.infer<typeof toolCall>;

const message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content,
  name: z.string().nullish(),
  tool_calls: z.array(toolCall).nullish(),
  tool_call_id: z.string().nullish(),
}).check((ctx) => {
  const m = ctx.value;
  // Kiro would get an empty turn or a result paired with no call: the client's mistake, said.
  if (m.role === "user" && (m.content === null || m.content === undefined)) {
    ctx.issues.push({
      code: "custom",
      input: m.content,
      path: ["content"],
      message: "a user message needs content (a string or a list of parts)",
    });
  }
  if (m.role === "tool" && !m.tool_call_id) {
    ctx.issues.push({
      code: "custom",
      input: m.tool_call_id,
      path: ["tool_call_id"],
      message: "a tool message needs the tool_call_id of the call it answers",
    });
  }
});

/** One message of the conversation. */
export type OpenAiMessage = z.infer<typeof message>;

const jsonObject = z.record(z.string(), z.unknown());

const tool = z.looseObject({
  type: z.string(),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().nullish(),
    parameters: jsonObject.nullish(),
  }).optional(),
  // The flat "Cursor" shape puts these at the top level (spec §2.5).
  name: z.string().nullish(),
  description: z.string().nullish(),
  input_schema: jsonObject.nullish(),
  parameters: jsonObject.nullish(),
}).check((ctx) => {
  const t = ctx.value;
  if (t.type === "function" && t.function === undefined && !t.name) {
    ctx.issues.push({
      code: "custom",
      input: t,
      path: ["function", "name"],
      message: "a function tool needs a name",
    });
  }
});

/** A tool definition in the standard or the flat shape. */
export type OpenAiTool = z.infer<typeof tool>;

const positiveInt = z.number().int().positive();

/** The chat completions request body. */
export const chatCompletionsSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1, "messages must contain at least one message"),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  reasoning_effort: z.enum(REASONING_EFFORTS).nullish(),
  max_tokens: positiveInt.nullish(),
  max_completion_tokens: positiveInt.nullish(),
  // Kiro returns one choice; larger values are accepted (never rejected) and answered with one.
  n: z.number().int().min(1).nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: z.union([z.string(), z.looseObject({ type: z.string() })]).nullish(),
  // Known fields Kiro has no control for: ignored, but a wrong type is still the client's 400.
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  presence_penalty: z.number().nullish(),
  frequency_penalty: z.number().nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  user: z.string().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: z.looseObject({
    type: z.string(),
    json_schema: z.looseObject({
      name: z.string().nullish(),
      description: z.string().nullish(),
      schema: jsonObject.nullish(),
      strict: z.boolean().nullish(),
    }).nullish(),
  }).nullish(),
  prompt_cache_key: z.string().nullish(),
  // Present (even `{}`) asks for web search; its fields (search_context_size,
  // user_location) have no Kiro counterpart.
  web_search_options: z.looseObject({}).nullish(),
});

/** A validated chat completions request body. */
export type ChatCompletionsBody = z.infer<typeof chatCompletionsSchema>;

/**
 * Validates a parsed JSON body; throws an `invalid_request` GatewayError naming the first bad
 * field's path (also set as `param`).
 */
export function parseChatCompletionsBody(json: unknown): ChatCompletionsBody {
  const result = chatCompletionsSchema.safeParse(json);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const issue = first ? resolveIssue(first) : { path: [], message: "invalid body" };
  const path = issue.path.map(String).join(".");
  const detail = issue.message;
  const where = path === "" ? "body" : path;
  // A message that already starts with its field reads better without the path repeated.
  const message = detail.startsWith(`${where} `)
    ? `Invalid request: ${detail}`
    : `Invalid request: ${where}: ${detail}`;
  return fail(message, path === "" ? undefined : path);
}

type Issue = z.core.$ZodIssue;

/**
 * Finds the most specific problem inside a union failure: the branch whose (recursively
 * resolved) first issue lies deepest, so `content: [{type:"text", text: 3}]` reports
 * `content.0.text` instead of "Invalid input" at `content`.
 */
function resolveIssue(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code === "invalid_union") {
    let best: { path: PropertyKey[]; message: string } | undefined;
    for (const branch of issue.errors) {
      const head = branch[0];
      if (!head) continue;
      const candidate = resolveIssue(head);
      if (!best || candidate.path.length > best.path.length) best = candidate;
    }
    if (best) return { path: [...issue.path, ...best.path], message: best.message };
  }
  return { path: issue.path, message: issue.message };
}

function fail(message: string, param: string | undefined): never {
  throw new GatewayError("invalid_request", message, { param });
}
