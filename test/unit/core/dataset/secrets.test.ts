import assert from 'node:assert/strict';
import { scrubSecrets } from '../../../../src/core/dataset/secrets';

// Fake credentials in the shapes real ones have; none of them is live.
const RSA_KEY = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun',
  'VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK',
  '-----END RSA PRIVATE KEY-----',
].join('\n');
const OPENSSH_KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACBkZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2VrAAAAkGZha2Vr',
  '-----END OPENSSH PRIVATE KEY-----',
].join('\n');
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.' +
  'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

const CASES: { name: string; text: string; secret: string }[] = [
  { name: 'an AWS access key id', text: 'aws_key_id: AKIAIOSFODNN7EXAMPLE', secret: 'AKIAIOSFODNN7EXAMPLE' },
  {
    name: 'a GitHub personal access token',
    text: 'git clone https://github.com/x/y # ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789',
    secret: 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789',
  },
  {
    name: 'an OpenAI key',
    text: 'const client = new OpenAI("sk-proj-Abc123Def456Ghi789Jkl012Mno345");',
    secret: 'Abc123Def456Ghi789Jkl012Mno345',
  },
  {
    name: 'an Anthropic key',
    text: 'new Anthropic({ apiKey: "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" })',
    secret: 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
  },
  {
    name: 'a Slack bot token',
    text: 'slack.post(xoxb-1234567890123-0987654321098-AbCdEfGhIjKlMnOpQrStUvWx)',
    secret: '1234567890123-0987654321098-AbCdEfGhIjKlMnOpQrStUvWx',
  },
  {
    name: 'a bearer token in an Authorization header',
    text: 'curl -H "Authorization: Bearer 9f8e7d6c5b4a39281706fedcba" https://api.example.com',
    secret: '9f8e7d6c5b4a39281706fedcba',
  },
  {
    name: 'an RSA private key block',
    text: `key = """\n${RSA_KEY}\n"""`,
    secret: 'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun',
  },
  {
    name: 'an OpenSSH private key block',
    text: `${OPENSSH_KEY}\n`,
    secret: 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  },
  {
    name: 'a .env password line',
    text: 'DATABASE_PASSWORD=hunter2hunter2\nPORT=5432',
    secret: 'hunter2hunter2',
  },
  { name: 'a quoted .env API key', text: 'API_KEY="abc123def456"\n', secret: 'abc123def456' },
  {
    name: 'a quoted .env passphrase containing spaces',
    text: 'SMTP_PASSWORD="correct horse battery staple"\n',
    secret: 'correct horse battery staple',
  },
  {
    name: 'a bearer token of twelve characters',
    text: 'Authorization: Bearer abc123def456',
    secret: 'abc123def456',
  },
  {
    name: 'a JSON client secret',
    text: '{ "client_id": "web", "client_secret": "s3cr3t-Value-987" }',
    secret: 's3cr3t-Value-987',
  },
  {
    name: 'the password in a URL',
    text: 'DATABASE_URL is postgres://user:pass1234@host/db',
    secret: 'pass1234',
  },
  { name: 'a JWT', text: `fetch(url, { token: ${JSON.stringify(JWT)} })`, secret: JWT },
];

describe('scrubSecrets', () => {
  for (const c of CASES) {
    it(`replaces ${c.name} with a placeholder`, () => {
      const { text, found } = scrubSecrets(c.text);

      assert.ok(!text.includes(c.secret), `secret still present in: ${text}`);
      assert.match(text, /\[REDACTED:[a-z-]+\]/);
      assert.ok(Object.values(found).reduce((a, b) => a + b, 0) >= 1, 'the replacement is counted');
    });
  }

  it('removes a private key block from BEGIN to END, keeping the text around it', () => {
    const { text } = scrubSecrets(`before\n${RSA_KEY}\nafter`);

    assert.equal(text, 'before\n[REDACTED:private-key]\nafter');
  });

  it('keeps the user name and host of a URL whose password it replaces', () => {
    const { text } = scrubSecrets('postgres://user:pass1234@host/db');

    assert.ok(text.startsWith('postgres://user:'), text);
    assert.ok(text.endsWith('@host/db'), text);
  });

  it('keeps the name of a .env variable whose value it replaces', () => {
    const { text } = scrubSecrets('DATABASE_PASSWORD=hunter2hunter2');

    assert.match(text, /^DATABASE_PASSWORD=\[REDACTED:/);
  });

  for (const code of [
    'const tokenCount = 5;',
    'password = process.env.DB_PASSWORD',
    'function getApiKey() {}',
    'if (token === undefined) return;',
    'interface Session { token: string; }',
    'const apiKey = config.apiKey;',
  ]) {
    it(`leaves ordinary code unchanged: ${code}`, () => {
      const { text, found } = scrubSecrets(code);

      assert.equal(text, code);
      assert.deepEqual(found, {});
    });
  }
});
