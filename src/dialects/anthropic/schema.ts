/**
 * The Anthropic Messages request bodies, validated with zod. Unknown fields are allowed and
 * ignored; content blocks of types the gateway does not know pass as `{type:"unknown"}` so the
 * converter can skip them, while known block types are checked field by field.
 */
import { z } from "zod";
import { GatewayError } from "../../errors.ts";

/** A content block of a type the gateway does not handle (kept only to be logged and skipped). */
export interface UnknownBlock {
  type: "unknown";
  /** The `type` the client sent. */
  originalType: string;
}

const required = (what: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? "field required" : `expected ${what}`;

const TextBlock = z.looseObject({
  type: z.literal("text"),
  text: z.string({ error: required("a string") }),
});

const ImageSource = z.discriminatedUnion("type", [
  z.looseObject({
    type: z.literal("base64"),
    media_type: z.string({ error: required("a string") }),
    data: z.string({ error: required("a string") }),
  }),
  z.looseObject({
    type: z.literal("url"),
    url: z.string({ error: required("a string") }).min(1, "expected a non-empty URL"),
  }),
], { error: 'expected an image source of type "base64" or "url"' });

const ImageBlock = z.looseObject({ type: z.literal("image"), source: ImageSource });

const ToolReferenceBlock = z.looseObject({
  type: z.literal("tool_reference"),
  tool_name: z.string({ error: required("a string") }),
});

const DocumentBlock = z.looseObject({
  type: z.literal("document"),
  source: z.looseObject({ type: z.string({ error: required("a string") }) }),
});

/** Known blocks allowed inside a `tool_result`'s content list. */
const TOOL_RESULT_BLOCKS = {
  text: TextBlock,
  image: ImageBlock,
  tool_reference: ToolReferenceBlock,
  document: DocumentBlock,
};

type KnownOutput<T extends Record<string, z.ZodType>> = z.output<T[keyof T]>;

/** A block schema that checks known types and lets unknown ones through as UnknownBlock. */
function blockSchema<T extends Record<string, z.ZodType>>(known: T) {
  return z.looseObject({ type: z.string({ error: required("a string") }) }).transform(
    (block, ctx): KnownOutput<T> | UnknownBlock => {
      const schema = Object.hasOwn(known, block.type) ? known[block.type] : undefined;
      if (schema !== undefined) return forward(schema.safeParse(block), ctx) as KnownOutput<T>;
      // A type of its own that carries text is taken as text; one that carries nothing Kiro
      // can take is refused, so the client hears it instead of the block vanishing.
      if (typeof block.text === "string") {
        return { type: "text", text: block.text } as KnownOutput<T>;
      }
      if (!RECORD_BLOCK_TYPES.has(block.type)) {
        ctx.addIssue({
          code: "custom",
          path: ["type"],
          message: `a content block of type ${
            JSON.stringify(block.type)
          } carries nothing Kiro can take: send text, image, tool_use or tool_result blocks`,
        });
        return z.NEVER;
      }
      return { type: "unknown", originalType: block.type };
    },
  );
}

/**
 * Records of server-side tools and uploads that clients send back in history: the model ran
 * them on Anthropic's side, Kiro has no place for them, so they are skipped, not refused.
 */
const RECORD_BLOCK_TYPES: ReadonlySet<string> = new Set([
  "web_fetch_tool_result",
  "code_execution_tool_result",
  "bash_code_execution_tool_result",
  "text_editor_code_execution_tool_result",
  "tool_search_tool_result",
  "mcp_tool_use",
  "mcp_tool_result",
  "container_upload",
  "search_result",
]);

/** A string, or a value `other` accepts; errors come from `other`, with their own paths. */
function stringOr<T extends z.ZodType>(other: T) {
  return z.unknown().transform((value, ctx): string | z.output<T> =>
    typeof value === "string" ? value : forward(other.safeParse(value), ctx)
  );
}

/** Returns a nested parse's data, or copies its issues (paths kept relative) into `ctx`. */
function forward<T>(
  parsed: z.ZodSafeParseResult<T>,
  ctx: { addIssue(issue: { code: "custom"; message: string; path: PropertyKey[] }): void },
): T {
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  }
  return z.NEVER;
}

