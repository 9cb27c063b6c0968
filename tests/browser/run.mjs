#!/usr/bin/env node
// Browser tests of Loupe's web build in headless Chromium (Debian's, driven by
// playwright-core). Starts our own server (scripts/serve.mjs) on free ports: one
// cross-origin isolated (threaded build), one without isolation (single-thread build).
// Every page must load without a page error or console error. Screenshots go to
// build/screenshots/. Prints "ok"/"FAILED" per test and ends with "N passed, N failed".
//
//   node tests/browser/run.mjs [--build DIR] [--filter TEXT]
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
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
        // "System" is the third entry of the navigation.
        await browser.page.mouse.click(60, 178);
        await browser.page.mouse.move(700, 650);  // no tooltip in the screenshot
        await browser.page.waitForTimeout(500);
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
];

// --- runner ----------------------------------------------------------------------------
async function main() {
  servers.isolated = await startServer({ port: 0, host: '127.0.0.1', isolation: true, buildDir, quiet: true });
  servers.plain = await startServer({ port: 0, host: '127.0.0.1', isolation: false, buildDir, quiet: true });
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
