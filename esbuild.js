// Bundles the three entry points. esbuild does not type-check: `npm run typecheck` runs tsc.
const esbuild = require('esbuild');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const bench = process.argv.includes('--bench');
const integration = process.argv.includes('--integration');
const e2e = process.argv.includes('--e2e');

/** Prints errors in the form VS Code's esbuild problem matcher reads. */
const problemMatcher = {
  name: 'problem-matcher',
  setup(build) {
    build.onStart(() => console.error('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.error('[watch] build finished');
    });
  },
};

const common = {
  bundle: true,
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
  plugins: watch ? [problemMatcher] : [],
};

const targets = [
  {
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    ...common,
    entryPoints: ['src/webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  // gpt-tokenizer's tables, loaded only for dry runs and VS Code chat's token counts (see src/core/tokens/token-counter.ts).
  {
    ...common,
    entryPoints: ['src/core/tokens/token-counter.ts'],
    outfile: 'dist/token-counter.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: false,
    minify: true,
  },
];

// The benchmark and its server process, built only for `npm run bench`; never shipped.
const benchTargets = [
  {
    ...common,
    entryPoints: ['test/bench/main.ts'],
    outfile: 'dist/bench/main.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  },
  {
    ...common,
    entryPoints: ['test/bench/serve.ts'],
    outfile: 'dist/bench/serve.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  },
  {
    ...common,
    entryPoints: ['test/bench/cpu-worker.ts'],
    outfile: 'dist/bench/cpu-worker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  },
];

/** Codicons ship as they are, next to the webview bundle (the panel's CSP allows only the extension's own files). */
function copyCodicons() {
  const fs = require('node:fs');
  const from = require('node:path').join(__dirname, 'node_modules', '@vscode', 'codicons', 'dist');
  fs.mkdirSync('dist', { recursive: true });
  for (const file of ['codicon.css', 'codicon.ttf']) fs.copyFileSync(`${from}/${file}`, `dist/${file}`);
}

// The @vscode/test-electron suite: a launcher, and the suite VS Code loads.
const integrationTargets = [
  {
    ...common,
    entryPoints: ['test/integration/run-integration.ts'],
    outfile: 'dist/test/run-integration.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  },
  {
    ...common,
    entryPoints: ['test/integration/suite/index.ts'],
    outfile: 'dist/test/suite.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
];

// The E2E suite and the demo, run under Node 20 against code-server; playwright-core stays a module.
const e2eTargets = [
  {
    ...common,
    entryPoints: ['test/e2e/run.ts'],
    outfile: 'dist/e2e/run.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['playwright-core'],
  },
  // A second extension that uses Flowgate's models through vscode.lm, packaged by the suite.
  {
    ...common,
    entryPoints: ['test/e2e/lm-client/extension.ts'],
    outfile: 'dist/e2e/lm-client/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: ['test/e2e/demo.ts'],
    outfile: 'dist/e2e/demo.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['playwright-core'],
  },
];

async function main() {
  if (e2e) {
    await Promise.all([...targets, ...e2eTargets].map((t) => esbuild.build(t)));
    copyCodicons();
    return;
  }
  if (integration) {
    await Promise.all([...targets, ...integrationTargets].map((t) => esbuild.build(t)));
    copyCodicons();
    return;
  }
  if (bench) {
    // The shared-limits benchmark runs the CLI in several processes: it is built too.
    await Promise.all([...targets, ...benchTargets].map((t) => esbuild.build(t)));
    copyCodicons();
    return;
  }
  if (watch) {
    const contexts = await Promise.all(targets.map((t) => esbuild.context(t)));
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(targets.map((t) => esbuild.build(t)));
  copyCodicons();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
