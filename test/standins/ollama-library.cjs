// The ollama.com library as far as the stand-in's `pull` knows it: qwen2 and llama families, with plausible sizes,
// chat templates, stop parameters and licenses. Nothing is downloaded; the model layer's digest is sha256(name).

'use strict';

const crypto = require('node:crypto');
const { humanNumber } = require('./ollama-files.cjs');

const CHATML = `{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ .Response }}<|im_end|>
`;
const LLAMA3 = `{{ if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>

{{ .Prompt }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>

{{ .Response }}<|eot_id|>`;
const LLAMA2 = `[INST] <<SYS>>{{ .System }}<</SYS>>

{{ .Prompt }} [/INST]
`;

const QWEN = {
  architecture: 'qwen2',
  template: CHATML,
  parameters: { stop: ['<|im_start|>', '<|im_end|>'] },
  license: 'Apache License\nVersion 2.0, January 2004',
  defaultBillions: 7.6,
  contextLength: 32768,
};

/** Longest prefix first: the first match decides. */
const FAMILIES = [
  { prefix: 'qwen2.5-coder', ...QWEN },
  { prefix: 'qwen2.5', ...QWEN },
  { prefix: 'qwen2', ...QWEN },
  {
    prefix: 'llama3',
    architecture: 'llama',
    template: LLAMA3,
    parameters: { stop: ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'] },
    license: 'LLAMA 3 COMMUNITY LICENSE AGREEMENT',
    defaultBillions: 8,
    contextLength: 8192,
  },
  {
    prefix: 'llama2',
    architecture: 'llama',
    template: LLAMA2,
    parameters: { stop: ['[INST]', '[/INST]', '<<SYS>>', '<</SYS>>'] },
    license: 'LLAMA 2 COMMUNITY LICENSE AGREEMENT',
    defaultBillions: 6.7,
    contextLength: 4096,
  },
  {
    prefix: 'codellama',
    architecture: 'llama',
    template: LLAMA2,
    parameters: { stop: ['[INST]', '[/INST]', '<<SYS>>', '<</SYS>>'] },
    license: 'LLAMA 2 COMMUNITY LICENSE AGREEMENT',
    defaultBillions: 6.7,
    contextLength: 16384,
  },
];

/** The library model a parsed name pulls, or null ("pull model manifest: file does not exist"). */
function libraryModel(name) {
  const family = FAMILIES.find((f) => name.model.toLowerCase().startsWith(f.prefix));
  if (!family) return null;
  const sized = /(\d+(?:\.\d+)?)([bm])\b/i.exec(name.tag);
  const parameterCount = sized
    ? Math.round(Number(sized[1]) * (sized[2].toLowerCase() === 'b' ? 1e9 : 1e6))
    : family.defaultBillions * 1e9;
  const digest = crypto.createHash('sha256').update(name.display).digest('hex');
  return {
    architecture: family.architecture,
    family: family.architecture,
    format: 'gguf',
    parameterCount,
    parameterSize: humanNumber(parameterCount),
    quantizationLevel: 'Q4_K_M',
    // Q4_K_M spends about 4.85 bits a weight.
    size: Math.round((parameterCount * 4.85) / 8),
    digest,
    template: family.template,
    parameters: family.parameters,
    license: [family.license],
    contextLength: family.contextLength,
  };
}

module.exports = { libraryModel };
