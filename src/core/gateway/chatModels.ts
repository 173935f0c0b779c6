// What VS Code's chat model picker offers from Agent Learning (the router's aliases and the deployed tuned models),
// and VS Code's chat messages as the OpenAI chat-completion body the gateway forwards and records. Plain data: the
// VS Code side (src/extension/chatModelProvider.ts) hands its message parts in by shape.

import type { ModelVariant } from '../workspace/variants';
import { aliasNames } from './aliases';
import { HEADERS } from './routing';

type Json = Record<string, unknown>;

/** The vendor of our chat models (`languageModelChatProviders` in package.json; `selectChatModels({vendor})`). */
export const CHAT_VENDOR = 'agent-learning';

/** Families, for `selectChatModels({family})`: the router's aliases, and the tuned models. */
export const ROUTER_FAMILY = 'agent-learning-router';
export const TUNED_FAMILY = 'agent-learning-tuned';

/**
 * Not known for an Ollama model without asking it; what VS Code budgets a prompt with. Ollama's default context is
 * smaller, but it truncates itself rather than failing.
 */
const MAX_INPUT_TOKENS = 32_768;
const MAX_OUTPUT_TOKENS = 4_096;

export interface ChatModel {
  /** Unique among ours: the model name the request carries (an alias, or the tuned model's Ollama name). */
  id: string;
  name: string;
  family: typeof ROUTER_FAMILY | typeof TUNED_FAMILY;
  detail: string;
  tooltip: string;
  version: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  capabilities: { toolCalling: boolean; imageInput: boolean };
  /** The role its runs are recorded for. */
  role: string;
}

export interface ChatModelSource {
  /** `model_variants.json`: a deployed tuned model is `{prefix}-{key}` with the role it was trained for. */
  variants: readonly ModelVariant[];
  /** `autoDeploy.modelNamePrefix`. */
  prefix: string;
  /** Roles with runs: each gets its router alias, beside the built-in roles. */
  roles: Iterable<string>;
  /** `gateway.defaultRole`: the role of `agent-learning/auto`'s runs. */
  defaultRole: string;
}

function model(
  id: string,
  name: string,
  family: ChatModel['family'],
  role: string,
  detail: string,
): ChatModel {
  return {
    id,
    name,
    family,
    detail,
    tooltip: `${detail}. Each request is recorded as a run (source: chat, role: ${role}).`,
    version: '1',
    maxInputTokens: MAX_INPUT_TOKENS,
    maxOutputTokens: MAX_OUTPUT_TOKENS,
    capabilities: { toolCalling: true, imageInput: false },
    role,
  };
}

/**
 * `agent-learning/auto` (the router, for the default role), `agent-learning/<role>` (the router, for that role), then
 * every deployed tuned model (for the role it was trained for), each once.
 */
export function chatModels(source: ChatModelSource): ChatModel[] {
  const models: ChatModel[] = [];
  for (const alias of aliasNames([source.defaultRole, ...source.roles])) {
    if (alias === 'auto') continue;
    const role = alias === 'agent-learning/auto' ? source.defaultRole : alias.slice('agent-learning/'.length);
    const name = alias === 'agent-learning/auto' ? 'Agent Learning: auto' : `Agent Learning: auto (${role})`;
    models.push(model(alias, name, ROUTER_FAMILY, role, `The router's pick for ${role}`));
  }
  const seen = new Set(models.map((m) => m.id));
  for (const variant of source.variants) {
    const role = variant.roles?.[0];
    if (!role || !variant.id.startsWith(`${source.prefix}-`) || seen.has(variant.id)) continue;
    seen.add(variant.id);
    models.push(model(variant.id, variant.id, TUNED_FAMILY, role, `Tuned for ${role}, deployed in Ollama`));
  }
  return models;
}

/**
 * The headers a gateway client would send for `model`: a tuned model's runs are recorded for its role (an alias
 * names its role itself).
 */
export function chatHeaders(model: Pick<ChatModel, 'family' | 'role'>): Record<string, string> {
  return model.family === TUNED_FAMILY ? { [HEADERS.role]: model.role } : {};
}

/** VS Code's `LanguageModelChatMessageRole`: User 1, Assistant 2; System 3 (proposed API). */
export const CHAT_ROLE = { user: 1, assistant: 2, system: 3 } as const;

/** A message part as VS Code hands it over: text, a tool call, a tool result, or something else (left out). */
export interface ChatPartLike {
  value?: unknown;
  callId?: unknown;
  name?: unknown;
  input?: unknown;
  content?: unknown;
}

export interface ChatMessageLike {
  role: number;
  content: readonly unknown[];
  name?: string | undefined;
}

export interface ChatToolLike {
  name: string;
  description: string;
  inputSchema?: object | undefined;
}

