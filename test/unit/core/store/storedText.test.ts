import assert from 'node:assert/strict';
import { MAX_MARKER_BYTES, boundText, sameText, wellFormed } from '../../../../src/core/store/storedText';

describe('storedText', () => {
  it('replaces each lone surrogate with U+FFFD and keeps whole pairs', () => {
    assert.equal(wellFormed('a\uD800b\uDC00c \uD83D\uDE00 \uD83D'), 'a\uFFFDb\uFFFDc \uD83D\uDE00 \uFFFD');
    assert.equal(wellFormed('plain'), 'plain');
  });

  it('keeps a text that fits, and cuts a longer one at a character boundary with a marker, within the bound', () => {
    assert.deepEqual(boundText('short', 1024), { text: 'short' });
    const long = '€'.repeat(2000); // 3 bytes each: 6,000 bytes

    const bounded = boundText(long, 1024);

    assert.equal(bounded.truncatedFrom, 6000);
    assert.ok(Buffer.byteLength(bounded.text) <= 1024, `${Buffer.byteLength(bounded.text)} bytes`);
    const m = /^(€*)\n…\[truncated by Agent Learning: kept (\d+) of 6000 bytes\]$/.exec(bounded.text);
    assert.ok(m, bounded.text.slice(-80));
    assert.equal(Buffer.byteLength(m[1]!), Number(m[2]));
    assert.ok(Number(m[2]) >= 1024 - MAX_MARKER_BYTES - 2);
  });

  it('counts a text cut under an earlier bound as the same text, and nothing else', () => {
    const text = 'x'.repeat(5000);
    const cut = boundText(text, 2048).text;
    const cutShorter = boundText(text, 1024).text;

    assert.equal(sameText(cut, text), true);
    assert.equal(sameText(text, cut), true);
    assert.equal(sameText(cut, cutShorter), true);
    assert.equal(sameText(cut, 'y' + text), false);
    assert.equal(sameText('abc', 'abd'), false);
    assert.equal(sameText('abc', 'abcd'), false, 'a prefix alone is not the same text');
  });
});
