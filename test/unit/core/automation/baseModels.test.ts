import assert from 'node:assert/strict';
import { knownBaseTags, resolveBaseModel } from '../../../../src/core/automation/baseModels';
import { LearningError } from '../../../../src/core/errors';

describe('base model table', () => {
  it('maps Ollama tags to their Hugging Face repositories and architectures', () => {
    assert.deepEqual(resolveBaseModel('qwen2.5-coder:7b'), {
      tag: 'qwen2.5-coder:7b',
      hfModel: 'Qwen/Qwen2.5-Coder-7B-Instruct',
      arch: 'qwen2',
    });
    assert.equal(resolveBaseModel('qwen2.5-coder').hfModel, 'Qwen/Qwen2.5-Coder-7B-Instruct');
    assert.equal(
      resolveBaseModel('qwen2.5-coder:1.5b-instruct-q4_K_M').hfModel,
      'Qwen/Qwen2.5-Coder-1.5B-Instruct',
    );
    assert.equal(resolveBaseModel('qwen2.5-coder:32b-base').hfModel, 'Qwen/Qwen2.5-Coder-32B');
    const llama = resolveBaseModel('llama3.1:8b');
    assert.deepEqual(llama, {
      tag: 'llama3.1:8b',
      hfModel: 'meta-llama/Llama-3.1-8B-Instruct',
      arch: 'llama',
      heads: 32,
      kvHeads: 8,
    });
    assert.equal(resolveBaseModel('llama3.2:3b').heads, 24);
    for (const tag of knownBaseTags()) assert.ok(resolveBaseModel(tag).hfModel.includes('/'), tag);
  });

  it('takes autoTrain.hfModel over the table, and needs an architecture for unknown tags', () => {
    assert.equal(resolveBaseModel('qwen2.5-coder:7b', 'me/my-qwen').hfModel, 'me/my-qwen');
    assert.deepEqual(resolveBaseModel('my-model:1b', 'me/my-llama', 'llama'), {
      tag: 'my-model:1b',
      hfModel: 'me/my-llama',
      arch: 'llama',
    });
    assert.throws(
      () => resolveBaseModel('mistral:7b'),
      (e: Error) => {
        assert.ok(e instanceof LearningError);
        assert.match(e.message, /"autoTrain\.hfModel"/);
        assert.match(e.message, /qwen2\.5-coder:7b/);
        return true;
      },
    );
    assert.throws(
      () => resolveBaseModel('phi3:mini', 'microsoft/Phi-3-mini', 'phi3'),
      /architecture of "phi3:mini"/,
    );
  });

  it('reads library/ names and :latest as Ollama does, and -base tags only where the family ships base weights', () => {
    assert.deepEqual(resolveBaseModel('library/qwen2.5-coder:latest'), {
      tag: 'library/qwen2.5-coder:latest',
      hfModel: 'Qwen/Qwen2.5-Coder-7B-Instruct',
      arch: 'qwen2',
    });
    assert.equal(resolveBaseModel('llama3.2').hfModel, 'meta-llama/Llama-3.2-3B-Instruct');
    assert.equal(resolveBaseModel('llama3.1:8b-base').hfModel, 'meta-llama/Llama-3.1-8B');
    // Llama 3.2 has no -base tags in the table, and a size the family does not have is no size at all.
    assert.throws(() => resolveBaseModel('llama3.2:3b-base'), /"autoTrain\.hfModel"/);
    assert.throws(() => resolveBaseModel('qwen2.5-coder:99b'), /"autoTrain\.hfModel"/);
  });

  it('knows no size named like an Object.prototype member: asks for autoTrain.hfModel instead', () => {
    for (const tag of [
      'qwen2.5-coder:constructor',
      'llama3.1:__proto__',
      'qwen2.5:toString',
      'llama3:valueOf',
    ])
      assert.throws(() => resolveBaseModel(tag), /"autoTrain\.hfModel"/, tag);
    assert.throws(() => resolveBaseModel('llama3.1:constructor-instruct'), /"autoTrain\.hfModel"/);
  });

  it("leaves the head counts to the repository's own config when autoTrain.hfModel overrides the table", () => {
    assert.deepEqual(resolveBaseModel('llama3.1:70b', 'me/my-llama-70b'), {
      tag: 'llama3.1:70b',
      hfModel: 'me/my-llama-70b',
      arch: 'llama',
    });
    assert.equal(resolveBaseModel('llama3.1:70b').heads, 64);
  });
});
