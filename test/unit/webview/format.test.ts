import assert from 'node:assert/strict';
import { formatCountOf, formatDurationMs, formatTokens, formatUsd } from '../../../src/webview/format';

describe('format', () => {
  it('says "1 run" for one and "2 runs", "1,234 runs" for more, and "0 runs" for none', () => {
    assert.equal(formatCountOf(1, 'run'), '1 run');
    assert.equal(formatCountOf(2, 'run'), '2 runs');
    assert.equal(formatCountOf(0, 'run'), '0 runs');
    assert.equal(formatCountOf(1234, 'run'), '1,234 runs');
    assert.equal(formatCountOf(1, 'example'), '1 example');
    assert.equal(formatCountOf(null, 'run'), '—');
  });

  it('shows a missing cost or duration as "—", never "0 tokens" or "0 ms"', () => {
    assert.equal(formatTokens(null), '—');
    assert.equal(formatDurationMs(null), '—');
    assert.equal(formatTokens(2100.4), '2,100 tokens');
    assert.equal(formatTokens(1), '1 token');
    assert.equal(formatDurationMs(250), '250 ms');
  });

  it('writes dollars in cents, tiny prices with two significant digits, never "$0.0000"', () => {
    assert.equal(formatUsd(2.5), '$2.50');
    assert.equal(formatUsd(1234), '$1,234.00');
    assert.equal(formatUsd(0.01), '$0.01');
    assert.equal(formatUsd(0.0005), '$0.0005');
    assert.equal(formatUsd(0.00112), '$0.0011');
    assert.equal(formatUsd(0.000015), '$0.000015');
    assert.equal(formatUsd(0.00000001), '< $0.000001');
    assert.equal(formatUsd(0), '$0');
    assert.equal(formatUsd(null), '—');
    assert.equal(formatUsd(-1), '—');
    for (const usd of [0.00001, 0.00004, 0.000049, 0.0000001]) assert.notEqual(formatUsd(usd), '$0.0000');
  });
});
