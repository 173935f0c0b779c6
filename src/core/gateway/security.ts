// Who may use the gateway: requests addressed to a loopback name (a web page that rebinds its own DNS name to
// 127.0.0.1 still sends its name as Host), and browser pages only from origins the user allowed, so no web page can
// spend the upstream's key or read the user's conversations.

import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayConfig } from '../workspace/gatewayConfig';

export interface Refusal {
  status: 403;
  message: string;
}

/** The hostname of a Host header (`[::1]:11444` → `::1`), lower-case; undefined when there is none. */
export function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : undefined;
  }
  return h.replace(/:\d*$/, '');
}

/** `localhost`, `*.localhost` (RFC 6761: resolved by the client itself), 127.0.0.0/8 and ::1. */
export function isLoopbackName(name: string): boolean {
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(name) ||
    name === '::1' ||
    name === '0:0:0:0:0:0:0:1'
  );
}

function normaliseOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

/** Why a request must be refused, or undefined when it may go on. Runs before the body is read. */
export function refusalFor(
  headers: IncomingHttpHeaders,
  config: Pick<GatewayConfig, 'allowedHosts' | 'allowedOrigins'>,
): Refusal | undefined {
  const name = hostnameOf(headers.host);
  const allowedHosts = new Set(config.allowedHosts.map((h) => h.toLowerCase()));
  if (name === undefined || !(isLoopbackName(name) || allowedHosts.has(name))) {
    return {
      status: 403,
      message:
        `Agent Learning gateway: refused a request for host ${JSON.stringify(headers.host ?? '')}; it answers ` +
        'loopback names only (localhost, 127.0.0.1, [::1]). To allow another name, add it to "gateway.allowedHosts" ' +
        'in .agent/learning-config.json.',
    };
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    const allowed = new Set(config.allowedOrigins.map(normaliseOrigin));
    if (!allowed.has(normaliseOrigin(origin))) {
      return {
        status: 403,
        message:
          `Agent Learning gateway: refused a browser request from origin ${JSON.stringify(origin)}; a web page may ` +
          'not use your models or upstream key unless you add its origin to "gateway.allowedOrigins" in ' +
          '.agent/learning-config.json.',
      };
    }
  }
  return undefined;
}
