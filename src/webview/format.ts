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

/** "1 run", "2 runs", "1,234 runs": a count with its noun, singular for exactly one; "—" for no number. */
export function formatCountOf(n: number | null, singular: string, plural = `${singular}s`): string {
  if (n === null || !Number.isFinite(n)) return DASH;
  return `${integer.format(n)} ${n === 1 ? singular : plural}`;
}

/** Null (no run reported a cost) reads "—", never "0 tokens". */
export function formatTokens(n: number | null): string {
  return formatCountOf(n === null ? null : Math.round(n), 'token');
}

export function formatDurationMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return DASH;
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

/** Below this a price reads "< $0.000001": no model's price needs more, and "$0.0000" would say "free". */
const SMALLEST_USD = 0.000_001;
const usdCents = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/**
 * Dollars as people write them: cents from one cent up ("$2.50", "$1,234.00"); below a cent two significant
 * digits ("$0.0005", "$0.0011"), since a price per 1,000 tokens is often that small and a fixed "$0.0000" would
 * hide it; "$0" for free, "—" for unknown (or a negative price, which is no price).
 */
export function formatUsd(usd: number | null): string {
  if (usd === null || !Number.isFinite(usd) || usd < 0) return DASH;
  if (usd === 0) return '$0';
  if (usd >= 0.01) return `$${usdCents.format(usd)}`;
  if (usd < SMALLEST_USD) return '< $0.000001';
  // From 1e-6 up, String() writes plain decimals, not "1.5e-7".
  return `$${String(Number(usd.toPrecision(2)))}`;
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
