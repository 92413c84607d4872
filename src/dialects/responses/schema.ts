/**
 * The body of `POST /v1/responses` as zod schemas (spec §7.7). Unknown top-level fields, unknown
 * input item types and unknown tool types are accepted and left for request.ts to drop: every
 * Codex release adds some. The fields and item types the gateway reads are checked, each bad
 * value reported with its path (`input.3.call_id`).
 */
import { z } from "zod";
import { GatewayError } from "../../errors.ts";

/** The `reasoning.effort` values the Responses API defines. */
export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"] as const;

const jsonObject = z.record(z.string(), z.unknown());

/**
 * Parses `value` (the checked value itself by default) with `schema` and reports its issues as
 * the checked value's, under `prefix`; true when it passed.
 */
function relayParse(
  ctx: { value: unknown; issues: z.core.$ZodRawIssue[] },
  schema: z.ZodType,
  inner: { value?: unknown; prefix?: PropertyKey[] } = {},
): boolean {
  const result = schema.safeParse("value" in inner ? inner.value : ctx.value);
  if (result.success) return true;
  for (const issue of result.error.issues) {
    const detail = deepestIssue(issue);
    ctx.issues.push({
      code: "custom",
      input: ctx.value,
      path: [...(inner.prefix ?? []), ...detail.path],
      message: detail.message,
    });
  }
  return false;
}

/**
 * One content part of a message or of a tool output. A part of another type is taken as text
 * when it has a string `text`, and refused when it carries nothing Kiro can take (`input_file`,
 * `input_audio`), as in the other dialects.
 */
const contentPart = z.looseObject({
  type: z.string(),
  text: z.unknown().optional(),
  image_url: z.unknown().optional(),
  file_id: z.unknown().optional(),
}).check((ctx) => {
  const part = ctx.value;
  const push = (path: string, message: string) =>
    ctx.issues.push({ code: "custom", input: part, path: [path], message });
  if (TEXT_PARTS.has(part.type) && typeof part.text !== "string") {
    push("text", `a ${part.type} part needs a string text`);
  }
  if (part.type === "input_image") {
    if (part.image_url === undefined || part.image_url === null) {
      push(
        "image_url",
        part.file_id === undefined
          ? "an input_image part needs image_url"
          : "file_id images are not supported: send the image as image_url (a data: URL)",
      );
    } else if (typeof part.image_url !== "string") {
      push("image_url", "expected a data: or http(s) URL string");
    }
  } else if (part.type === "refusal") {
    if (typeof part.refusal !== "string") push("refusal", "a refusal part needs a string refusal");
  } else if (!TEXT_PARTS.has(part.type) && typeof part.text !== "string") {
    push(
      "type",
      `a content part of type ${
        JSON.stringify(part.type)
      } carries nothing Kiro can take: send input_text or input_image parts`,
    );
  }
});

/** Part types whose `text` is message text. */
export const TEXT_PARTS: ReadonlySet<string> = new Set([
  "input_text",
  "output_text",
  "text",
  "summary_text",
  "reasoning_text",
]);

const content = z.union([z.string(), z.array(contentPart)]);

/** Message content: a string or a list of parts. */
export type ResponsesContent = z.infer<typeof content>;

const messageItem = z.looseObject({
  type: z.literal("message").optional(),
  role: z.enum(["user", "assistant", "system", "developer"]),
  content,
});

const functionCallItem = z.looseObject({
  type: z.literal("function_call"),
  call_id: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string().nullish(),
  arguments: z.string().nullish(),
});

const toolOutput = z.union([z.string(), z.array(contentPart)]).nullish();

/** A tool output as accepted: text or parts (text and images). */
export type ResponsesToolOutput = z.infer<typeof toolOutput>;

const functionCallOutputItem = z.looseObject({
  type: z.literal("function_call_output"),
  call_id: z.string().min(1),
  output: toolOutput,
});

const customToolCallItem = z.looseObject({
  type: z.literal("custom_tool_call"),
  call_id: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string().nullish(),
  input: z.string().nullish(),
});

const customToolCallOutputItem = z.looseObject({
  type: z.literal("custom_tool_call_output"),
  call_id: z.string().min(1),
  output: toolOutput,
});

const localShellCallItem = z.looseObject({
  type: z.literal("local_shell_call"),
  call_id: z.string().nullish(),
  id: z.string().nullish(),
  action: z.looseObject({
    type: z.string().optional(),
    command: z.array(z.string()),
    working_directory: z.string().nullish(),
    timeout_ms: z.number().nullish(),
    env: z.record(z.string(), z.string()).nullish(),
    user: z.string().nullish(),
  }),
});

const localShellCallOutputItem = z.looseObject({
  type: z.literal("local_shell_call_output"),
  call_id: z.string().nullish(),
  id: z.string().nullish(),
  output: toolOutput,
});

const reasoningItem = z.looseObject({
  type: z.literal("reasoning"),
  id: z.string().nullish(),
  summary: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).nullish(),
  content: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).nullish(),
  encrypted_content: z.string().nullish(),
});

/** A message item (with or without `type`). */
export type MessageItem = z.infer<typeof messageItem>;
/** A `function_call` item. */
export type FunctionCallItem = z.infer<typeof functionCallItem>;
/** A `function_call_output` item. */
export type FunctionCallOutputItem = z.infer<typeof functionCallOutputItem>;
/** A `custom_tool_call` item. */
export type CustomToolCallItem = z.infer<typeof customToolCallItem>;
/** A `custom_tool_call_output` item. */
export type CustomToolCallOutputItem = z.infer<typeof customToolCallOutputItem>;
/** A `local_shell_call` item. */
export type LocalShellCallItem = z.infer<typeof localShellCallItem>;
/** A `local_shell_call_output` item. */
export type LocalShellCallOutputItem = z.infer<typeof localShellCallOutputItem>;
/** A `reasoning` item. */
export type ReasoningItem = z.infer<typeof reasoningItem>;

