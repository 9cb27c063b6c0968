#!/usr/bin/env node
// Serves Loupe's web build: a tiny static server with no framework.
//
//   node scripts/serve.mjs [--port N] [--host H] [--no-isolation] [--build DIR]
//
// URL layout:   /             web/index.html (the shell)
//               /assets/...   assets/ (models, fonts, lessons)
//               /...          web/ first, then the build output (default build/web:
//                             loupe.js, loupe.wasm, loupe.data, loupe-mt.*)
// Headers:      Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
//               require-corp make the page cross-origin isolated, which the threaded build
//               (SharedArrayBuffer) needs; --no-isolation leaves them out, so the page
//               falls back to the single-thread build. Range requests are honoured
//               (models can be large), with 206/416 as HTTP says.
//               /assets/models/index.json  when no such file exists: the *.gguf files under
//                             assets/models, as {"models":[{name, url, bytes}]} (the app's
//                             list of bundled models)
// Also a module: startServer({port, host, isolation, buildDir, extraRoots}) → {server, url}.
//               extraRoots: [{prefix: '/test-models/', dir}] serves more folders (tests).
import { createServer } from 'node:http';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.data': 'application/octet-stream',
  '.gguf': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

function mimeType(file) {
  return MIME[path.extname(file).toLowerCase()] || 'application/octet-stream';
}

// Resolves `urlPath` inside `root`; null when it would leave the root.
function inside(root, urlPath) {
  const file = path.resolve(root, '.' + urlPath);
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

async function statFile(file) {
  try {
    const st = await fs.stat(file);
    return st.isFile() ? st : null;
  } catch {
    return null;
  }
}

// Finds the file for a URL path: the roots are searched in order.
async function locate(urlPath, roots) {
  if (urlPath === '/' || urlPath === '') urlPath = '/index.html';
  for (const { prefix, dir } of roots) {
    if (!urlPath.startsWith(prefix)) continue;
    const file = inside(dir, urlPath.slice(prefix.length - 1));
    if (!file) continue;
    const st = await statFile(file);
    if (st) return { file, st };
  }
  return null;
}

// Parses a single-range "bytes=a-b" / "bytes=a-" / "bytes=-n" header against `size`.
// Returns {start, end} (inclusive), 'unsatisfiable', or null to send the whole file.
export function parseRange(header, size) {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;  // malformed or multi-range: whole file
  let start, end;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;  // invalid range: ignore it
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}

// Every *.gguf under `dir` (recursively), as the Model view lists bundled models.
async function modelIndex(dir, urlPrefix) {
  const models = [];
  async function walk(sub) {
    let entries = [];
    try {
      entries = await fs.readdir(path.join(dir, sub), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = sub ? sub + '/' + entry.name : entry.name;
      if (entry.isDirectory()) await walk(rel);
      else if (entry.isFile() && entry.name.endsWith('.gguf')) {
        const st = await fs.stat(path.join(dir, rel));
        models.push({ name: rel, url: urlPrefix + rel.split('/').map(encodeURIComponent).join('/'), bytes: st.size });
      }
    }
  }
  await walk('');
  return { models };
}

export function startServer({ port = 8080, host = '127.0.0.1', isolation = true,
                              buildDir = path.join(repoRoot, 'build', 'web'), quiet = false, extraRoots = [] } = {}) {
  const roots = [
    ...extraRoots,
    { prefix: '/assets/', dir: path.join(repoRoot, 'assets') },
    { prefix: '/', dir: path.join(repoRoot, 'web') },
    { prefix: '/', dir: path.resolve(buildDir) },
  ];

  const server = createServer(async (req, res) => {
    const common = {
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Resource-Policy': 'same-origin',
    };
    if (isolation) {
      common['Cross-Origin-Opener-Policy'] = 'same-origin';
      common['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    const fail = (status, message) => {
      res.writeHead(status, { ...common, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : message + '\n');
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return fail(405, 'Method not allowed');
      }
      let urlPath;
      try {
        urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      } catch {
        return fail(400, 'Bad request');
      }
      if (urlPath.includes('\0')) return fail(400, 'Bad request');
      const found = await locate(urlPath, roots);
      if (!found && urlPath === '/assets/models/index.json') {
        const body = JSON.stringify(await modelIndex(path.join(repoRoot, 'assets', 'models'), 'assets/models/'));
        res.writeHead(200, { ...common, 'Content-Type': MIME['.json'], 'Content-Length': Buffer.byteLength(body) });
        return res.end(req.method === 'HEAD' ? undefined : body);
      }
      if (!found) {
        const hint = /^\/loupe(-mt)?\.(js|wasm|data)$/.test(urlPath)
          ? ' (the web build is missing: run scripts/loupe build web)' : '';
        return fail(404, `Not found: ${urlPath}${hint}`);
      }
      const { file, st } = found;
      const headers = {
        ...common,
        'Content-Type': mimeType(file),
        'Accept-Ranges': 'bytes',
        'Last-Modified': st.mtime.toUTCString(),
      };
      const range = parseRange(req.headers.range, st.size);
      if (range === 'unsatisfiable') {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
        return res.end();
      }
      let start = 0, end = st.size - 1, status = 200;
      if (range) {
        ({ start, end } = range);
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
      }
      headers['Content-Length'] = String(st.size === 0 ? 0 : end - start + 1);
      res.writeHead(status, headers);
      if (req.method === 'HEAD' || st.size === 0) return res.end();
      const stream = createReadStream(file, { start, end });
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    } catch (err) {
      if (!res.headersSent) fail(500, 'Internal error');
      else res.destroy();
      if (!quiet) console.error('serve:', err);
    }
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({ server, url: `http://${shownHost}:${address.port}/`, port: address.port });
    });
  });
}

function usage() {
  return 'usage: node scripts/serve.mjs [--port N] [--host H] [--no-isolation] [--build DIR]';
}

async function main(argv) {
  const options = { port: 8080, host: '127.0.0.1', isolation: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value\n${usage()}`);
      return argv[++i];
    };
    if (arg === '--port') {
      options.port = Number(value());
      if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
        throw new Error(`--port wants a number from 0 to 65535\n${usage()}`);
      }
    } else if (arg === '--host') options.host = value();
    else if (arg === '--no-isolation') options.isolation = false;
    else if (arg === '--build') options.buildDir = value();
    else if (arg === '-h' || arg === '--help') { console.log(usage()); return; }
    else throw new Error(`unknown option '${arg}'\n${usage()}`);
  }
  let started;
  try {
    started = await startServer(options);
  } catch (err) {
    if (err.code === 'EADDRINUSE') {
      throw new Error(`port ${options.port} on ${options.host} is already in use: ` +
                      `stop the other server or pick another port with --port N`);
    }
    if (err.code === 'EACCES') {
      throw new Error(`not allowed to listen on port ${options.port}: pick a port above 1023 with --port N`);
    }
    throw err;
  }
  const buildDir = path.relative(process.cwd(), path.resolve(options.buildDir || path.join(repoRoot, 'build', 'web'))) || '.';
  console.log(`Loupe is served at ${started.url}  (${options.isolation
    ? 'cross-origin isolated: the threaded build is used' : 'no isolation: the single-thread build is used'};` +
    ` files from web/, assets/ and ${buildDir})`);
  console.log('Press Ctrl+C to stop.');
  const stop = () => {
    started.server.close(() => process.exit(0));
    started.server.closeAllConnections();  // browsers keep connections open
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`serve: ${err.message}`);
    process.exit(1);
  });
}
