/** The official OpenAI and Anthropic SDK clients the end-to-end tests point at a gateway. */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { E2E_KEY } from "./gateway.ts";

/** An OpenAI SDK client for the gateway at `url`, with the test key and no retries. */
export function openAiClient(url: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: E2E_KEY, maxRetries: 0 });
}

/** An Anthropic SDK client for the gateway at `url`, with the test key and no retries. */
export function anthropicClient(url: string): Anthropic {
  return new Anthropic({ baseURL: url, apiKey: E2E_KEY, maxRetries: 0 });
}
