import assert from 'node:assert/strict';
import { InvalidInputError } from '../../../../src/core/errors';
import {
  BUILTIN_ROLES,
  checkRole,
  MODEL_PREFIX_PATTERN,
  MODEL_TAG_PATTERN,
} from '../../../../src/core/workspace/names';

describe('names', () => {
  describe('checkRole', () => {
    it('takes the built-in roles and any lower-case name of up to 32 characters', () => {
      for (const role of [...BUILTIN_ROLES, 'reviewer', 'test_writer', 'a', `r${'x'.repeat(31)}`]) {
        assert.equal(checkRole(role), role);
      }
    });

    it('refuses what could not be a file name or a model name, naming the field it came from', () => {
      for (const role of [
        'Coder',
        '1coder',
        '-coder',
        'co der',
        'co.der',
        `r${'x'.repeat(32)}`,
        '',
        7,
        null,
      ]) {
        assert.throws(
          () => checkRole(role, 'entry.role'),
          (err: unknown) => err instanceof InvalidInputError && err.field === 'entry.role',
          JSON.stringify(role),
        );
      }
    });

    it("refuses a role that ends in a tier, whose files would be another role's tier adapter's", () => {
      for (const role of ['coder-large', 'x-small', 'fixer-medium']) {
        assert.throws(() => checkRole(role), /names the \w+ tier of role/, role);
      }
      for (const role of ['coder-larger', 'large', 'coder_large', 'small-coder'])
        assert.equal(checkRole(role), role);
    });
  });

  describe('model names', () => {
    it('takes Ollama tags with a namespace, a size and a quantisation, and nothing a shell would read', () => {
      for (const tag of [
        'qwen2.5-coder:7b',
        'qwen2.5-coder',
        'library/llama3.1:8b-instruct-q4_K_M',
        'me/my_model',
      ]) {
        assert.match(tag, MODEL_TAG_PATTERN);
      }
      for (const tag of ['qwen; rm -rf /', 'Qwen:7b', 'qwen:', 'a/b/c', '$(id)', 'qwen:7b tag', '-rf']) {
        assert.doesNotMatch(tag, MODEL_TAG_PATTERN);
      }
    });

    it("takes a deployed model's prefix without a tag or namespace", () => {
      assert.match('my-coder-tuned', MODEL_PREFIX_PATTERN);
      for (const prefix of ['my-coder:7b', 'me/coder', '-coder', 'Coder', '']) {
        assert.doesNotMatch(prefix, MODEL_PREFIX_PATTERN);
      }
    });
  });
});
