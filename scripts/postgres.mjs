// A throwaway PostgreSQL server for tests and benchmarks: Debian's `postgresql` package (installed
// with apt-get when missing and we are root, as scripts/browser.mjs does for Chromium), `initdb`
// and `pg_ctl` in a temporary folder, run as an unprivileged user (PostgreSQL refuses root), on a
// unix socket in that folder only (no TCP port, so parallel runs never collide).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const isRoot = process.getuid?.() === 0;

/** The bin folder of the newest installed PostgreSQL, or undefined. */
export function findPostgres() {
  if (process.env.PG_BIN && existsSync(join(process.env.PG_BIN, 'initdb'))) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0], 'bin') : undefined;
}

/** Finds PostgreSQL, installing Debian's package when it is missing and we are root. */
export function ensurePostgres() {
  const found = findPostgres();
  if (found) return found;
  if (!isRoot) throw new Error('No PostgreSQL found: install postgresql or set PG_BIN.');
  console.log('[postgres] no PostgreSQL found; installing Debian postgresql (apt-get)...');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const again = findPostgres();
  if (!again) throw new Error('apt-get installed postgresql but initdb is still missing');
  return again;
}

/** The unprivileged account the server runs as when we are root (created if missing). */
function serverUser() {
  if (!isRoot) return undefined;
  const user = process.env.PG_USER ?? 'postgres';
  if (spawnSync('id', ['-u', user]).status !== 0) {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
  }
  return user;
}

function idsOf(user) {
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

function as(user, bin, args) {
  const r =
    user === undefined
      ? spawnSync(bin, args, { encoding: 'utf8' })
      : spawnSync('runuser', ['-u', user, '--', bin, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Starts a fresh server. Returns its connection URL (unix socket; superuser `ledgerday`, trust
 * auth on the socket only), and `stop()`, `start()` (restart on the same data) and `destroy()`.
 */
export function startPostgres(opts = {}) {
  const bin = ensurePostgres();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'ledgerday-pg-'));
  const data = join(dir, 'data');
  if (user !== undefined) {
    const { uid, gid } = idsOf(user);
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  as(user, join(bin, 'initdb'), ['-D', data, '-U', 'ledgerday', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const settings = [
    "-c listen_addresses=''",
    `-c unix_socket_directories=${dir}`,
    '-c max_connections=200',
    '-c shared_buffers=64MB',
    `-c fsync=${opts.fsync === false ? 'off' : 'on'}`,
  ].join(' ');
  const pgctl = (args) => as(user, join(bin, 'pg_ctl'), args);
  const start = () => pgctl(['-D', data, '-l', join(dir, 'log'), '-o', settings, '-w', '-t', '30', 'start']);
  const stop = (mode = 'fast') => pgctl(['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
  start();
  const url = `postgresql://ledgerday@localhost/postgres?host=${encodeURIComponent(dir)}`;
  return {
    url,
    dir,
    start,
    stop,
    destroy() {
      try {
        stop('immediate');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
