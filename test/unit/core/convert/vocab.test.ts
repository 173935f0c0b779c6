import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GgufValue } from '../../../../src/core/convert/gguf';
import {
  addVocabularyMetadata,
  readVocabulary,
  type VocabularyConfig,
} from '../../../../src/core/convert/vocab';
import { modelConfig, QWEN, tokenizerJson, writeModel, type Arch } from '../../../support/hfModel';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';
import { isConvertError } from '../../../support/convertErrors';

describe('readVocabulary', () => {
  let dir: string;
  let model: string;

  beforeEach(() => {
    dir = makeWorkspace();
    model = path.join(dir, 'merged');
  });

  afterEach(() => removeWorkspace(dir));

  /** A model folder of `arch` with the test tokenizer, and what readVocabulary needs of its config.json. */
  function writeTokenizer(arch: Arch): VocabularyConfig {
    writeModel(model, arch, QWEN, []);
    return { arch, vocabSize: QWEN.vocab, raw: modelConfig(arch, QWEN, true) };
  }

  function writeJson(name: string, content: unknown): void {
    fs.writeFileSync(path.join(model, name), JSON.stringify(content));
  }

  describe('refuses, naming the file and key,', () => {
    function rejects(
      config: VocabularyConfig,
      expected: { file: string; key?: string; message: RegExp },
    ): void {
      assert.throws(() => readVocabulary(model, config), isConvertError(expected));
    }

    it('tokenizers it cannot reproduce in llama.cpp', () => {
      const config = writeTokenizer('qwen2');
      const tokenizer = tokenizerJson('qwen2');
      fs.writeFileSync(path.join(model, 'tokenizer.model'), 'sentencepiece');
      rejects(config, { file: path.join(model, 'tokenizer.model'), message: /SentencePiece/ });
      fs.rmSync(path.join(model, 'tokenizer.model'));

      const other = structuredClone(tokenizer) as {
        pre_tokenizer: { pretokenizers: Array<{ pattern?: unknown }> };
      };
      other.pre_tokenizer.pretokenizers[0]!.pattern = { Regex: "'s|'t| ?\\p{L}+| ?\\p{N}+" };
      fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify(other));
      rejects(config, {
        file: path.join(model, 'tokenizer.json'),
        key: 'pre_tokenizer',
        message: /not one this/,
      });

      const wordLevel = { ...tokenizer, model: { type: 'WordLevel', vocab: { a: 0 } } };
      fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify(wordLevel));
      rejects(config, { file: path.join(model, 'tokenizer.json'), key: 'model.type', message: /WordLevel/ });

      const tooBig = { ...tokenizer, added_tokens: [{ id: 40, content: '<|x|>', special: true }] };
      fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify(tooBig));
      rejects(config, {
        file: path.join(model, 'tokenizer.json'),
        key: 'model.vocab',
        message: /vocab_size is 40/,
      });
    });

    it('a byte_fallback (Llama 2 style) tokenizer, and a merge that is not a pair of tokens', () => {
      const config = writeTokenizer('llama');
      const tokenizer = tokenizerJson('llama') as { model: Record<string, unknown> };
      const file = path.join(model, 'tokenizer.json');

      writeJson('tokenizer.json', { ...tokenizer, model: { ...tokenizer.model, byte_fallback: true } });
      rejects(config, { file, key: 'model.byte_fallback', message: /byte_fallback/ });

      writeJson('tokenizer.json', {
        ...tokenizer,
        model: {
          ...tokenizer.model,
          merges: [
            ['a', 'b'],
            ['a', 'b', 'c'],
          ],
        },
      });
      rejects(config, { file, key: 'model.merges', message: /merge 1 is not a pair of tokens/ });
    });

    it('a chat_template that is neither text nor a list of named templates', () => {
      const config = writeTokenizer('qwen2');
      writeJson('tokenizer_config.json', {
        eos_token: '<|im_end|>',
        chat_template: [{ template: 'no name' }],
      });

      rejects(config, {
        file: path.join(model, 'tokenizer_config.json'),
        key: 'chat_template',
        message: /a string or a list of \{name, template\}/,
      });
    });
  });

  describe('chat templates', () => {
    it('writes chat_template.jinja and additional_chat_templates/ as the default template plus named ones, as gguf-py does', () => {
      const config = writeTokenizer('llama'); // its tokenizer_config.json has no chat_template; the folder has chat_template.jinja
      fs.mkdirSync(path.join(model, 'additional_chat_templates'));
      fs.writeFileSync(path.join(model, 'additional_chat_templates', 'tool-use.jinja'), '{{ tools }}');

      const vocab = readVocabulary(model, config);
      const m = new Map<string, GgufValue>();
      addVocabularyMetadata(m, vocab);

      assert.deepEqual(m.get('tokenizer.chat_template'), {
        type: 'string',
        value: fs.readFileSync(path.join(model, 'chat_template.jinja'), 'utf8'),
      });
      assert.deepEqual(m.get('tokenizer.chat_template.tool_use'), { type: 'string', value: '{{ tools }}' });
      assert.deepEqual(m.get('tokenizer.chat_templates'), { type: 'stringArray', value: ['tool_use'] });
    });

    it("takes tokenizer_config.json's chat_template over chat_template.jinja", () => {
      const config = writeTokenizer('llama');
      writeJson('tokenizer_config.json', {
        bos_token: '<|begin_of_text|>',
        eos_token: '<|eot_id|>',
        chat_template: 'from the config',
      });

      assert.equal(readVocabulary(model, config).chatTemplate, 'from the config');
    });
  });

  it("keeps the configured eos as end-of-turn when the post-processor ends every sequence with another token, as gguf-py's SpecialVocab does", () => {
    const config = writeTokenizer('llama'); // added tokens: 20 <|begin_of_text|>, 21 <|end_of_text|>, 22 <|eot_id|>
    const bos = { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } };
    const end = { SpecialToken: { id: '<|end_of_text|>', type_id: 0 } };
    writeJson('tokenizer.json', {
      ...tokenizerJson('llama'),
      post_processor: {
        type: 'TemplateProcessing',
        single: [bos, { Sequence: { id: 'A', type_id: 0 } }, end],
      },
    });
    writeJson('tokenizer_config.json', { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>' });

    const vocab = readVocabulary(model, config);
    const m = new Map<string, GgufValue>();
    addVocabularyMetadata(m, vocab);

    assert.deepEqual(m.get('tokenizer.ggml.eos_token_id'), { type: 'uint32', value: 21 });
    assert.deepEqual(m.get('tokenizer.ggml.eot_token_id'), { type: 'uint32', value: 22 });
    assert.deepEqual(m.get('tokenizer.ggml.bos_token_id'), { type: 'uint32', value: 20 });
    assert.deepEqual(m.get('tokenizer.ggml.add_bos_token'), { type: 'bool', value: true });
    assert.deepEqual(m.get('tokenizer.ggml.add_eos_token'), { type: 'bool', value: true });
  });
});
