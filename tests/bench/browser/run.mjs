#!/usr/bin/env node
// Browser benchmark: the same GGUF file in Loupe's web build and in wllama (llama.cpp
// compiled to wasm, npm @wllama/wllama, a devDependency of this folder only), in the same
// headless Chromium (Debian's, driven by playwright-core), single-thread and threaded.
// Serves the page with scripts/serve.mjs: without COOP/COEP for one thread, cross-origin
// isolated for more. Each engine runs in a fresh browser, one after the other; each
// reports the best of two timed runs after a warm-up. Prints one JSON line per run and a
// table with Loupe / wllama.
//
//   (cd tests/bench/browser && npm install)    # once: wllama and playwright-core
//   node tests/bench/browser/run.mjs --model build/bench/llama124m-q8_0.gguf [--threads "1 2"]
//        [--engines "loupe wllama"] [--build build/web] [--json]
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { startServer } from '../../../scripts/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const modelPath = option('--model', '');
const threadsList = option('--threads', '1 2').split(/\s+/).filter(Boolean).map(Number);
const engines = option('--engines', 'loupe wllama').split(/\s+/).filter(Boolean);
const buildDir = path.resolve(option('--build', path.join(root, 'build', 'web')));
const jsonOnly = args.includes('--json');
const TIMEOUT_MS = Number(option('--timeout-s', '600')) * 1000;

function fail(message) {
  console.error(`browser bench: ${message}`);
  process.exit(1);
}
if (!modelPath || !existsSync(modelPath)) fail(`no model file '${modelPath}' (--model FILE.gguf)`);
const wllamaDir = path.join(here, 'node_modules', '@wllama', 'wllama', 'esm');
if (engines.includes('wllama') && !existsSync(wllamaDir)) fail(`no ${wllamaDir}: run npm install in ${path.relative(process.cwd(), here)}`);
for (const f of ['loupe-engine-worker.js', 'loupe-engine-worker-mt.js']) {
  if (engines.includes('loupe') && !existsSync(path.join(buildDir, f))) fail(`no ${path.join(buildDir, f)}: build the web targets loupe-engine-worker and loupe-engine-worker-mt`);
}
// playwright-core from this folder, or from the browser tests' folder.
const require = createRequire(import.meta.url);
let chromium;
for (const from of [here, path.join(root, 'tests', 'browser')]) {
  try {
    ({ chromium } = require(require.resolve('playwright-core', { paths: [from] })));
    break;
  } catch { /* next */ }
}
if (!chromium) fail('playwright-core is not installed (npm install in tests/bench/browser)');

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
];

async function runPage(server, query) {
  const profile = await mkdtemp(path.join(tmpdir(), 'loupe-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.LOUPE_CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('crash', () => errors.push('the page crashed'));
    if (process.env.BENCH_VERBOSE) page.on('console', (m) => console.error(`  [page] ${m.text()}`));
    await page.goto(`${server.url}bench/index.html?${new URLSearchParams(query)}`);
    const handle = await page.waitForFunction(() => window.benchResult, null, { timeout: TIMEOUT_MS, polling: 250 })
      .catch((err) => { throw new Error(`${err.message}${errors.length ? ' (' + errors.join('; ') + ')' : ''}`); });
    return await handle.jsonValue();
  } finally {
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  }
}

const modelDir = path.dirname(path.resolve(modelPath));
const modelUrl = '/bench-models/' + encodeURIComponent(path.basename(modelPath));
const extraRoots = [
  { prefix: '/bench/', dir: here },
  { prefix: '/wllama/', dir: wllamaDir },
  { prefix: '/bench-models/', dir: modelDir },
];
const servers = {
  plain: await startServer({ port: 0, isolation: false, buildDir, quiet: true, extraRoots }),
  isolated: await startServer({ port: 0, isolation: true, buildDir, quiet: true, extraRoots }),
};

const results = [];
try {
  for (const threads of threadsList) {
    const server = threads > 1 ? servers.isolated : servers.plain;
    let text = null;
    for (const engine of engines) {
      const query = { engine, model: modelUrl, threads: String(threads) };
      if (text) query.text = text;
      let result;
      try {
        result = await runPage(server, query);
      } catch (err) {
        result = { engine, error: String(err.message || err) };
      }
      if (result.text) text = result.text;
      delete result.text;
      result.threads_asked = threads;
      result.model = path.basename(modelPath);
      results.push(result);
      console.log(JSON.stringify(result));
    }
  }
} finally {
  for (const s of Object.values(servers)) {
    s.server.closeAllConnections();
    s.server.close();
  }
}

if (!jsonOnly) {
  const find = (engine, threads) => results.find((r) => r.engine === engine && r.threads_asked === threads && !r.error);
  const f = (x) => (x == null ? '-' : x.toFixed(1));
  const ratio = (a, b) => (a != null && b ? (a / b).toFixed(2) + 'x' : '-');
  console.log(`\n${path.basename(modelPath)}: tokens/s in headless Chromium; ratio = Loupe / wllama`);
  console.log('thr | loupe prompt | wllama prompt | ratio | loupe gen | wllama gen | ratio');
  for (const threads of threadsList) {
    const l = find('loupe', threads), w = find('wllama', threads);
    console.log(`${String(threads).padStart(3)} | ${f(l?.prompt_tokens_per_s).padStart(12)} | ${f(w?.prompt_tokens_per_s).padStart(13)} | ` +
      `${ratio(l?.prompt_tokens_per_s, w?.prompt_tokens_per_s).padStart(5)} | ${f(l?.gen_tokens_per_s).padStart(9)} | ` +
      `${f(w?.gen_tokens_per_s).padStart(10)} | ${ratio(l?.gen_tokens_per_s, w?.gen_tokens_per_s).padStart(5)}`);
  }
}
process.exit(results.some((r) => r.error) ? 1 : 0);
