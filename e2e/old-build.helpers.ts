// The previous release for the old-build/new-build test (issue 11, docs/PROTOCOL.md SCH-4): the
// app as it was before schema version 2, built from git history into .cache/, and served from
// its own origin with /sync passed through to the test relay, so both builds share calendars.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { extname, join, normalize } from 'node:path';

/** The last commit before schema version 2 (the event field table, recurrence, alarms). */
export const OLD_COMMIT = '27a096eefca3378509756a3108e760bcdb41ed93';

const ROOT = join(import.meta.dirname, '..');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

/** Builds the old app once into .cache/old-build/<commit>/dist; undefined when history lacks it. */
export function buildOld(commit: string): string | undefined {
  const base = join(ROOT, '.cache', 'old-build', commit.slice(0, 12));
  const dist = join(base, 'dist');
  if (existsSync(join(dist, 'index.html'))) return dist;
  if (spawnSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: ROOT }).status !== 0)
    return undefined;
  rmSync(base, { recursive: true, force: true });
  const src = join(base, 'src-tree');
  mkdirSync(src, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git archive ${commit} | tar -x -C "${src}"`], { cwd: ROOT });
  if (archive.status !== 0) throw new Error(`git archive failed: ${archive.stderr}`);
  // The same dependencies as today's tree (the old lockfile's versions are compatible).
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
  const b = spawnSync(
    join(ROOT, 'node_modules/.bin/vite'),
    ['build', '--outDir', dist, '--logLevel', 'warn'],
    {
      cwd: src,
      stdio: 'inherit',
    },
  );
  if (b.status !== 0) throw new Error('vite build of the old app failed');
  return dist;
}

/** Serves `dist` (SPA fallback) and passes WebSocket upgrades on /sync through to the relay. */
export async function serveOld(
  dist: string,
  relayPort: number,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(dist, path));
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(dist, 'index.html');
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    });
    createReadStream(file).pipe(res);
  });
  server.on('upgrade', (req, socket, head) => {
    // Raw pass-through: the Host header stays this origin's, which is what the device signed (SYNC-2).
    const up = connect(relayPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
