// Modelfiles as Ollama reads and writes them: a port of parser/parser.go's state machine (instructions in any case,
// `#` comments, "quoted" and """triple-quoted""" values that may span lines), api.FormatParams' typed PARAMETERs,
// and the Modelfile text that `ollama show --modelfile` prints.

'use strict';

const { OllamaError } = require('./ollama-env.cjs');

const COMMANDS = [
  'from',
  'license',
  'template',
  'system',
  'adapter',
  'draft',
  'renderer',
  'parser',
  'parameter',
  'message',
  'requires',
];
const INVALID_COMMAND = `command must be one of ${COMMANDS.slice(0, -1)
  .map((c) => `"${c}"`)
  .join(', ')}, or "${COMMANDS.at(-1)}"`;
const INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"';

const NIL = 0;
const NAME = 1;
const VALUE = 2;
const PARAMETER = 3;
const MESSAGE = 4;
const COMMENT = 5;

const isSpace = (c) => c === ' ' || c === '\t';
const isNewline = (c) => c === '\r' || c === '\n';
const isAlpha = (c) => /^[A-Za-z]$/.test(c);
// Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const isPrint = (c) => /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(c);

/** Modelfile bytes to text: UTF-8, or UTF-16 when a byte-order mark says so (Ollama's BOMOverride). */
function decode(bytes) {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  const text = bytes.toString('utf8');
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/** The commands of a Modelfile, `{name, args}` with `from` named `model`, as parser.ParseFile returns them. */
function parseModelfile(text) {
  const commands = [];
  const cmd = { name: '', args: '' };
  let curr = NIL;
  let line = 1;
  let b = '';
  let role = '';
  const fail = (msg) => new OllamaError(`(line ${line}): ${msg}`, 400);

  for (const c of text) {
    if (isNewline(c)) line++;
    const [state, r, err] = nextState(c, curr);
    let next = state;
    if (err === 'eof') throw new OllamaError(`unexpected EOF: ${b}`, 400);
    if (err) throw fail(err);

    if (next !== curr) {
      if (curr === NAME) {
        if (!COMMANDS.includes(b.toLowerCase())) throw fail(INVALID_COMMAND);
        const s = b.toLowerCase();
        if (s === 'from') cmd.name = 'model';
        else if (s === 'parameter') next = PARAMETER;
        else {
          if (s === 'message') next = MESSAGE;
          cmd.name = s;
        }
      } else if (curr === PARAMETER) {
        cmd.name = b;
      } else if (curr === MESSAGE) {
        if (!['system', 'user', 'assistant'].includes(b)) throw fail(INVALID_ROLE);
        role = b;
      } else if (curr === VALUE) {
        const [s, ok] = unquote(b.trim());
        // A space, or a newline inside an open quote, belongs to the value.
        if (!ok || isSpace(c)) {
          b += r;
          continue;
        }
        cmd.args = role ? `${role}: ${s}` : s;
        role = '';
        commands.push({ ...cmd });
      }
      b = '';
      curr = next;
    }
    if (r && isPrint(r)) b += r;
  }

  if (curr === VALUE) {
    const [s, ok] = unquote(b.trim());
    if (!ok) throw new OllamaError('unexpected EOF', 400);
    cmd.args = role ? `${role}: ${s}` : s;
    commands.push({ ...cmd });
  } else if (curr !== NIL && curr !== COMMENT) {
    throw new OllamaError('unexpected EOF', 400);
  }
  if (!commands.some((c) => c.name === 'model')) throw new OllamaError('no FROM line', 400);
  return commands;
}

/** parseRuneForState: [next state, the character to keep or '', error]. */
function nextState(c, state) {
  switch (state) {
    case NIL:
      if (c === '#') return [COMMENT, '', null];
      if (isSpace(c) || isNewline(c)) return [NIL, '', null];
      return [NAME, c, null];
    case NAME:
      if (isAlpha(c)) return [NAME, c, null];
      if (isSpace(c)) return [VALUE, '', null];
      return [NIL, '', INVALID_COMMAND];
    case VALUE:
      if (isNewline(c) || isSpace(c)) return [NIL, c, null];
      return [VALUE, c, null];
    case PARAMETER:
      if (isAlpha(c) || /^[0-9_]$/.test(c)) return [PARAMETER, c, null];
      if (isSpace(c)) return [VALUE, '', null];
      return [NIL, '', 'eof'];
    case MESSAGE:
      if (isAlpha(c)) return [MESSAGE, c, null];
      if (isSpace(c)) return [VALUE, '', null];
      return [NIL, '', 'eof'];
    default:
      if (isNewline(c)) return [NIL, '', null];
      return [COMMENT, '', null];
  }
}

function unquote(s) {
  if (s.startsWith('"""')) return s.length >= 6 && s.endsWith('"""') ? [s.slice(3, -3), true] : ['', false];
  if (s.startsWith('"')) return s.length >= 2 && s.endsWith('"') ? [s.slice(1, -1), true] : ['', false];
  return [s, true];
}

function quote(s) {
  if (s.includes('\n') || s.startsWith(' ') || s.endsWith(' '))
    return s.includes('"') ? `"""${s}"""` : `"${s}"`;
  return s;
}

// api.Options and api.Runner, by JSON name: the PARAMETERs a Modelfile may set, with their Go types.
const PARAMETER_TYPES = {
  num_keep: 'int',
  seed: 'int',
  num_predict: 'int',
  top_k: 'int',
  top_p: 'float',
  min_p: 'float',
  typical_p: 'float',
  repeat_last_n: 'int',
  temperature: 'float',
  repeat_penalty: 'float',
  presence_penalty: 'float',
  frequency_penalty: 'float',
  stop: 'strings',
  num_ctx: 'int',
  num_batch: 'int',
  num_gpu: 'int',
  main_gpu: 'int',
  use_mmap: 'bool',
  num_thread: 'int',
};
const DEPRECATED_PARAMETERS = [
  'penalize_newline',
  'low_vram',
  'f16_kv',
  'logits_all',
  'vocab_only',
  'use_mlock',
  'mirostat',
  'mirostat_tau',
  'mirostat_eta',
];

/** One PARAMETER's typed value, or an OllamaError worded as api.FormatParams words it. */
function parameterValue(name, raw) {
  const type = PARAMETER_TYPES[name];
  if (!type) throw new OllamaError(`unknown parameter '${name}'`, 400);
  switch (type) {
    case 'int':
      if (!/^[+-]?\d+$/.test(raw)) throw new OllamaError(`invalid int value [${raw}]`, 400);
      return Number(raw);
    case 'float': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw))
        throw new OllamaError(`invalid float value [${raw}]`, 400);
      return float32(Number(raw));
    }
    case 'bool':
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
      if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
      throw new OllamaError(`invalid bool value [${raw}]`, 400);
    default:
      return [raw];
  }
}

