import assert from 'node:assert/strict';
import {
  compareVersions,
  deployMethodFor,
  normaliseHost,
  OllamaClient,
} from '../../../../src/core/automation/ollama';

describe('Ollama client and versions', () => {
  it('reads OLLAMA_HOST forms as the ollama CLI does', () => {
    assert.equal(normaliseHost('127.0.0.1:11434'), 'http://127.0.0.1:11434');
    assert.equal(normaliseHost('http://localhost:8080/'), 'http://localhost:8080');
    assert.equal(normaliseHost('ollama.internal'), 'http://ollama.internal:11434');
    assert.equal(normaliseHost('https://ollama.example.com'), 'https://ollama.example.com');
    assert.equal(normaliseHost('0.0.0.0'), 'http://127.0.0.1:11434');
  });

  it('chooses the adapter path up to 0.34.0 and the merged path from 0.34.1', () => {
    assert.equal(deployMethodFor('0.34.0'), 'adapter');
    assert.equal(deployMethodFor('0.5.12'), 'adapter');
    assert.equal(deployMethodFor('0.34.1'), 'merged');
    assert.equal(deployMethodFor('0.35.0-rc1'), 'merged');
    assert.equal(deployMethodFor('1.0'), 'merged');
    assert.equal(compareVersions('0.34', '0.34.0'), 0);
    assert.equal(compareVersions('v0.10.2', '0.9.9'), 1);
  });

  it('says how to start Ollama when it is not reachable', async () => {
    const client = new OllamaClient('127.0.0.1:9', fetch, 2000);
    await assert.rejects(client.version(), /not reachable at http:\/\/127\.0\.0\.1:9.*ollama serve/s);
  });
});
