// HTTP side of the relay: serves the built app (dist/) with cache headers that suit hashed
// assets and a service worker, falls back to index.html for client-side routes, answers
// /health, and upgrades /sync to a WebSocket handed to the relay.

import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from './log.ts';
import type { Relay, RelayTransport } from './relay.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
};

/**
 * Vite puts content-hashed files under /assets/: they never change, so they may be cached for a
 * year. Everything else (index.html, sw.js, the manifest, icons) must be revalidated, or a
 * deployed update would not reach users until their cache expired.
 */
function cacheControl(urlPath: string): string {
  if (urlPath.startsWith('/assets/')) return 'public, max-age=31536000, immutable';
  return 'no-cache';
}

export interface HttpServerOptions {
  staticDir: string;
  relay: Relay;
  log: Logger;
  /** Largest WebSocket message ws accepts at all; the relay answers frames above its own limit with TooLarge. */
  wsMaxPayload: number;
}

export interface RelayHttpServer {
  server: Server;
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting connections and closes open WebSockets (after the relay drained). */
  close(): Promise<void>;
}

export function createHttpServer(opts: HttpServerOptions): RelayHttpServer {
  const { staticDir, relay, log } = opts;
  const root = normalize(staticDir + sep);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.wsMaxPayload,
    perMessageDeflate: false,
  });

  async function serveFile(res: ServerResponse, file: string, urlPath: string, st: Stats, head: boolean) {
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, {
      'content-type': type,
      'content-length': st.size,
      'cache-control': cacheControl(urlPath),
      'last-modified': st.mtime.toUTCString(),
      'x-content-type-options': 'nosniff',
    });
    if (head) {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', (e) => {
        log.warn('static read failed', { file, err: e });
        res.destroy();
      })
      .pipe(res);
  }

  async function tryStat(file: string): Promise<Stats | undefined> {
    try {
      const st = await stat(file);
      return st.isFile() ? st : undefined;
    } catch {
      return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://relay.invalid');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request');
      return;
    }
    const path = url.pathname;
    if (path === '/health') {
      // RELAY-18: unauthenticated, so it tells nothing but whether the relay is up (counters
      // are for the operator's logs, not for anyone who can reach the port).
      const body = JSON.stringify({
        status: relay.closing ? 'stopping' : 'ok',
        ...(relay.database === undefined ? {} : { database: relay.database.up() ? 'up' : 'down' }),
      });
      res.writeHead(relay.closing ? 503 : 200, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
      });
      res.end(body);
      return;
    }
    if (path === '/ready') {
      // Readiness for a load balancer: 503 while stopping or while the shared database is away
      // (the relay stays up and resumes by itself; /health keeps answering 200 meanwhile).
      const ready = relay.ready();
      const body = JSON.stringify({
        status: ready ? 'ready' : 'unavailable',
        ...(relay.database === undefined ? {} : { database: relay.database.up() ? 'up' : 'down' }),
      });
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    if (path === '/sync') {
      res
        .writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
        .end('WebSocket upgrade required');
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed');
      return;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad path');
      return;
    }
    // Path traversal: the normalised file must stay inside the static root.
    const file = normalize(join(root, decoded));
    if (!file.startsWith(root) || decoded.includes('\0')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const head = method === 'HEAD';
    const st = path.endsWith('/') ? undefined : await tryStat(file);
    if (st !== undefined) return serveFile(res, file, path, st, head);
    // SPA fallback: a client-side route (no file extension) gets index.html; a missing asset is a 404,
    // so a stale service worker never caches HTML under a script's name.
    if (extname(path) === '') {
      const index = join(root, 'index.html');
      const ist = await tryStat(index);
      if (ist !== undefined) return serveFile(res, index, '/index.html', ist, head);
    }
    res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-cache' }).end('not found');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.error('http handler failed', { err: e, url: req.url });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let path = '';
    try {
      path = new URL(req.url ?? '/', 'http://relay.invalid').pathname;
    } catch {
      // falls through to the rejection below
    }
    if (path !== '/sync' || relay.closing) {
      socket.end(
        `HTTP/1.1 ${relay.closing ? '503 Service Unavailable' : '404 Not Found'}\r\nconnection: close\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws, req));
  });

  function attach(ws: WebSocket, req: IncomingMessage): void {
    const transport: RelayTransport = {
      send: (bytes) => {
        if (ws.readyState === ws.OPEN) ws.send(bytes);
      },
      close: (code, reason) => ws.close(code, reason),
      bufferedAmount: () => ws.bufferedAmount,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      // ws reads a message whole before it hands it over; its receiver's limit is per server, so
      // the relay lowers it for a socket that has not authenticated (RELAY-20): a larger frame is
      // cut off (close 1009) as it arrives, never buffered.
      pause: (ms) => {
        if (ws.isPaused || ws.readyState !== ws.OPEN) return;
        ws.pause();
        setTimeout(() => {
          if (ws.readyState === ws.OPEN) ws.resume();
        }, ms).unref();
      },
      limitPayload: (n) => {
        const r = (ws as unknown as { _receiver?: { _maxPayload?: number } })._receiver;
        if (r !== undefined && typeof r._maxPayload === 'number') r._maxPayload = n;
      },
      host: req.headers.host ?? '',
    };
    const conn = relay.connect(transport);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = toBytes(data);
      conn.onMessage(bytes, isBinary);
    });
    ws.on('close', () => conn.onClose());
    ws.on('error', (e) => {
      // ws reports protocol violations (e.g. a frame above maxPayload: close 1009) here.
      log.info('websocket error', { remote: transport.remote, err: e });
    });
  }

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address();
          resolve(typeof a === 'object' && a !== null ? a.port : port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.close(1001, 'relay shutting down');
        wss.close();
        server.close(() => resolve());
        server.closeIdleConnections();
        // Sockets that do not close promptly are cut: shutdown must not hang on a slow peer. A
        // WebSocket paused by its frame budget (RELAY-20) never answers the close handshake, and
        // upgraded sockets are not HTTP connections, so closeAllConnections() alone leaves them
        // open until ws's own 30 s close timeout (past main.ts's 15 s shutdown limit).
        setTimeout(() => {
          server.closeAllConnections();
          for (const c of wss.clients) c.terminate();
        }, 2000).unref();
      }),
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
