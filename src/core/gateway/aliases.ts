// The model aliases the gateway routes (`auto`, `agent-learning/auto`, `agent-learning/<role>`), listed beside the
// upstream's own models in `GET /v1/models` and Ollama's `GET /api/tags`, so agents that check a model name against
// the list (or offer the list in a picker) accept them.

import { BUILTIN_ROLES, isRole } from '../workspace/names';

type Json = Record<string, unknown>;

/** Who owns the aliases in an OpenAI model list, and their family in Ollama's. */
export const ALIAS_OWNER = 'agent-learning';

/** `auto`, `agent-learning/auto`, then `agent-learning/<role>` for the built-in roles and `roles`, sorted, once each. */
export function aliasNames(roles: Iterable<string>): string[] {
  const all = new Set<string>(BUILTIN_ROLES);
  for (const role of roles) if (isRole(role) && role !== 'auto') all.add(role);
  return ['auto', 'agent-learning/auto', ...[...all].sort().map((role) => `agent-learning/${role}`)];
}

/** The OpenAI model object of an alias (`GET /v1/models/{id}` and the list's entries). */
export function openAiAlias(id: string, created: number): Json {
  return { id, object: 'model', created, owned_by: ALIAS_OWNER };
}

function ollamaAlias(name: string, modifiedAt: string): Json {
  return {
    name,
    model: name,
    modified_at: modifiedAt,
    size: 0,
    digest: '',
    details: {
      parent_model: '',
      format: '',
      family: ALIAS_OWNER,
      families: [ALIAS_OWNER],
      parameter_size: '',
      quantization_level: '',
    },
  };
}

/**
 * The upstream's model list with the aliases added after its own models (a name the upstream already lists is left
 * as the upstream gave it). Undefined when `doc` is not the list this dialect sends: it is then passed on unchanged.
 */
export function withAliases(
  dialect: 'openai' | 'ollama',
  doc: unknown,
  aliases: string[],
  nowMs: number,
): Json | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const list = doc as Json;
  const field = dialect === 'openai' ? 'data' : 'models';
  const entries = list[field];
  if (!Array.isArray(entries)) return undefined;
  const key = dialect === 'openai' ? 'id' : 'name';
  const listed = new Set(
    entries.map((e) => (typeof e === 'object' && e !== null ? (e as Json)[key] : undefined)),
  );
  const added = aliases
    .filter((name) => !listed.has(name))
    .map((name) =>
      dialect === 'openai'
        ? openAiAlias(name, Math.floor(nowMs / 1000))
        : ollamaAlias(name, new Date(nowMs).toISOString()),
    );
  return { ...list, [field]: [...entries, ...added] };
}
