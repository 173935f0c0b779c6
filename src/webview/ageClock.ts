// Relative times ("3 min ago") that stay true while a view sits open without new state.

import { h } from './dom';
import { formatAge, formatDateTime } from './format';

export function age(at: number, now = Date.now()): HTMLTimeElement {
  const valid = Number.isFinite(at);
  return h(
    'time',
    {
      class: 'age',
      attrs: {
        'data-at': String(at),
        ...(valid ? { datetime: new Date(at).toISOString(), title: formatDateTime(at) } : {}),
      },
    },
    formatAge(at, now),
  );
}

/** Refreshes every age under `root` once a minute, the resolution the words have. */
export function startAgeClock(root: HTMLElement): void {
  setInterval(() => {
    const now = Date.now();
    for (const element of root.querySelectorAll<HTMLElement>('time[data-at]')) {
      element.textContent = formatAge(Number(element.dataset.at), now);
    }
  }, 60_000);
}