const ToolResultContentBlock = blockSchema(TOOL_RESULT_BLOCKS);

const ToolUseBlock = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string({ error: required("a string") }).min(1, "expected a non-empty id"),
  name: z.string({ error: required("a string") }).min(1, "expected a non-empty name"),
  input: z.record(z.string(), z.unknown(), { error: "expected an object" }).optional(),
});

const ToolResultBlock = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string({ error: required("a string") }).min(1, "expected a non-empty id"),
  content: stringOr(
    z.array(ToolResultContentBlock, { error: "expected a string or a list of blocks" }),
  ).optional(),
  is_error: z.boolean({ error: "expected a boolean" }).optional(),
});

/** A search the server ran, as a client sends it back in history. */
const ServerToolUseBlock = z.looseObject({
  type: z.literal("server_tool_use"),
  id: z.string({ error: required("a string") }),
  name: z.string({ error: required("a string") }),
  input: z.record(z.string(), z.unknown(), { error: "expected an object" }).optional(),
});

/** Its results: a list of `web_search_result`s or one `web_search_tool_result_error`. */
const WebSearchToolResultBlock = z.looseObject({
  type: z.literal("web_search_tool_result"),
  tool_use_id: z.string({ error: required("a string") }),
  content: z.unknown(),
});

// Reasoning blocks are checked loosely: only the gateway's own signatures are read back, and a
// malformed foreign block is dropped rather than failing the request.
const ThinkingBlock = z.looseObject({
  type: z.literal("thinking"),
  thinking: z.unknown().optional(),
  signature: z.unknown().optional(),
});
const RedactedThinkingBlock = z.looseObject({
  type: z.literal("redacted_thinking"),
  data: z.unknown().optional(),
});

const ContentBlock = blockSchema({
  text: TextBlock,
  image: ImageBlock,
  tool_use: ToolUseBlock,
  tool_result: ToolResultBlock,
  thinking: ThinkingBlock,
  redacted_thinking: RedactedThinkingBlock,
  tool_reference: ToolReferenceBlock,
  document: DocumentBlock,
  server_tool_use: ServerToolUseBlock,
  web_search_tool_result: WebSearchToolResultBlock,
});

/** One parsed content block of a message. */
export type ContentBlock = z.output<typeof ContentBlock>;
/** One parsed block inside a `tool_result`'s content list. */
export type ToolResultContentBlock = z.output<typeof ToolResultContentBlock>;
/** An image block's source. */
export type ImageSource = z.output<typeof ImageSource>;

const Message = z.looseObject({
  // Claude Code 2.1 sends `system` messages between the turns (its environment notes).
  role: z.enum(["user", "assistant", "system"], {
    error: (issue) =>
      issue.input === undefined
        ? "field required"
        : `invalid role ${JSON.stringify(issue.input)}: expected "user", "assistant" or "system"`,
  }),
  content: stringOr(z.array(ContentBlock, { error: required("a string or a list of blocks") })),
});

/** One parsed message. */
export type Message = z.output<typeof Message>;

const SystemBlock = z.looseObject({
  type: z.string({ error: required("a string") }),
  text: z.string({ error: "expected a string" }).optional(),
});

const Tool = z.looseObject({
  type: z.string().optional(),
  name: z.string({ error: required("a string") }).min(1, "expected a non-empty name"),
  description: z.string({ error: "expected a string" }).optional(),
  input_schema: z.record(z.string(), z.unknown(), { error: "expected an object" }).optional(),
  // Fields of the web search server tool (`web_search_20250305` and later versions).
  max_uses: z.number({ error: "expected an integer" }).int("expected an integer").min(1).nullish(),
  allowed_domains: z.array(z.string(), { error: "expected a list of strings" }).nullish(),
  blocked_domains: z.array(z.string(), { error: "expected a list of strings" }).nullish(),
}).refine(
  (tool) => (tool.type !== undefined && tool.type !== "custom") || tool.input_schema !== undefined,
  { message: "field required", path: ["input_schema"] },
);

