// The browser benchmark's page script. URL parameters:
//   engine=loupe|wllama   which engine to measure
//   model=URL             the GGUF file (served by the bench runner)
//   threads=N             1: Loupe's single-thread worker, wllama with n_threads 1;
//                         more: Loupe's pthread worker and wllama with N threads (the
//                         page must be cross-origin isolated)
//   prompt=N, gen=N       prompt tokens (default 128) and generated tokens (default 64)
// Both engines get the same text prompt, cut to N tokens by Loupe's tokenizer, greedy
// sampling, and report their own timings of the prompt pass and of the generation.
// window.benchResult becomes {engine, threads, prompt_tokens, gen_tokens,
// prompt_tokens_per_s, gen_tokens_per_s, load_ms} or {error}.
const params = new URLSearchParams(location.search);
const engineName = params.get('engine') || 'loupe';
const modelUrl = params.get('model');
const threads = Math.max(1, Number(params.get('threads') || 1));
const promptTokens = Number(params.get('prompt') || 128);
const genTokens = Number(params.get('gen') || 64);

const logElement = document.getElementById('log');
function log(text) {
  logElement.textContent += text + '\n';
  console.log('[bench] ' + text);
}

// Plain words of the bench model's vocabulary (letters and letter pairs), so both
// tokenizers see ordinary text; long enough for any prompt length we ask for.
function promptText(words) {
  const out = [];
  for (let i = 0; i < words; i++) out.push(['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'saw', 'it', 'rain'][(i * 7 + (i >> 3)) % 10]);
  return out.join(' ');
}

// --- Loupe: web/engine-worker.js with the build the thread count asks for ----------------
function loupeWorker(threaded) {
  const worker = new Worker('/engine-worker.js');
  worker.postMessage({ type: 'init', threaded });
  let nextId = 1;
  const handlers = new Map();
  let readyResolve;
  const ready = new Promise((resolve) => { readyResolve = resolve; });
  worker.onmessage = (message) => {
    const data = message.data;
    if (!data || data.type !== 'events') return;
    for (const event of data.events) {
      if (event.event === 'ready') readyResolve(event);
      const handler = handlers.get(event.request_id);
      if (handler) handler(event);
    }
  };
  // Sends a request; resolves with the events up to the one `until` accepts.
  function request(body, until, bytes = null) {
    const id = nextId++;
    const events = [];
    return new Promise((resolve, reject) => {
      handlers.set(id, (event) => {
        events.push(event);
        if (event.event === 'error') {
          handlers.delete(id);
          reject(new Error(`${body.op}: ${event.message}`));
        } else if (until(event)) {
          handlers.delete(id);
          resolve(events);
        }
      });
      worker.postMessage({ id, origin: 'bench', request: { ...body, id }, bytes }, bytes ? [bytes] : []);
    });
  }
  return { worker, ready, request };
}

async function benchLoupe() {
  const engine = loupeWorker(threads > 1);
  const ready = await engine.ready;
  log(`loupe: ${ready.build} ${ready.version}, ${ready.threads} thread(s)`);
  const bytes = await (await fetch(modelUrl)).arrayBuffer();
  const loadStart = performance.now();
  await engine.request({ op: 'load', name: modelUrl.split('/').pop() }, (e) => e.event === 'loaded', bytes);
  const loadMs = performance.now() - loadStart;
  const text = await exactPrompt((t) => engine.request({ op: 'tokenize', text: t, bos: false }, (e) => e.event === 'tokens')
    .then((events) => events[events.length - 1].tokens.length));
  const run = async () => {
    const events = await engine.request(
      { op: 'generate', prompt: text, max_tokens: genTokens + 1, temperature: 0, alternatives: 0, seed: 1 },
      (e) => e.event === 'done');
    const done = events[events.length - 1];
    // generate_ms covers genTokens forward passes (the first token comes from the prompt's logits).
    return {
      prompt_n: done.prompt_ids.length, prompt_ms: done.prompt_ms,
      gen_n: done.ids.length - 1, gen_ms: done.generate_ms,
    };
  };
  await run();  // warm-up: sizes every buffer, touches every page
  return { threads: ready.threads, build: ready.build, load_ms: loadMs, text, ...best([await run(), await run()]) };
}

// The text that Loupe reads as exactly promptTokens tokens with BOS (llama.cpp's count of the same
// text is reported beside it): words are added one by one; the bench vocabulary makes a
// short word one token and a longer one two, so an overshoot by one is mended by
// swapping the last word for "a".
async function exactPrompt(count) {
  const target = promptTokens - 1;  // the generation adds BOS
  const all = promptText(4 * promptTokens).split(' ');
  const words = [];
  for (const word of all) {
    words.push(word);
    const n = await count(words.join(' '));
    if (n === target) break;
    if (n > target) {
      words[words.length - 1] = 'a';
      break;
    }
  }
  return words.join(' ');
}

// --- wllama: llama.cpp in wasm ------------------------------------------------------------
async function benchWllama() {
  const { Wllama } = await import('/wllama/index.js');
  const wllama = new Wllama({ default: '/wllama/wasm/wllama.wasm' }, { suppressNativeLog: true });
  const loadStart = performance.now();
  await wllama.loadModelFromUrl(new URL(modelUrl, location.href).href, {
    n_threads: threads, n_ctx: 1024, n_batch: 512, n_gpu_layers: 0, useCache: false,
  });
  const loadMs = performance.now() - loadStart;
  const info = wllama.getLoadedContextInfo ? wllama.getLoadedContextInfo() : {};
  log(`wllama: loaded, ${JSON.stringify(info).slice(0, 200)}`);
  // The same text Loupe reads (its token count in llama.cpp's tokenizer is reported).
  const text = await exactPromptFromParam();
  const run = async () => {
    const response = await wllama.createCompletion({
      prompt: text, max_tokens: genTokens, temperature: 0, ignore_eos: true, cache_prompt: false, seed: 1,
    });
    const t = response.timings;
    if (!t) throw new Error('wllama returned no timings');
    return { prompt_n: t.prompt_n, prompt_ms: t.prompt_ms, gen_n: t.predicted_n, gen_ms: t.predicted_ms };
  };
  await run();
  return { threads, build: 'wllama', load_ms: loadMs, ...best([await run(), await run()]) };
}

// The runner passes the text Loupe used (so both read the same prompt).
async function exactPromptFromParam() {
  return params.get('text') || promptText(promptTokens);
}

function best(runs) {
  const prompt = Math.max(...runs.map((r) => 1000 * r.prompt_n / r.prompt_ms));
  const gen = Math.max(...runs.map((r) => 1000 * r.gen_n / r.gen_ms));
  return { prompt_tokens: runs[0].prompt_n, gen_tokens: runs[0].gen_n, prompt_tokens_per_s: prompt, gen_tokens_per_s: gen };
}

(async () => {
  try {
    if (!modelUrl) throw new Error('no model= parameter');
    const result = engineName === 'wllama' ? await benchWllama() : await benchLoupe();
    window.benchResult = { engine: engineName, crossOriginIsolated: window.crossOriginIsolated, ...result };
  } catch (err) {
    window.benchResult = { engine: engineName, error: String(err && err.stack || err) };
  }
  log(JSON.stringify(window.benchResult));
})();
