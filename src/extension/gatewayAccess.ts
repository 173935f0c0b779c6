// The gateway's user-only settings inside VS Code: where `/v1` goes, the address to bind, whom to let in, and the
// upstream key with the origin it was entered for. Read from user settings only (a workspace's .vscode/settings.json
// cannot set them), and kept apart from gatewayHost.ts so they can be tested without VS Code.

import type { UpstreamKey } from '../core/gateway/gateway';
import { DEFAULT_GATEWAY_ACCESS, httpOrigin, type GatewayAccess } from '../core/workspace/gatewayConfig';

/** The settings under `agentLearning.gateway.` that only the user sets (scope application in package.json). */
export const USER_ONLY_SETTINGS = ['openaiBaseUrl', 'bindAddress', 'allowedOrigins', 'allowedHosts'] as const;

/** A setting's user-level value (`inspect(key).globalValue`): a workspace's or folder's value is never read. */
export type UserValue = (key: (typeof USER_ONLY_SETTINGS)[number]) => unknown;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && s.trim() !== '') : [];
}

/**
 * The gateway's access settings from the user's values; InvalidInputError (naming the setting) for an
 * `openaiBaseUrl` that is not an http(s) URL.
 */
export function accessFromSettings(user: UserValue): GatewayAccess {
  const base = user('openaiBaseUrl');
  const openaiBaseUrl = typeof base === 'string' && base.trim() !== '' ? base.trim() : undefined;
  if (openaiBaseUrl !== undefined) httpOrigin(openaiBaseUrl, 'agentLearning.gateway.openaiBaseUrl');
  const bind = user('bindAddress');
  return {
    ...(openaiBaseUrl !== undefined && { openaiBaseUrl }),
    bindAddress:
      typeof bind === 'string' && bind.trim() !== '' ? bind.trim() : DEFAULT_GATEWAY_ACCESS.bindAddress,
    allowedOrigins: strings(user('allowedOrigins')),
    allowedHosts: strings(user('allowedHosts')),
  };
}

/** What SecretStorage holds: the key and the origin it was entered for, as JSON. */
export function storedKey(key: string, origin: string): string {
  return JSON.stringify({ key, origin });
}

/**
 * The key and its origin from SecretStorage. A key stored before keys had an origin (a bare string) gets none: it is
 * sent nowhere until it is entered again for an origin.
 */
export function parseStoredKey(raw: string | undefined): UpstreamKey | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as { key?: unknown; origin?: unknown };
    if (typeof v === 'object' && v !== null && typeof v.key === 'string' && v.key !== '')
      return { key: v.key, origin: typeof v.origin === 'string' ? v.origin : '' };
  } catch {
    // A bare key, from before.
  }
  return { key: raw, origin: '' };
}
