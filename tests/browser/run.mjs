#!/usr/bin/env node
// Browser tests of Loupe's web build in headless Chromium (Debian's, driven by
// playwright-core). Starts our own server (scripts/serve.mjs) on free ports: one
// cross-origin isolated (threaded build), one without isolation (single-thread build).
// Every page must load without a page error or console error. Screenshots go to
// build/screenshots/. Prints "ok"/"FAILED" per test and ends with "N passed, N failed".
//
//   node tests/browser/run.mjs [--build DIR] [--filter TEXT]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const buildDir = path.resolve(option('--build', path.join(root, 'build', 'web')));
const filter = option('--filter', '');
const screenshots = path.join(root, 'build', 'screenshots');
const READY_TIMEOUT_MS = 90_000;

// Debian's Chromium, software WebGL through SwiftShader (docs: shared/TOOLCHAIN.md).
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--enable-unsafe-swiftshader', '--use-angle=swiftshader',
];

// A fresh browser with an empty profile; collects page and console errors.
async function openBrowser({ deviceScaleFactor = 1, viewport = { width: 1280, height: 800 }, initScript } = {}) {
  const profile = await mkdtemp(path.join(tmpdir(), 'loupe-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.LOUPE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    deviceScaleFactor,
  });
  if (initScript) await context.addInitScript(initScript);
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('crash', () => errors.push('the page crashed'));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console error: ${msg.text()}`);
  });
  const close = async () => {
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  };
  return { page, errors, close };
}

// Waits for window.loupe.ready and returns what the page reports about itself.
async function waitReady(page) {
  return page.evaluate((timeout) => Promise.race([
    window.loupe.ready.then(() => {
      const canvas = document.getElementById('canvas');
      return {
        version: window.loupe.version,
        threads: window.loupe.threads,
        threaded: window.loupe.threaded,
        build: window.loupe.build,
        crossOriginIsolated: window.crossOriginIsolated,
        canvas: { width: canvas.width, height: canvas.height, cssWidth: canvas.clientWidth, cssHeight: canvas.clientHeight },
        dpr: window.devicePixelRatio,
        viewport: { width: window.innerWidth, height: window.innerHeight },
      };
    }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`loupe.ready did not resolve in ${timeout} ms`)), timeout)),
  ]), READY_TIMEOUT_MS);
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function checkCommon(info) {
  assert(typeof info.version === 'string' && info.version.length > 0, `loupe.version is ${JSON.stringify(info.version)}`);
  assert(/^\d+\.\d+\.\d+/.test(info.version), `loupe.version "${info.version}" is not a version`);
  assert(Number.isInteger(info.threads) && info.threads >= 1, `loupe.threads is ${info.threads}`);
  // The canvas fills the window, and its backing store is CSS size x devicePixelRatio.
  assert(info.canvas.cssWidth === info.viewport.width && info.canvas.cssHeight === info.viewport.height,
    `canvas is ${info.canvas.cssWidth}x${info.canvas.cssHeight} CSS px in a ${info.viewport.width}x${info.viewport.height} window`);
  assert(Math.abs(info.canvas.width - info.canvas.cssWidth * info.dpr) <= 1 &&
         Math.abs(info.canvas.height - info.canvas.cssHeight * info.dpr) <= 1,
    `canvas backing store ${info.canvas.width}x${info.canvas.height} is not CSS size x ${info.dpr}`);
}

// Frames keep coming after ready (the app is alive, not just its first frame).
async function checkAnimating(page) {
  const frames = await page.evaluate(() => new Promise((resolve) => {
    let n = 0;
    const tick = () => (++n < 5 ? requestAnimationFrame(tick) : resolve(n));
    requestAnimationFrame(tick);
  }));
  assert(frames === 5, 'the page stopped animating');
}

async function screenshot(page, name) {
  await mkdir(screenshots, { recursive: true });
  const file = path.join(screenshots, name);
  await page.screenshot({ path: file });
  return path.relative(root, file);
}

// The colour of one CSS pixel of the page, from a 1x1 screenshot. For a single pixel
// every PNG filter leaves the bytes as they are, so inflating IDAT is the whole decoder.
async function pixelAt(page, x, y) {
  const png = await page.screenshot({ clip: { x, y, width: 1, height: 1 }, scale: 'css' });
  let offset = 8;
  const idat = [];
  let colorType = 2;
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') colorType = data[9];
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  assert(colorType === 2 || colorType === 6, `unexpected PNG colour type ${colorType}`);
  return [raw[1], raw[2], raw[3]];
}

function noErrors(errors) {
  assert(errors.length === 0, errors.join('\n    '));
}

// --- the tests -------------------------------------------------------------------------
const servers = {};

const tests = [
  {
    name: 'threaded build loads with COOP/COEP (loupe-mt.js)',
    async run() {
      const browser = await openBrowser();
      try {
        await browser.page.goto(servers.isolated.url);
        const info = await waitReady(browser.page);
        checkCommon(info);
        assert(info.crossOriginIsolated === true, 'page is not cross-origin isolated');
        assert(info.build === 'loupe-mt' && info.threaded === true, `build ${info.build}, threaded ${info.threaded}`);
        await checkAnimating(browser.page);
        const shot = await screenshot(browser.page, 'app.png');
        noErrors(browser.errors);
        return `version ${info.version}, ${info.threads} threads, ${shot}`;
      } finally {
        await browser.close();
      }
    },
  },
  {
    name: 'single-thread build loads without isolation (loupe.js)',
    async run() {
      const browser = await openBrowser();
      try {
        await browser.page.goto(servers.plain.url);
        const info = await waitReady(browser.page);
        checkCommon(info);
        assert(info.crossOriginIsolated === false, 'page should not be cross-origin isolated');
        assert(info.build === 'loupe' && info.threaded === false && info.threads === 1,
          `build ${info.build}, threaded ${info.threaded}, threads ${info.threads}`);
        await checkAnimating(browser.page);
        const shot = await screenshot(browser.page, 'app-single-thread.png');
        noErrors(browser.errors);
        return `version ${info.version}, ${shot}`;
      } finally {
        await browser.close();
      }
    },
  },
  {
    name: 'HiDPI: canvas renders at devicePixelRatio 2',
    async run() {
      const browser = await openBrowser({ deviceScaleFactor: 2, viewport: { width: 900, height: 600 } });
      try {
        await browser.page.goto(servers.isolated.url);
        const info = await waitReady(browser.page);
        checkCommon(info);
        assert(info.dpr === 2 && info.canvas.width === 1800, `dpr ${info.dpr}, canvas ${info.canvas.width} wide`);
        const shot = await screenshot(browser.page, 'app-hidpi.png');
        noErrors(browser.errors);
        return shot;
      } finally {
        await browser.close();
      }
    },
  },
  {
    name: 'canvas follows the window when it is resized',
    async run() {
      const browser = await openBrowser();
      try {
        await browser.page.goto(servers.isolated.url);
        await waitReady(browser.page);
        await browser.page.setViewportSize({ width: 700, height: 500 });
        await browser.page.waitForFunction(() => {
          const c = document.getElementById('canvas');
          return c.width === Math.round(700 * devicePixelRatio) && c.height === Math.round(500 * devicePixelRatio);
        }, null, { timeout: 10_000 }).catch(async () => {
          const size = await browser.page.evaluate(() => [canvas.width, canvas.height]);
          throw new Error(`canvas backing store stayed ${size.join('x')} after resizing to 700x500`);
        });
        await checkAnimating(browser.page);
        const shot = await screenshot(browser.page, 'app-resized.png');
        noErrors(browser.errors);
        return shot;
      } finally {
        await browser.close();
      }
    },
  },
  {
    name: 'mouse input reaches the app: theme switch and navigation',
    async run() {
      // Chromium's headless default colour scheme is light, so the app starts light.
      const browser = await openBrowser();
      try {
        await browser.page.goto(servers.isolated.url);
        await waitReady(browser.page);
        const brightness = (rgb) => rgb[0] + rgb[1] + rgb[2];
        const before = await pixelAt(browser.page, 4, 4);
        assert(brightness(before) > 600, `expected the light theme, corner is rgb(${before})`);
        // The theme button sits at the bottom of the navigation (src/app/workspace.cpp).
        const viewport = browser.page.viewportSize();
        await browser.page.mouse.click(100, viewport.height - 70);
        await browser.page.waitForTimeout(500);
        const after = await pixelAt(browser.page, 4, 4);
        assert(brightness(after) < 150, `the theme button did not switch to dark: corner is rgb(${after})`);
        // The third entry of the navigation ("Generate"), then System through window.loupe.
        await browser.page.mouse.click(60, 178);
        await browser.page.mouse.move(700, 650);  // no tooltip in the screenshot
        await browser.page.waitForTimeout(300);
        await browser.page.evaluate(() => window.loupe.showView('System'));
        await browser.page.waitForTimeout(300);
        const shot = await screenshot(browser.page, 'app-system-dark.png');
        noErrors(browser.errors);
        return shot;
      } finally {
        await browser.close();
      }
    },
  },
  {
    name: 'without WebGL2 the page explains instead of showing a blank canvas',
    async run() {
      const browser = await openBrowser({
        initScript: () => {
          const original = HTMLCanvasElement.prototype.getContext;
          HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
            return type === 'webgl2' ? null : original.call(this, type, ...rest);
          };
        },
      });
      try {
        await browser.page.goto(servers.isolated.url);
        const outcome = await browser.page.evaluate(() => window.loupe.ready.then(() => 'resolved', (e) => String(e.message)));
        assert(outcome !== 'resolved', 'loupe.ready resolved without WebGL2');
        const problem = browser.page.locator('#problem');
        await problem.waitFor({ state: 'visible', timeout: 5000 });
        const text = await problem.innerText();
        assert(/WebGL 2/.test(text), `the message does not mention WebGL 2: ${text}`);
        assert(!(await browser.page.locator('#canvas').isVisible()), 'the blank canvas is shown');
        const requested = await browser.page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
        assert(!requested.some((url) => /\.wasm$/.test(url)), 'the wasm was downloaded anyway');
        await screenshot(browser.page, 'no-webgl2.png');
        noErrors(browser.errors);
        return 'shows: ' + text.split('\n')[0];
      } finally {
        await browser.close();
      }
    },
  },
  {
    name: 'without WebAssembly the page explains',
    async run() {
      const browser = await openBrowser({ initScript: () => { delete window.WebAssembly; } });
      try {
        await browser.page.goto(servers.plain.url);
        const problem = browser.page.locator('#problem');
        await problem.waitFor({ state: 'visible', timeout: 5000 });
        const text = await problem.innerText();
        assert(/WebAssembly is not available/.test(text), `the message does not mention WebAssembly: ${text}`);
        noErrors(browser.errors);
        return 'ok';
      } finally {
        await browser.close();
      }
    },
  },
  {
    name: 'server: MIME types, COOP/COEP, Range requests, 404s',
    async run() {
      const base = servers.isolated.url;
      const wasm = await fetch(base + 'loupe.wasm', { method: 'HEAD' });
      assert(wasm.status === 200, `HEAD loupe.wasm: ${wasm.status}`);
      assert(wasm.headers.get('content-type') === 'application/wasm', `wasm MIME ${wasm.headers.get('content-type')}`);
      assert(wasm.headers.get('cross-origin-opener-policy') === 'same-origin', 'no COOP header');
      assert(wasm.headers.get('cross-origin-embedder-policy') === 'require-corp', 'no COEP header');
      const size = Number(wasm.headers.get('content-length'));
      const index = await fetch(base);
      assert(index.ok && /text\/html/.test(index.headers.get('content-type')), 'index is not HTML');
      const js = await fetch(base + 'loupe.js', { method: 'HEAD' });
      assert(/text\/javascript/.test(js.headers.get('content-type')), `js MIME ${js.headers.get('content-type')}`);

      const part = await fetch(base + 'loupe.wasm', { headers: { Range: 'bytes=0-3' } });
      assert(part.status === 206, `Range 0-3: ${part.status}`);
      assert(part.headers.get('content-range') === `bytes 0-3/${size}`, `Content-Range ${part.headers.get('content-range')}`);
      const magic = Buffer.from(await part.arrayBuffer());
      assert(magic.equals(Buffer.from([0x00, 0x61, 0x73, 0x6d])), `first bytes ${magic.toString('hex')} are not \\0asm`);
      const tail = await fetch(base + 'loupe.wasm', { headers: { Range: 'bytes=-10' } });
      assert(tail.status === 206 && (await tail.arrayBuffer()).byteLength === 10, 'suffix range');
      const beyond = await fetch(base + 'loupe.wasm', { headers: { Range: `bytes=${size}-` } });
      assert(beyond.status === 416, `Range past the end: ${beyond.status}`);

      const font = await fetch(base + 'assets/fonts/NotoSans-Regular.ttf', { method: 'HEAD' });
      assert(font.status === 200 && font.headers.get('content-type') === 'font/ttf', 'assets/ not served');
      const missing = await fetch(base + 'no-such-file.txt');
      assert(missing.status === 404, `missing file: ${missing.status}`);
      const escape = await fetch(base + '..%2f..%2fetc%2fpasswd');
      assert(escape.status === 404 || escape.status === 400, `path traversal: ${escape.status}`);

      const plain = await fetch(servers.plain.url, { method: 'HEAD' });
      assert(plain.headers.get('cross-origin-opener-policy') === null, '--no-isolation still sends COOP');
      return `loupe.wasm ${size} bytes`;
    },
  },
  ...modelTests(),
  ...explainTests(),
  ...lessonTests(),
  ...layoutTests(),
];

// --- models: the engine in its Web Worker -----------------------------------------------
// Test models, made before the tests run (see prepareModels): a tiny random-weight Llama
// written by `loupe-cli bench-model` (needs build/native), the reference Llama from
// ../shared when it is there, and a broken file.
const models = { dir: path.join(root, 'build', 'test-models'), tiny: null, ref: null, cli: null };
const SHARED = process.env.LOUPE_SHARED_DIR || path.join(root, '..', 'shared');

async function prepareModels() {
  await mkdir(models.dir, { recursive: true });
  const cli = path.join(root, 'build', 'native', 'src', 'cli', 'loupe-cli');
  if (existsSync(cli)) {
    models.cli = cli;
    const tiny = path.join(models.dir, 'tiny-q8_0.gguf');
    execFileSync(cli, ['bench-model', '-o', tiny, '--type', 'q8_0', '--dim', '64', '--layers', '2', '--heads', '4',
      '--kv-heads', '2', '--ff', '128', '--vocab', '600', '--seed', '3'], { stdio: 'ignore' });
    models.tiny = { file: tiny, url: '/test-models/tiny-q8_0.gguf' };
    // The same model as a Hugging Face folder, for picking a safetensors model as its files.
    const hf = path.join(models.dir, 'tiny-hf');
    execFileSync(cli, ['to-safetensors', '-m', tiny, '-o', hf], { stdio: 'ignore' });
    models.hf = { dir: hf, url: '/test-models/tiny-hf/' };
  }
  const ref = path.join(SHARED, 'reference', 'models', 'ref-llama-q8_0.gguf');
  if (existsSync(ref)) models.ref = { file: ref, url: '/ref-models/ref-llama-q8_0.gguf' };
  // Starts like a GGUF file, then nonsense: the engine must refuse it with a message.
  await writeFile(path.join(models.dir, 'broken.gguf'), Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(64, 0xab)]));
  await writeFile(path.join(models.dir, 'not-a-model.gguf'), 'This is a text file, not a model.\n');
}

const sha256File = async (file) => createHash('sha256').update(await readFile(file)).digest('hex');

class Skip extends Error {}

function needModel(which) {
  if (!models[which]) {
    throw new Skip(which === 'ref' ? `SKIPPED: no ${path.join(SHARED, 'reference/models/ref-llama-q8_0.gguf')}`
                                   : 'SKIPPED: build/native/src/cli/loupe-cli is not built (it writes the test model)');
  }
  return models[which];
}

// The page (without the auto-loaded bundled model), ready, with errors collected.
async function openApp(base, options = {}) {
  const browser = await openBrowser(options);
  // ?sw=off: these tests are about the engine; the offline test covers the service worker.
  await browser.page.goto(base + '?model=none&sw=off' + (options.query || ''));
  await waitReady(browser.page);
  await browser.page.evaluate(() => new Promise((resolve) => {
    const poll = () => (window.loupe.engine.ready ? resolve() : setTimeout(poll, 50));
    poll();
  }));
  return browser;
}

async function showView(page, name, shot) {
  await page.evaluate((n) => window.loupe.showView(n), name);
  await page.mouse.move(1270, 5);  // no hover tooltip
  await page.waitForTimeout(400);
  return shot ? screenshot(page, shot) : null;
}

// `loupe-cli run --json` with the same settings: {ids, text, steps, seed, settings}.
function cliRun(model, prompt, s) {
  const out = execFileSync(models.cli, ['run', '--model', model, '--prompt', prompt, '-n', String(s.maxTokens),
    '--temp', String(s.temperature), '--top-k', String(s.topK), '--top-p', String(s.topP), '--min-p', String(s.minP),
    '--repeat-penalty', String(s.repeatPenalty), '--seed', String(s.seed), '-t', '1', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8');
  const run = JSON.parse(out);
  assert(run.seed === s.seed && run.steps.length === run.ids.length, `loupe-cli run --json: ${out.slice(0, 200)}`);
  assert(run.steps.map((step) => step.id).join(' ') === run.ids.join(' '), 'loupe-cli steps and ids disagree');
  return run;
}

// The same ids and text as loupe-cli, or an error that shows both.
function sameAsCli(web, cli, what) {
  assert(web.ids.join(' ') === cli.ids.join(' '), `${what} ids [${web.ids.join(' ')}] != loupe-cli [${cli.ids.join(' ')}]`);
  assert(web.text === cli.text, `${what} text ${JSON.stringify(web.text)} != loupe-cli ${JSON.stringify(cli.text)}`);
}

// Console lines Chromium itself writes for a failed fetch (expected in the 404 test).
const expectedNetworkError = (line) => /Failed to load resource: the server responded with a status of 404/.test(line);

function modelTests() {
  const settings = { seed: 1234, maxTokens: 24, temperature: 0.9, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1 };
  return [
    {
      name: 'model: load from a URL with progress to 100%, card with SHA-256, generate as loupe-cli does',
      async run() {
        const tiny = needModel('tiny');
        const browser = await openApp(servers.isolated.url);
        try {
          const page = browser.page;
          const engine = await page.evaluate(() => window.loupe.engine);
          const isolated = await page.evaluate(() => [window.crossOriginIsolated, window.loupe.build, location.href]);
          // A cross-origin isolated page gets the threaded engine (pthreads).
          assert(engine.threaded === true && engine.build === 'loupe-engine-worker-mt' && isolated[0] === true,
            `engine ${JSON.stringify(engine)}, page ${JSON.stringify(isolated)}`);
          const { card, progress } = await page.evaluate(async (url) => {
            const progress = [];
            const card = await window.loupe.loadModel(url, { onProgress: (p) => progress.push(p) });
            return { card, progress };
          }, tiny.url);
          const last = progress[progress.length - 1];
          assert(last && last.total > 0 && last.loaded === last.total, `progress ended at ${JSON.stringify(last)}`);
          assert(card.architecture === 'llama', `card ${JSON.stringify(card).slice(0, 200)}`);
          assert(card.sha256 === await sha256File(tiny.file), `sha256 ${card.sha256}`);
          assert((await page.evaluate(() => window.loupe.model.name)) === card.name, 'loupe.model is not the card');
          const prompt = 'the quick brown fox';
          const result = await page.evaluate(async ([p, s]) => {
            const tokens = [];
            const r = await window.loupe.generate({ prompt: p, ...s, onToken: (t) => tokens.push(t) });
            return { ...r, streamed: tokens.length, alts: tokens[0] && tokens[0].alternatives.length };
          }, [prompt, settings]);
          assert(result.ids.length === settings.maxTokens && result.stopReason === 'max_tokens',
            `${result.ids.length} ids, stop ${result.stopReason}`);
          assert(result.streamed === result.ids.length && result.alts > 0, `onToken saw ${result.streamed} tokens`);
          sameAsCli(result, cliRun(tiny.file, prompt, settings), 'threaded web');
          const again = await page.evaluate(([p, s]) => window.loupe.generate({ prompt: p, ...s }), [prompt, settings]);
          assert(JSON.stringify(again.ids) === JSON.stringify(result.ids), 'the same seed gave other tokens');
          const shot = await showView(page, 'Generate', 'generate.png');
          await showView(page, 'Model', 'model.png');
          noErrors(browser.errors);
          return `${engine.threads} threads, ${result.ids.length} tokens at ${result.tokensPerSecond.toFixed(0)} tokens/s, same ids and text as loupe-cli run --json; ${shot}`;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'model: the reference Llama tokenizes as loupe-cli, generates, cancel stops it, the app shows it',
      async run() {
        const ref = needModel('ref');
        const browser = await openApp(servers.isolated.url);
        try {
          const page = browser.page;
          await page.evaluate((url) => window.loupe.loadModel(url), ref.url);
          const tokens = await page.evaluate(() => window.loupe.tokenize('The nurse said that she', { bos: true }));
          assert(tokens.ids.join(' ') === '1 450 5595 344 1497 393 1183', `ids ${tokens.ids.join(' ')}`);
          const greedy = { ...settings, temperature: 0, maxTokens: 8, seed: 1 };
          const result = await page.evaluate((s) => window.loupe.generate({ prompt: 'The nurse', ...s }), greedy);
          if (models.cli) {
            sameAsCli(result, cliRun(ref.file, 'The nurse', greedy), 'web');
          }
          // A long generation, cancelled after a few tokens.
          const cancelled = await page.evaluate(() => new Promise((resolve, reject) => {
            let n = 0;
            window.loupe.generate({ prompt: 'Once upon a time', maxTokens: 400, seed: 3, onToken: () => {
              if (++n === 3) window.loupe.cancel();
            } }).then((r) => resolve({ stop: r.stopReason, n: r.ids.length }), reject);
          }));
          assert(cancelled.stop === 'stopped' && cancelled.n < 400, `cancel: ${JSON.stringify(cancelled)}`);
          // The app's Generate view shows the page's generation; the Tokens view splits text.
          await page.evaluate(() => window.loupe.generate({ prompt: 'The nurse said that', maxTokens: 20, seed: 7, temperature: 0.8 }));
          const generate = await showView(page, 'Generate', 'generate-reference.png');
          const tokensShot = await showView(page, 'Tokens', 'tokens.png');
          const explain = await page.evaluate(() => window.loupe.explain({ prompt: 'The nurse said', what: 'lens' }).then(
            (r) => Object.keys(r || {}).join(','), (e) => 'error: ' + e.message));
          assert(!/^error/.test(explain), `explain: ${explain}`);
          noErrors(browser.errors);
          return `tokenize and greedy text agree with loupe-cli; cancel after ${cancelled.n} tokens; explain → ${explain}; ${generate}, ${tokensShot}`;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'model: file picker and drag and drop; a broken file keeps the previous model (threaded engine); the cache',
      async run() {
        const tiny = needModel('tiny');
        const browser = await openApp(servers.isolated.url);
        try {
          const page = browser.page;
          // The engine errors below are C++ exceptions inside the pthread build.
          const engine = await page.evaluate(() => window.loupe.engine);
          assert(engine.threaded === true, `engine ${JSON.stringify(engine)}`);
          let step = 'file picker';
          page.on('crash', () => console.log(`    (the page crashed during: ${step})`));
          await page.setInputFiles('#model-file', tiny.file);
          await page.waitForFunction(() => window.loupe.model && window.loupe.model.source === 'tiny-q8_0.gguf', null, { timeout: 30_000 });
          step = 'drop';
          // A synthetic drop of a broken file: an error, and the model stays.
          const dropped = await page.evaluate(async () => {
            const bytes = await (await fetch('/test-models/broken.gguf')).arrayBuffer();
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'broken.gguf'));
            document.getElementById('canvas').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
            return 'dropped';
          });
          await page.waitForTimeout(1000);
          const still = await page.evaluate(() => window.loupe.model.source);
          assert(still === 'tiny-q8_0.gguf', `after the broken file the model is ${still}`);
          step = 'broken URL';
          const broken = await page.evaluate(() => window.loupe.loadModel('/test-models/broken.gguf').then(() => 'loaded', (e) => e.message));
          assert(broken !== 'loaded' && broken.length > 10, `broken file: ${broken}`);
          const text = await page.evaluate(() => window.loupe.loadModel('/test-models/not-a-model.gguf').then(() => 'loaded', (e) => e.message));
          assert(/not a model/.test(text), `text file: ${text}`);
          step = 'generate after';
          const after = await page.evaluate(() => window.loupe.generate({ prompt: 'hello', maxTokens: 4, seed: 1 }));
          assert(after.ids.length === 4, 'the previous model does not generate');
          const brokenShot = await showView(page, 'Model', 'model-error.png');
          step = 'cache';
          // Loaded from a URL once, the model comes from the cache the next time.
          await page.evaluate((url) => window.loupe.loadModel(url), tiny.url);
          const second = await page.evaluate((url) => {
            let cached = false;
            return window.loupe.loadModel(url, { onProgress: (p) => { cached = cached || p.fromCache; } }).then(() => cached);
          }, tiny.url);
          assert(second === true, 'the second load did not come from the cache');
          const listed = await page.evaluate(() => window.loupe.cachedModels());
          assert(listed.some((m) => m.url.endsWith('tiny-q8_0.gguf')), `cache lists ${JSON.stringify(listed)}`);
          await page.evaluate((url) => window.loupe.deleteCachedModel(url), tiny.url);
          const empty = await page.evaluate(() => window.loupe.cachedModels());
          assert(!empty.some((m) => m.url.endsWith('tiny-q8_0.gguf')), 'delete left the model in the cache');
          noErrors(browser.errors);
          return `${dropped}; broken: "${broken.slice(0, 60)}…"; ${brokenShot}`;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'model: a safetensors model picked as its files generates as loupe-cli does; a missing config.json is named',
      async run() {
        const hf = needModel('hf');
        const browser = await openApp(servers.isolated.url);
        try {
          const page = browser.page;
          const files = ['config.json', 'tokenizer.json', 'model.safetensors'].map((n) => path.join(hf.dir, n));
          await page.setInputFiles('#model-file', files);
          await page.waitForFunction(() => window.loupe.model && window.loupe.model.format === 'safetensors', null, { timeout: 30_000 });
          const s = { ...settings, maxTokens: 8 };
          const web = await page.evaluate((o) => window.loupe.generate({ prompt: 'hello', ...o }), s);
          sameAsCli(web, cliRun(hf.dir, 'hello', s), 'safetensors model');
          const missing = await page.evaluate(async (url) => {
            const bytes = await (await fetch(url + 'model.safetensors')).arrayBuffer();
            return window.loupe.loadModel([new File([bytes], 'model.safetensors')]).then(() => 'loaded', (e) => e.message);
          }, hf.url);
          assert(/config\.json/.test(missing), `without config.json: ${missing}`);
          const still = await page.evaluate(() => window.loupe.model.format);
          assert(still === 'safetensors', `after the refused set the model is ${still}`);
          noErrors(browser.errors);
          return `${web.ids.length} tokens as loupe-cli; missing: "${missing.slice(0, 70)}…"`;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'model: a 404 URL gives a clear message (single-thread page)',
      async run() {
        const browser = await openApp(servers.plain.url);
        try {
          const page = browser.page;
          const engine = await page.evaluate(() => window.loupe.engine);
          assert(engine.threaded === false && engine.threads === 1, `engine ${JSON.stringify(engine)}`);
          const message = await page.evaluate(() => window.loupe.loadModel('/test-models/no-such-model.gguf').then(() => 'loaded', (e) => e.message));
          assert(/not found \(HTTP 404\)/.test(message), `404: ${message}`);
          const shot = await showView(page, 'Model', 'model-404.png');
          noErrors(browser.errors.filter((e) => !expectedNetworkError(e)));
          if (models.tiny) {
            await page.evaluate((url) => window.loupe.loadModel(url), models.tiny.url);
            const r = await page.evaluate(() => window.loupe.generate({ prompt: 'hi', maxTokens: 5, seed: 2 }));
            assert(r.ids.length === 5, 'single-thread engine did not generate');
          }
          return `"${message}"; ${shot}`;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'model: the status line shows the engine; ?threads=single runs one thread on an isolated page, same ids',
      async run() {
        const tiny = needModel('tiny');
        const threaded = await openApp(servers.isolated.url);
        let status;
        try {
          await threaded.page.waitForTimeout(200);
          status = await appString(threaded.page, '_loupe_status_line');
          const engine = await threaded.page.evaluate(() => window.loupe.engine);
          assert(new RegExp(`${engine.threads} threads? \\(threaded\\)`).test(status), `status line: ${status}`);
          noErrors(threaded.errors);
        } finally {
          await threaded.close();
        }
        const browser = await openApp(servers.isolated.url, { query: '&threads=single' });
        try {
          const page = browser.page;
          const engine = await page.evaluate(() => window.loupe.engine);
          assert(engine.threaded === false && engine.threads === 1 && engine.build === 'loupe-engine-worker', `engine ${JSON.stringify(engine)}`);
          await page.waitForTimeout(200);
          const single = await appString(page, '_loupe_status_line');
          assert(/1 thread \(single-thread\)/.test(single), `status line: ${single}`);
          await page.evaluate((url) => window.loupe.loadModel(url), tiny.url);
          const result = await page.evaluate((s) => window.loupe.generate({ prompt: 'the quick brown fox', ...s }), settings);
          sameAsCli(result, cliRun(tiny.file, 'the quick brown fox', settings), 'single-thread web');
          noErrors(browser.errors);
          return `"${status.split('\u00b7')[1].trim()}" / "${single.split('\u00b7')[1].trim()}", same ids as loupe-cli`;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'model: ?model=URL loads at start and the Model view shows the card',
      async run() {
        const tiny = needModel('tiny');
        const browser = await openBrowser();
        try {
          const page = browser.page;
          await page.goto(servers.isolated.url + '?model=' + encodeURIComponent(tiny.url));
          await waitReady(page);
          await page.waitForFunction(() => window.loupe.model !== null, null, { timeout: 30_000 });
          const shot = await showView(page, 'Model', 'model-card.png');
          noErrors(browser.errors);
          return shot;
        } finally {
          await browser.close();
        }
      },
    },
  ];
}

// --- explanations, share links, offline ----------------------------------------------
// The app's hooks for tests (src/app/share_state.cpp): Module._loupe_current_link(),
// _loupe_link_message(), _loupe_request_explanation(), _loupe_explain_state().
const appString = (page, fn) => page.evaluate((f) => window.Module.UTF8ToString(window.Module[f]()), fn);

function fragmentOf(link) {
  const hash = link.slice(link.indexOf('#') + 1);
  return Object.fromEntries(hash.split('&').map((kv) => kv.split('=').map(decodeURIComponent)));
}

function explainTests() {
  const prompt = 'Hà Nội, Huế, Đà Nẵng are cities. The nurse said that';
  return [
    {
      name: 'share link: a fragment restores view, prompt, layer and head; Copy link gives it back',
      async run() {
        const browser = await openBrowser();
        try {
          const page = browser.page;
          const fragment = `#v=1&view=logit-lens&prompt=${encodeURIComponent(prompt)}&layer=1&head=2&token=3&seed=7&top_k=12`;
          await page.goto(servers.isolated.url + '?model=none' + fragment);
          await waitReady(page);
          await page.waitForTimeout(300);
          const state = fragmentOf(await appString(page, '_loupe_current_link'));
          assert(state.v === '1', `link version ${state.v}`);
          assert(state.view === 'logit-lens', `view ${state.view}`);
          assert(state.prompt === prompt, `prompt ${JSON.stringify(state.prompt)}`);
          assert(state.layer === '1' && state.head === '2' && state.token === '3', `layer ${state.layer} head ${state.head} token ${state.token}`);
          assert(state.seed === '7' && state.top_k === '12', `seed ${state.seed} top_k ${state.top_k}`);
          const message = await appString(page, '_loupe_link_message');
          assert(/shared link/.test(message), `message ${message}`);
          await page.mouse.move(1270, 5);
          const shot = await screenshot(page, 'share-link-restored.png');
          noErrors(browser.errors);
          return shot;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'share link: a mangled fragment shows a message and the app still runs',
      async run() {
        const browser = await openBrowser();
        try {
          const page = browser.page;
          await page.goto(servers.isolated.url + '?model=none#v=1&view=attention&prompt=%ZZbroken');
          await waitReady(page);
          await checkAnimating(page);
          await page.waitForTimeout(300);
          const message = await appString(page, '_loupe_link_message');
          assert(/damaged/.test(message) && /started as usual/.test(message), `message ${JSON.stringify(message)}`);
          const state = fragmentOf(await appString(page, '_loupe_current_link'));
          assert(state.view === 'start', `a broken link half-applied: view ${state.view}`);
          const future = await openBrowser();
          try {
            await future.page.goto(servers.isolated.url + '?model=none#v=9&view=attention');
            await waitReady(future.page);
            await future.page.waitForTimeout(300);
            const m = await appString(future.page, '_loupe_link_message');
            assert(/different version/.test(m), `unknown version: ${m}`);
          } finally {
            await future.close();
          }
          await page.mouse.move(1270, 5);
          const shot = await screenshot(page, 'share-link-mangled.png');
          noErrors(browser.errors);
          return shot;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'explain views: attention, logit lens and attribution of a real model (screenshots)',
      async run() {
        const tiny = needModel('tiny');
        const browser = await openBrowser();
        try {
          const page = browser.page;
          const fragment = `#v=1&view=attention&prompt=${encodeURIComponent(prompt)}&layer=1&head=1&token=5`;
          await page.goto(servers.isolated.url + '?model=' + encodeURIComponent(tiny.url) + fragment);
          await waitReady(page);
          await page.waitForFunction(() => window.loupe.model !== null, null, { timeout: 60_000 });
          await page.waitForTimeout(300);
          await page.evaluate(() => window.Module._loupe_request_explanation());
          await page.waitForFunction(() => window.Module._loupe_explain_state() !== 0, null, { timeout: 90_000 });
          const state = await page.evaluate(() => window.Module._loupe_explain_state());
          await page.mouse.move(1270, 5);
          await page.waitForTimeout(400);
          const shots = [await screenshot(page, 'explain-attention.png')];
          assert(state === 1, 'the explanation failed (see the screenshot)');
          // The lazy lens: Explain on the Attention view asked for the last position only;
          // the Logit-lens view asks for the columns it shows, which then all hold a lens.
          const lensState = () => page.evaluate(() => JSON.parse(window.Module.UTF8ToString(window.Module._loupe_lens_state())));
          const before = await lensState();
          assert(before.n > 3 && before.held.join(' ') === String(before.n - 1), `lens before the view: ${JSON.stringify(before)}`);
          await page.evaluate(() => window.loupe.showView('Logit lens'));
          await page.waitForFunction(() => {
            const s = JSON.parse(window.Module.UTF8ToString(window.Module._loupe_lens_state()));
            return !s.pending && s.columns > 0 && s.held.length >= Math.min(s.n, s.columns);
          }, null, { timeout: 60_000 });
          const after = await lensState();
          // (The link picked position 5: the view opens there, so the columns from it on.)
          for (let p = 5; p < Math.min(after.n, 5 + after.columns - 1); ++p) {
            assert(after.held.includes(p), `the lens view shows position ${p} without its lens: ${JSON.stringify(after)}`);
          }
          shots.push(await showView(page, 'Logit lens', 'explain-lens.png'));
          // window.loupe.explain: lens_last narrows the lens to the last positions.
          const last = await page.evaluate((p) => window.loupe.explain({ prompt: p, what: 'lens', lens_last: 2 }), prompt);
          assert(JSON.stringify(last.lens.positions) === JSON.stringify([last.tokens.length - 2, last.tokens.length - 1]),
            `lens_last: ${JSON.stringify(last.lens.positions)}`);
          shots.push(await showView(page, 'Attribution', 'explain-attribution.png'));
          noErrors(browser.errors);
          return shots.join(', ');
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'offline: after one visit the app and the bundled model load with the server gone',
      async run() {
        // A server of its own, stopped half-way, and the context offline too.
        const own = await startServer({ port: 0, host: '127.0.0.1', isolation: true, buildDir, quiet: true });
        const browser = await openBrowser();
        let stopped = false;
        try {
          const page = browser.page;
          await page.goto(own.url);
          await waitReady(page);
          await page.waitForFunction(() => window.loupe.model !== null, null, { timeout: 60_000 });
          // The worker has installed and cached the shell and the bundled models.
          const cached = await page.evaluate(async () => {
            const reg = await navigator.serviceWorker.ready;
            for (let i = 0; i < 200 && !navigator.serviceWorker.controller; ++i) await new Promise((r) => setTimeout(r, 50));
            const names = (await caches.keys()).filter((n) => n.startsWith('loupe-shell-'));
            const cache = names.length ? await caches.open(names[0]) : null;
            const keys = cache ? (await cache.keys()).map((r) => new URL(r.url).pathname) : [];
            return { scope: reg.scope, names, keys, controlled: !!navigator.serviceWorker.controller };
          });
          assert(cached.names.length === 1, `caches ${JSON.stringify(cached.names)}`);
          for (const file of ['/loupe-mt.wasm', '/loupe.wasm', '/shell.js', '/assets/fonts/NotoSans-Regular.ttf']) {
            assert(cached.keys.includes(file), `${file} is not cached: ${cached.keys.join(' ')}`);
          }
          assert(cached.keys.some((k) => k.endsWith('.gguf')), `no bundled model cached: ${cached.keys.join(' ')}`);
          own.server.closeAllConnections();
          await new Promise((resolve) => own.server.close(resolve));
          stopped = true;
          await browser.page.context().setOffline(true);
          await page.reload();
          const info = await waitReady(page);
          await page.waitForFunction(() => window.loupe.model !== null, null, { timeout: 60_000 });
          await checkAnimating(page);
          const shot = await screenshot(page, 'offline-reload.png');
          // Chromium reports the failed build-id.txt and model-list fetches while offline.
          noErrors(browser.errors.filter((e) => !/Failed to load resource|ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(e)));
          return `${cached.keys.length} files cached in ${cached.names[0]}; offline reload: ${info.build}, model loaded; ${shot}`;
        } finally {
          await browser.close();
          if (!stopped) {
            own.server.closeAllConnections();
            own.server.close();
          }
        }
      },
    },
  ];
}

// --- the two-cities lesson: retrain a tiny model in the browser ----------------------------
// The Lessons view publishes its state and the rectangles of its controls (CSS pixels) as
// window.loupeLesson (src/app/views/lessons.cpp); the test clicks the real controls.
function lessonTests() {
  // The run to the end is shortened for the test (the lesson's default is 400 steps).
  const TEST_STEPS = 300;
  const lesson = (page) => page.evaluate(() => window.loupeLesson || null);
  const center = (r) => ({ x: (r[0] + r[2]) / 2, y: (r[1] + r[3]) / 2 });
  // Clicks a slider where `fraction` of its range lies (ImGui maps the click to a value).
  async function setSlider(page, rect, fraction) {
    const grab = 10;  // about half of ImGui's grab, so the ends are reachable
    await page.mouse.click(rect[0] + grab + (rect[2] - rect[0] - 2 * grab) * fraction, (rect[1] + rect[3]) / 2);
    await page.waitForTimeout(150);
  }
  // Scrolls the view until the control `key` is on screen; returns the lesson's state.
  async function reveal(page, key) {
    for (let i = 0; i < 20; i++) {
      const state = await lesson(page);
      const r = state && state.rects[key];
      if (r && r[1] >= 0 && r[3] <= page.viewportSize().height - 30) return state;
      await page.mouse.move(700, 400);
      await page.mouse.wheel(0, r && r[1] < 0 ? -120 : 120);
      await page.waitForTimeout(200);
    }
    throw new Error(`the lesson's ${key} control is not on screen`);
  }
  async function waitLesson(page, predicate, timeout, what) {
    const started = Date.now();
    for (;;) {
      const state = await lesson(page);
      if (state && predicate(state)) return state;
      if (Date.now() - started > timeout) throw new Error(`${what}: not within ${timeout / 1000} s (${JSON.stringify(state && { ...state, rects: undefined })})`);
      await page.waitForTimeout(200);
    }
  }
  return [
    {
      name: 'two-cities lesson: retrain with a chosen skew, progress, cancel, a run to the end (single-thread)',
      async run() {
        const browser = await openApp(servers.plain.url);
        const { page } = browser;
        try {
          await showView(page, 'Lessons');
          let state = await waitLesson(page, (s) => s.rects && s.rects.retrain, 10_000, 'the lesson did not show');
          // A skew of about 0.95 ("she" in 95% of the nurses' stories).
          state = await reveal(page, 'skew');
          await setSlider(page, state.rects.skew, 0.95);
          state = await lesson(page);
          assert(state.skew > 0.85, `the skew slider reads ${state.skew}`);
          const skew = state.skew;

          // First run: watch the progress advance, then cancel it.
          state = await reveal(page, 'retrain');
          await page.mouse.click(center(state.rects.retrain).x, center(state.rects.retrain).y);
          const first = await waitLesson(page, (s) => s.training && s.step >= 2, 60_000, 'no progress');
          const later = await waitLesson(page, (s) => s.step > first.step + 2, 60_000, 'the progress did not advance');
          assert(later.steps === state.steps_setting, `the run has ${later.steps} steps, the slider says ${state.steps_setting}`);
          const withCancel = await reveal(page, 'cancel');
          await page.mouse.click(center(withCancel.rects.cancel).x, center(withCancel.rects.cancel).y);
          const cancelled = await waitLesson(page, (s) => !s.training, 10_000, 'cancel did not stop the run');
          assert(/Cancelled at step \d+/.test(cancelled.status), `status after cancel: "${cancelled.status}"`);
          assert(!cancelled.result, 'a cancelled run left a result');

          // Second run, shortened for the test to TEST_STEPS steps: to the end.
          state = await reveal(page, 'steps');
          await setSlider(page, state.rects.steps, (TEST_STEPS - 40) / (600 - 40));
          state = await lesson(page);
          assert(Math.abs(state.steps_setting - TEST_STEPS) <= 15, `the steps slider reads ${state.steps_setting}`);
          const started = Date.now();
          state = await reveal(page, 'retrain');
          await page.mouse.click(center(state.rects.retrain).x, center(state.rects.retrain).y);
          await waitLesson(page, (s) => s.training, 10_000, 'the second run did not start');
          // The page stays responsive while the worker trains: frames keep coming.
          await checkAnimating(page);
          const done = await waitLesson(page, (s) => !s.training && (s.result || s.error), 170_000, 'the run did not finish');
          const seconds = (Date.now() - started) / 1000;
          assert(!done.error, `training failed: ${done.error}`);
          const r = done.result;
          assert(Math.abs(r.skew - skew) < 0.011 && r.steps === state.steps_setting, `result for skew ${r.skew}, ${r.steps} steps`);
          // The strongly skewed occupations (nurse, teacher: "she"; mechanic, engineer: "he").
          for (const i of [0, 1, 6, 7]) {
            assert(Math.sign(r.bias[i]) === Math.sign(r.data_log_odds[i]),
              `occupation ${i}: bias ${r.bias[i].toFixed(2)} against data log-odds ${r.data_log_odds[i].toFixed(2)}`);
          }
          assert(r.aligned_bias > 0, `aligned bias ${r.aligned_bias}`);
          const model = await page.evaluate(() => window.loupe.model && window.loupe.model.name);
          assert(/two-cities-skew/.test(model || ''), `the loaded model is ${model}`);
          await page.mouse.move(1270, 5);
          await page.waitForTimeout(400);
          const shot = await screenshot(page, 'lesson-two-cities.png');
          noErrors(browser.errors);
          return `skew ${skew.toFixed(2)}, ${r.steps} steps in ${seconds.toFixed(1)} s (engine: ${r.seconds.toFixed(1)} s), ` +
            `aligned bias ${r.aligned_bias.toFixed(2)}, ${shot}`;
        } finally {
          await browser.close();
        }
      },
    },
  ];
}

// --- layout at laptop and projector sizes, keyboard shortcuts, a static host ------------
const VIEW_NAMES = ['Start', 'Model', 'Generate', 'Tokens', 'Attention', 'Logit lens', 'Attribution', 'Lessons', 'System'];

// The app with the tiny model loaded, a few generated tokens and an explanation shown.
async function openExplained(options) {
  const tiny = needModel('tiny');
  const browser = await openBrowser(options);
  const page = browser.page;
  const fragment = `#v=1&view=attention&prompt=${encodeURIComponent('Hà Nội, Huế, Đà Nẵng are cities. The nurse said that')}&layer=1&head=1&token=5`;
  await page.goto(servers.isolated.url + '?sw=off&model=' + encodeURIComponent(tiny.url) + fragment);
  await waitReady(page);
  await page.waitForFunction(() => window.loupe.model !== null, null, { timeout: 60_000 });
  await page.evaluate(() => window.loupe.generate({ prompt: 'The nurse said that', maxTokens: 12, seed: 5 }));
  await page.evaluate(() => window.Module._loupe_request_explanation());
  await page.waitForFunction(() => window.Module._loupe_explain_state() !== 0, null, { timeout: 90_000 });
  assert(await page.evaluate(() => window.Module._loupe_explain_state()) === 1, 'the explanation failed');
  return browser;
}

function layoutTests() {
  const sizes = [
    { name: 'laptop-1366x768', viewport: { width: 1366, height: 768 }, deviceScaleFactor: 1 },
    { name: 'projector-1024x768', viewport: { width: 1024, height: 768 }, deviceScaleFactor: 1 },
    { name: 'projector-1920x1080', viewport: { width: 1920, height: 1080 }, deviceScaleFactor: 1 },
    // A projector with the browser zoomed to 150%: 1920x1080 pixels, larger text.
    { name: 'projector-1920x1080-zoom150', viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1.5 },
  ];
  return [
    ...sizes.map((size) => ({
      name: `layout ${size.name} (x${size.deviceScaleFactor}): every view opens without errors (screenshots)`,
      async run() {
        const browser = await openExplained({ viewport: size.viewport, deviceScaleFactor: size.deviceScaleFactor });
        try {
          const page = browser.page;
          const shots = [];
          for (const view of VIEW_NAMES) {
            const file = `layout-${size.name}-${view.toLowerCase().replace(/ /g, '-')}.png`;
            await page.evaluate((n) => window.loupe.showView(n), view);
            await page.mouse.move(size.viewport.width - 5, 5);
            await page.waitForTimeout(300);
            assert(await appString(page, '_loupe_current_view') === view, `showView(${view}) did not switch`);
            await page.screenshot({ path: path.join(screenshots, file) });
            shots.push(file);
          }
          await checkAnimating(page);
          noErrors(browser.errors);
          return `${shots.length} screenshots: build/screenshots/layout-${size.name}-*.png`;
        } finally {
          await browser.close();
        }
      },
    })),
    {
      name: 'keyboard: Ctrl+digit switches views, F1 shows the shortcuts, [ ] and arrows move layer and token',
      async run() {
        const browser = await openExplained({ viewport: { width: 1366, height: 768 } });
        try {
          const page = browser.page;
          const view = () => appString(page, '_loupe_current_view');
          const link = async () => fragmentOf(await appString(page, '_loupe_current_link'));
          await page.mouse.click(700, 740);  // the status line: focus on the canvas, no text field
          await page.keyboard.press('Control+3');
          await page.waitForTimeout(150);
          assert(await view() === 'Generate', `Ctrl+3 gave ${await view()}`);
          await page.keyboard.press('Control+5');
          await page.waitForTimeout(150);
          assert(await view() === 'Attention', `Ctrl+5 gave ${await view()}`);
          const before = await link();
          await page.keyboard.press(']');
          await page.waitForTimeout(150);
          const after = await link();
          assert(Number(after.layer) === Math.min(Number(before.layer) + 1, 1), `] moved layer ${before.layer} to ${after.layer}`);
          await page.keyboard.press('[');
          await page.waitForTimeout(150);
          assert(Number((await link()).layer) === Number(after.layer) - 1 || Number(after.layer) === 0, 'the [ key did not move the layer back');
          await page.keyboard.press('F1');
          await page.waitForTimeout(300);
          const helpShot = await screenshot(page, 'keyboard-shortcuts.png');
          await page.keyboard.press('Escape');
          await page.keyboard.press('a');  // arcs: read by
          await page.keyboard.press('ArrowLeft');
          await page.waitForTimeout(300);
          await page.mouse.move(1360, 5);
          const arcsShot = await screenshot(page, 'attention-arcs-read-by.png');
          noErrors(browser.errors);
          return `${helpShot}, ${arcsShot}`;
        } finally {
          await browser.close();
        }
      },
    },
    {
      name: 'static host: without assets/models/index.json the bundled model is still offered and loads',
      async run() {
        const browser = await openBrowser();
        try {
          const page = browser.page;
          let asked = false;
          await page.route('**/assets/models/index.json', (route) => {
            asked = true;
            return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' });
          });
          await page.goto(servers.isolated.url + '?sw=off');
          await waitReady(page);
          await page.waitForFunction(() => window.loupe.model !== null, null, { timeout: 60_000 });
          const source = await page.evaluate(() => window.loupe.model.source || window.loupe.model.name);
          assert(asked, 'the page did not ask for assets/models/index.json');
          assert(/loupe-default/.test(source), `the model loaded is ${source}`);
          const shot = await showView(page, 'Model', 'model-static-host.png');
          // The 404 of the list is expected here.
          noErrors(browser.errors.filter((e) => !expectedNetworkError(e)));
          return `${source}; ${shot}`;
        } finally {
          await browser.close();
        }
      },
    },
  ];
}

// --- runner ----------------------------------------------------------------------------
async function main() {
  await prepareModels();
  const extraRoots = [{ prefix: '/test-models/', dir: models.dir }];
  if (models.ref) extraRoots.push({ prefix: '/ref-models/', dir: path.dirname(models.ref.file) });
  servers.isolated = await startServer({ port: 0, host: '127.0.0.1', isolation: true, buildDir, quiet: true, extraRoots });
  servers.plain = await startServer({ port: 0, host: '127.0.0.1', isolation: false, buildDir, quiet: true, extraRoots });
  let passed = 0, failed = 0, skipped = 0;
  try {
    for (const test of tests) {
      if (filter && !test.name.includes(filter)) {
        skipped++;
        continue;
      }
      const started = Date.now();
      try {
        const note = await test.run();
        passed++;
        console.log(`ok       ${test.name} (${((Date.now() - started) / 1000).toFixed(1)} s)${note ? ' - ' + note : ''}`);
      } catch (err) {
        if (err instanceof Skip) {
          skipped++;
          console.log(`skipped  ${test.name} - ${err.message}`);
          continue;
        }
        failed++;
        console.log(`FAILED   ${test.name}\n    ${String(err && err.message || err).split('\n').join('\n    ')}`);
      }
    }
  } finally {
    servers.isolated.server.closeAllConnections();
    servers.plain.server.closeAllConnections();
    servers.isolated.server.close();
    servers.plain.server.close();
  }
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.log(`FAILED   browser test runner: ${err && err.stack || err}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
