// The ceilings of the wasm instructions Loupe's prompt kernels are built on, beside the
// native one: each instruction in a loop of nothing else, 8 independent accumulators,
// operands in registers, in GMAC/s (byte or 16-bit products per second).
//   i32x4.dot_i16x8_s + i32x4.add     SIMD128: 8 products, two instructions (what Loupe uses)
//   i32x4.relaxed_dot_i8x16_i7x16_add_s  relaxed SIMD: 16 products and the add in one
// measured under this Node and, when playwright-core is installed (tests/bench/browser),
// in headless Chromium; with --native PATH, also the loupe_simd_peak binary (vpdpbusd).
// The module is written byte by byte here: the Emscripten of Debian 12 cannot emit the
// relaxed instruction, and its binaryen reads the final opcode (0xfd 0x113) as another.
//
//   node --experimental-wasm-relaxed-simd tests/bench/simd/peak.mjs [--native build/native/tests/loupe_simd_peak]
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const nativeAt = args.indexOf('--native');
const nativeBinary = nativeAt >= 0 ? args[nativeAt + 1] : null;

// --- a module with one function: (param n i32) (result i32), n rounds of 8 instructions
const uleb = (n) => {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];
const vector = (items) => [...uleb(items.length), ...items.flat()];
const simd = (opcode) => [0xfd, ...uleb(opcode)];
const OP = { localGet: 0x20, localSet: 0x21, localTee: 0x22, i32Const: 0x41, i32Sub: 0x6b, loop: 0x03, brIf: 0x0d, end: 0x0b };
const V128 = 0x7b, I32 = 0x7f;
const SIMD = { const: 12, extractLane: 27, i32x4Add: 174, dotI16x8: 186, relaxedDotAdd: 275 };

// Locals: 0 = n, 1 = x, 2 = y, 3..10 = the accumulators.
function loopBody(accumulate) {
  const get = (i) => [OP.localGet, i], set = (i) => [OP.localSet, i];
  const constant = (bytes) => [...simd(SIMD.const), ...bytes];
  const code = [
    ...constant([4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13]), ...set(1),
    ...constant([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]), ...set(2),
    OP.loop, 0x40,
  ];
  for (let a = 3; a < 11; ++a) code.push(...accumulate(a), ...set(a));
  code.push(...get(1), ...get(2), ...simd(SIMD.i32x4Add), ...set(1));  // x changes: nothing folds
  code.push(...get(0), OP.i32Const, 1, OP.i32Sub, OP.localTee, 0, OP.brIf, 0, OP.end);
  code.push(...get(3));
  for (let a = 4; a < 11; ++a) code.push(...get(a), ...simd(SIMD.i32x4Add));
  code.push(...simd(SIMD.extractLane), 0, OP.end);
  const body = [...vector([[10, V128]]), ...code];
  return [...uleb(body.length), ...body];
}
function module(accumulate) {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([[0x60, 1, I32, 1, I32]])),                     // type: i32 -> i32
    ...section(3, vector([[0]])),                                         // one function
    ...section(7, vector([[...uleb(3), ...Buffer.from('run'), 0x00, 0]])),  // export "run"
    ...section(10, vector([loopBody(accumulate)])),
  ]);
}
const get = (i) => [OP.localGet, i];
const KERNELS = [
  { name: 'i32x4.dot_i16x8_s + i32x4.add', macs: 8,
    bytes: Array.from(module((a) => [...get(a), ...get(1), ...get(2), ...simd(SIMD.dotI16x8), ...simd(SIMD.i32x4Add)])) },
  { name: 'i32x4.relaxed_dot_i8x16_i7x16_add_s', macs: 16,
    bytes: Array.from(module((a) => [...get(1), ...get(2), ...get(a), ...simd(SIMD.relaxedDotAdd)])) },
];

// Runs in Node and, serialised, in the page: best of 3 timed runs after a warm-up.
async function measure(kernels) {
  const rounds = 20_000_000, results = [];
  for (const kernel of kernels) {
    const bytes = new Uint8Array(kernel.bytes);
    if (!WebAssembly.validate(bytes)) {
      results.push({ name: kernel.name, gmac: null });
      continue;
    }
    const { instance } = await WebAssembly.instantiate(bytes);
    for (let i = 0; i < 10; ++i) instance.exports.run(200_000);  // past the baseline tier
    let best = 0;
    for (let r = 0; r < 3; ++r) {
      const start = performance.now();
      instance.exports.run(rounds);
      const seconds = (performance.now() - start) / 1000;
      best = Math.max(best, (rounds * 8 * kernel.macs) / seconds / 1e9);
    }
    results.push({ name: kernel.name, gmac: best });
  }
  return results;
}

const rows = [];
for (const r of await measure(KERNELS)) rows.push({ where: `Node ${process.version}`, ...r });

let chromium = null;
try {
  ({ chromium } = createRequire(path.join(here, '../browser/run.mjs'))('playwright-core'));
} catch {
  console.error('peak: no playwright-core in tests/bench/browser (npm install there): Chromium skipped');
}
if (chromium) {
  const browser = await chromium.launch({ executablePath: process.env.LOUPE_CHROMIUM || '/usr/bin/chromium', headless: true });
  try {
    const page = await browser.newPage();
    const version = browser.version();
    const results = await page.evaluate(`(${measure.toString()})(${JSON.stringify(KERNELS)})`);
    for (const r of results) rows.push({ where: `Chromium ${version}`, ...r });
  } finally {
    await browser.close();
  }
}
if (nativeBinary) {
  const native = JSON.parse(execFileSync(nativeBinary, { encoding: 'utf8' }));
  rows.push({ where: 'native', name: native.instruction ?? native.error, gmac: native.gmac_per_s ?? null });
}

const top = rows.find((r) => r.where === 'native')?.gmac;
console.log('| where | instruction | GMAC/s | of native |');
console.log('|---|---|--:|--:|');
for (const r of rows) {
  const gmac = r.gmac == null ? 'not supported' : r.gmac.toFixed(1);
  const share = r.gmac != null && top ? `${(r.gmac / top).toFixed(2)}x` : '';
  console.log(`| ${r.where} | ${r.name} | ${gmac} | ${share} |`);
}
