// Builds the app as it was released before schema version 2 (docs/PROTOCOL.md SCH-*), for the
// old-build/new-build end-to-end test (e2e/old-build.spec.ts): the source of OLD_RELEASE from git,
// built with this checkout's node_modules under the base path /old/. The result is cached in
// .cache/old-build/<commit id>/ (gitignored), so it is built once per checkout; a clean clone
// builds it on its first e2e run. Needs the commit in the clone's history; a shallow clone is
// deepened from its origin first.
//
// `node scripts/build-old.mjs` builds (or finds) it and prints the folder.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The last commit of the release before recurrence, reminders and schema version 2. */
export const OLD_RELEASE = '27a096e';
/** The URL prefix the old build is served under (scripts/serve-e2e.mjs). */
export const OLD_BASE = '/old/';

const root = new URL('..', import.meta.url).pathname;

/** Returns the folder holding the old build's dist (index.html at its top), building it if needed. */
export function ensureOldBuild() {
  const resolve = () =>
    execFileSync('git', ['rev-parse', '--verify', '--quiet', `${OLD_RELEASE}^{commit}`], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
  let commit;
  try {
    commit = resolve();
  } catch {
    // A shallow clone lacks the old release: deepen it from its origin once, then look again.
    spawnSync('git', ['fetch', '--quiet', '--unshallow'], { cwd: root, stdio: 'ignore' });
    try {
      commit = resolve();
    } catch {
      throw new Error(
        `commit ${OLD_RELEASE} is not in this clone's history and could not be fetched (clone with full history)`,
      );
    }
  }
  const cache = join(root, '.cache', 'old-build');
  const dist = join(cache, commit);
  // The marker is written last: a build interrupted half way is never taken for a finished one.
  if (existsSync(join(dist, '.complete'))) return dist;

  mkdirSync(cache, { recursive: true });
  const started = Date.now();
  const src = mkdtempSync(join(cache, 'src-'));
  try {
    const tar = spawnSync('sh', ['-c', `git archive ${commit} | tar -x -C "${src}"`], {
      cwd: root,
      stdio: 'inherit',
    });
    if (tar.status !== 0) throw new Error(`build-old: git archive ${commit} failed`);
    // The old package.json's dependencies are a subset of this checkout's: reuse its node_modules.
    symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'), 'dir');
    const out = join(src, 'dist-old');
    const r = spawnSync(
      join(root, 'node_modules/.bin/vite'),
      ['build', '--base', OLD_BASE, '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'],
      { cwd: src, stdio: 'inherit', env: { ...process.env, LEDGERDAY_BUILD_ID: `old-${commit}` } },
    );
    if (r.status !== 0) throw new Error(`build-old: vite build of ${commit} failed`);
    writeFileSync(join(out, '.complete'), `${commit}\n`);
    rmSync(dist, { recursive: true, force: true });
    renameSync(out, dist);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
  console.log(`build-old: built ${OLD_RELEASE} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return dist;
}

if (process.argv[1] === new URL(import.meta.url).pathname) console.log(ensureOldBuild());
