// Ollama model names (types/model/name.go): `[host/][namespace/]model[:tag]`, defaulting to
// registry.ollama.ai/library/…:latest, listed in their shortest form and matched case-insensitively.

'use strict';

const DEFAULT_HOST = 'registry.ollama.ai';
const DEFAULT_NAMESPACE = 'library';
const DEFAULT_TAG = 'latest';

/** @returns {{host: string, namespace: string, model: string, tag: string, valid: boolean, display: string, key: string}} */
function parseName(raw) {
  let s = String(raw ?? '');
  const at = s.lastIndexOf('@');
  if (at >= 0) s = s.slice(0, at);
  let tag = '';
  // "/" cannot be in a tag, so a ":" after the last "/" starts the tag (one before it is a host's port).
  if (s.lastIndexOf(':') > s.lastIndexOf('/')) {
    tag = s.slice(s.lastIndexOf(':') + 1);
    s = s.slice(0, s.lastIndexOf(':'));
  }
  const parts = s.split('/');
  const model = parts.pop() ?? '';
  const namespace = parts.length ? (parts.pop() ?? '') : DEFAULT_NAMESPACE;
  let hostPart = parts.length ? parts.join('/') : DEFAULT_HOST;
  if (hostPart.includes('://')) hostPart = hostPart.slice(hostPart.indexOf('://') + 3);
  const name = { host: hostPart, namespace, model, tag: tag || DEFAULT_TAG };
  const valid =
    validPart(name.host, 'host') &&
    validPart(name.namespace, 'namespace') &&
    validPart(name.model, 'model') &&
    validPart(name.tag, 'tag');
  let display = `${name.model}:${name.tag}`;
  if (name.host !== DEFAULT_HOST) display = `${name.host}/${name.namespace}/${display}`;
  else if (name.namespace !== DEFAULT_NAMESPACE) display = `${name.namespace}/${display}`;
  const key = `${name.host}/${name.namespace}/${name.model}:${name.tag}`.toLowerCase();
  return { ...name, valid, display, key };
}

const MAX_LENGTH = { host: 350, namespace: 80, model: 80, tag: 80 };

function validPart(part, kind) {
  if (part.length < 1 || part.length > MAX_LENGTH[kind]) return false;
  for (let i = 0; i < part.length; i++) {
    const c = part[i];
    const alnum = /[A-Za-z0-9]/.test(c);
    if (i === 0 && !alnum && c !== '_') return false;
    if (alnum || c === '_' || c === '-') continue;
    if (c === '.' && kind !== 'namespace') continue;
    if (c === ':' && kind === 'host') continue;
    return false;
  }
  return true;
}

module.exports = { parseName };
