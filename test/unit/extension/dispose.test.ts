import assert from 'node:assert/strict';
import { Disposable, disposeAll } from '../../../src/extension/dispose';

class Owner extends Disposable {
  register(d: { dispose(): void }) {
    return this._register(d);
  }
  get gone() {
    return this.isDisposed;
  }
}

describe('Disposable', () => {
  it('disposes what it registered once, last registered first', () => {
    const order: string[] = [];
    const owner = new Owner();
    owner.register({ dispose: () => order.push('first') });
    owner.register({ dispose: () => order.push('second') });
    owner.dispose();
    owner.dispose();
    assert.deepEqual(order, ['second', 'first']);
    assert.equal(owner.gone, true);
  });

  it('disposes at once what is registered after it was disposed', () => {
    const owner = new Owner();
    owner.dispose();
    let disposed = false;
    owner.register({ dispose: () => (disposed = true) });
    assert.equal(disposed, true);
  });

  it('disposeAll empties the list', () => {
    let count = 0;
    const list = [{ dispose: () => count++ }, { dispose: () => count++ }];
    disposeAll(list);
    assert.equal(count, 2);
    assert.deepEqual(list, []);
  });
});
