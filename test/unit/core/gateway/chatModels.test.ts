import assert from 'node:assert/strict';
import {
  CHAT_ROLE,
  ROUTER_FAMILY,
  TUNED_FAMILY,
  chatHeaders,
  chatModels,
  chatRequestBody,
  estimateTokens,
  toOpenAiMessages,
  toolCallsOf,
  whyNoChatModels,
} from '../../../../src/core/gateway/chatModels';

describe("chat models (VS Code's model picker)", () => {
  describe('the models offered', () => {
    it('offers the router for the default role and per role, then each deployed tuned model for its role', () => {
      const models = chatModels({
        variants: [
          { id: 'qwen2.5-coder:7b', costPer1kTokens: 0, tiers: ['small', 'medium', 'large'] },
          { id: 'mine-coder', costPer1kTokens: 0, tiers: ['small', 'medium', 'large'], roles: ['coder'] },
          { id: 'mine-fixer-large', costPer1kTokens: 0, tiers: ['large'], roles: ['fixer'] },
          // Someone else's model with a role: not ours to offer as tuned.
          { id: 'other-judge', costPer1kTokens: 0, tiers: ['medium'], roles: ['judge'] },
        ],
        prefix: 'mine',
        roles: ['reviewer', 'coder'],
        defaultRole: 'fixer',
      });
      assert.deepEqual(
        models.map((m) => [m.id, m.family, m.role]),
        [
          ['agent-learning/auto', ROUTER_FAMILY, 'fixer'],
          ['agent-learning/coder', ROUTER_FAMILY, 'coder'],
          ['agent-learning/fixer', ROUTER_FAMILY, 'fixer'],
          ['agent-learning/judge', ROUTER_FAMILY, 'judge'],
          ['agent-learning/reviewer', ROUTER_FAMILY, 'reviewer'],
          ['mine-coder', TUNED_FAMILY, 'coder'],
          ['mine-fixer-large', TUNED_FAMILY, 'fixer'],
        ],
      );
      const tuned = models.find((m) => m.id === 'mine-coder')!;
      assert.match(tuned.tooltip, /recorded as a run \(source: chat, role: coder\)/);
      assert.equal(models[0]!.name, 'Agent Learning: auto');
      assert.ok(
        models.every((m) => m.maxInputTokens > 0 && m.maxOutputTokens > 0 && m.capabilities.toolCalling),
      );
    });

    it('names the role of a tuned model in the headers a gateway client would send; an alias names its own', () => {
      const [auto, , , , tuned] = chatModels({
        variants: [{ id: 'agent-learning-judge', costPer1kTokens: 0, tiers: ['medium'], roles: ['judge'] }],
        prefix: 'agent-learning',
        roles: [],
        defaultRole: 'coder',
      });
      assert.equal(tuned!.id, 'agent-learning-judge');
      assert.deepEqual(chatHeaders(tuned!), { 'x-agent-learning-role': 'judge' });
      assert.deepEqual(chatHeaders(auto!), {});
    });
  });

  describe("VS Code's messages as an OpenAI body", () => {
    const text = (value: string) => ({ value });

    it('joins text parts and keeps roles and names', () => {
      assert.deepEqual(
        toOpenAiMessages([
          { role: CHAT_ROLE.system, content: [text('Be brief.')], name: undefined },
          { role: CHAT_ROLE.user, content: [text('Add '), text('two numbers.')], name: 'ada' },
          { role: CHAT_ROLE.assistant, content: [text('a + b')], name: undefined },
        ]),
        [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Add two numbers.', name: 'ada' },
          { role: 'assistant', content: 'a + b' },
        ],
      );
    });

    it("turns an assistant's tool calls into tool_calls and the user's tool results into tool messages", () => {
      assert.deepEqual(
        toOpenAiMessages([
          { role: CHAT_ROLE.user, content: [text('Weather?')], name: undefined },
          {
            role: CHAT_ROLE.assistant,
            content: [{ callId: 'c1', name: 'get_weather', input: { city: 'Paris' } }],
            name: undefined,
          },
          {
            role: CHAT_ROLE.user,
            content: [{ callId: 'c1', content: [text('18 °C'), { kind: 'other' }] }, text('And tomorrow?')],
            name: undefined,
          },
        ]),
        [
          { role: 'user', content: 'Weather?' },
          {
            role: 'assistant',
            content: '',
            tool_calls: [
              {
                id: 'c1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: '18 °C{"kind":"other"}' },
          { role: 'user', content: 'And tomorrow?' },
        ],
      );
    });

    it('sends a user message that holds only tool results as tool messages alone', () => {
      assert.deepEqual(
        toOpenAiMessages([
          { role: CHAT_ROLE.user, content: [{ callId: 'c1', content: [text('ok')] }], name: undefined },
        ]),
        [{ role: 'tool', tool_call_id: 'c1', content: 'ok' }],
      );
    });

    it('builds a streamed body with the tools, tool mode and model options, which cannot replace the model', () => {
      const body = chatRequestBody(
        'agent-learning/auto',
        [{ role: CHAT_ROLE.user, content: [text('x')], name: undefined }],
        {
          tools: [{ name: 'run', description: 'Runs it' }],
          toolMode: 2,
          modelOptions: { temperature: 0.2, model: 'sneaky', stream: false },
        },
      );
      assert.deepEqual(body, {
        temperature: 0.2,
        model: 'agent-learning/auto',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
        tools: [
          {
            type: 'function',
            function: { name: 'run', description: 'Runs it', parameters: { type: 'object', properties: {} } },
          },
        ],
        tool_choice: 'required',
      });
      assert.equal('tools' in chatRequestBody('m', []), false, 'no tools: no tools field');
    });
  });

  it("reads a completion's tool calls with parsed arguments; arguments that are not JSON become {}", () => {
    assert.deepEqual(
      toolCallsOf({
        role: 'assistant',
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
          { type: 'function', function: { name: 'g', arguments: '{not json' } },
          { type: 'function', function: { arguments: '{}' } },
        ],
      }),
      [
        { callId: 'a', name: 'f', input: { x: 1 } },
        { callId: 'call_1', name: 'g', input: {} },
      ],
    );
    assert.deepEqual(toolCallsOf({ role: 'assistant', content: 'hi' }), []);
  });

  it('estimates about four characters a token', () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('abcdefghi'), 3);
  });
});

describe('why the chat models are absent', () => {
  it('names the VS Code version and the one that has the API, and says the rest works', () => {
    const why = whyNoChatModels('1.100.3', false, true);
    assert.match(why!, /VS Code 1\.100\.3 has no language-model chat provider API \(it came in 1\.104\)/);
    assert.match(why!, /The gateway and everything else work/);
  });

  it('says Restricted Mode keeps them out until the workspace is trusted; nothing when they are offered', () => {
    assert.match(
      whyNoChatModels('1.104.0', true, false)!,
      /not offered in Restricted Mode.*trust the workspace/,
    );
    assert.equal(whyNoChatModels('1.104.0', true, true), undefined);
  });
});
