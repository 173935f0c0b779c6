import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { htmlToText } from '../../../../src/core/web/htmlText';

/** The fastest of a few runs, so one descheduling on a busy machine does not decide the test. */
function fastestMs(run: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

describe('htmlToText', () => {
  it('gives the text of a page without its tags, scripts, styles and comments', () => {
    const html =
      '<html><head><style>p { color: red }</style><script type="text/javascript">var a = "<p>";</script></head>' +
      '<body><!-- a <b>comment</b> --><h1>left-pad</h1>\n\n\n<p>Pads&nbsp;the &lt;left&gt; side &amp; more.</p>' +
      '<SCRIPT>ignored()</SCRIPT ></body></html>';

    assert.equal(htmlToText(html), 'left-pad \n\n Pads the <left> side & more.');
  });

  it('keeps a `<` that does not start a tag as text', () => {
    assert.equal(htmlToText('<p>if a < b and b > 0</p>'), 'if a < b and b > 0');
  });

  it('drops an unclosed script, or a tag cut off at the end of the page, to the end', () => {
    assert.equal(htmlToText('<p>kept</p><script>var x = 1; <p>not text</p>'), 'kept');
    assert.equal(htmlToText('<p>kept</p><a href="cut'), 'kept');
  });

  it('reads a 420 KB page of repeated `<script` in about the time of a plain page of the same size', () => {
    const hostile = '<script'.repeat(60_000); // 420 KB, no `>` and no end tag
    const hostileTags = '<p<script>'.repeat(42_000); // every `<p` opens markup that a `<script>` inside closes
    const plain = '<p>Some documentation text.</p>\n'
      .repeat(Math.ceil(hostile.length / 32))
      .slice(0, hostile.length);

    assert.equal(htmlToText(hostile), '');
    assert.equal(htmlToText(hostileTags), '');
    const plainMs = fastestMs(() => htmlToText(plain));
    // A quadratic scan took 15.7 s on the first page, thousands of times the plain page; linear ones stay close.
    for (const page of [hostile, hostileTags]) {
      const ms = fastestMs(() => htmlToText(page));
      assert.ok(
        ms < 20 * plainMs + 5,
        `${ms.toFixed(1)} ms against ${plainMs.toFixed(1)} ms for a plain page`,
      );
    }
  });
});
