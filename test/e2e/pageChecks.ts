// Checks that run inside a webview's page (through Playwright's frame.evaluate), shared by the e2e suites and the
// UI benchmark, and a bounded wait for a text in one. This project's Node code compiles without the DOM library, so the page objects used
// here are typed by the few members they need.

import type { Frame } from 'playwright-core';
import { waitFor } from './wait';

export interface CanvasPaint {
  card: string;
  width: number;
  height: number;
  /** Pixels with any opacity: a canvas nothing was drawn on has none. */
  painted: number;
}

/** Reads back every chart canvas of the dashboard and counts the pixels something was drawn on. */
export function paintedCanvases(frame: Frame): Promise<CanvasPaint[]> {
  // Runs in the page: typed loosely, since this project's Node code is compiled without the DOM library.
  return frame.evaluate(() => {
    interface Canvas {
      width: number;
      height: number;
      closest(selector: string): { getAttribute(name: string): string | null } | null;
      getContext(kind: '2d'): {
        getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
      } | null;
    }
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<Canvas> } })
      .document;
    return Array.from(doc.querySelectorAll('.chart-box:not([hidden]) canvas')).map((canvas) => {
      const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
      return {
        card: canvas.closest('[data-card]')?.getAttribute('data-card') ?? '?',
        width: canvas.width,
        height: canvas.height,
        painted,
      };
    });
  });
}

/** Whether a page scrolls sideways (its content is wider than its view): a layout fault in a sidebar or panel. */
export function overflowsSideways(frame: Frame): Promise<boolean> {
  return frame.evaluate(() => {
    const root = (
      globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
    ).document.documentElement;
    return root.scrollWidth > root.clientWidth + 1;
  });
}

/** Waits until `selector`'s text in `frame` satisfies `expected`; returns that text. */
export async function waitForText(
  frame: Frame,
  selector: string,
  expected: string | RegExp,
  what: string,
  timeoutMs = 15_000,
): Promise<string> {
  let last: string | null = null;
  return waitFor(
    what,
    async () => {
      last = (await frame.locator(selector).first().textContent({ timeout: 2000 }))?.trim() ?? null;
      if (last === null) return undefined;
      return (typeof expected === 'string' ? last === expected : expected.test(last)) ? last : undefined;
    },
    { timeoutMs, detail: () => `${selector} shows ${JSON.stringify(last)}, expected ${String(expected)}` },
  );
}

/**
 * Waits until the run view's row for `signal` (compile, tests, type, lint, kept…) shows `value`, and, when given,
 * an origin (its "Source and time" cell) matching `origin`. Signals the editor observes arrive late: a minute.
 */
export async function waitForSignal(
  view: Frame,
  signal: string,
  value: RegExp,
  origin?: RegExp,
): Promise<void> {
  const row = `[data-signal="${signal}"]`;
  await waitForText(view, `${row} td:nth-child(2)`, value, `the ${signal} signal`, 60_000);
  if (origin)
    await waitForText(view, `${row} td:nth-child(3)`, origin, `the ${signal} signal's origin`, 60_000);
}
