// Bundles the extension, the core as a plain Node library and the CLI, and ships sql.js's wasm beside them;
// and the webviews' browser scripts and stylesheets, with the codicon font.
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
  // The converters' encode threads (src/core/convert/encodePool.ts looks for it beside the bundle that runs it).
  { entryPoints: ['src/core/convert/encodeWorker.ts'], outfile: 'dist/encodeWorker.js' },
];
if (fs.existsSync('src/extension/extension.ts')) {
  entries.push({ entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' });
}

// The webviews' page scripts and stylesheets: browser bundles of their own. Each page loads one script and one
// stylesheet (media/<page>.css with what it @imports inlined: the codicons and the shared rules), so nothing on
// the way to the first paint waits for a second request; the codicon font is written beside them.
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
  { entryPoints: ['src/webview/run.ts'], outfile: 'dist/webview/run.js' },
  {
    entryPoints: { sidebar: 'media/sidebar.css', dashboard: 'media/dashboard.css', run: 'media/run.css' },
    outdir: 'dist/webview',
    // One codicon.ttf for every page, under the name webviewHtml.ts knows.
    loader: { '.ttf': 'file' },
    assetNames: '[name]',
    sourcemap: false,
    plugins: [fontUrlWithoutQuery()],
  },
];

/**
 * codicon.css asks for `codicon.ttf?<hash>`: resolved to the file itself, so the pages share one codicon.ttf under
 * a plain name. The hash busts caches that the webview's URLs, which name the extension's version, never meet.
 */
function fontUrlWithoutQuery() {
  return {
    name: 'font-url-without-query',
    setup(build) {
      build.onResolve({ filter: /\.ttf\?/ }, (args) => ({
        path: path.resolve(args.resolveDir, args.path.replace(/\?.*$/, '')),
      }));
    },
  };
}

function cleanWebviewDir() {
  // Start clean, so a production build ships no source maps left by a development one.
  fs.rmSync(path.join('dist', 'webview'), { recursive: true, force: true });
  fs.mkdirSync(path.join('dist', 'webview'), { recursive: true });
}

async function main() {
  fs.mkdirSync('dist', { recursive: true });
  fs.copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), path.join('dist', 'sql-wasm.wasm'));
  cleanWebviewDir();
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
