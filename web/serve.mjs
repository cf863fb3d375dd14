#!/usr/bin/env node
// A tiny static server for the built web app (web/dist), with no dependencies.
//
//   node serve.mjs [--host 127.0.0.1] [--port 5173] [--dir dist]
//
// VERIFICATION_URL and CHAT_URL, when set, replace the built config.json, so one build
// points at any services. SIGINT/SIGTERM stop it.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.WEB_HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.WEB_PORT ?? '5173' },
    dir: { type: 'string', default: join(here, 'dist') },
  },
});
const root = resolve(values.dir);
const port = Number.parseInt(values.port, 10);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};

const override =
  process.env.VERIFICATION_URL || process.env.CHAT_URL
    ? JSON.stringify({
        verificationUrl: process.env.VERIFICATION_URL || 'http://127.0.0.1:8081',
        chatUrl: process.env.CHAT_URL || 'http://127.0.0.1:8082',
      })
    : null;

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

function send(res, status, body, headers = {}) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

async function fileFor(pathname) {
  let rel;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  const full = normalize(join(root, rel));
  if (full !== root && !full.startsWith(root + sep)) return null;
  try {
    const s = await stat(full);
    if (s.isDirectory()) {
      const index = join(full, 'index.html');
      const si = await stat(index);
      return { path: index, size: si.size };
    }
    return { path: full, size: s.size };
  } catch {
    return null;
  }
}

const server = createServer(async (req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  if (override && pathname.endsWith('/config.json')) {
    send(res, 200, req.method === 'HEAD' ? undefined : override, {
      'Content-Type': TYPES['.json'],
      'Cache-Control': 'no-store',
    });
    return;
  }
  let file = await fileFor(pathname);
  // Paths without an extension are app routes: answer with the app.
  if (!file && extname(pathname) === '') file = await fileFor('/index.html');
  if (!file) {
    send(res, 404, 'not found\n');
    return;
  }
  const ext = extname(file.path);
  const immutable = file.path.includes(`${sep}assets${sep}`);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': TYPES[ext] ?? 'application/octet-stream',
    'Content-Length': file.size,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file.path)
    .on('error', () => res.destroy())
    .pipe(res);
});

server.on('error', (err) => {
  console.error(`web: ${err.message}`);
  process.exit(1);
});
server.listen(port, values.host, () => {
  const addr = server.address();
  console.log(`web: serving ${root} on http://${values.host}:${typeof addr === 'object' && addr ? addr.port : port}/`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
