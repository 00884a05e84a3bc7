import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { afterAll, expect, test } from 'vitest';

// The shipped bundles are minified (`node esbuild.js --production`): a class
// named TimeoutError in source is `q` there, so an error whose name comes from
// its class reads "q: ..." in logs and fails `error.name === 'TimeoutError'`.
// Every error class sets its name as a string; this builds them the way the
// production build does and checks the names that come out.

const root = join(__dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'flowgate-error-names-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** How to make one of each, as source for the probe. A new error class needs a line here. */
const SAMPLE_ARGS: Record<string, string> = {
  TimeoutError: "'connect', 1000",
  HttpError: "500, 'boom'",
  AuthError: "401, 'no key'",
  RedirectError: "302, 'https://elsewhere.example'",
  NetworkError: "'reset', { beforeSend: true }",
  ProtocolError: "'not JSON'",
  ProviderError: "'boom', 'server_error'",
  CancelledError: '',
  EndpointUnavailableError: '0',
  ConfigError: "'bad setting'",
  BudgetExceededError: "'daily', 1, 2",
  UnsafePathError: "'/out/report.json', 'link'",
  BatchLockedError: "'locked', '/out/.flowgate-batch.lock'",
  BatchFilesError: "'/out', Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })",
  UsageError: "'wrong'",
  ModelOptionError: "'modelOptions: bad'",
  FlowgateChatError: "'no such endpoint', 'NotFound'",
};

/** Sent to VS Code's chat without a stack, on purpose (see chat-error.ts). */
const STACKLESS = ['FlowgateChatError'];

interface ErrorClass {
  name: string;
  base: string;
  abstract: boolean;
  exported: boolean;
  file: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every class in src whose chain of `extends` reaches Error. */
function errorClasses(): ErrorClass[] {
  const classes = new Map<string, ErrorClass>();
  for (const file of sourceFiles(join(root, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(
      /^(export\s+)?(abstract\s+)?class\s+(\w+)\s+extends\s+([\w.]+)/gm,
    )) {
      classes.set(m[3]!, { name: m[3]!, base: m[4]!, abstract: Boolean(m[2]), exported: Boolean(m[1]), file });
    }
  }
  const isError = (name: string, seen = new Set<string>()): boolean => {
    if (/^(Error|TypeError|RangeError)$/.test(name)) return true;
    const c = classes.get(name);
    if (!c || seen.has(name)) return false;
    seen.add(name);
    return isError(c.base, seen);
  };
  return [...classes.values()].filter((c) => isError(c.base));
}

test('every error class keeps its name in the minified production build', async () => {
  const all = errorClasses();
  // The scan must be finding them, or the rest proves nothing.
  expect(all.map((c) => c.name)).toEqual(
    expect.arrayContaining([
      'FlowgateError',
      'TimeoutError',
      'AuthError',
      'UnsafePathError',
      'BatchLockedError',
      'BudgetExceededError',
      'UsageError',
    ]),
  );
  expect(all.filter((c) => !c.exported).map((c) => c.name)).toEqual([]);
  const concrete = all.filter((c) => !c.abstract);
  expect(concrete.filter((c) => !(c.name in SAMPLE_ARGS)).map((c) => c.name)).toEqual([]);

  const entry = join(scratch, 'entry.ts');
  const modulePath = (file: string) =>
    JSON.stringify(relative(scratch, file).split('\\').join('/').replace(/\.ts$/, ''));
  writeFileSync(entry, all.map((c) => `export { ${c.name} } from ${modulePath(c.file)};`).join('\n'));
  const bundle = join(scratch, 'errors.js');
  // As esbuild.js builds dist/ with --production.
  await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    sourcemap: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: bundle,
    logLevel: 'silent',
  });

  const probe = `
    const exported = require(${JSON.stringify(bundle)});
    const made = {
      ${concrete.map((c) => `${c.name}: new exported.${c.name}(${SAMPLE_ARGS[c.name]})`).join(',\n')}
    };
    const bases = ${JSON.stringify(Object.fromEntries(all.map((c) => [c.name, c.base])))};
    console.log(JSON.stringify(Object.entries(made).map(([name, error]) => ({
      name,
      instanceName: error.name,
      classNameInBundle: exported[name].name,
      isError: error instanceof Error,
      isBase: bases[name] in exported ? error instanceof exported[bases[name]] : true,
      stackHead: String(error.stack).split(':')[0],
    }))));
  `;
  const results = JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' })) as {
    name: string;
    instanceName: string;
    classNameInBundle: string;
  }[];
  // The minifier did rename the classes: without that, this test would pass for the wrong reason.
  expect(results.filter((r) => r.classNameInBundle !== r.name).length).toBeGreaterThan(results.length / 2);
  expect(results.map(({ classNameInBundle: _, ...r }) => r)).toEqual(
    concrete.map((c) => ({
      name: c.name,
      instanceName: c.name,
      isError: true,
      isBase: true,
      stackHead: STACKLESS.includes(c.name) ? '' : c.name,
    })),
  );
});