export interface ChatRequestOptions {
  tools?: readonly ChatToolLike[];
  /** VS Code's `LanguageModelChatToolMode`: Auto 1, Required 2. */
  toolMode?: number;
  /** The caller's model options (temperature, …), passed on; they cannot replace the model or the messages. */
  modelOptions?: { readonly [name: string]: unknown };
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isText(part: unknown): part is { value: string } {
  return isObject(part) && typeof part.value === 'string';
}

function isToolCall(part: unknown): part is { callId: string; name: string; input: unknown } {
  return (
    isObject(part) && typeof part.callId === 'string' && typeof part.name === 'string' && 'input' in part
  );
}

function isToolResult(part: unknown): part is { callId: string; content: readonly unknown[] } {
  return isObject(part) && typeof part.callId === 'string' && Array.isArray(part.content);
}

/** The text of a tool result's parts (text parts as they are, anything else as JSON). */
function resultText(content: readonly unknown[]): string {
  return content
    .map((part) => (isText(part) ? part.value : typeof part === 'string' ? part : JSON.stringify(part)))
    .join('');
}

/**
 * VS Code's messages as OpenAI chat messages: text parts joined; an assistant's tool calls as `tool_calls` (input as
 * JSON arguments); a user message's tool results as `tool` messages first (OpenAI wants them right after the
 * assistant's calls), then its text. Parts of other kinds (data, prompt-tsx) are left out.
 */
export function toOpenAiMessages(messages: readonly ChatMessageLike[]): Json[] {
  const out: Json[] = [];
  for (const message of messages) {
    const role =
      message.role === CHAT_ROLE.assistant
        ? 'assistant'
        : message.role === CHAT_ROLE.system
          ? 'system'
          : 'user';
    const name = message.name ? { name: message.name } : {};
    const text = message.content
      .filter(isText)
      .map((p) => p.value)
      .join('');
    if (role === 'assistant') {
      const calls = message.content.filter(isToolCall).map((c) => ({
        id: c.callId,
        type: 'function',
        function: { name: c.name, arguments: JSON.stringify(c.input ?? {}) },
      }));
      out.push({ role, content: text, ...name, ...(calls.length > 0 && { tool_calls: calls }) });
      continue;
    }
    for (const result of message.content.filter(isToolResult)) {
      out.push({ role: 'tool', tool_call_id: result.callId, content: resultText(result.content) });
    }
    const onlyResults = text === '' && message.content.some(isToolResult);
    if (!onlyResults) out.push({ role, content: text, ...name });
  }
  return out;
}

/** The streamed OpenAI chat-completion body for `modelId`, with the caller's tools and model options. */
export function chatRequestBody(
  modelId: string,
  messages: readonly ChatMessageLike[],
  options: ChatRequestOptions = {},
): Json {
  const tools = (options.tools ?? []).map((t) => ({
    type: 'function',
    function: {
      name: t.name,
      description: t.description,
      parameters: t.inputSchema ?? { type: 'object', properties: {} },
    },
  }));
  return {
    ...options.modelOptions,
    model: modelId,
    messages: toOpenAiMessages(messages),
    stream: true,
    ...(tools.length > 0 && { tools }),
    ...(tools.length > 0 && options.toolMode === 2 && { tool_choice: 'required' }),
  };
}

/** A tool call of a finished completion as VS Code's parts take it: id, name and the parsed arguments. */
export interface ChatToolCall {
  callId: string;
  name: string;
  input: object;
}

/** The tool calls of a completion's message (`tool_calls`, OpenAI's shape); arguments that are not JSON become {}. */
export function toolCallsOf(message: Json): ChatToolCall[] {
  if (!Array.isArray(message.tool_calls)) return [];
  return message.tool_calls.flatMap((call: unknown, i: number): ChatToolCall[] => {
    if (!isObject(call) || !isObject(call.function) || typeof call.function.name !== 'string') return [];
    let input: unknown;
    const args = call.function.arguments;
    try {
      input = typeof args === 'string' ? JSON.parse(args === '' ? '{}' : args) : args;
    } catch {
      input = undefined;
    }
    return [
      {
        callId: typeof call.id === 'string' && call.id !== '' ? call.id : `call_${i}`,
        name: call.function.name,
        input: isObject(input) ? input : {},
      },
    ];
  });
}

/**
 * Why the chat models are not in VS Code's picker, for the output channel (undefined: they are offered). `hasApi`:
 * VS Code has `lm.registerLanguageModelChatProvider` (1.104+).
 */
export function whyNoChatModels(
  vscodeVersion: string,
  hasApi: boolean,
  trusted: boolean,
): string | undefined {
  if (!hasApi) {
    return (
      `ℹ️ Chat models: VS Code ${vscodeVersion} has no language-model chat provider API (it came in 1.104), so the ` +
      'tuned models and the router are not in the chat model picker. The gateway and everything else work; ' +
      'update VS Code to pick them in chat.'
    );
  }
  if (!trusted) {
    return (
      'ℹ️ Chat models: not offered in Restricted Mode (they record into the workspace and route by its config); ' +
      'trust the workspace to pick them in chat.'
    );
  }
  return undefined;
}

/** VS Code asks for a count before sending; without the model's tokenizer, about four characters a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