/** One parsed tool definition (client tools have `input_schema`; server tools have a `type`). */
export type Tool = z.output<typeof Tool>;

const OutputFormat = z.looseObject({
  type: z.string({ error: required("a string") }),
  schema: z.record(z.string(), z.unknown(), { error: "expected an object" }).optional(),
});

const countFields = {
  model: z.string({ error: required("a string") }).min(1, "expected a non-empty model id"),
  messages: z.array(Message, {
    error: (issue) => issue.input === undefined ? "field required" : "expected a list",
  }).min(1, "at least one message is required"),
  system: stringOr(z.array(SystemBlock, { error: "expected a string or a list of text blocks" }))
    .optional(),
  tools: z.array(Tool, { error: "expected a list" }).optional(),
  thinking: z.looseObject({
    type: z.string({ error: required("a string") }),
    budget_tokens: z.number({ error: "expected an integer" }).int("expected an integer").min(
      1,
      "expected an integer of at least 1",
    ).optional(),
  }, { error: 'expected an object such as {"type": "enabled", "budget_tokens": 2048}' })
    .nullish(),
  output_config: z.looseObject({
    effort: z.string({ error: "expected a string" }).optional(),
    format: OutputFormat.optional(),
  }).optional(),
  // The structured-outputs beta's name for output_config.format.
  output_format: OutputFormat.optional(),
  tool_choice: z.looseObject({
    type: z.string({ error: required("a string") }),
    name: z.string({ error: "expected a string" }).optional(),
  }, { error: 'expected an object such as {"type": "auto"}' }).optional(),
};

const CountTokensBody = z.looseObject(countFields);

const MessagesBody = z.looseObject({
  ...countFields,
  max_tokens: z.number({ error: required("an integer") }).int("expected an integer").min(
    1,
    "expected an integer of at least 1",
  ),
  stream: z.boolean({ error: "expected a boolean" }).optional(),
  stop_sequences: z.array(z.string(), { error: "expected a list of strings" }).optional(),
  temperature: z.number({ error: "expected a number" }).min(0).max(1).optional(),
  top_p: z.number({ error: "expected a number" }).min(0).max(1).optional(),
  top_k: z.number({ error: "expected a number" }).int().min(0).optional(),
  metadata: z.looseObject({}).optional(),
});

/** A parsed POST /v1/messages body. */
export type MessagesBody = z.output<typeof MessagesBody>;
/** A parsed POST /v1/messages/count_tokens body (no `max_tokens`, no sampling fields). */
export type CountTokensBody = z.output<typeof CountTokensBody>;

/** Validates a /v1/messages body; throws an `invalid_request` GatewayError naming the field. */
export function parseMessagesBody(json: unknown): MessagesBody {
  return parseWith(MessagesBody, json);
}

/** Validates a /v1/messages/count_tokens body; throws like parseMessagesBody. */
export function parseCountTokensBody(json: unknown): CountTokensBody {
  return parseWith(CountTokensBody, json);
}

function parseWith<T extends z.ZodType>(schema: T, json: unknown): z.output<T> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new GatewayError("invalid_request", "Invalid request body: expected a JSON object");
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue?.path.map(String).join(".") ?? "";
  const message = issue?.message ?? "invalid request body";
  const more = result.error.issues.length > 1
    ? ` (and ${result.error.issues.length - 1} more)`
    : "";
  throw new GatewayError(
    "invalid_request",
    param ? `${param}: ${message}${more}` : `${message}${more}`,
    param ? { param } : {},
  );
}
