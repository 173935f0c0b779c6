// How a gateway request names its run and its model: the `agent-learning/…` aliases, the X-Agent-Learning-*
// headers, and the config's defaults. Only the aliases are routed; every other model name goes where it says.

import type { IncomingHttpHeaders } from 'node:http';
import { InvalidInputError } from '../errors';
import { checkComplexity, type Complexity } from '../learning/runResult';
import type { GatewayConfig } from '../workspace/gatewayConfig';
import { checkRole } from '../workspace/names';

export const HEADERS = {
  role: 'x-agent-learning-role',
  task: 'x-agent-learning-task',
  tier: 'x-agent-learning-tier',
  maxCost: 'x-agent-learning-max-cost',
} as const;

export interface RouteRequest {
  role: string;
  taskSlug: string;
  /** Set when the model is an alias for the router: the tier and cost cap to pick with. */
  route: { tier: Complexity; maxCostPerToken: number | undefined } | undefined;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

/**
 * `auto`, `agent-learning/auto`: the router picks (role from the header or the default). `agent-learning/auto/<role>`
 * and `agent-learning/<role>`: the router picks for that role; each with or without `:latest`. Anything else:
 * passed through, not routed.
 * Throws InvalidInputError (a 400 for the client) for a bad role, tier or cost in an alias or header.
 */
export function routeRequest(
  model: unknown,
  headers: IncomingHttpHeaders,
  config: Pick<GatewayConfig, 'defaultRole' | 'defaultTask' | 'tier' | 'maxCostPerToken'>,
): RouteRequest {
  let aliasRole: string | undefined;
  let routed = false;
  if (typeof model === 'string') {
    // Ollama's clients name a model without a tag with `:latest` (`auto:latest`): the same alias.
    const name = model.endsWith(':latest') ? model.slice(0, -':latest'.length) : model;
    const m = /^agent-learning\/(?:auto\/)?([^/:]+)$/.exec(name);
    if (name === 'auto' || name === 'agent-learning/auto') routed = true;
    else if (m) {
      routed = true;
      aliasRole = checkRole(m[1], 'model');
    }
  }
  const headerRole = header(headers, HEADERS.role);
  const role =
    aliasRole ?? (headerRole === undefined ? config.defaultRole : checkRole(headerRole, HEADERS.role));
  const task = header(headers, HEADERS.task) ?? config.defaultTask;
  if (task.length > 200) throw new InvalidInputError(HEADERS.task, 'expected at most 200 characters');
  if (!routed) return { role, taskSlug: task, route: undefined };
  const tierHeader = header(headers, HEADERS.tier);
  const tier = tierHeader === undefined ? config.tier : checkTier(tierHeader);
  const costHeader = header(headers, HEADERS.maxCost);
  let maxCostPerToken = config.maxCostPerToken;
  if (costHeader !== undefined) {
    maxCostPerToken = Number(costHeader);
    if (!/^\d+(\.\d+)?(e-?\d+)?$/i.test(costHeader) || !Number.isFinite(maxCostPerToken))
      throw new InvalidInputError(
        HEADERS.maxCost,
        'expected a number of USD per 1,000 tokens, such as 0.002',
      );
  }
  return { role, taskSlug: task, route: { tier, maxCostPerToken } };
}

function checkTier(value: string): Complexity {
  try {
    return checkComplexity(value, 'tier');
  } catch {
    throw new InvalidInputError(HEADERS.tier, `${JSON.stringify(value)}: use small, medium or large`);
  }
}
