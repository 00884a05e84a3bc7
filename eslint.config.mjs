// ESLint for the whole tree: typescript-eslint's type-aware rules (no floating
// promises needs types) and Flowgate's layer rules. Formatting is Prettier's job.
import { dirname, relative, resolve, sep } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/**
 * Which folders a file may import from, by where the file lives. The first
 * zone whose `files` prefix matches applies. `vscode` is allowed only in the
 * host and the composition root; `node` builtins not in the webview.
 */
const ZONES = [
  {
    files: 'src/protocol.ts',
    may: ['src/core/'],
    vscode: false,
    typesOnly: true,
    why: 'the protocol holds types and guards only',
  },
  {
    files: 'src/webview/',
    may: ['src/webview/', 'src/protocol.ts'],
    vscode: false,
    node: false,
    why: 'the webview imports only the protocol and its own files',
  },
  {
    files: 'src/core/',
    may: ['src/core/'],
    vscode: false,
    why: 'the engine never reaches up into the host, the CLI or the webview',
  },
  { files: 'src/cli/', may: ['src/cli/', 'src/core/'], vscode: false, why: 'the CLI runs the engine headless' },
  {
    files: 'src/host/',
    may: ['src/host/', 'src/core/', 'src/protocol.ts'],
    vscode: true,
    why: 'the host talks to the webview only through the protocol',
  },
];

function zoneOf(file) {
  const path = relative(root, file).split(sep).join('/');
  return ZONES.find((zone) => path === zone.files || (zone.files.endsWith('/') && path.startsWith(zone.files)));
}

function checkImport(context, zone, node, source) {
  const spec = source.value;
  if (typeof spec !== 'string') return;
  const report = (what) => context.report({ node: source, message: `${what}: ${zone.why}.` });
  if (zone.typesOnly && node.importKind !== 'type' && node.exportKind !== 'type')
    return report(`${spec} is imported at run time`);
  if (spec === 'vscode') return zone.vscode ? undefined : report(`'vscode' may not be imported here`);
  if (spec.startsWith('node:') && zone.node === false) return report(`${spec} is a Node module`);
  if (!spec.startsWith('.')) return;
  const target = relative(root, resolve(dirname(context.filename), spec))
    .split(sep)
    .join('/');
  const allowed = zone.may.some((prefix) =>
    prefix.endsWith('/') ? `${target}/`.startsWith(prefix) : target === prefix.replace(/\.ts$/, ''),
  );
  if (!allowed) report(`${spec} resolves to ${target}`);
}

/** The layer rule as a plugin, exported so a unit test can prove it fires. */
export const layers = {
  rules: {
    imports: {
      meta: { type: 'problem', schema: [] },
      create(context) {
        const zone = zoneOf(context.filename);
        if (!zone) return {};
        const check = (node) => node.source && checkImport(context, zone, node, node.source);
        return {
          ImportDeclaration: check,
          ExportNamedDeclaration: check,
          ExportAllDeclaration: check,
          ImportExpression: (node) => checkImport(context, zone, node, node.source),
        };
      },
    },
  },
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'e2e-artifacts/**',
      '.vscode-test/**',
      'test/integration/workspace/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { flowgate: layers },
    rules: {
      'flowgate/imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-unreachable': 'error',
      'no-unused-labels': 'error',
      'no-unused-private-class-members': 'error',
    },
  },
  {
    // Tests read JSON from real servers and child processes; their assertions check its shape.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '*.mts'],
    extends: [tseslint.configs.disableTypeChecked],
    // esbuild.js and the CI summary are CommonJS scripts run by node as they are.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
      },
    },
  },
);
