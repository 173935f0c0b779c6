// Replaces credentials in text with placeholders before anything leaves the database (SFT exports).

interface Rule {
  kind: string;
  pattern: RegExp;
  /**
   * The part of the match that is the secret (the rest is kept), or undefined to leave the match alone.
   * Default: the whole match.
   */
  secretOf?: (groups: (string | undefined)[]) => string | undefined;
}

// Order matters: whole blocks and well-known token shapes before the generic assignment rule.
const RULES: Rule[] = [
  {
    kind: 'private-key',
    pattern:
      /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|$)/g,
  },
  { kind: 'aws-access-key', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { kind: 'github-token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g },
  { kind: 'gitlab-token', pattern: /\bglpat-[A-Za-z0-9_-]{20,}\b/g },
  { kind: 'anthropic-key', pattern: /\bsk-ant-[A-Za-z0-9_-]{20,}\b/g },
  { kind: 'openai-key', pattern: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}\b/g },
  { kind: 'slack-token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g },
  { kind: 'google-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { kind: 'stripe-key', pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g },
  { kind: 'npm-token', pattern: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { kind: 'huggingface-token', pattern: /\bhf_[A-Za-z0-9]{30,}\b/g },
  { kind: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g },
  {
    kind: 'bearer-token',
    pattern: /\b(Bearer|Basic|Token)[ \t]+([A-Za-z0-9._~+/=-]{8,})/gi,
    secretOf: (g) => (/^[a-z]+$/i.test(g[1] ?? '') ? undefined : g[1]),
  },
  {
    kind: 'url-credentials',
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]{3,})(@)/gi,
    secretOf: (g) => g[1],
  },
  {
    // .env-style and code assignments whose name looks secret: API_KEY=..., "password": "...", token: '...'.
    // Quoted values run to the closing quote (passphrases have spaces); unquoted ones stop at a delimiter.
    kind: 'secret-assignment',
    pattern:
      /(\b[A-Za-z0-9_.-]*(?:SECRET|PASSWORD|PASSWD|PWD|TOKEN|API[_-]?KEY|ACCESS[_-]?KEY|PRIVATE[_-]?KEY|CREDENTIALS?)[A-Za-z0-9_]*["']?[ \t]*[:=][ \t]*)(?:(["'])([^"'\n]{6,})\2|([^\s"',;]{6,}))/gi,
    secretOf: (g) => {
      const [prefix = '', , quoted, bare] = g;
      const value = quoted ?? bare ?? '';
      if (isPlaceholder(value)) return undefined;
      // In a .env line (NAME=value) every value is data; elsewhere a bare identifier or call is code.
      if (bare !== undefined && !/^[A-Z0-9_]+=$/.test(prefix.trim()) && looksLikeCode(bare)) return undefined;
      return value;
    },
  },
];

export interface ScrubResult {
  text: string;
  /** Count of replacements by kind. */
  found: Record<string, number>;
}

export function scrubSecrets(input: string): ScrubResult {
  const found: Record<string, number> = {};
  let text = input;
  for (const rule of RULES) {
    text = text.replace(rule.pattern, (...args: unknown[]) => {
      const match = args[0] as string;
      const groups = args.slice(1, -2) as (string | undefined)[];
      const secret = rule.secretOf ? rule.secretOf(groups) : match;
      if (!secret) return match;
      found[rule.kind] = (found[rule.kind] ?? 0) + 1;
      const at = match.lastIndexOf(secret);
      return match.slice(0, at) + `[REDACTED:${rule.kind}]` + match.slice(at + secret.length);
    });
  }
  return { text, found };
}

/** Values that are clearly not secrets: placeholders we wrote, env lookups, obvious dummies. */
function isPlaceholder(value: string): boolean {
  return (
    value.startsWith('[REDACTED') ||
    /^(process\.env|os\.environ|env\(|getenv|\$\{?|<|%|\{\{)/i.test(value) ||
    /^(x+|\*+|changeme|example|placeholder|your[_-]?\w*|null|none|undefined|true|false)$/i.test(value) ||
    /^(Bearer|Basic|Token)$/i.test(value)
  );
}

/** `string`, `config.apiKey`, `getToken()`: an identifier, a property path or a call, not a literal secret. */
function looksLikeCode(value: string): boolean {
  if (/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*(\(.*)?\)?$/.test(value) && !/\d/.test(value)) return true;
  return /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+(\(.*)?$/.test(value) || /^[\w$.]+\(/.test(value);
}

/**
 * The scrubber's code as text: what an export remembers of a run's scrubbed messages (ExportMemo) is used again only
 * while it is the same.
 */
export const SCRUB_CODE = [
  ...RULES.map((r) => `${r.kind} ${String(r.pattern)} ${String(r.secretOf)}`),
  String(scrubSecrets),
  String(isPlaceholder),
  String(looksLikeCode),
].join('\n');
