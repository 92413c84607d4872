/**
 * Checks a Kiro payload against the rules that make Kiro answer "Improperly formed request"
 * (spec §2.9). The builder repairs what it can; whatever is left is reported to the client
 * before sending, and the same findings explain a 400 that Kiro returns anyway.
 */
import { GatewayError } from "../errors.ts";
import { payloadBytes } from "./payload_guard.ts";
import type { KiroHistoryEntry, KiroPayload, KiroUserInputMessage } from "./request.ts";
import { KIRO_NAME_MAX_LENGTH, KIRO_NAME_PATTERN } from "./tool_names.ts";

/** One broken rule. */
export interface LintFinding {
  /** A short rule name, such as `history-order`. */
  rule: string;
  /** Where in the payload, as a dotted path. */
  path: string;
  detail: string;
}

/** Options of lintKiroPayload. */
export interface LintOptions {
  /** The size Kiro accepts, in bytes (default 615000, where Kiro starts failing). */
  maxBytes?: number;
  /** The payload's size when the caller has measured it already (saves serializing again). */
  bytes?: number;
}

/** The longest tool description Kiro accepts (about 10 000 characters, spec §2.9). */
export const MAX_TOOL_DESCRIPTION_LENGTH = 10_000;
/** The size above which Kiro fails with a bare 400. */
export const KIRO_HARD_LIMIT_BYTES = 615_000;

const PROFILE_ARN = /^arn:aws[a-z-]*:codewhisperer:[a-z0-9-]*:[0-9]*:profile\/[A-Za-z0-9_-]+$/;
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "dependentSchemas"]);
const DATA_KEYS = new Set(["enum", "const", "default", "examples", "example"]);

/** Returns every rule `payload` breaks, in payload order. */
export function lintKiroPayload(payload: KiroPayload, options: LintOptions = {}): LintFinding[] {
  const findings: LintFinding[] = [];
  const add = (rule: string, path: string, detail: string) => findings.push({ rule, path, detail });
  const state = payload.conversationState;

  if (!payload.profileArn) add("profile-arn", "profileArn", "profileArn is missing");
  else if (!PROFILE_ARN.test(payload.profileArn)) {
    add("profile-arn", "profileArn", `"${payload.profileArn}" is not a CodeWhisperer profile ARN`);
  }

  const current = state.currentMessage?.userInputMessage as KiroUserInputMessage | undefined;
  if (!current) {
    add(
      "current-user",
      "conversationState.currentMessage",
      "the current message is not a user message",
    );
  }
  const tools = current?.userInputMessageContext?.tools ?? [];
  const declared = new Set(tools.map((tool) => tool.toolSpecification.name));
  const seenNames = new Set<string>();
  tools.forEach((tool, index) => {
    const path =
      `conversationState.currentMessage.userInputMessage.userInputMessageContext.tools.${index}.toolSpecification`;
    const { name, description, inputSchema } = tool.toolSpecification;
    if (!KIRO_NAME_PATTERN.test(name)) {
      add(
        "tool-name",
        `${path}.name`,
        `"${name}" must match [A-Za-z0-9_-] with 1 to ${KIRO_NAME_MAX_LENGTH} characters (it has ${name.length})`,
      );
    }
    if (seenNames.has(name)) add("tool-name", `${path}.name`, `"${name}" is declared twice`);
    seenNames.add(name);
    if (typeof description !== "string" || description.trim() === "") {
      add("tool-description", `${path}.description`, `the description of "${name}" is empty`);
    } else if (description.length > MAX_TOOL_DESCRIPTION_LENGTH) {
      add(
        "tool-description",
        `${path}.description`,
        `the description of "${name}" has ${description.length} characters, more than ${MAX_TOOL_DESCRIPTION_LENGTH}`,
      );
    }
    lintSchema(inputSchema?.json, `${path}.inputSchema.json`, add);
  });

  const history = state.history ?? [];
  let previous: KiroHistoryEntry | undefined;
  history.forEach((entry, index) => {
    const path = `conversationState.history.${index}`;
    const isUser = "userInputMessage" in entry;
    const expectUser = index % 2 === 0;
    if (isUser !== expectUser) {
      add(
        "history-order",
        path,
        index === 0
          ? "history must start with a user entry"
          : `history must alternate user and assistant entries; entry ${index} repeats the ${
            isUser ? "user" : "assistant"
          } role`,
      );
    }
    if (isUser) {
      lintUser(entry.userInputMessage, `${path}.userInputMessage`, previous, tools.length > 0, add);
    } else {
      const message = entry.assistantResponseMessage;
      if (!message.content || message.content.trim() === "") {
        add(
          "empty-content",
          `${path}.assistantResponseMessage.content`,
          "assistant content is empty",
        );
      }
      (message.toolUses ?? []).forEach((use, useIndex) => {
        const usePath = `${path}.assistantResponseMessage.toolUses.${useIndex}`;
        if (tools.length === 0) {
          add("tools-missing", usePath, "tool uses are sent without any tool definitions");
        } else if (!declared.has(use.name)) {
          add(
            "undeclared-tool",
            `${usePath}.name`,
            `"${use.name}" is not among the declared tools`,
          );
        }
        lintId(use.toolUseId, `${usePath}.toolUseId`, add);
      });
    }
    previous = entry;
  });
  if (
    history.length > 0 && "userInputMessage" in (history[history.length - 1] as KiroHistoryEntry)
  ) {
    add(
      "history-order",
      `conversationState.history.${history.length - 1}`,
      "history must end with an assistant entry before the current user message",
    );
  }
  if (current) {
    lintUser(
      current,
      "conversationState.currentMessage.userInputMessage",
      previous,
      tools.length > 0,
      add,
    );
  }

  const maxBytes = options.maxBytes ?? KIRO_HARD_LIMIT_BYTES;
  const bytes = options.bytes ?? payloadBytes(payload);
  if (bytes > maxBytes) {
    add("payload-size", "", `the payload is ${bytes} bytes, above the ${maxBytes}-byte limit`);
  }
  return findings;
}

