import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConvertError } from '../../../../src/core/errors';
import { readVocabulary, type VocabularyConfig } from '../../../../src/core/convert/vocab';
import { modelConfig, QWEN, tokenizerJson, writeModel, type Arch } from '../../../support/hfModel';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

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

  describe('refuses, naming the file and key,', () => {
    function rejects(
      config: VocabularyConfig,
      expected: { file: string; key?: string; message: RegExp },
    ): void {
      assert.throws(
        () => readVocabulary(model, config),
        (err: unknown) => {
          assert.ok(err instanceof ConvertError, String(err));
          assert.equal(err.file, expected.file);
          assert.equal(err.key, expected.key);
          assert.match(err.message, expected.message);
          assert.match(err.message, /Nothing was written\.$/);
          return true;
        },
      );
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
  });
});