/** The schema of each input item type the gateway reads; other types are dropped. */
const ITEM_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  message: messageItem,
  function_call: functionCallItem,
  function_call_output: functionCallOutputItem,
  custom_tool_call: customToolCallItem,
  custom_tool_call_output: customToolCallOutputItem,
  local_shell_call: localShellCallItem,
  local_shell_call_output: localShellCallOutputItem,
  reasoning: reasoningItem,
};

/** The item type of `item`: its `type`, or `message` for a bare `{role, content}`. */
export function itemType(item: InputItem): string {
  return item.type ?? (item.role !== undefined ? "message" : "");
}

/** One input item; known types are checked by their own schema, others pass untouched. */
const inputItem = z.looseObject({
  type: z.string().optional(),
  role: z.unknown().optional(),
}).check((ctx) => {
  const schema = ITEM_SCHEMAS[itemType(ctx.value)];
  if (schema) relayParse(ctx, schema);
});

/** An input item as accepted (narrowed with itemType in request.ts). */
export type InputItem = z.infer<typeof inputItem>;

const functionTool = z.looseObject({
  type: z.literal("function"),
  name: z.string().min(1),
  description: z.string().nullish(),
  parameters: jsonObject.nullish(),
  strict: z.boolean().nullish(),
});

const customTool = z.looseObject({
  type: z.literal("custom"),
  name: z.string().min(1),
  description: z.string().nullish(),
  format: z.looseObject({
    type: z.string(),
    syntax: z.string().nullish(),
    definition: z.string().nullish(),
  }).nullish(),
});

const namespaceTool = z.looseObject({
  type: z.literal("namespace"),
  name: z.string().min(1),
  description: z.string().nullish(),
  tools: z.array(z.looseObject({ type: z.string() })),
});

/** A `function` tool. */
export type FunctionTool = z.infer<typeof functionTool>;
/** A freeform `custom` tool. */
export type CustomTool = z.infer<typeof customTool>;
/** A `namespace` tool holding other tools. */
export type NamespaceTool = z.infer<typeof namespaceTool>;

const TOOL_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  function: functionTool,
  custom: customTool,
  namespace: namespaceTool,
};

/** One tool; `function`, `custom` and `namespace` (and the tools inside) are checked. */
const tool: z.ZodType<{ type: string; [key: string]: unknown }> = z.looseObject({
  type: z.string(),
}).check((ctx) => {
  const schema = TOOL_SCHEMAS[ctx.value.type];
  if (!schema || !relayParse(ctx, schema) || ctx.value.type !== "namespace") return;
  for (const [index, inner] of (ctx.value.tools as unknown[]).entries()) {
    relayParse(ctx, tool, { value: inner, prefix: ["tools", index] });
  }
});

/** A tool as accepted. */
export type ResponsesTool = z.infer<typeof tool>;

const toolChoice = z.union([
  z.enum(["auto", "none", "required"]),
  z.looseObject({ type: z.string(), name: z.string().nullish() }),
]);

const textFormat = z.looseObject({
  type: z.string(),
  name: z.string().nullish(),
  schema: jsonObject.nullish(),
  strict: z.boolean().nullish(),
}).check((ctx) => {
  if (ctx.value.type === "json_schema" && !ctx.value.schema) {
    ctx.issues.push({
      code: "custom",
      input: ctx.value,
      path: ["schema"],
      message: "a json_schema format needs a schema object",
    });
  }
});

/** The Responses request body. */
export const responsesSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(inputItem)]).nullish(),
  instructions: z.string().nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  reasoning: z.looseObject({
    effort: z.enum(REASONING_EFFORTS).nullish(),
    summary: z.string().nullish(),
  }).nullish(),
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  include: z.array(z.string()).nullish(),
  previous_response_id: z.string().min(1).nullish(),
  prompt_cache_key: z.string().nullish(),
  text: z.looseObject({ format: textFormat.nullish() }).nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
});

/** A validated Responses request body. */
export type ResponsesBody = z.infer<typeof responsesSchema>;

/**
 * Validates a parsed JSON body; throws an `invalid_request` GatewayError naming the first bad
 * field's path (also set as `param`).
 */
export function parseResponsesBody(json: unknown): ResponsesBody {
  const result = responsesSchema.safeParse(json);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const issue = first ? deepestIssue(first) : { path: [], message: "invalid body" };
  const path = issue.path.map(String).join(".");
  const where = path === "" ? "body" : path;
  throw new GatewayError("invalid_request", `Invalid request: ${where}: ${issue.message}`, {
    param: path === "" ? undefined : path,
  });
}

type Issue = z.core.$ZodIssue;

/** The branch of a union failure whose problem lies deepest, so the path is the most precise. */
function deepestIssue(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code === "invalid_union") {
    let best: { path: PropertyKey[]; message: string } | undefined;
    for (const branch of issue.errors) {
      const head = branch[0];
      if (!head) continue;
      const candidate = deepestIssue(head);
      if (!best || candidate.path.length > best.path.length) best = candidate;
    }
    if (best) return { path: [...issue.path, ...best.path], message: best.message };
  }
  return { path: issue.path, message: issue.message };
}
