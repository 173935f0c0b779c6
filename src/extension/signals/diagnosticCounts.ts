// Diagnostics as signals: errors from compilers and type checkers are `errors.type`; errors and warnings from
// linters (by the diagnostic's source) are `errors.lint`. A compiler's warnings (unused variables) do not count.

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface DiagnosticLike {
  severity: Severity;
  /** The language server's name for itself: `ts`, `eslint`, `Pylance`, … */
  source?: string;
}

/** Sources that are linters, lower-case; every other source is taken as a compiler or type checker. */
const LINTERS = new Set([
  'eslint',
  'stylelint',
  'biome',
  'ruff',
  'pylint',
  'flake8',
  'pycodestyle',
  'markdownlint',
  'shellcheck',
  'golangci-lint',
  'staticcheck',
  'clippy',
  'rubocop',
  'hadolint',
  'cspell',
]);

export interface DiagnosticSignals {
  'errors.type': number;
  'errors.lint': number;
}

export function isLinter(source: string | undefined): boolean {
  return (
    source !== undefined &&
    LINTERS.has(
      source
        .toLowerCase()
        .replace(/\(.*\)$/, '')
        .trim(),
    )
  );
}

export function diagnosticSignals(diagnostics: Iterable<DiagnosticLike>): DiagnosticSignals {
  const counts: DiagnosticSignals = { 'errors.type': 0, 'errors.lint': 0 };
  for (const d of diagnostics) {
    if (isLinter(d.source)) {
      if (d.severity === 'error' || d.severity === 'warning') counts['errors.lint']++;
    } else if (d.severity === 'error') counts['errors.type']++;
  }
  return counts;
}
