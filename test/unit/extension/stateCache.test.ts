import assert from 'node:assert/strict';
import { StateCache } from '../../../src/extension/stateCache';

describe('StateCache', () => {
  it('computes once until something changes, then again', () => {
    const cache = new StateCache<number>();
    let computed = 0;
    const compute = () => ++computed;
    assert.equal(cache.get('p', compute), 1);
    assert.equal(cache.get('p', compute), 1);
    cache.invalidate();
    assert.equal(cache.get('p', compute), 2);
    assert.equal(computed, 2);
  });

  it('keeps a state computed across a change stale, so the next get computes again', () => {
    const cache = new StateCache<string>();
    assert.equal(
      cache.get('p', () => {
        cache.invalidate(); // a config file read again in the middle of the computation
        return 'mixed';
      }),
      'mixed',
    );
    assert.deepEqual(cache.known('p'), { pipeline: 'p', state: 'mixed', current: false });
    assert.equal(
      cache.get('p', () => 'fresh'),
      'fresh',
    );
    assert.equal(cache.known('p')?.current, true);
  });

  it('knows only the state of the pipeline it was computed for', () => {
    const cache = new StateCache<string>();
    cache.get('first folder', () => 'a');
    assert.equal(cache.known('second folder'), undefined);
    assert.equal(
      cache.get('second folder', () => 'b'),
      'b',
    );
  });
});
