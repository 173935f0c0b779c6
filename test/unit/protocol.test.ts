import assert from 'node:assert/strict';
import { savedRunId } from '../../src/protocol';

describe('protocol', () => {
  describe('savedRunId', () => {
    it('takes the run id from the state a run view saved, to reopen that run after a reload', () => {
      const saved = { pageId: 'abc', state: { version: 1, runId: 'run-42', run: null, undo: null } };
      assert.equal(savedRunId(saved), 'run-42');
    });

    it('takes nothing from a state that is not a run page (a page is input)', () => {
      for (const saved of [undefined, null, 'run-42', {}, { state: {} }, { state: { runId: '' } }])
        assert.equal(savedRunId(saved), undefined, JSON.stringify(saved));
      assert.equal(savedRunId({ state: { runId: 'x'.repeat(201) } }), undefined);
      assert.equal(savedRunId({ state: { runId: 42 } }), undefined);
    });
  });
});
