// Replaces credentials in text with placeholders before anything leaves the database (SFT exports).

interface Rule {
  kind: string;
  pattern: RegExp;
  /** Which capture group holds the secret (the rest of the match is kept); 0 = the whole match. */
  group?: number;
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
  { kind: 'bearer-token', pattern: /\b(Bearer|Basic|Token)\s+([A-Za-z0-9._~+/=-]{16,})/gi, group: 2 },
  {
    kind: 'url-credentials',
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]{3,})(@)/gi,
    group: 2,
  },
  {
    // .env-style and code assignments whose name looks secret: API_KEY=..., "password": "...", token: '...'
    kind: 'secret-assignment',
    pattern:
      /(\b[A-Za-z0-9_.-]*(?:SECRET|PASSWORD|PASSWD|PWD|TOKEN|API[_-]?KEY|ACCESS[_-]?KEY|PRIVATE[_-]?KEY|CLIENT[_-]?SECRET|CREDENTIALS?|AUTH)[A-Za-z0-9_]*["']?\s*[:=]\s*)(["']?)([^\s"',;]{6,})\2/gi,
    group: 3,
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
      if (rule.kind === 'secret-assignment' && isPlaceholder(groups[2] ?? '')) return match;
      found[rule.kind] = (found[rule.kind] ?? 0) + 1;
      const placeholder = `[REDACTED:${rule.kind}]`;
      if (!rule.group) return placeholder;
      const secret = groups[rule.group - 1] ?? '';
      const at = match.lastIndexOf(secret);
      return match.slice(0, at) + placeholder + match.slice(at + secret.length);
    });
  }
  return { text, found };
}

/** Values that are clearly not secrets: placeholders we wrote, env lookups, obvious dummies. */
function isPlaceholder(value: string): boolean {
  return (
    value.startsWith('[REDACTED') ||
    /^(process\.env|os\.environ|env\(|getenv|\$\{?|<|%|\{\{)/i.test(value) ||
    /^(x+|\*+|changeme|example|placeholder|your[_-]?\w*|null|none|undefined|true|false)$/i.test(value)
  );
}