/**
 * Throws an `invalid_request` GatewayError naming the first broken rule:
 * `Cannot send request to Kiro: <rule>: <detail>`.
 */
export function assertValidPayload(payload: KiroPayload, options: LintOptions = {}): void {
  const first = lintKiroPayload(payload, options)[0];
  if (first) {
    throw new GatewayError(
      "invalid_request",
      `Cannot send request to Kiro: ${first.rule}: ${first.detail}`,
    );
  }
}

/** A short explanation of why Kiro may have rejected `payload`, or undefined if none is known. */
export function describeLikelyCause(payload: KiroPayload): string | undefined {
  const findings = lintKiroPayload(payload);
  if (findings.length === 0) return undefined;
  const shown = findings.slice(0, 3).map((finding) => `${finding.rule}: ${finding.detail}`);
  const more = findings.length > 3 ? ` (and ${findings.length - 3} more)` : "";
  return `likely cause: ${shown.join("; ")}${more}`;
}

type Add = (rule: string, path: string, detail: string) => void;

function lintUser(
  message: KiroUserInputMessage,
  path: string,
  previous: KiroHistoryEntry | undefined,
  hasTools: boolean,
  add: Add,
): void {
  if (!message.content || message.content.trim() === "") {
    add("empty-content", `${path}.content`, "user content is empty");
  }
  if (previous && "userInputMessage" in previous) return; // reported as history-order
  const results = message.userInputMessageContext?.toolResults ?? [];
  const asked = new Set(
    previous && "assistantResponseMessage" in previous
      ? (previous.assistantResponseMessage.toolUses ?? []).map((use) => use.toolUseId)
      : [],
  );
  results.forEach((result, index) => {
    const resultPath = `${path}.userInputMessageContext.toolResults.${index}`;
    if (!hasTools) {
      add("tools-missing", resultPath, "tool results are sent without any tool definitions");
    }
    if (!asked.has(result.toolUseId)) {
      add(
        "tool-result-pairing",
        `${resultPath}.toolUseId`,
        `the result for "${result.toolUseId}" does not follow an assistant entry with that tool use`,
      );
    }
    lintId(result.toolUseId, `${resultPath}.toolUseId`, add);
  });
}

function lintId(id: string, path: string, add: Add): void {
  if (!KIRO_NAME_PATTERN.test(id)) {
    add(
      "tool-use-id",
      path,
      `"${id}" must match [A-Za-z0-9_-] with 1 to ${KIRO_NAME_MAX_LENGTH} characters`,
    );
  }
}

function lintSchema(schema: unknown, path: string, add: Add): void {
  if (Array.isArray(schema)) {
    schema.forEach((item, index) => lintSchema(item, `${path}.${index}`, add));
    return;
  }
  if (typeof schema !== "object" || schema === null) return;
  for (const [key, value] of Object.entries(schema)) {
    if (key === "additionalProperties") {
      add("schema-keywords", `${path}.${key}`, "additionalProperties is not accepted");
    } else if (key === "required" && Array.isArray(value) && value.length === 0) {
      add("schema-keywords", `${path}.${key}`, "an empty required list is not accepted");
    } else if (DATA_KEYS.has(key)) continue;
    else if (SCHEMA_MAPS.has(key) && typeof value === "object" && value !== null) {
      for (const [name, member] of Object.entries(value)) {
        lintSchema(member, `${path}.${key}.${name}`, add);
      }
    } else lintSchema(value, `${path}.${key}`, add);
  }
}
