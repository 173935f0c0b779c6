// Bundles the extension, the core as a plain Node library and the CLI, and ships sql.js's wasm beside them;
// and the webviews' browser scripts with the codicon font.
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  external: ['vscode'],
  // jsonc-parser's UMD entry hides its requires from bundlers; its ESM entry bundles cleanly.
  mainFields: ['module', 'main'],
};

const entries = [
  { entryPoints: ['src/core/index.ts'], outfile: 'dist/core.js' },
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
];
if (fs.existsSync('src/extension/extension.ts')) {
  entries.push({ entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' });
}

// The webviews' page scripts: browser bundles of their own, beside the codicon font they draw icons with.
const webview = {
  bundle: true,
  platform: 'browser',
  target: 'es2020',
  format: 'iife',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
};
const webviewEntries = [
  { entryPoints: ['src/webview/sidebar.ts'], outfile: 'dist/webview/sidebar.js' },
  { entryPoints: ['src/webview/dashboard.ts'], outfile: 'dist/webview/dashboard.js' },
];

function copyWebviewAssets() {
  // Start clean, so a production build ships no source maps left by a development one.
  fs.rmSync(path.join('dist', 'webview'), { recursive: true, force: true });
  fs.mkdirSync(path.join('dist', 'webview'), { recursive: true });
  for (const file of ['codicon.css', 'codicon.ttf']) {
    fs.copyFileSync(require.resolve(`@vscode/codicons/dist/${file}`), path.join('dist', 'webview', file));
  }
}

async function main() {
  fs.mkdirSync('dist', { recursive: true });
  fs.copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), path.join('dist', 'sql-wasm.wasm'));
  copyWebviewAssets();
  const contexts = await Promise.all([
    ...entries.map((e) => esbuild.context({ ...common, ...e })),
    ...webviewEntries.map((e) => esbuild.context({ ...webview, ...e })),
  ]);
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  fs.chmodSync('dist/cli.js', 0o755);
  // The editor validates and completes .agent/learning-config.json with the same schema the core enforces.
  delete require.cache[require.resolve('./dist/core.js')];
  const { configJsonSchema } = require('./dist/core.js');
  fs.writeFileSync('dist/learning-config.schema.json', JSON.stringify(configJsonSchema(), null, 2) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
