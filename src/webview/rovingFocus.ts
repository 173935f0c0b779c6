// Roving focus for a list of rows of controls (the sidebar's latest runs): the whole list is one Tab stop, the
// arrow keys move within it (up and down between rows, left and right between a row's controls), Home and End go
// to the first and last row. The WAI-ARIA practice for composite widgets; VS Code's own lists behave the same.

/**
 * Remembers which control is the list's Tab stop across re-renders: the page rebuilds the list for each state,
 * and the control someone last moved to should stay the one Tab comes back to.
 */
export class RovingFocus {
  private current: string | undefined;

  /**
   * Makes `list` one Tab stop: its rows are its element children, a row's controls the elements in it with a
   * `data-focus-key` (the keys renderInto already uses to keep focus across re-renders).
   */
  attach(list: HTMLElement): void {
    const rows = Array.from(list.children).filter((row) => controlsOf(row).length > 0);
    const all = rows.flatMap(controlsOf);
    const stop = all.find((c) => c.dataset.focusKey === this.current) ?? all[0];
    for (const control of all) control.tabIndex = control === stop ? 0 : -1;

    list.addEventListener('focusin', (event) => {
      const control = event.target;
      if (!(control instanceof HTMLElement) || !all.includes(control)) return;
      for (const other of all) other.tabIndex = other === control ? 0 : -1;
      this.current = control.dataset.focusKey;
    });

    list.addEventListener('keydown', (event) => {
      if (event.altKey || event.metaKey || event.shiftKey) return;
      const control = event.target;
      if (!(control instanceof HTMLElement)) return;
      const row = rows.findIndex((r) => r.contains(control));
      const column = row < 0 ? -1 : controlsOf(rows[row]!).indexOf(control);
      if (column < 0) return;
      const target = step(rows, row, column, event.key);
      if (target === null) return;
      // The key is the list's even where there is nowhere further to go: the view must not scroll instead.
      event.preventDefault();
      target?.focus();
    });
  }
}

/**
 * Where `key` moves from the control at `column` of `rows[row]`: a control, undefined at the list's edge, or null
 * for a key the list leaves alone. Up and down keep the column where the row has one.
 */
function step(rows: Element[], row: number, column: number, key: string): HTMLElement | undefined | null {
  const at = (r: number, c: number) => {
    const controls = controlsOf(rows[r]!);
    return controls[Math.min(c, controls.length - 1)];
  };
  switch (key) {
    case 'ArrowDown':
      return row < rows.length - 1 ? at(row + 1, column) : undefined;
    case 'ArrowUp':
      return row > 0 ? at(row - 1, column) : undefined;
    case 'ArrowRight':
      return controlsOf(rows[row]!)[column + 1];
    case 'ArrowLeft':
      return column > 0 ? controlsOf(rows[row]!)[column - 1] : undefined;
    case 'Home':
      return at(0, 0);
    case 'End':
      return at(rows.length - 1, 0);
    default:
      return null;
  }
}

/** A row's controls that can take focus now (a disabled button cannot). */
function controlsOf(row: Element): HTMLElement[] {
  return Array.from(row.querySelectorAll<HTMLElement>('[data-focus-key]')).filter(
    (c) => !(c instanceof HTMLButtonElement && c.disabled),
  );
}
