import assert from 'node:assert/strict';
import { Emitter, type Disposable } from '../../../src/core/events';

describe('Emitter', () => {
  it('delivers each value to every listener until the listener is disposed', () => {
    const emitter = new Emitter<number>();
    const first: number[] = [];
    const second: number[] = [];
    const subscription = emitter.event((v) => first.push(v));
    emitter.event((v) => second.push(v));

    emitter.fire(1);
    subscription.dispose();
    emitter.fire(2);

    assert.deepEqual(first, [1]);
    assert.deepEqual(second, [1, 2]);
  });

  it("goes on to the other listeners when one throws, so a listener's failure never breaks recording", () => {
    const emitter = new Emitter<string>();
    const seen: string[] = [];
    emitter.event(() => {
      throw new Error('a broken view');
    });
    emitter.event((v) => seen.push(v));

    assert.doesNotThrow(() => emitter.fire('run recorded'));
    assert.deepEqual(seen, ['run recorded']);
  });

  it('fires to the listeners there were when it started, even if one of them removes another', () => {
    const emitter = new Emitter<void>();
    const calls: string[] = [];
    const subscriptions = new Map<string, Disposable>();
    emitter.event(() => {
      calls.push('first');
      subscriptions.get('second')?.dispose();
      emitter.event(() => calls.push('added during the fire'));
    });
    subscriptions.set(
      'second',
      emitter.event(() => calls.push('second')),
    );

    emitter.fire();

    assert.deepEqual(calls, ['first', 'second']);
  });

  it('drops every listener when disposed', () => {
    const emitter = new Emitter<number>();
    const seen: number[] = [];
    emitter.event((v) => seen.push(v));

    emitter.dispose();
    emitter.fire(1);

    assert.deepEqual(seen, []);
  });
});
