// The colours and font the charts draw with, read from the --vscode-* variables VS Code sets on <html>, and a
// hook for when the user switches theme (VS Code rewrites those variables and the body's class in place).

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

export interface ChartTheme {
  kind: ThemeKind;
  foreground: string;
  muted: string;
  axis: string;
  grid: string;
  background: string;
  fontFamily: string;
  fontSize: number;
  /** Series colours, VS Code's charts.* in an order that keeps neighbours distinguishable. */
  palette: string[];
  good: string;
  bad: string;
}

// Dark Modern's values: used only when a variable is missing (a page opened outside VS Code).
const FALLBACK: Record<string, string> = {
  '--vscode-editor-foreground': '#cccccc',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-font-family': 'system-ui, sans-serif',
  '--vscode-font-size': '13px',
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-green': '#89d185',
  '--vscode-charts-purple': '#b180d7',
  '--vscode-charts-yellow': '#cca700',
  '--vscode-charts-red': '#f14c4c',
};

function cssVar(style: CSSStyleDeclaration, name: string, fallback?: string): string {
  return style.getPropertyValue(name).trim() || fallback || FALLBACK[name] || '';
}

export function themeKind(): ThemeKind {
  const classes = document.body.classList;
  if (classes.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (classes.contains('vscode-high-contrast')) return 'high-contrast';
  return classes.contains('vscode-light') ? 'light' : 'dark';
}

export function readChartTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  const foreground = cssVar(style, '--vscode-charts-foreground', cssVar(style, '--vscode-editor-foreground'));
  const kind = themeKind();
  const highContrast = kind === 'high-contrast' || kind === 'high-contrast-light';
  // charts.lines is a translucent foreground; high contrast themes draw with their border colour instead.
  const axis = highContrast
    ? cssVar(style, '--vscode-contrastBorder', foreground)
    : cssVar(style, '--vscode-charts-lines', withAlpha(foreground, 0.5));
  return {
    kind,
    foreground,
    muted: cssVar(style, '--vscode-descriptionForeground'),
    axis,
    // Grid lines behind the data stay fainter than the axes; high contrast keeps them clearly visible.
    grid: withAlpha(axis, highContrast ? 0.6 : 0.4),
    background: cssVar(style, '--vscode-editor-background'),
    fontFamily: cssVar(style, '--vscode-font-family'),
    fontSize: parseFloat(cssVar(style, '--vscode-font-size')) || 13,
    palette: ['blue', 'orange', 'green', 'purple', 'yellow', 'red'].map((c) =>
      cssVar(style, `--vscode-charts-${c}`),
    ),
    good: cssVar(style, '--vscode-charts-green'),
    bad: cssVar(style, '--vscode-charts-red'),
  };
}

/** `color` with opacity `alpha`, for hex colours (what VS Code's themes use); other notations pass unchanged. */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(color.trim())?.[1];
  if (!hex) return color;
  const full = hex.length <= 4 ? [...hex].map((c) => c + c).join('') : hex;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
  const own = full.length === 8 ? parseInt(full.slice(6, 8), 16) / 255 : 1;
  return `rgba(${r}, ${g}, ${b}, ${Math.round(own * alpha * 1000) / 1000})`;
}

/** Calls `onChange` after VS Code switches theme (it rewrites <html>'s style and <body>'s class). */
export function onThemeChange(onChange: () => void): void {
  let pending = false;
  const observer = new MutationObserver(() => {
    // Both attributes change together on a switch: redraw once, after both.
    if (pending) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      onChange();
    });
  });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
