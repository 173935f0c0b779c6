// Element helpers: every string becomes a text node or an attribute value, never markup, so data from agents
// (task slugs, model names) cannot inject HTML; and no inline style or handler attribute is ever written.

/**
 * Lets the codicon font load once the page has: VS Code shows a webview only after its load event, which would
 * otherwise wait for the font (media/common.css).
 */
export function iconFontAfterLoad(): void {
  const loadIcons = () => document.documentElement.classList.add('codicons');
  if (document.readyState === 'complete') loadIcons();
  else window.addEventListener('load', loadIcons, { once: true });
}

/** The page's #root, which webviewHtml.ts always renders. */
export function pageRoot(): HTMLElement {
  const root = document.getElementById('root');
  if (!root) throw new Error('Agent Learning: the page has no #root element');
  return root;
}

export type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  /** Attributes set with setAttribute; `style` and `on*` are refused (the CSP forbids them anyway). */
  attrs?: Record<string, string>;
  onClick?: () => void;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (name === 'style' || name.toLowerCase().startsWith('on')) {
      throw new Error(`h(): attribute ${name} is not allowed; use a class, or the onClick prop`);
    }
    element.setAttribute(name, value);
  }
  if (props.onClick) element.addEventListener('click', props.onClick);
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** A codicon, hidden from screen readers: the control it sits in carries the words. */
export function icon(name: string, extraClass = ''): HTMLSpanElement {
  return h('span', {
    class: `codicon codicon-${name} ${extraClass}`.trim(),
    attrs: { 'aria-hidden': 'true' },
  });
}

export interface ButtonOptions {
  label: string;
  icon?: string;
  /** The accessible name when it says more than the label (or the button shows only an icon). */
  ariaLabel?: string;
  /** Shown as the tooltip; defaults to the aria-label. */
  title?: string;
  kind?: 'primary' | 'secondary' | 'icon';
  pressed?: boolean;
  disabled?: boolean;
  /** Identifies the control across re-renders, so keyboard focus stays where it was. */
  focusKey?: string;
  onClick: () => void;
}

/** A status line: a codicon (`loading~spin` for a spinning one) and text, announced politely to screen readers. */
export function notice(codicon: string, text: string): HTMLElement {
  const [name, modifier] = codicon.split('~');
  return h(
    'p',
    { class: 'notice', attrs: { role: 'status' } },
    icon(name ?? codicon, modifier ? `codicon-modifier-${modifier}` : ''),
    h('span', {}, text),
  );
}

/** A plain button styled like VS Code's (media/*.css `.button`): keyboard-reachable, labelled. */
export function button(options: ButtonOptions): HTMLButtonElement {
  const kind = options.kind ?? 'secondary';
  const attrs: Record<string, string> = { type: 'button' };
  if (options.ariaLabel) attrs['aria-label'] = options.ariaLabel;
  const title = options.title ?? options.ariaLabel;
  if (title) attrs.title = title;
  if (options.pressed !== undefined) attrs['aria-pressed'] = String(options.pressed);
  if (options.focusKey) attrs['data-focus-key'] = options.focusKey;
  const element = h(
    'button',
    { class: `button ${kind}`, attrs, onClick: () => options.onClick() },
    options.icon ? icon(options.icon) : null,
    kind === 'icon' ? null : h('span', { class: 'label' }, options.label),
  );
  element.disabled = options.disabled ?? false;
  return element;
}

/** A themed <progress> with its words beside it: "73 / 100 high-quality runs to export". */
export function progress(current: number, max: number, words: string): HTMLElement {
  const bar = h('progress', { attrs: { 'aria-label': words } });
  bar.max = Math.max(1, max);
  bar.value = Math.min(Math.max(0, current), bar.max);
  return h('div', { class: 'progress' }, bar, h('div', { class: 'progress-label' }, words));
}

/**
 * Replaces `root`'s content with `content`, keeping keyboard focus on the control with the same focus key, so
 * a state update arriving while someone tabs through the runs does not throw them back to the top.
 */
export function renderInto(root: HTMLElement, ...content: Child[]): void {
  const active = document.activeElement;
  const focusKey =
    active instanceof HTMLElement && root.contains(active) ? active.dataset.focusKey : undefined;
  root.replaceChildren();
  append(root, ...content);
  if (focusKey) {
    const again = Array.from(root.querySelectorAll<HTMLElement>('[data-focus-key]')).find(
      (e) => e.dataset.focusKey === focusKey,
    );
    again?.focus();
  }
}
