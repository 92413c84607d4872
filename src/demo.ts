/**
 * Demo mode (`--demo`): a scripted Kiro upstream served inside the gateway process on
 * 127.0.0.1, answering in real binary event-stream frames so the whole pipeline runs without
 * Kiro credentials. Every reply is labelled `[demo]`.
 */
import type { Config } from "./config.ts";
import { randomHex } from "./core/ids.ts";
import { encodeEventFrame } from "./kiro/eventstream.ts";
import type { Logger } from "./log.ts";

/** The label every scripted reply starts with. */
export const DEMO_LABEL = "[demo]";

/** The models the demo upstream lists. */
const DEMO_MODELS = ["claude-sonnet-4.5", "claude-haiku-4.5", "claude-opus-4.5"];

/** A running demo upstream; dispose it to stop the server. */
export interface DemoUpstream extends AsyncDisposable {
  /** Base URL usable for every Kiro base URL override. */
  url: string;
}

/** Options of startDemoUpstream. */
export interface DemoUpstreamOptions {
  logger: Logger;
  /** Pause between streamed chunks so streaming is visible; 0 in tests. */
  chunkDelayMs?: number;
}

/** Starts the scripted upstream on 127.0.0.1, on a free port. */
export function startDemoUpstream(options: DemoUpstreamOptions): DemoUpstream {
  const delayMs = options.chunkDelayMs ?? 15;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => answerDemo(req, delayMs),
  );
  options.logger.debug("Demo upstream listening", { port: server.addr.port });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** Returns `config` with every Kiro base URL pointing at `url`. */
export function demoConfig(config: Readonly<Config>, url: string): Readonly<Config> {
  const upstream = Object.freeze({ api: url, management: url, auth: url, oidc: url, q: url });
  return Object.freeze({ ...config, upstream });
}

/** A web search answered in MCP's shape with one labelled result: the demo never goes online. */
async function answerDemoSearch(req: Request): Promise<Response> {
  const body = await req.json().catch(() => ({})) as {
    id?: string;
    params?: { arguments?: { query?: unknown } };
  };
  const query = String(body.params?.arguments?.query ?? "");
  const results = [{
    title: `${DEMO_LABEL} A scripted result for "${query}"`,
    url: "https://example.com/kiro-gateway-demo",
    snippet:
      `${DEMO_LABEL} The demo upstream does not search the web; with Kiro credentials this is a real search.`,
  }];
  const text = JSON.stringify({ results, totalResults: 1, query, error: null });
  return Response.json({
    jsonrpc: "2.0",
    id: body.id,
    result: { content: [{ type: "text", text }], isError: false },
  });
}

async function answerDemo(req: Request, delayMs: number): Promise<Response> {
  const url = new URL(req.url);
  if (req.method === "GET" && url.pathname === "/ListAvailableModels") {
    return Response.json({
      models: DEMO_MODELS.map((modelId) => ({
        modelId,
        modelName: `${modelId} (demo)`,
        tokenLimits: { maxInputTokens: 200_000, maxOutputTokens: 64_000 },
      })),
    });
  }
  if (req.method === "POST" && url.pathname === "/mcp") return await answerDemoSearch(req);
  if (req.method !== "POST" || url.pathname !== "/generateAssistantResponse") {
    await req.body?.cancel();
    return Response.json({ message: `The demo upstream has no ${url.pathname}` }, { status: 404 });
  }
  let payload: unknown;
  try {
    payload = await req.json();
  } catch {
    return Response.json({ message: "Improperly formed request." }, { status: 400 });
  }
  const frames = scriptReply(readDemoRequest(payload));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent > 0 && delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const frame = frames[sent++];
      if (frame) controller.enqueue(frame);
      if (sent >= frames.length) controller.close();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers: { "content-type": "application/vnd.amazon.eventstream" } });
}

/** What the script needs from a Kiro payload. */
export interface DemoRequest {
  /** The user's latest text, without the thinking instructions. */
  text: string;
  thinking: boolean;
  /** Declared tools with their JSON schemas. */
  tools: Array<{ name: string; schema: Record<string, unknown> }>;
  /** Whether the latest message carries tool results. */
  hasToolResults: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}

