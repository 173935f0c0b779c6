// Reading a run's texts for the run view: an input recorded as chat messages (the gateway's `{"messages":[…]}`)
// as a conversation, an output recorded as the assistant's message as its text and tool calls, and an output's
// fenced code blocks as code. Pure functions over strings: what they return is
// shown with textContent, never parsed as HTML.

export interface ChatTurn {
  role: string;
  text: string;
}

/** The turns of an input written as `{"messages":[{role, content}]}`, or undefined for any other input. */
export function conversationOf(input: string): ChatTurn[] | undefined {
  const messages = jsonObject(input)?.messages;
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const turns: ChatTurn[] = [];
  for (const m of messages) {
    if (typeof m !== 'object' || m === null) return undefined;
    const { role, content } = m as { role?: unknown; content?: unknown };
    const text = contentText(content);
    if (typeof role !== 'string' || text === undefined) return undefined;
    turns.push({ role, text });
  }
  return turns;
}

export interface AssistantMessage {
  text: string;
  /** The model's reasoning, when the upstream sent it apart (Ollama's `thinking`). */
  thinking: string | undefined;
  toolCalls: { name: string; arguments: string }[];
  /** The client went away before the answer ended: this is what had arrived. */
  aborted: boolean;
}

/**
 * An output recorded as the assistant's message (the gateway's and the chat models' `{"role":"assistant",…}`), its
 * tool calls' arguments pretty-printed; undefined for any other output.
 */
export function assistantOf(output: string): AssistantMessage | undefined {
  const m = jsonObject(output);
  if (!m) return undefined;
  const text = contentText(m.content);
  if (m.role !== 'assistant' || text === undefined) return undefined;
  const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as unknown[]) : [];
  return {
    text,
    thinking: typeof m.thinking === 'string' && m.thinking !== '' ? m.thinking : undefined,
    toolCalls: calls.map(toolCall),
    aborted: m.aborted === true,
  };
}

/** `text` parsed when it is a JSON object (a run's text recorded as one), else undefined. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** OpenAI's `{function:{name, arguments:"<json>"}}` or Ollama's `{function:{name, arguments:{…}}}`. */
function toolCall(call: unknown): { name: string; arguments: string } {
  const fn =
    typeof call === 'object' && call !== null ? (call as { function?: unknown }).function : undefined;
  const { name, arguments: args } = (typeof fn === 'object' && fn !== null ? fn : {}) as {
    name?: unknown;
    arguments?: unknown;
  };
  let text: string;
  if (typeof args === 'string') {
    try {
      text = JSON.stringify(JSON.parse(args), null, 2);
    } catch {
      text = args; // a stream cut mid-arguments: as it arrived
    }
  } else text = args === undefined ? '' : JSON.stringify(args, null, 2);
  return { name: typeof name === 'string' ? name : '(unnamed)', arguments: text };
}

/** A message's content: a string, or OpenAI's parts (`[{type:'text', text}]`), other parts named by their type. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) return undefined;
  return content
    .map((part: unknown) => {
      if (typeof part !== 'object' || part === null) return '';
      const { type, text } = part as { type?: unknown; text?: unknown };
      if (typeof text === 'string') return text;
      return typeof type === 'string' ? `[${type}]` : '';
    })
    .join('\n');
}

export type TextSegment = { kind: 'text'; text: string } | { kind: 'code'; language: string; text: string };

/**
 * Text and fenced code blocks (``` or ~~~, three or more), in order. An unclosed fence runs to the end, as
 * CommonMark reads it.
 */
export function segmentsOf(text: string): TextSegment[] {
  const lines = text.split('\n');
  const segments: TextSegment[] = [];
  let prose: string[] = [];
  let code: { fence: string; language: string; lines: string[] } | undefined;
  const flushProse = () => {
    if (prose.length > 0 && prose.some((l) => l.trim() !== ''))
      segments.push({ kind: 'text', text: prose.join('\n') });
    prose = [];
  };
  for (const line of lines) {
    if (code) {
      if (line.trim().startsWith(code.fence) && line.trim().replace(/[`~]/g, '') === '') {
        segments.push({ kind: 'code', language: code.language, text: code.lines.join('\n') });
        code = undefined;
      } else code.lines.push(line);
      continue;
    }
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/.exec(line);
    if (open) {
      flushProse();
      code = { fence: open[1]!, language: open[2]!.slice(0, 40), lines: [] };
    } else prose.push(line);
  }
  if (code) segments.push({ kind: 'code', language: code.language, text: code.lines.join('\n') });
  flushProse();
  return segments;
}
