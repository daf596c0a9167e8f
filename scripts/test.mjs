// `npm test`: typecheck, lint, generated-code check, unit + property tests, end-to-end tests.
// Runs every step even after a failure, then prints one closing line `N passed, N failed`
// (tests counted from the runners' JSON reports; a failing non-test step counts as one failure).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureChromium } from './browser.mjs';
import { ensurePostgres } from './postgres.mjs';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
mkdirSync('test-results', { recursive: true });

let passed = 0;
let failed = 0;
const failures = [];

function run(name, cmd, args, env = {}) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  const ok = r.status === 0;
  if (!ok) failures.push(name);
  return ok;
}

function step(name, cmd, args) {
  if (run(name, cmd, args)) passed += 1;
  else failed += 1;
}

const bin = (n) => join(root, 'node_modules', '.bin', n);

step('typecheck', bin('tsc'), ['-b']);
step('lint', bin('biome'), ['check', '.']);
step('generated code is current', 'node', ['scripts/gen-flatbuffers.mjs', '--check']);

// The relay's PostgreSQL tests start their own server from Debian's package: install it when
// missing (as for Chromium below); a failure here shows up as those tests failing.
try {
  ensurePostgres();
} catch (e) {
  console.error(String(e));
}

// Unit and property tests (vitest), counted from its JSON report.
rmSync('test-results/unit.json', { force: true });
const unitOk = run('unit', bin('vitest'), [
  'run',
  '--reporter=default',
  '--reporter=json',
  '--outputFile.json=test-results/unit.json',
]);
if (existsSync('test-results/unit.json')) {
  const r = JSON.parse(readFileSync('test-results/unit.json', 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  // A suite that failed to load reports no tests: count it.
  const broken = (r.testResults ?? []).filter(
    (f) => f.status === 'failed' && f.assertionResults.length === 0,
  );
  failed += broken.length;
  if (!unitOk && (r.numFailedTests ?? 0) === 0 && broken.length === 0) failed += 1;
} else {
  failed += 1;
}

// End-to-end tests (Playwright in Chromium), counted from its JSON report.
const specs = existsSync('e2e')
  ? readdirSync('e2e', { recursive: true }).filter((f) => String(f).endsWith('.spec.ts'))
  : [];
if (specs.length > 0) {
  let chromium;
  try {
    chromium = await ensureChromium();
  } catch (e) {
    console.error(String(e));
  }
  if (chromium) {
    rmSync('test-results/e2e.json', { force: true });
    const e2eOk = run('e2e', bin('playwright'), ['test'], { PLAYWRIGHT_CHROMIUM_PATH: chromium });
    if (existsSync('test-results/e2e.json')) {
      const s = JSON.parse(readFileSync('test-results/e2e.json', 'utf8')).stats ?? {};
      passed += s.expected ?? 0;
      failed += (s.unexpected ?? 0) + (s.flaky ?? 0);
      if (!e2eOk && (s.unexpected ?? 0) === 0) failed += 1;
    } else {
      failed += 1;
    }
  } else {
    failures.push('e2e (no browser)');
    failed += 1;
  }
}

if (failures.length > 0) console.log(`\nFailed steps: ${failures.join(', ')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
