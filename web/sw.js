// Loupe's service worker: after the first visit the app and its bundled models work
// offline (a workshop's thirty laptops need no server once they have loaded the page).
//
// - Registered by shell.js as sw.js?build=ID, where ID is build-id.txt (a hash of the
//   build's files, written by the web build). Each build gets its own cache,
//   "loupe-shell-ID"; when a new build's worker activates it deletes the older
//   "loupe-shell-*" caches, and nothing else (engine.js keeps downloaded models in its own
//   "loupe-models-*" cache).
// - Install: the app shell (page, scripts, wasm, data, font) and the bundled models that
//   assets/models/index.json lists, same origin only. A file that is missing (a build
//   without the threaded variant, say) is skipped, not fatal.
// - Fetch: same-origin GETs come from the cache first, and what comes from the network is
//   kept; the page itself (navigations) and build-id.txt go to the network first, so a
//   new build is found at once when online. Range requests are answered from a cached
//   whole file when offline. Cross-origin requests (models on other hosts) are never
//   touched: they go to the network as if there were no worker.
'use strict';

const BUILD = new URL(self.location.href).searchParams.get('build') || 'dev';
const PREFIX = 'loupe-shell-';
const CACHE = PREFIX + BUILD;

const SHELL = [
  './', 'index.html', 'shell.js', 'shell.css', 'engine.js', 'engine-worker.js', 'build-id.txt',
  'loupe.js', 'loupe.wasm', 'loupe.data',
  'loupe-mt.js', 'loupe-mt.wasm', 'loupe-mt.data', 'loupe-mt.worker.js',
  'loupe-engine-worker.js', 'loupe-engine-worker.wasm',
  'loupe-engine-worker-mt.js', 'loupe-engine-worker-mt.wasm', 'loupe-engine-worker-mt.worker.js',
  'assets/fonts/NotoSans-Regular.ttf', 'assets/models/index.json',
];

const sameOrigin = (url) => new URL(url, self.location.href).origin === self.location.origin;

async function precache() {
  const cache = await caches.open(CACHE);
  const urls = [...SHELL];
  try {
    const index = await (await fetch('assets/models/index.json', { cache: 'no-store' })).json();
    for (const model of (index && index.models) || []) {
      if (typeof model.url === 'string' && sameOrigin(model.url)) urls.push(model.url);
    }
  } catch (err) {
    // No model list (a plain static host): the model the build ships with, if it is there.
    urls.push('assets/models/loupe-default/loupe-default.gguf');
  }
  await Promise.allSettled(urls.map(async (url) => {
    const response = await fetch(url, { cache: 'no-store' });
    if (response.ok && response.status === 200) await cache.put(url, response);
  }));
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// A 206 for `range` ("bytes=a-b", "bytes=a-", "bytes=-n") cut from a cached whole file.
async function partial(whole, range) {
  const body = await whole.arrayBuffer();
  const size = body.byteLength;
  const m = /^bytes=(\d*)-(\d*)$/.exec(range || '');
  let start = 0, end = size - 1;
  if (m && m[1] !== '') {
    start = Number(m[1]);
    if (m[2] !== '') end = Math.min(Number(m[2]), size - 1);
  } else if (m && m[2] !== '') {
    start = Math.max(0, size - Number(m[2]));
  }
  const headers = new Headers(whole.headers);
  if (!m || start > end || start >= size) {
    headers.set('Content-Range', `bytes */${size}`);
    return new Response(null, { status: 416, headers });
  }
  headers.set('Content-Range', `bytes ${start}-${end}/${size}`);
  headers.set('Content-Length', String(end - start + 1));
  return new Response(body.slice(start, end + 1), { status: 206, headers });
}

async function respond(request) {
  const cache = await caches.open(CACHE);
  const url = new URL(request.url);
  const key = url.origin + url.pathname;  // query strings (?threads=single) do not change files
  const range = request.headers.get('Range');
  const networkFirst = request.mode === 'navigate' || url.pathname.endsWith('/build-id.txt');

  if (range) {
    try {
      return await fetch(request);
    } catch (err) {
      const whole = await cache.match(key);
      if (whole) return partial(whole, range);
      throw err;
    }
  }
  if (networkFirst) {
    try {
      const response = await fetch(request);
      if (response.ok && response.status === 200) await cache.put(request.mode === 'navigate' ? url.origin + url.pathname : key, response.clone());
      return response;
    } catch (err) {
      const cached = (await cache.match(key)) || (request.mode === 'navigate' ? await cache.match(new URL('index.html', self.location.href).href) : null);
      if (cached) return cached;
      throw err;
    }
  }
  const cached = await cache.match(key);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.status === 200) await cache.put(key, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || !sameOrigin(request.url)) return;  // cross-origin: untouched
  event.respondWith(respond(request));
});
