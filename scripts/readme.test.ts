// The README's shell commands work as written after `npm install` ([UI-14]): a bare `tsx` is not
// on a user's PATH (only npm scripts and npx put node_modules/.bin there).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const shellLines = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split('\n'))
  .map((l) => l.replace(/\s+#.*$/, '').trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
// The PATH a user's shell has: without this repository's node_modules/.bin.
const userPath = (process.env['PATH'] ?? '')
  .split(delimiter)
  .filter((d) => !d.includes('node_modules'))
  .join(delimiter);

describe('README commands', () => {
  it('[UI-14] no README command starts with a tool that only node_modules/.bin provides', () => {
    const bins = new Set(['tsx', 'vite', 'vitest', 'playwright', 'biome', 'tsc']);
    const bad = shellLines.filter((l) => bins.has(l.replace(/^([A-Z_]+=\S+\s+)*/, '').split(/\s+/)[0]!));
    expect(bad).toEqual([]);
  });

  it('[UI-14] the relay --help line runs as written', () => {
    const line = shellLines.find((l) => l.includes('--help'));
    expect(line).toBeDefined();
    const r = spawnSync('sh', ['-c', line!], {
      cwd: root,
      env: { ...process.env, PATH: userPath },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--port/);
  });
});
