/** Shared test helpers: bounded waits, temp folders, stream collection. */
import assert from "node:assert/strict";

/** Rejects if `promise` does not settle within `ms` (Deno.test has no timeout). */
export async function within<T>(promise: Promise<T>, ms = 5000, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The folder tests may write to (the test task grants --allow-write on it). */
export const TEST_TMP = ".test-tmp";

/** Creates a fresh temporary folder under TEST_TMP, removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  await Deno.mkdir(TEST_TMP, { recursive: true });
  const path = await Deno.makeTempDir({ dir: TEST_TMP });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Reads a stream to the end into an array. */
export function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  return Array.fromAsync(stream);
}

/** A stream of `chunks`, one per read. */
export function streamOf<T>(chunks: Iterable<T>): ReadableStream<T> {
  return ReadableStream.from(chunks);
}

/** A streamed body read as text while a test watches it arrive: up to a mark, then the rest. */
export class StreamedText {
  /** Everything read so far. */
  text = "";
  #reader: ReadableStreamDefaultReader<string>;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Reads until `ready(text)` holds, within 5 s; throws when the body ends first. */
  async until(ready: (text: string) => boolean, what: string): Promise<string> {
    const read = async () => {
      while (!ready(this.text)) {
        const { done, value } = await this.#reader.read();
        if (done) throw new Error(`the body ended before ${what}: ${this.text}`);
        this.text += value;
      }
    };
    await within(read(), 5000, what);
    return this.text;
  }

  /** Reads to the end of the body and returns the whole text. */
  async rest(): Promise<string> {
    for (;;) {
      const { done, value } = await this.#reader.read();
      if (done) return this.text;
      this.text += value;
    }
  }

  /** Reads once more, ignoring the error a client's abort makes it end with. */
  async settle(): Promise<void> {
    await this.#reader.read().catch(() => {});
  }

  /** Cancels the rest of the body, ignoring a failure. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** What postWebSearch sends. */
export interface WebSearchPost {
  /** The gateway's API key (sent as `x-api-key`). */
  key: string;
  query: string;
  maxTokens: number;
}

/**
 * Posts to `/v1/messages` a request holding only the web search tool, as Claude Code's search
 * sub-request does, asserts a 200 and returns the reply's JSON.
 */
export async function postWebSearch(
  gatewayUrl: string,
  post: WebSearchPost,
  // deno-lint-ignore no-explicit-any -- tests read the reply's fields directly
): Promise<any> {
  const res = await fetch(`${gatewayUrl}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": post.key, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-4.5",
      max_tokens: post.maxTokens,
      tools: [{ type: "web_search_20250305", name: "web_search" }],
      messages: [{ role: "user", content: `Perform a web search for the query: ${post.query}` }],
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}
