// How numbers, durations and times read in the views. Counts follow the user's locale (VS Code sets the
// webview's language to its display language); rewards keep two decimals everywhere so columns line up.

const DASH = '—';
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function formatCount(n: number): string {
  return Number.isFinite(n) ? integer.format(n) : DASH;
}

export function formatReward(r: number): string {
  return Number.isFinite(r) ? r.toFixed(2) : DASH;
}

/** A signed difference of rewards, "+0.04" / "−0.03" / "±0.00". */
export function formatRewardDelta(delta: number): string {
  if (!Number.isFinite(delta)) return DASH;
  const rounded = Math.round(delta * 100) / 100;
  if (rounded === 0) return '±0.00';
  return `${rounded > 0 ? '+' : '−'}${Math.abs(rounded).toFixed(2)}`;
}

export function formatTokens(n: number): string {
  return Number.isFinite(n) ? `${integer.format(n)} tokens` : DASH;
}

export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return formatSeconds(ms / 1000);
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return DASH;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(s % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** "just now", "3 min ago", "5 h ago", "2 d ago", then the date. */
export function formatAge(at: number, now: number): string {
  if (!Number.isFinite(at)) return DASH;
  const seconds = Math.max(0, (now - at) / 1000);
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days < 30) return `${days} d ago`;
  return formatDate(at);
}

export function formatDate(at: number): string {
  return Number.isFinite(at) ? new Date(at).toLocaleDateString() : DASH;
}

export function formatDateTime(at: number): string {
  return Number.isFinite(at) ? new Date(at).toLocaleString() : DASH;
}

export function formatUsd(usd: number | null): string {
  if (usd === null || !Number.isFinite(usd)) return DASH;
  return `$${usd.toFixed(usd < 0.01 ? 4 : 2)}`;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * At most `max` characters as a person counts them (grapheme clusters, so 👩‍💻 or 🇳🇱 is never cut in half), with
 * an ellipsis when shortened. For labels and aria-labels that must stay short: the full text is shown elsewhere.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  // A 100 KB slug need not be segmented whole: no cluster we keep lies beyond the first max * 8 code units.
  const head = text.slice(0, max * 8);
  const kept: string[] = [];
  for (const { segment } of graphemes.segment(head)) {
    kept.push(segment);
    if (kept.length > max) break;
  }
  if (kept.length <= max && head.length === text.length) return text;
  return `${kept.slice(0, max - 1).join('')}…`;
}