/** Reads the latest user message, its tools and whether thinking was asked for. */
export function readDemoRequest(payload: unknown): DemoRequest {
  const input = field(payload, "conversationState", "currentMessage", "userInputMessage");
  const content = typeof field(input, "content") === "string"
    ? field(input, "content") as string
    : "";
  const context = field(input, "userInputMessageContext");
  const specs = field(context, "tools");
  const tools = (Array.isArray(specs) ? specs : []).flatMap((spec) => {
    const name = field(spec, "toolSpecification", "name");
    const schema = field(spec, "toolSpecification", "inputSchema", "json");
    return typeof name === "string" ? [{ name, schema: isRecord(schema) ? schema : {} }] : [];
  });
  const results = field(context, "toolResults");
  return {
    text: content.split(/\n\s*\n/).at(-1)?.trim() ?? "",
    thinking: content.includes("<thinking_mode>enabled</thinking_mode>"),
    tools,
    hasToolResults: Array.isArray(results) && results.length > 0,
  };
}

function eventFrame(eventType: string, payload: Record<string, unknown>): Uint8Array {
  return encodeEventFrame(eventType, JSON.stringify(payload));
}

/** Splits text into word-sized deltas so clients see it stream. */
function deltas(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [text];
}

/** The scripted frames answering `request`: thinking, text, maybe a tool call, then usage. */
export function scriptReply(request: DemoRequest): Uint8Array[] {
  const text: string[] = [];
  if (request.thinking) {
    text.push(
      "<thinking>The demo upstream is pretending to think: it read the question, " +
        "picked a scripted answer and checked whether a tool is available.</thinking>\n\n",
    );
  }
  const quoted = request.text.length > 80 ? `${request.text.slice(0, 77)}...` : request.text;
  const tool = request.hasToolResults ? undefined : request.tools[0];
  if (request.hasToolResults) {
    text.push(`${DEMO_LABEL} Thanks, the tool result arrived. This reply is scripted: `);
    text.push("start the gateway without --demo to talk to Kiro.");
  } else {
    text.push(`${DEMO_LABEL} This is a scripted reply from the gateway's demo mode. `);
    text.push(quoted === "" ? "You sent an empty message. " : `You said: "${quoted}". `);
    text.push(
      tool
        ? `Now calling the tool "${tool.name}" to show tool use.`
        : "Declare a tool in your request to see a tool call.",
    );
  }
  const frames = text.flatMap(deltas).map((content) =>
    eventFrame("assistantResponseEvent", { content })
  );
  if (tool) {
    const id = `tooluse_demo${randomHex(8)}`;
    const input = JSON.stringify(exampleArguments(tool.schema));
    const half = Math.ceil(input.length / 2);
    frames.push(eventFrame("toolUseEvent", { name: tool.name, toolUseId: id }));
    for (const part of [input.slice(0, half), input.slice(half)]) {
      frames.push(eventFrame("toolUseEvent", { name: tool.name, toolUseId: id, input: part }));
    }
    frames.push(eventFrame("toolUseEvent", { name: tool.name, toolUseId: id, stop: true }));
  }
  frames.push(eventFrame("meteringEvent", { unit: "credit", unitPlural: "credits", usage: 0 }));
  frames.push(eventFrame("contextUsageEvent", { contextUsagePercentage: 0.1 }));
  return frames;
}

/** Plausible arguments for a JSON schema: each required property gets a value of its type. */
export function exampleArguments(schema: Record<string, unknown>): Record<string, unknown> {
  const properties = isRecord(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required)
    ? schema.required.filter((name): name is string => typeof name === "string")
    : Object.keys(properties);
  const args: Record<string, unknown> = {};
  for (const name of required) args[name] = exampleValue(name, properties[name], 0);
  return args;
}

function exampleValue(name: string, schema: unknown, depth: number): unknown {
  const spec = isRecord(schema) ? schema : {};
  if (Array.isArray(spec.enum) && spec.enum.length > 0) return spec.enum[0];
  if (spec.default !== undefined) return spec.default;
  const type = Array.isArray(spec.type) ? spec.type[0] : spec.type;
  switch (type) {
    case "integer":
    case "number":
      return 1;
    case "boolean":
      return true;
    case "array":
      return depth > 2 ? [] : [exampleValue(name, spec.items, depth + 1)];
    case "object":
      return depth > 2 ? {} : exampleArguments(spec);
    default:
      return /city|location|place/i.test(name) ? "Paris" : `demo ${name}`;
  }
}
