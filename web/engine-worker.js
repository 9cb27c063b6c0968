// Loupe's engine in a Web Worker. Loads the engine-only wasm (loupe-engine-worker.js, or
// loupe-engine-worker-mt.js with threads when the page's first message asks for them),
// takes requests from the page (web/engine.js), and posts the engine's events back.
//
// First message: {type: 'init', threaded}. (Not a query string: a service worker may
// answer this script from its cache, and the worker's location is then the cached URL.)
// Message in:  {id, origin, request: {op, ...}, bytes?: ArrayBuffer (transferred)}
// Message out: {type: 'events', events: [{event, request_id, origin, ...}], heapBytes}
//
// Requests are handled one per task, and while a generation runs each task also advances
// it by one token (loupe_worker_step), scheduled through a MessageChannel: a "cancel"
// posted by the page is a task of its own, so it is handled between two tokens.
'use strict';

let threaded = false;
let build = 'loupe-engine-worker';
let started = false;
const WASM_LIMIT = 4 * 1024 * 1024 * 1024;  // wasm32 addresses 4 GB at most

const queue = [];
let ready = false;
let generation = null;  // {id, origin} of the running generation
let scheduled = false;
const channel = new MessageChannel();

function heapBytes() {
  return self.Module && self.Module.HEAPU8 ? self.Module.HEAPU8.length : 0;
}

function post(events) {
  if (events.length) self.postMessage({ type: 'events', events, heapBytes: heapBytes() });
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  channel.port2.postMessage(0);
}

// Calls an exported function that returns a malloc'd JSON array of events.
function takeEvents(pointer) {
  if (!pointer) return [{ event: 'error', op: '', message: 'the engine ran out of memory' }];
  const text = self.Module.UTF8ToString(pointer);
  self.Module._free(pointer);
  return JSON.parse(text);
}

function handleRequest(json) {
  const M = self.Module;
  const n = M.lengthBytesUTF8(json) + 1;
  const p = M._malloc(n);
  if (!p) return [{ event: 'error', op: '', message: 'the engine ran out of memory' }];
  M.stringToUTF8(json, p, n);
  const events = takeEvents(M._loupe_worker_handle(p));
  M._free(p);
  return events;
}

function megabytes(bytes) {
  return bytes >= 1e9 ? (bytes / 1e9).toFixed(2) + ' GB' : (bytes / 1e6).toFixed(1) + ' MB';
}

// Copies the model into the wasm heap once; the engine then owns that buffer.
function stageBytes(request, bytes) {
  const M = self.Module;
  const size = bytes.byteLength;
  const used = heapBytes();
  const kv = Math.min(size * 0.25, 512e6) + 32e6;  // an estimate: the KV cache and work buffers
  const fits = WASM_LIMIT - used - kv;
  if (size > fits) {
    return `the model is ${megabytes(size)}, too large for this browser: WebAssembly addresses 4 GB at most, ` +
      `${megabytes(used)} are in use and the KV cache needs about ${megabytes(kv)}, so a model of at most ` +
      `${megabytes(Math.max(0, fits))} would fit. Try a smaller or more quantized file (e.g. Q4_0), or the desktop app.`;
  }
  const pointer = M._loupe_worker_buffer(size);
  if (!pointer) return `not enough memory for a ${megabytes(size)} model in this tab (the browser refused to grow WebAssembly memory)`;
  M.UTF8ToString(M._loupe_worker_version());  // refreshes the heap views after growth (threaded build)
  M.HEAPU8.set(new Uint8Array(bytes), pointer);
  return null;
}

function handleMessage(message) {
  const request = message.request || {};
  const op = request.op || '';
  const tag = (events, id, origin) => {
    for (const e of events) {
      e.request_id = id;
      e.origin = origin;
    }
    return events;
  };
  if (op === 'load') {
    if (!message.bytes) {
      post(tag([{ event: 'error', op, message: 'no model bytes came with the request' }], message.id, message.origin));
      return;
    }
    const problem = stageBytes(request, message.bytes);
    message.bytes = null;
    if (problem) {
      post(tag([{ event: 'error', op, message: problem }], message.id, message.origin));
      return;
    }
  }
  const wasBusy = self.Module._loupe_worker_busy() === 1;
  const events = handleRequest(JSON.stringify(request));
  for (const e of events) {
    if (e.event === 'loaded' && e.card) {
      if (request.sha256) e.card.sha256 = request.sha256;
      if (request.source) e.card.source = request.source;
      e.card.wasm_heap_bytes = heapBytes();
    }
    if (e.event === 'prompt') e.request = request;
  }
  if (op === 'cancel' && wasBusy && generation) {
    // The "done" of a cancelled generation belongs to the generate request.
    post(tag(events, generation.id, generation.origin));
    generation = null;
  } else {
    post(tag(events, message.id, message.origin));
  }
  if ((op === 'generate' || op === 'train') && self.Module._loupe_worker_busy() === 1) generation = { id: message.id, origin: message.origin };
}

function pump() {
  scheduled = false;
  if (!ready) return;
  try {
    if (queue.length) {
      handleMessage(queue.shift());
    } else if (self.Module._loupe_worker_busy() === 1) {
      const events = takeEvents(self.Module._loupe_worker_step());
      const g = generation || { id: null, origin: 'app' };
      for (const e of events) {
        e.request_id = g.id;
        e.origin = g.origin;
      }
      if (self.Module._loupe_worker_busy() !== 1) generation = null;
      post(events);
    }
  } catch (err) {
    post([{ event: 'error', op: 'engine', message: 'the engine failed: ' + String(err && err.message || err) }]);
  }
  if (queue.length || (ready && self.Module._loupe_worker_busy() === 1)) schedule();
}

channel.port1.onmessage = pump;

self.onmessage = (event) => {
  if (!started) {
    started = true;
    const data = event.data || {};
    threaded = data.type === 'init' ? data.threaded === true
      : new URL(self.location.href).searchParams.get('threads') === 'multi';
    build = threaded ? 'loupe-engine-worker-mt' : 'loupe-engine-worker';
    start();
    if (data.type === 'init') return;
  }
  queue.push(event.data);
  schedule();
};

function start() {
  self.Module = {
    // The threaded build's own workers load the same script.
    mainScriptUrlOrBlob: build + '.js',
    print: (text) => console.log('[engine] ' + text),
    printErr: (text) => console.warn('[engine] ' + text),
    onRuntimeInitialized() {
      const M = self.Module;
      const threads = threaded ? M._loupe_worker_set_threads(self.navigator.hardwareConcurrency || 1) : M._loupe_worker_set_threads(1);
      ready = true;
      post([{
        event: 'ready', threads, threaded: M._loupe_worker_threaded() === 1,
        version: M.UTF8ToString(M._loupe_worker_version()), build,
      }]);
      schedule();
    },
    onAbort(what) {
      ready = false;
      post([{ event: 'error', op: 'engine', message: 'the engine stopped: ' + String(what || 'aborted') }]);
    },
  };

  try {
    importScripts(build + '.js');
  } catch (err) {
    post([{ event: 'error', op: 'engine', message: `could not load ${build}.js: ${String(err && err.message || err)}` }]);
  }
}
