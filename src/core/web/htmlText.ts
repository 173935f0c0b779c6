// The readable text of an HTML page, in one pass: a page is data from the network, so no step may take more than
// linear time on it (a backtracking regex took 15.7 s on 420 KB of repeated `<script`).

/** Elements whose content is not text: skipped up to their end tag, or to the end of the page without one. */
const RAW_TEXT_ELEMENTS = ['script', 'style'] as const;

const ENTITIES: Readonly<Record<string, string>> = Object.assign(
  Object.create(null) as Record<string, string>,
  {
    '&nbsp;': ' ',
    '&lt;': '<',
    '&gt;': '>',
    '&amp;': '&',
  },
);

export function htmlToText(html: string): string {
  const parts: string[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      parts.push(html.slice(i));
      break;
    }
    parts.push(html.slice(i, lt));
    // As in HTML, `<` starts markup only before a letter, `/`, `!` or `?`; `a < b` is text.
    if (!/[A-Za-z/!?]/.test(html.charAt(lt + 1))) {
      parts.push('<');
      i = lt + 1;
      continue;
    }
    const end = markupEnd(html, lt);
    if (end < 0) break; // unclosed markup (or a body cut at the size limit): nothing readable follows
    parts.push(' ');
    i = end;
  }
  return parts
    .join('')
    .replace(/&(?:nbsp|lt|gt|amp);/g, (e) => ENTITIES[e] ?? e)
    .replace(/[ \t]+/g, ' ')
    .replace(/\n\s*\n+/g, '\n\n')
    .trim();
}

/** Where the markup starting at `lt` ends (the index after it), or -1 when it does not end in `html`. */
function markupEnd(html: string, lt: number): number {
  if (html.startsWith('<!--', lt)) {
    const close = html.indexOf('-->', lt + 4);
    return close < 0 ? -1 : close + 3;
  }
  const gt = html.indexOf('>', lt + 1);
  if (gt < 0) return -1;
  const element = RAW_TEXT_ELEMENTS.find((name) => startsTag(html, lt, name));
  if (!element) return gt + 1;
  // A search for a fixed-length pattern from `gt` on: each character is looked at a bounded number of times.
  const close = new RegExp(`</${element}[\\s/>]`, 'gi');
  close.lastIndex = gt + 1;
  const found = close.exec(html);
  if (!found) return -1;
  const closeGt = html.indexOf('>', found.index);
  return closeGt < 0 ? -1 : closeGt + 1;
}

function startsTag(html: string, lt: number, name: string): boolean {
  return (
    html.slice(lt + 1, lt + 1 + name.length).toLowerCase() === name &&
    /[\s/>]/.test(html.charAt(lt + 1 + name.length))
  );
}
