// What text the store keeps: valid UTF-8 only, and a run's input and output bounded in size, cut with a marker.

/** A UTF-16 surrogate without its other half: JavaScript allows it, UTF-8 cannot encode it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `text` with each lone surrogate replaced by U+FFFD. sql.js would otherwise write it as bytes that are not UTF-8
 * (Python's sqlite3, for one, then cannot read the row). `String.prototype.toWellFormed` once ES2024 is our target.
 */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

const MARKER = /\n…\[truncated by Agent Learning: kept (\d+) of (\d+) bytes\]$/;

function marker(kept: number, total: number): string {
  return `\n…[truncated by Agent Learning: kept ${kept} of ${total} bytes]`;
}

/**
 * `text` ending with the marker `boundText` writes, for a text cut before it reached the store (the gateway's
 * bounded copy of a response): `isCut` is true for it, so exports leave it out like any other cut text.
 */
export function withCutMarker(text: string, kept: number, total: number): string {
  return text + marker(kept, total);
}

/** The longest marker `boundText` may append (both numbers at 2^53). */
export const MAX_MARKER_BYTES = Buffer.byteLength(marker(2 ** 53, 2 ** 53));

/**
 * `text` if its UTF-8 form fits in `maxBytes`; otherwise its start, cut at a character boundary, and a visible
 * marker saying how much was kept (`truncatedFrom`: the original size), the whole at most `maxBytes` (which must
 * exceed MAX_MARKER_BYTES).
 */
export function boundText(text: string, maxBytes: number): { text: string; truncatedFrom?: number } {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most texts need no count at all.
  if (text.length * 3 <= maxBytes) return { text };
  const utf8 = Buffer.from(text);
  if (utf8.length <= maxBytes) return { text };
  let cut = maxBytes - MAX_MARKER_BYTES;
  while (cut > 0 && (utf8[cut]! & 0xc0) === 0x80) cut--; // never inside a character's bytes
  return { text: utf8.toString('utf8', 0, cut) + marker(cut, utf8.length), truncatedFrom: utf8.length };
}

/**
 * Whether a stored text and a text sent again are the same: equal, or one was cut by `boundText` (under an earlier
 * `storage.maxTextBytes`) and the kept part is the start of the other.
 */
export function sameText(a: string, b: string): boolean {
  if (a === b) return true;
  const [ka, kb] = [keptPart(a), keptPart(b)];
  if (ka === undefined && kb === undefined) return false;
  const [x, y] = [ka ?? a, kb ?? b];
  return x.length <= y.length ? ka !== undefined && y.startsWith(x) : kb !== undefined && x.startsWith(y);
}

/** Whether `boundText` cut this text. */
export function isCut(text: string): boolean {
  return MARKER.test(text);
}

function keptPart(text: string): string | undefined {
  const m = MARKER.exec(text);
  return m ? text.slice(0, m.index) : undefined;
}
