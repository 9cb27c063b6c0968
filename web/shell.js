// Loupe's page: checks that the browser can run Loupe, downloads the right build with a
// progress bar, starts it, and exposes window.loupe (docs/js-api.md).
//
// Builds: loupe-mt.js (threads: needs SharedArrayBuffer, i.e. a cross-origin isolated page,
// which scripts/serve.mjs gives with COOP/COEP headers) and loupe.js (one thread, runs
// anywhere). Add ?threads=single to the URL to force the single-thread build.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);

  // --- window.loupe -------------------------------------------------------------------
  let resolveReady, rejectReady;
  const ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  ready.catch(() => {});  // a failure is shown on the page; awaiting callers still see it

  const state = { version: null, threads: null, threaded: null, build: null, error: null };
  const loupe = {};
  Object.defineProperties(loupe, {
    version: { enumerable: true, get: () => state.version },   // "0.1.0", once loaded
    threads: { enumerable: true, get: () => state.threads },   // threads the engine may use
    threaded: { enumerable: true, get: () => state.threaded }, // true in the threaded build
    build: { enumerable: true, get: () => state.build },       // "loupe-mt" or "loupe"
    error: { enumerable: true, get: () => state.error },       // why Loupe could not start
    ready: { enumerable: true, value: ready },                 // resolves after the first frame
  });
  window.loupe = loupe;

  // --- the page -------------------------------------------------------------------------
  function setStatus(text) { $('status').textContent = text; }

  function setProgress(fraction) {
    const fill = $('bar-fill');
    if (fraction == null) {
      fill.classList.add('indeterminate');
      fill.style.width = '';
    } else {
      fill.classList.remove('indeterminate');
      fill.style.width = (Math.max(0, Math.min(1, fraction)) * 100).toFixed(1) + '%';
    }
  }

  function megabytes(bytes) { return (bytes / 1048576).toFixed(1) + ' MB'; }

  // Replaces the loading panel with a readable explanation. `paragraphs` are plain text.
  function showProblem(title, paragraphs) {
    $('loading').hidden = true;
    document.body.classList.remove('running');
    $('problem-title').textContent = title;
    const body = $('problem-body');
    body.textContent = '';
    for (const text of paragraphs) {
      const p = document.createElement('p');
      p.textContent = text;
      body.appendChild(p);
    }
    $('problem').hidden = false;
  }

  let failed = false;
  function fail(title, paragraphs, { expected = false } = {}) {
    if (failed) return;
    failed = true;
    state.error = paragraphs.join(' ');
    showProblem(title, paragraphs);
    // A missing browser feature is a fact about the browser, not a bug in Loupe.
    (expected ? console.warn : console.error)('Loupe: ' + title + ': ' + state.error);
    rejectReady(new Error(state.error));
  }

  // --- what the browser can do ------------------------------------------------------------
  function missingFeatures() {
    const missing = [];
    if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') {
      missing.push('WebAssembly is not available. It may be switched off by a browser setting or policy.');
    }
    let gl = null;
    try {
      gl = document.createElement('canvas').getContext('webgl2');
    } catch (e) {
      gl = null;
    }
    if (!gl) {
      missing.push('WebGL 2 is not available, so Loupe cannot draw. Check that hardware acceleration ' +
                   'is switched on in the browser settings, or try another browser.');
    } else {
      const lose = gl.getExtension('WEBGL_lose_context');
      if (lose) lose.loseContext();  // give the context back; the app makes its own
    }
    return missing;
  }

  function wantThreads() {
    const forced = new URLSearchParams(location.search).get('threads');
    return forced !== 'single' && forced !== '1' && window.crossOriginIsolated === true &&
           typeof SharedArrayBuffer === 'function';
  }

  // --- downloading with progress ------------------------------------------------------------
  // Fetches every URL in parallel, reporting (loaded, total) where total is null when a
  // server does not say Content-Length. Returns ArrayBuffers.
  async function download(urls, onProgress) {
    const responses = await Promise.all(urls.map((url) => fetch(url)));
    for (const response of responses) {
      if (!response.ok) throw new Error(`${response.url} answered HTTP ${response.status}`);
    }
    const sizes = responses.map((r) => Number(r.headers.get('Content-Length')) || 0);
    const total = sizes.every((n) => n > 0) ? sizes.reduce((a, b) => a + b, 0) : null;
    const loaded = urls.map(() => 0);
    const report = () => onProgress(loaded.reduce((a, b) => a + b, 0), total);
    return Promise.all(responses.map(async (response, i) => {
      if (!response.body || !response.body.getReader) {
        const buffer = await response.arrayBuffer();
        loaded[i] = buffer.byteLength;
        report();
        return buffer;
      }
      const reader = response.body.getReader();
      const chunks = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded[i] += value.length;
        report();
      }
      const bytes = new Uint8Array(loaded[i]);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.length;
      }
      return bytes.buffer;
    }));
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${src}`));
      document.body.appendChild(script);
    });
  }

  // --- starting the app -------------------------------------------------------------------
  async function start() {
    const missing = missingFeatures();
    if (missing.length) {
      fail('Loupe can’t run in this browser', missing, { expected: true });
      return;
    }

    const threaded = wantThreads();
    const build = threaded ? 'loupe-mt' : 'loupe';
    state.build = build;
    $('build').textContent = threaded
      ? 'Threaded build: this page is cross-origin isolated.'
      : (window.crossOriginIsolated
        ? 'Single-thread build (chosen by ?threads=single).'
        : 'Single-thread build: this page is not cross-origin isolated, so threads are unavailable.');

    setStatus('Downloading Loupe…');
    const started = performance.now();
    let wasm, data;
    try {
      [wasm, data] = await download([build + '.wasm', build + '.data'], (loaded, total) => {
        if (total) {
          setProgress(loaded / total);
          setStatus(`Downloading Loupe: ${megabytes(loaded)} of ${megabytes(total)}`);
        } else {
          setProgress(null);
          setStatus(`Downloading Loupe: ${megabytes(loaded)}`);
        }
      });
    } catch (err) {
      fail('Loupe could not be downloaded', [
        String(err.message || err),
        'If you run your own copy, build the web version first: scripts/loupe build web ' +
        '(scripts/loupe serve does both).']);
      return;
    }
    setProgress(null);
    setStatus(`Starting (downloaded in ${((performance.now() - started) / 1000).toFixed(1)} s)…`);

    window.Module = {
      canvas: $('canvas'),
      wasmBinary: wasm,
      // The .data file (fonts) was downloaded above with the wasm.
      getPreloadedPackage: (name) => (String(name).endsWith('.data') ? data : null),
      print: (text) => console.log(text),
      printErr: (text) => console.warn(text),
      setStatus: (text) => { if (text && !failed) setStatus(text); },
      onRuntimeInitialized() {
        state.version = window.Module.UTF8ToString(window.Module._loupe_version());
        state.threads = window.Module._loupe_threads();
        state.threaded = window.Module._loupe_threaded() === 1;
      },
      onAbort(what) {
        fail('Loupe stopped', [String(what || 'The WebAssembly module aborted.')]);
      },
      // Called from main.cpp (NotifyPage).
      loupeEvent(event, message) {
        if (event === 'first-frame') {
          document.body.classList.add('running');
          $('canvas').focus();
          requestAnimationFrame(() => resolveReady(loupe));
        } else if (event === 'fatal') {
          fail('Loupe could not start', [message]);
        }
      },
    };
    try {
      await loadScript(build + '.js');
    } catch (err) {
      fail('Loupe could not be downloaded', [String(err.message || err)]);
    }
  }

  window.addEventListener('error', (event) => {
    if (!document.body.classList.contains('running')) {
      fail('Loupe could not start', [String(event.message || event.error || 'unknown error')]);
    }
  });

  // Offline use: web/sw.js caches the app and the bundled models, one cache per build
  // (build-id.txt). ?sw=off leaves it out, e.g. to debug without a cache.
  function registerServiceWorker() {
    if (!('serviceWorker' in navigator) || new URLSearchParams(location.search).get('sw') === 'off') return;
    fetch('build-id.txt', { cache: 'no-store' })
      .then((r) => (r.ok ? r.text() : 'dev'), () => null)
      .then((id) => {
        if (id === null) return;  // offline with no worker yet: nothing to register
        const build = id.trim().slice(0, 16) || 'dev';
        return navigator.serviceWorker.register('sw.js?build=' + encodeURIComponent(build));
      })
      .catch((err) => console.warn('Loupe: offline use is unavailable: ' + (err && err.message || err)));
  }

  start();
  registerServiceWorker();
})();
