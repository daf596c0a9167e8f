// Server for the end-to-end tests (playwright.config.ts webServer): builds the app with Vite
// (when vite.config.ts exists) and runs the relay on PORT with a fresh temporary data directory,
// serving dist/, /health and the /sync WebSocket from one process, as `npm start` does.
// The release before schema version 2 (scripts/build-old.mjs, built once per checkout) is copied
// into dist/old/, so both builds share one origin and one relay (e2e/old-build.spec.ts).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureOldBuild, OLD_BASE } from './build-old.mjs';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const port = process.env.PORT ?? '4319';

if (existsSync('vite.config.ts') && process.env.E2E_SKIP_BUILD !== '1') {
  const r = spawnSync(join(root, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error('serve-e2e: vite build failed');
    process.exit(r.status ?? 1);
  }
}

if (existsSync('dist')) {
  const old = join('dist', OLD_BASE);
  rmSync(old, { recursive: true, force: true });
  try {
    cpSync(ensureOldBuild(), old, { recursive: true });
  } catch (e) {
    // Only e2e/old-build.spec.ts needs it, and it fails with this message; the others still run.
    console.error(`serve-e2e: no old build at ${OLD_BASE}: ${e?.message ?? e}`);
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'ledgerday-e2e-'));
// `node --import tsx` (not the tsx CLI) so that signals reach the relay process itself.
const relay = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    'src/server/main.ts',
    '--port',
    port,
    '--host',
    '127.0.0.1',
    '--data',
    dataDir,
    '--static',
    'dist',
  ],
  { stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } },
);

const cleanup = () => rmSync(dataDir, { recursive: true, force: true });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => relay.kill('SIGTERM'));
}
relay.on('exit', (code, signal) => {
  cleanup();
  process.exit(code ?? (signal === null ? 0 : 1));
});