/** The shortest decimal that reads back as the same float32, as Go's JSON encoder writes a float32 (0.7, not 0.699…). */
function float32(x) {
  const f = Math.fround(x);
  for (let digits = 1; digits <= 9; digits++) {
    const shortest = Number(f.toPrecision(digits));
    if (Math.fround(shortest) === f) return shortest;
  }
  return f;
}

/** The Modelfile `ollama show --modelfile` prints for a stored model (server/images.go Model.String). */
function renderModelfile(model, blobPath) {
  const lines = [
    '# Modelfile generated by "ollama show"',
    '# To build a new Modelfile based on this, replace FROM with:',
    `# FROM ${model.name}`,
    '',
    `FROM ${blobPath(model.layers.find((l) => l.mediaType === MODEL_MEDIA_TYPE)?.digest ?? model.digest)}`,
  ];
  if (model.template) lines.push(`TEMPLATE ${quote(model.template)}`);
  if (model.system) lines.push(`SYSTEM ${quote(model.system)}`);
  for (const adapter of model.adapters ?? []) lines.push(`ADAPTER ${blobPath(adapter.digest)}`);
  for (const [key, value] of Object.entries(model.parameters ?? {}))
    for (const v of Array.isArray(value) ? value : [value])
      lines.push(`PARAMETER ${key} ${quote(String(v))}`);
  for (const license of model.license ?? []) lines.push(`LICENSE ${quote(license)}`);
  for (const m of model.messages ?? []) lines.push(`MESSAGE ${m.role} ${quote(m.content)}`);
  return `${lines.join('\n')}\n`;
}

const MODEL_MEDIA_TYPE = 'application/vnd.ollama.image.model';

module.exports = {
  decode,
  parseModelfile,
  parameterValue,
  renderModelfile,
  DEPRECATED_PARAMETERS,
  MODEL_MEDIA_TYPE,
};
