/**
 * A minimal Kiro stand-in for benchmarks on 127.0.0.1: it hands out tokens, lists models and
 * answers every generateAssistantResponse with the current scripted chunks, either as fast as
 * the reader takes them or paced, one chunk every few milliseconds, as a model streams tokens.
 * It keeps no record of requests, so it can serve thousands of them.
 */

/** The path clients post chats to, on Kiro and here. */
export const GENERATE_PATH = "/generateAssistantResponse";

/** A running benchmark upstream; dispose it to stop the server. */
export interface BenchUpstream extends AsyncDisposable {
  /** Base URL usable for every Kiro base URL override. */
  url: string;
  /** Sets the chunks every following chat answer streams, and how they are paced. */
  setReply(chunks: Uint8Array[], pacing?: ReplyPacing): void;
}

/** How an answer's chunks are spread over time. */
export interface ReplyPacing {
  /**
   * Milliseconds between chunks: chunk i is due `i × intervalMs` after the first, on a fixed
   * schedule so timer lateness does not add up. 0 or absent: back to back.
   */
  intervalMs?: number;
}

/** Starts the benchmark upstream on a free port. */
export function startBenchUpstream(): BenchUpstream {
  let reply: Uint8Array[] = [];
  let intervalMs = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    await req.body?.cancel();
    if (req.method === "POST" && path === GENERATE_PATH) return streamReply(reply, intervalMs);
    if (path === "/refreshToken") {
      return Response.json({
        accessToken: "bench-access",
        refreshToken: "bench-refresh",
        expiresIn: 3600,
      });
    }
    if (path === "/ListAvailableModels") {
      return Response.json({
        models: [{
          modelId: "claude-sonnet-4.5",
          modelName: "Claude Sonnet 4.5",
          tokenLimits: { maxInputTokens: 200_000, maxOutputTokens: 64_000 },
        }],
      });
    }
    return Response.json({ message: `No bench route for ${path}` }, { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    setReply(chunks, pacing = {}) {
      reply = chunks;
      intervalMs = pacing.intervalMs ?? 0;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

function streamReply(chunks: Uint8Array[], intervalMs: number): Response {
  let sent = 0;
  let startedAt = -1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (intervalMs > 0) {
        if (startedAt < 0) startedAt = performance.now();
        const waitMs = startedAt + sent * intervalMs - performance.now();
        if (waitMs > 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, waitMs);
          });
          timer = undefined;
          wake = undefined;
          if (cancelled) return;
        }
      }
      const chunk = chunks[sent++];
      if (chunk) controller.enqueue(chunk);
      if (sent >= chunks.length) controller.close();
    },
    cancel() {
      cancelled = true;
      clearTimeout(timer);
      wake?.();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers: { "content-type": "application/vnd.amazon.eventstream" } });
}
