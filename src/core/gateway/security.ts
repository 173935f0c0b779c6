// Who may use the gateway: requests addressed to a loopback name (a web page that rebinds its own DNS name to
// 127.0.0.1 still sends its name as Host), and browser pages only from origins the user allowed, so no web page can
// spend the upstream's key or read the user's conversations.

import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayAccess } from '../workspace/gatewayConfig';

export interface Refusal {
  status: 403;
  message: string;
}

/** Where the user sets who may connect, named in refusals. */
const WHERE_HOSTS =
  '"agentLearning.gateway.allowedHosts" in your user settings (agent-learning serve: --allow-host NAME)';
const WHERE_ORIGINS =
  '"agentLearning.gateway.allowedOrigins" in your user settings (agent-learning serve: --allow-origin ORIGIN)';

/**
 * The hostname of a Host header (`[::1]:11444` → `::1`, `localhost.` → `localhost`), lower-case; undefined when there
 * is none or it is malformed (anything but an optional `:port` after the name).
 */
export function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const h = host.trim().toLowerCase();
  const m = h.startsWith('[')
    ? /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h)
    : /^([^:[\]\s]+)(?::\d{1,5})?$/.exec(h);
  if (!m) return undefined;
  // A fully qualified name's trailing dot names the same host.
  return m[1]!.replace(/(?<=[^.])\.$/, '');
}

/** IPv4 127.0.0.0/8 as dotted decimal. */
function isLoopbackV4(name: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return !!m && m[1] === '127' && m.slice(2).every((o) => Number(o) <= 255);
}

/**
 * `localhost`, 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8 (`::ffff:127.0.0.1`). Not `*.localhost`: only some
 * resolvers keep those on this machine, and a name another resolver may send to DNS is a rebinding target.
 */
export function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || isLoopbackV4(name)) return true;
  if (name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^(?:0{1,4}:){0,5}?:?:ffff:(.+)$/.exec(name) ?? /^(?:0{1,4}:){5}ffff:(.+)$/.exec(name);
  if (!mapped) return false;
  const tail = mapped[1]!;
  if (isLoopbackV4(tail)) return true;
  // ::ffff:7f00:1 — the same address with its last 32 bits in hex.
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(tail);
  return !!hex && parseInt(hex[1]!, 16) >> 8 === 127;
}

function normaliseOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Why a request must be refused, or undefined when it may go on. Runs before the body is read. */
export function refusalFor(
  headers: IncomingHttpHeaders,
  access: Pick<GatewayAccess, 'allowedHosts' | 'allowedOrigins'>,
): Refusal | undefined {
  const name = hostnameOf(headers.host);
  const allowedHosts = new Set(access.allowedHosts.map((h) => h.toLowerCase().replace(/(?<=[^.])\.$/, '')));
  if (name === undefined || !(isLoopbackName(name) || allowedHosts.has(name))) {
    return {
      status: 403,
      message:
        `Agent Learning gateway: refused a request for host ${JSON.stringify(headers.host ?? '')}; it answers ` +
        `loopback names only (localhost, 127.0.0.1, [::1]). To allow another name, add it to ${WHERE_HOSTS}.`,
    };
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    const allowed = new Set(access.allowedOrigins.map(normaliseOrigin));
    if (!allowed.has(normaliseOrigin(origin))) {
      return {
        status: 403,
        message:
          `Agent Learning gateway: refused a browser request from origin ${JSON.stringify(origin)}; a web page may ` +
          `not use your models or upstream key unless you add its origin to ${WHERE_ORIGINS}.`,
      };
    }
    return undefined;
  }
  // No Origin, yet a browser says the request comes from another site (defence in depth: some requests omit Origin).
  const site = first(headers['sec-fetch-site'])?.trim().toLowerCase();
  if (site === 'cross-site' || site === 'same-site') {
    return {
      status: 403,
      message:
        `Agent Learning gateway: refused a ${site} browser request with no Origin; a web page may not use your ` +
        `models or upstream key. Pages from an origin in ${WHERE_ORIGINS} must send their Origin.`,
    };
  }
  return undefined;
}

/**
 * refusalFor, answering a request like the last one as it answered that one: a client sends the same Host (and
 * Origin) with every request, and comparing them costs less than checking them again. Like the last one: the same
 * Host, Origin and Sec-Fetch-Site headers and the same allowed names, compared by value (the settings may change
 * between requests, even in place): all that refusalFor reads.
 */
export class RefusalCheck {
  private last:
    | {
        host: string | undefined;
        origin: string | undefined;
        site: string | string[] | undefined;
        hosts: string[];
        origins: string[];
        refusal: Refusal | undefined;
      }
    | undefined;

  check(
    headers: IncomingHttpHeaders,
    access: Pick<GatewayAccess, 'allowedHosts' | 'allowedOrigins'>,
  ): Refusal | undefined {
    const { host, origin } = headers;
    const site = headers['sec-fetch-site'];
    const last = this.last;
    if (
      last &&
      last.host === host &&
      last.origin === origin &&
      last.site === site &&
      sameNames(last.hosts, access.allowedHosts) &&
      sameNames(last.origins, access.allowedOrigins)
    )
      return last.refusal;
    const refusal = refusalFor(headers, access);
    this.last = {
      host,
      origin,
      site,
      hosts: [...access.allowedHosts],
      origins: [...access.allowedOrigins],
      refusal,
    };
    return refusal;
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}
