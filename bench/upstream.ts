/**
 * A minimal Kiro stand-in for benchmarks on 127.0.0.1: it hands out tokens, lists models and
 * answers every generateAssistantResponse with the current scripted chunks, as fast as the
 * reader takes them. It keeps no record of requests, so it can serve thousands of them.
 */

/** The path clients post chats to, on Kiro and here. */
export const GENERATE_PATH = "/generateAssistantResponse";

/** A running benchmark upstream; dispose it to stop the server. */
export interface BenchUpstream extends AsyncDisposable {
  /** Base URL usable for every Kiro base URL override. */
  url: string;
  /** Sets the chunks every following chat answer streams. */
  setReply(chunks: Uint8Array[]): void;
}

/** Starts the benchmark upstream on a free port. */
export function startBenchUpstream(): BenchUpstream {
  let reply: Uint8Array[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    await req.body?.cancel();
    if (req.method === "POST" && path === GENERATE_PATH) return streamReply(reply);
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
    setReply(chunks) {
      reply = chunks;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

function streamReply(chunks: Uint8Array[]): Response {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[sent++];
      if (chunk) controller.enqueue(chunk);
      if (sent >= chunks.length) controller.close();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers: { "content-type": "application/vnd.amazon.eventstream" } });
}
