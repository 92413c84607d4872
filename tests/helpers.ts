/** Shared test helpers: bounded waits, temp folders, stream collection. */

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
