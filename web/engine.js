// The page's side of Loupe's engine: one Web Worker (engine-worker.js) shared by the
// ImGui app and window.loupe. It downloads models with progress (bytes, rate, time left,
// cancel), keeps them in the Cache API by URL, reads files from the picker or a drop,
// fingerprints them (SHA-256), refuses files too large for wasm32, and passes events back:
// to the app through takeAppEvents() (read by src/app/engine_client_web.cpp once per
// frame) and to window.loupe's promises. docs/js-api.md describes window.loupe.
(function () {
  'use strict';

  const loupe = window.loupe || (window.loupe = {});
  const params = new URLSearchParams(location.search);
  // The engine's build is chosen once, at start-up: the threaded one
  // (loupe-engine-worker-mt.js, pthreads) when the page is cross-origin isolated, so that
  // SharedArrayBuffer exists; one thread otherwise. ?threads=single (or ?engine=st) forces
  // one thread. The status line shows which (src/app/workspace.cpp, StatusLine).
  const threaded = params.get('threads') !== 'single' && params.get('engine') !== 'st' &&
    window.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
  const CACHE_NAME = 'loupe-models-v1';
  const WASM_LIMIT = 4 * 1024 * 1024 * 1024;
  const APP_QUEUE_LIMIT = 20000;

  const engine = {
    ready: false, threads: null, threaded: null, version: null, build: null,
    heapBytes: 0, model: null,
  };
  let appEvents = [];
  const waiting = new Map();  // request id -> handler(event) for window.loupe's promises
  let nextPageId = 1000000;   // the app numbers its requests from 1
  let download = null;        // {controller} of the download in progress

  // --- the worker ----------------------------------------------------------------------
  // Started once the app runs (so a browser that cannot run Loupe downloads nothing more).
  let worker = null;
  const readyWaiters = [];
  function startWorker() {
    worker = new Worker('engine-worker.js');
    worker.postMessage({ type: 'init', threaded });  // first: which build to load
    worker.onmessage = (message) => {
      const data = message.data;
      if (!data || data.type !== 'events') return;
      if (data.heapBytes) engine.heapBytes = data.heapBytes;
      for (const event of data.events) dispatch(event);
    };
    worker.onerror = (event) => {
      dispatch({ event: 'error', op: 'engine', message: 'the engine worker failed: ' + (event.message || 'unknown error') });
    };
  }
  const appRunning = loupe.ready ? loupe.ready : Promise.resolve();

  function toApp(event) {
    appEvents.push(event);
    if (appEvents.length > APP_QUEUE_LIMIT) appEvents.splice(0, appEvents.length - APP_QUEUE_LIMIT);
  }

  function dispatch(event) {
    if (event.event === 'ready') {
      Object.assign(engine, { ready: true, threads: event.threads, threaded: event.threaded, version: event.version, build: event.build });
      while (readyWaiters.length) readyWaiters.shift()();
    }
    if (event.event === 'loaded') engine.model = event.card;
    toApp(event);
    const handler = waiting.get(event.request_id);
    if (handler) handler(event);
  }

  function engineReady() {
    if (engine.ready) return Promise.resolve();
    return appRunning.then(() => new Promise((resolve) => readyWaiters.push(resolve)));
  }

  function post(request, bytes, origin) {
    worker.postMessage({ id: request.id, origin, request, bytes: bytes || null }, bytes ? [bytes] : []);
  }

  // Sends a request and calls onEvent for each event it produces until onEvent returns true.
  function request(body, { origin = 'page', id = nextPageId++, bytes = null, onEvent } = {}) {
    body.id = id;
    if (onEvent) {
      waiting.set(id, (event) => {
        if (onEvent(event)) waiting.delete(id);
      });
    }
    post(body, bytes, origin);
    return id;
  }

  function fail(op, id, origin, message) {
    dispatch({ event: 'error', op, message, request_id: id, origin });
  }

  // --- sizes and fingerprints ------------------------------------------------------------
  function megabytes(bytes) {
    return bytes >= 1e9 ? (bytes / 1e9).toFixed(2) + ' GB' : (bytes / 1e6).toFixed(1) + ' MB';
  }

  // null when a model of `size` bytes fits in the engine's wasm32 memory, else why not.
  function tooLarge(size) {
    const used = engine.heapBytes;
    const kv = Math.min(size * 0.25, 512e6) + 32e6;
    const fits = WASM_LIMIT - used - kv;
    if (size <= fits) return null;
    return `the model is ${megabytes(size)}, too large for this browser: WebAssembly addresses 4 GB at most, ` +
      `${megabytes(used)} are in use and the KV cache needs about ${megabytes(kv)}, so a model of at most ` +
      `${megabytes(Math.max(0, fits))} would fit. Try a smaller or more quantized file (e.g. Q4_0), or the desktop app.`;
  }

  async function sha256(buffer) {
    if (!(window.crypto && crypto.subtle)) return null;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function notGguf(buffer) {
    const head = new Uint8Array(buffer, 0, Math.min(4, buffer.byteLength));
    return !(head.length === 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46);
  }

  // --- the model cache ---------------------------------------------------------------------
  async function openCache() {
    try {
      return window.caches ? await caches.open(CACHE_NAME) : null;
    } catch {
      return null;  // e.g. storage switched off
    }
  }

  async function cachedModels() {
    const cache = await openCache();
    if (!cache) return [];
    const models = [];
    for (const req of await cache.keys()) {
      const response = await cache.match(req);
      models.push({
        name: decodeURIComponent(new URL(req.url).pathname.split('/').pop() || req.url),
        url: req.url,
        bytes: Number(response && response.headers.get('Content-Length')) || 0,
      });
    }
    return models;
  }

  async function announceCache() {
    toApp({ event: 'cache', models: await cachedModels() });
  }

  async function deleteCached(url) {
    const cache = await openCache();
    if (cache) await cache.delete(url);
    await announceCache();
  }

  // --- loading -------------------------------------------------------------------------------
  // Sends model bytes to the worker (transferred, not copied); resolves with the card.
  function loadBytes(buffer, { name, source, sha, origin, id, files }) {
    const body = { op: 'load', name, source, sha256: sha };
    if (files) body.files = files;  // a safetensors model: its files one after another
    return new Promise((resolve, reject) => {
      request(body, {
        origin, id, bytes: buffer,
        onEvent(event) {
          if (event.event === 'loaded') resolve(event.card);
          else if (event.event === 'error') reject(new Error(event.message));
          else return false;
          return true;
        },
      });
    });
  }

  // Reads a body with progress reports: (loaded, total, rate, etaSeconds).
  async function readBody(response, total, signal, report) {
    const started = performance.now();
    let last = 0;
    const progress = (loaded, force) => {
      const now = performance.now();
      if (!force && now - last < 100) return;
      last = now;
      const seconds = Math.max(1e-3, (now - started) / 1000);
      const rate = loaded / seconds;
      report(loaded, total, rate, total && rate > 0 ? (total - loaded) / rate : -1);
    };
    if (!response.body || !response.body.getReader) {
      const buffer = await response.arrayBuffer();
      progress(buffer.byteLength, true);
      return buffer;
    }
    const reader = response.body.getReader();
    let bytes = total ? new Uint8Array(total) : null;
    const chunks = [];
    let loaded = 0;
    for (;;) {
      if (signal && signal.aborted) throw new DOMException('cancelled', 'AbortError');
      const { done, value } = await reader.read();
      if (done) break;
      if (bytes && loaded + value.length <= bytes.length) bytes.set(value, loaded);
      else {
        if (bytes) {  // the server sent more than it said
          chunks.push(bytes.subarray(0, loaded));
          bytes = null;
        }
        chunks.push(value);
      }
      loaded += value.length;
      progress(loaded, false);
    }
    progress(loaded, true);
    if (bytes) return loaded === bytes.length ? bytes.buffer : bytes.slice(0, loaded).buffer;
    const out = new Uint8Array(loaded);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out.buffer;
  }

  function describeHttp(status, url) {
    if (status === 404) return `not found (HTTP 404): nothing at ${url}. Check the address.`;
    if (status === 401 || status === 403) return `the server refused access (HTTP ${status}) to ${url}.`;
    return `the server answered HTTP ${status} for ${url}.`;
  }

  // Downloads (or reads from the cache) a model and loads it. Resolves with the card.
  async function loadUrl(url, { onProgress, origin = 'page', id = nextPageId++ } = {}) {
    let absolute;
    try {
      absolute = new URL(url, location.href).href;
    } catch {
      fail('load', id, origin, `'${url}' is not a URL`);
      throw new Error(`'${url}' is not a URL`);
    }
    if (download) download.controller.abort();
    const controller = new AbortController();
    const mine = { controller };
    download = mine;
    const report = (state, loaded, total, rate, eta, fromCache) => {
      toApp({ event: 'download', state, name: url, loaded, total, rate, eta_s: eta, from_cache: fromCache, request_id: id, origin });
      if (onProgress && state === 'progress') onProgress({ loaded, total, rate, etaSeconds: eta, fromCache });
    };
    const stop = (message) => {
      if (download === mine) download = null;
      fail('load', id, origin, message);
      return new Error(message);
    };
    report('start', 0, 0, 0, -1, false);
    let response = null, fromCache = false, buffer;
    const cache = await openCache();
    try {
      if (cache) response = await cache.match(absolute);
      fromCache = !!response;
      if (!response) response = await fetch(absolute, { signal: controller.signal });
    } catch (err) {
      if (controller.signal.aborted) {
        if (download === mine) download = null;
        report('cancelled', 0, 0, 0, -1, false);
        throw new Error('cancelled');
      }
      throw stop(`could not download ${url}: the server could not be reached, or it does not allow this page ` +
                 `to read the file (CORS: it must send Access-Control-Allow-Origin).`);
    }
    if (!response.ok) throw stop(describeHttp(response.status, url));
    const total = Number(response.headers.get('Content-Length')) || 0;
    const large = total ? tooLarge(total) : null;
    if (large) {
      controller.abort();
      throw stop(large);
    }
    try {
      buffer = await readBody(response, total, controller.signal,
        (loaded, t, rate, eta) => report('progress', loaded, t, rate, eta, fromCache));
    } catch (err) {
      if (controller.signal.aborted) {
        if (download === mine) download = null;
        report('cancelled', 0, total, 0, -1, fromCache);
        throw new Error('cancelled');
      }
      throw stop(`the download of ${url} broke off: ${String(err && err.message || err)}`);
    }
    if (download === mine) download = null;
    report('done', buffer.byteLength, total || buffer.byteLength, 0, 0, fromCache);
    if (!total) {
      const large2 = tooLarge(buffer.byteLength);
      if (large2) throw stop(large2);
    }
    if (notGguf(buffer)) throw stop(`${url} is not a model: a GGUF file starts with the letters GGUF, this one does not.`);
    const sha = await sha256(buffer);
    if (cache && !fromCache) {
      try {
        await cache.put(absolute, new Response(buffer, {
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(buffer.byteLength) },
        }));
      } catch (err) {
        console.warn('Loupe: could not keep the model in the cache: ' + (err && err.message || err));
      }
    }
    try {
      const card = await loadBytes(buffer, { name: url, source: url, sha, origin, id });
      announceCache();
      return card;
    } catch (err) {
      if (cache && !fromCache) await deleteCached(absolute);  // never keep a file the engine refused
      throw err;
    }
  }

  async function loadFile(file, { onProgress, origin = 'page', id = nextPageId++ } = {}) {
    const large = tooLarge(file.size);
    toApp({ event: 'download', state: 'start', name: file.name, loaded: 0, total: file.size, rate: 0, eta_s: -1, request_id: id, origin });
    if (large) {
      fail('load', id, origin, large);
      throw new Error(large);
    }
    let buffer;
    try {
      buffer = await readBody(new Response(file), file.size, null, (loaded, total, rate, eta) => {
        toApp({ event: 'download', state: 'progress', name: file.name, loaded, total, rate, eta_s: eta, request_id: id, origin });
        if (onProgress) onProgress({ loaded, total, rate, etaSeconds: eta, fromCache: false });
      });
    } catch (err) {
      const message = `could not read ${file.name}: ${String(err && err.message || err)}`;
      fail('load', id, origin, message);
      throw new Error(message);
    }
    toApp({ event: 'download', state: 'done', name: file.name, loaded: buffer.byteLength, total: buffer.byteLength, rate: 0, eta_s: 0, request_id: id, origin });
    if (notGguf(buffer)) {
      const message = `${file.name} is not a model: a GGUF file starts with the letters GGUF, this one does not.`;
      fail('load', id, origin, message);
      throw new Error(message);
    }
    const sha = await sha256(buffer);
    return loadBytes(buffer, { name: file.name, source: file.name, sha, origin, id });
  }

  // A Hugging Face model as its files (config.json, tokenizer.json, *.safetensors, picked or
  // dropped together): read one after another into one buffer, with each file's size.
  async function loadFileSet(all, { origin = 'page', id = nextPageId++ } = {}) {
    const files = all.filter((f) => /\.(safetensors|json)$/i.test(f.name));
    const total = files.reduce((sum, f) => sum + f.size, 0);
    const weights = files.filter((f) => /\.safetensors$/i.test(f.name));
    const label = weights.length === 1 ? weights[0].name : `${weights.length} safetensors files`;
    toApp({ event: 'download', state: 'start', name: label, loaded: 0, total, rate: 0, eta_s: -1, request_id: id, origin });
    const missing = ['config.json', 'tokenizer.json'].filter((n) => !files.some((f) => f.name === n));
    const problem = missing.length
      ? `a safetensors model needs ${missing.join(' and ')} beside its weights: pick or drop them together`
      : tooLarge(total);
    if (problem) {
      fail('load', id, origin, problem);
      throw new Error(problem);
    }
    const whole = new Uint8Array(total);
    let at = 0;
    try {
      for (const file of files) {
        const before = at;
        const buffer = await readBody(new Response(file), file.size, null, (loaded, _total, rate) => {
          const done = before + loaded;
          toApp({ event: 'download', state: 'progress', name: label, loaded: done, total, rate,
                  eta_s: rate > 0 ? (total - done) / rate : -1, request_id: id, origin });
        });
        whole.set(new Uint8Array(buffer), at);
        at += buffer.byteLength;
      }
    } catch (err) {
      const message = `could not read the files: ${String(err && err.message || err)}`;
      fail('load', id, origin, message);
      throw new Error(message);
    }
    toApp({ event: 'download', state: 'done', name: label, loaded: total, total, rate: 0, eta_s: 0, request_id: id, origin });
    const sha = await sha256(whole.buffer);
    return loadBytes(whole.buffer, { name: label, source: label, sha, origin, id,
                                     files: files.map((f) => ({ name: f.name, bytes: f.size })) });
  }

  // Picked or dropped files: a safetensors set when any is .safetensors, else one GGUF file.
  function loadPicked(list, options) {
    const files = Array.from(list || []);
    if (files.length === 0) return Promise.resolve(null);
    if (files.some((f) => /\.safetensors$/i.test(f.name))) return loadFileSet(files, options);
    return loadFile(files.find((f) => /\.gguf$/i.test(f.name)) || files[0], options);
  }

  async function loadAnything(source, options = {}) {
    await engineReady();
    if (typeof source === 'string') return loadUrl(source, options);
    if (Array.isArray(source) || (typeof FileList !== 'undefined' && source instanceof FileList)) {
      return loadPicked(source, options);
    }
    if (typeof Blob !== 'undefined' && source instanceof Blob) {
      return loadFile(source instanceof File ? source : new File([source], 'model.gguf'), options);
    }
    let buffer;
    if (source instanceof ArrayBuffer) buffer = source.slice(0);  // the caller keeps theirs
    else if (ArrayBuffer.isView(source)) buffer = source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength);
    else throw new TypeError('loadModel wants a URL string, an ArrayBuffer, a Uint8Array, a Blob, a File, or an array of Files (a safetensors model)');
    const id = nextPageId++;
    const large = tooLarge(buffer.byteLength);
    if (large) {
      fail('load', id, 'page', large);
      throw new Error(large);
    }
    if (notGguf(buffer)) {
      const message = 'not a model: a GGUF file starts with the letters GGUF, these bytes do not.';
      fail('load', id, 'page', message);
      throw new Error(message);
    }
    toApp({ event: 'loading', name: 'bytes from a script', request_id: id, origin: 'page' });
    return loadBytes(buffer, { name: 'memory', source: 'bytes from a script', sha: await sha256(buffer), origin: 'page', id });
  }

  // --- the file picker and drag and drop -------------------------------------------------------
  const fileInput = document.createElement('input');
  fileInput.type = 'file';
  fileInput.id = 'model-file';
  fileInput.accept = '.gguf,.safetensors,.json';
  fileInput.multiple = true;
  fileInput.hidden = true;
  fileInput.setAttribute('aria-label', 'Open a GGUF model file, or a safetensors model with its config.json and tokenizer.json');
  fileInput.addEventListener('change', () => {
    const files = Array.from(fileInput.files || []);
    fileInput.value = '';
    loadPicked(files, { origin: 'app' }).catch(() => {});
  });
  document.body.appendChild(fileInput);

  document.addEventListener('dragover', (event) => {
    if (event.dataTransfer && Array.from(event.dataTransfer.types || []).includes('Files')) {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    }
  });
  document.addEventListener('drop', (event) => {
    const files = event.dataTransfer && event.dataTransfer.files;
    if (!files || files.length === 0) return;
    event.preventDefault();
    loadPicked(files, { origin: 'app' }).catch(() => {});
  });

  // --- requests from the app (engine_client_web.cpp) ------------------------------------------
  function fromApp(text) {
    let r;
    try {
      r = JSON.parse(text);
    } catch {
      return;
    }
    switch (r.op) {
      case 'load_url':
        engineReady().then(() => loadUrl(r.url, { origin: 'app', id: r.id })).catch(() => {});
        break;
      case 'pick_file':
        fileInput.click();
        break;
      case 'cancel_download':
        if (download) download.controller.abort();
        break;
      case 'cache_list':
        announceCache();
        break;
      case 'cache_delete':
        deleteCached(r.url);
        break;
      default:
        request(r, { origin: 'app', id: r.id });
    }
  }

  function takeAppEvents() {
    if (!appEvents.length) return null;
    const text = JSON.stringify(appEvents);
    appEvents = [];
    return text;
  }

  window.loupeEngine = { fromApp, takeAppEvents, state: engine };

  // --- window.loupe ------------------------------------------------------------------------------
  function snake(options) {
    const map = {
      prompt: 'prompt', seed: 'seed', maxTokens: 'max_tokens', temperature: 'temperature', topK: 'top_k',
      topP: 'top_p', minP: 'min_p', repeatPenalty: 'repeat_penalty', chat: 'chat', alternatives: 'alternatives',
    };
    const out = {};
    for (const [key, value] of Object.entries(options || {})) {
      if (value === undefined || typeof value === 'function') continue;
      out[map[key] || key] = value;
    }
    return out;
  }

  function generate(options = {}) {
    return engineReady().then(() => new Promise((resolve, reject) => {
      const body = Object.assign({ op: 'generate', alternatives: 5 }, snake(options));
      let promptIds = [];
      request(body, {
        onEvent(event) {
          if (event.event === 'prompt') promptIds = (event.tokens || []).map((t) => t.id);
          else if (event.event === 'token') {
            if (options.onToken) {
              try {
                options.onToken({ id: event.id, text: event.text, token: event.token_text, prob: event.prob, alternatives: event.alternatives });
              } catch (err) {
                console.warn('Loupe: onToken threw: ' + err);
              }
            }
          } else if (event.event === 'done') {
            resolve({
              ids: event.ids, text: event.text, promptIds: event.prompt_ids || promptIds,
              stopReason: event.stop_reason, tokensPerSecond: event.tokens_per_s,
            });
            return true;
          } else if (event.event === 'error') {
            reject(new Error(event.message));
            return true;
          }
          return false;
        },
      });
    }));
  }

  function simple(body, pick) {
    return engineReady().then(() => new Promise((resolve, reject) => {
      request(body, {
        onEvent(event) {
          if (event.event === 'error') reject(new Error(event.message));
          else resolve(pick(event));
          return true;
        },
      });
    }));
  }

  Object.defineProperties(loupe, {
    loadModel: { enumerable: true, value: (source, options) => loadAnything(source, options) },
    generate: { enumerable: true, value: generate },
    cancel: {
      enumerable: true,
      value() {
        if (download) download.controller.abort();
        request({ op: 'cancel' });
      },
    },
    tokenize: {
      enumerable: true,
      value: (text, { bos = false } = {}) => simple({ op: 'tokenize', text: String(text), bos }, (event) => ({
        ids: event.tokens.map((t) => t.id),
        pieces: event.tokens.map((t) => t.text),
        bytes: event.tokens.map((t) => t.bytes),
      })),
    },
    explain: { enumerable: true, value: (req = {}) => simple(Object.assign({}, req, { op: 'explain' }), (event) => event.result) },
    model: { enumerable: true, get: () => engine.model },
    engine: {
      enumerable: true,
      get: () => ({ ready: engine.ready, threads: engine.threads, threaded: engine.threaded, version: engine.version, build: engine.build, heapBytes: engine.heapBytes }),
    },
    showView: { enumerable: true, value: (name) => toApp({ event: 'show_view', view: String(name) }) },
    cachedModels: { enumerable: true, value: cachedModels },
    deleteCachedModel: { enumerable: true, value: (url) => deleteCached(new URL(url, location.href).href) },
  });

  // --- bundled models, ?model=, the cache list ---------------------------------------------------
  // The models a build ships with, for a plain static host that has no
  // assets/models/index.json (scripts/serve.mjs writes that list from the folder; a static
  // host cannot): each is offered when a HEAD request finds it.
  const KNOWN_BUNDLED = [
    { name: 'loupe-default/loupe-default.gguf', url: 'assets/models/loupe-default/loupe-default.gguf' },
  ];

  async function knownBundled() {
    const found = await Promise.all(KNOWN_BUNDLED.map(async (m) => {
      try {
        const response = await fetch(m.url, { method: 'HEAD' });
        return response.ok ? { ...m, bytes: Number(response.headers.get('Content-Length')) || 0 } : null;
      } catch {
        return null;
      }
    }));
    return found.filter(Boolean);
  }

  async function bundledModels() {
    try {
      const response = await fetch('assets/models/index.json');
      if (response.ok) {
        const list = (await response.json()).models;
        if (Array.isArray(list)) return list;
      }
    } catch {
      // not there, or not JSON: a static host
    }
    return knownBundled();
  }

  async function start() {
    const bundled = await bundledModels();
    toApp({ event: 'bundled', models: bundled });
    announceCache();
    await engineReady();
    const wanted = params.get('model');
    if (wanted && wanted !== 'none') {
      loadUrl(wanted, { origin: 'app' }).catch(() => {});
    } else if (!wanted) {
      const fallback = bundled.find((m) => /(^|\/)loupe-default\//.test(m.url));
      if (fallback) loadUrl(fallback.url, { origin: 'app' }).catch(() => {});
    }
  }
  appRunning.then(() => {
    startWorker();
    start();
  }, () => {});
})();
