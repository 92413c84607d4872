/**
 * The `image_url` of an OpenAI content part (chat or Responses) to a ChatImage: both OpenAI
 * dialects read it the same way and report failures in the same words.
 */
import type { Config } from "../config.ts";
import { GatewayError, shortenForMessage } from "../errors.ts";
import type { ChatImage } from "./chat.ts";
import { fetchImage, type ImageFetcher, parseDataUrl } from "./images.ts";

/** Options of readImageUrl: the part of each OpenAI dialect's toChatRequest options it uses. */
export interface ReadImageUrlOptions {
  /** IMAGE_URL_FETCH: which hosts may be fetched. */
  config: Pick<Config, "imageUrlFetch">;
  /** The client's request signal: leaving cancels the fetch. */
  signal?: AbortSignal;
  /** Makes the HTTP requests of the fetch instead of `fetch` (tests). */
  fetchImage?: ImageFetcher;
}

/**
 * Decodes a `data:` URL or fetches an `http(s)` one; undefined for an empty data URL. Throws an
 * `invalid_request` GatewayError naming `param` when the URL is neither or cannot be read.
 */
export async function readImageUrl(
  url: string,
  param: string,
  options: ReadImageUrlOptions,
): Promise<ChatImage | undefined> {
  if (/^data:/i.test(url)) {
    try {
      return parseDataUrl(url);
    } catch (err) {
      throw new GatewayError(
        "invalid_request",
        `Invalid image in ${param}: ${(err as Error).message}`,
        { param, cause: err },
      );
    }
  }
  if (!/^https?:\/\//i.test(url)) {
    throw new GatewayError(
      "invalid_request",
      `Invalid image in ${param}: expected a data: or http(s) URL, got "${shortenForMessage(url)}"`,
      { param },
    );
  }
  try {
    return await fetchImage(url, options.signal ?? new AbortController().signal, {
      policy: options.config.imageUrlFetch,
      fetch: options.fetchImage,
    });
  } catch (err) {
    throw new GatewayError(
      "invalid_request",
      `Cannot fetch image "${shortenForMessage(url)}": ${(err as Error).message}`,
      { param, cause: err },
    );
  }
}
