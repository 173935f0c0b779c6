import assert from 'node:assert/strict';
import { routeRequest } from '../../../../src/core/gateway/routing';

const config = {
  defaultRole: 'coder',
  defaultTask: 'gateway',
  tier: 'medium' as const,
  maxCostPerToken: 0.002,
};

describe('gateway routing: model aliases', () => {
  it("takes an alias the way Ollama's clients name it, with :latest", () => {
    assert.ok(routeRequest('auto:latest', {}, config).route, 'auto:latest is routed');
    assert.ok(routeRequest('agent-learning/auto:latest', {}, config).route);
    const role = routeRequest('agent-learning/fixer:latest', {}, config);
    assert.ok(role.route);
    assert.equal(role.role, 'fixer');
    assert.equal(routeRequest('agent-learning/auto/tester:latest', {}, config).role, 'tester');
  });

  it('passes any other model through, tagged or not', () => {
    assert.equal(routeRequest('qwen2.5-coder:latest', {}, config).route, undefined);
    assert.equal(routeRequest('qwen2.5-coder:7b', {}, config).route, undefined);
    assert.equal(routeRequest('auto:7b', {}, config).route, undefined, 'a tag other than latest is a model');
  });
});
