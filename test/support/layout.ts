// Layout checks a screenshot would show a person, measured in the page with the geometry the browser laid out:
// no two pieces of text (or icons, bars, charts) drawn over each other, no number broken across two lines or cut
// off by its box, and nothing wider than its container unless it sits in a scroll wrapper made for it.

import type { Frame, Page } from 'playwright-core';

export interface LayoutProblem {
  kind: 'overlap' | 'number-wrapped' | 'number-clipped' | 'overflow';
  detail: string;
}

/**
 * Every layout problem on the page, once its icon font has loaded (an icon without its font is a box of another
 * size). Text is measured per line with Range.getClientRects(), clipped by every ancestor that clips, so text an
 * ellipsis hides is not counted and text drawn outside its box is.
 */
export async function layoutProblems(page: Page | Frame): Promise<LayoutProblem[]> {
  // Source text here too: this file also serves the e2e suite, whose compile has no DOM library.
  await page.waitForFunction("document.documentElement.classList.contains('codicons')");
  await page.evaluate('document.fonts.ready.then(() => undefined)');
  // Plain JavaScript as source text: a function compiled by tsx would carry helpers the page does not have.
  return page.evaluate(MEASURE) as Promise<LayoutProblem[]>;
}

const MEASURE = `(() => {
  const problems = [];
  const TOLERANCE = 1; // sub-pixel rounding where two boxes merely touch
  // A number as it reads: "1,234", "0.82", "+0.06", "$0.0005", "73%", and an interval "0.79–0.83"; standing
  // alone, not the digits inside a name ("debounce-597", "qwen2.5-coder:7b"), which an ellipsis may cut.
  const NUMBER =
    /(?<![\\p{L}\\p{N}_\\-:./])[+\\u2212\\u00b1$]?\\d+(?:[.,]\\d+)*%?(?:\\u2013\\d+(?:[.,]\\d+)*%?)?(?![\\p{L}\\p{N}_\\-:/])/gu;

  const describe = (node) => {
    const element = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    const path = [];
    for (let e = element; e && e !== document.body && path.length < 4; e = e.parentElement) {
      path.unshift(e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''));
    }
    const text = node.nodeType === Node.TEXT_NODE ? node.textContent : element.textContent || element.className;
    return path.join(' > ') + ' "' + String(text).slice(0, 40) + '"';
  };

  const intersect = (a, b) => {
    const left = Math.max(a.left, b.left);
    const top = Math.max(a.top, b.top);
    const right = Math.min(a.right, b.right);
    const bottom = Math.min(a.bottom, b.bottom);
    return { left, top, right, bottom };
  };
  const area = (r) => Math.max(0, r.right - r.left - TOLERANCE) * Math.max(0, r.bottom - r.top - TOLERANCE);

  const clipCaches = { all: new Map(), cut: new Map() };
  /**
   * The part of the viewport an element's content can be seen in: its clipping ancestors' boxes, intersected;
   * with scrolls false, only the ancestors that cut content off for good (not those one can scroll).
   */
  const clipOf = (element, scrolls = true) => {
    if (!element || element === document.documentElement) {
      return { left: -Infinity, top: -Infinity, right: Infinity, bottom: Infinity };
    }
    const clipCache = scrolls ? clipCaches.all : clipCaches.cut;
    if (clipCache.has(element)) return clipCache.get(element);
    let clip = clipOf(element.parentElement, scrolls);
    const style = getComputedStyle(element);
    const scroller = /auto|scroll/.test(style.overflowX + style.overflowY);
    if ((style.overflowX !== 'visible' || style.overflowY !== 'visible') && (scrolls || !scroller)) {
      const r = element.getBoundingClientRect();
      const box = {
        left: r.left + element.clientLeft,
        top: r.top + element.clientTop,
        right: r.left + element.clientLeft + element.clientWidth,
        bottom: r.top + element.clientTop + element.clientHeight,
      };
      clip = intersect(clip, {
        left: style.overflowX === 'visible' ? -Infinity : box.left,
        right: style.overflowX === 'visible' ? Infinity : box.right,
        top: style.overflowY === 'visible' ? -Infinity : box.top,
        bottom: style.overflowY === 'visible' ? Infinity : box.bottom,
      });
    }
    clipCache.set(element, clip);
    return clip;
  };
  const shown = (element) => {
    const style = getComputedStyle(element);
    return style.visibility !== 'hidden' && style.opacity !== '0';
  };

  // The boxes that must not overlap: each line of each text node, and each icon, bar, chart and image.
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const textNodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim() || !node.parentElement || !shown(node.parentElement)) continue;
    if (node.parentElement.closest('script, style, [hidden], [aria-hidden="true"]')) continue;
    textNodes.push(node);
    const range = document.createRange();
    range.selectNodeContents(node);
    const clip = clipOf(node.parentElement);
    for (const rect of range.getClientRects()) {
      const seen = intersect(rect, clip);
      if (area(seen) > 0) boxes.push({ node, rect: seen });
    }
  }
  for (const element of document.body.querySelectorAll('.codicon, progress, canvas, img, svg')) {
    if (element.closest('[hidden]') || !shown(element)) continue;
    const seen = intersect(element.getBoundingClientRect(), clipOf(element.parentElement));
    if (area(seen) > 0) boxes.push({ node: element, rect: seen });
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.node === b.node) continue;
      if (area(intersect(a.rect, b.rect)) > 0) {
        problems.push({ kind: 'overlap', detail: describe(a.node) + ' overlaps ' + describe(b.node) });
      }
    }
  }

  // Each number on one line, and all of it in sight, unless it is part of a name an ellipsis cut short whose
  // tooltip has it whole.
  const tooltipped = (node) => {
    const named = node.parentElement.closest('[title]');
    return named !== null && named.getAttribute('title').startsWith(node.textContent.slice(0, 40));
  };
  for (const node of textNodes) {
    const clip = clipOf(node.parentElement, false);
    const named = tooltipped(node);
    for (const match of node.textContent.matchAll(NUMBER)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0);
      const lines = new Set(rects.map((r) => Math.round(r.top)));
      if (lines.size > 1) {
        problems.push({ kind: 'number-wrapped', detail: '"' + match[0] + '" in ' + describe(node) });
        continue;
      }
      for (const r of rects) {
        const seen = intersect(r, clip);
        if (seen.left > r.left + TOLERANCE || seen.right < r.right - TOLERANCE || seen.top > r.top + TOLERANCE || seen.bottom < r.bottom - TOLERANCE) {
          // An ellipsis that hides a whole number is fine (the name it follows was cut); half a number is not.
          if (seen.right - seen.left > TOLERANCE && !named) {
            problems.push({ kind: 'number-clipped', detail: '"' + match[0] + '" in ' + describe(node) });
          }
        }
      }
    }
  }

  // Nothing wider than its box: the page scrolls only vertically, and a table scrolls only in a wrapper that
  // is there to scroll it.
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) {
    problems.push({ kind: 'overflow', detail: 'the page scrolls sideways: ' + root.scrollWidth + ' > ' + root.clientWidth });
  }
  for (const table of document.body.querySelectorAll('table')) {
    if (table.closest('[hidden]')) continue;
    const container = table.parentElement;
    const scroller = getComputedStyle(container).overflowX;
    if (scroller === 'auto' || scroller === 'scroll') continue;
    if (container.scrollWidth > container.clientWidth) {
      problems.push({ kind: 'overflow', detail: describe(table) + ' is wider than its container' });
    }
  }
  for (const element of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(element);
    // Text only screen readers get (.visually-hidden: a 1 px clipped box) is meant to overflow it.
    if (style.overflowX !== 'visible' || style.display === 'inline' || element.closest('[hidden], .visually-hidden')) continue;
    if (element.scrollWidth > element.clientWidth + TOLERANCE && element.clientWidth > 0) {
      problems.push({ kind: 'overflow', detail: describe(element) + ': content ' + element.scrollWidth + ' px in ' + element.clientWidth + ' px' });
    }
  }
  return problems;
})()`;
