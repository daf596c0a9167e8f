// Every rule in docs/PROTOCOL.md is cited by at least one test name (unit or end-to-end).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function ruleIds(): string[] {
  const text = readFileSync(join(root, 'docs', 'PROTOCOL.md'), 'utf8');
  const ids = new Set<string>();
  for (const m of text.matchAll(/\*\*\[([A-Z]+)-(\d+)(?:\.\.(\d+))?\]\*\*/g)) {
    const [, prefix, from, to] = m;
    for (let n = Number(from); n <= Number(to ?? from); n++) ids.add(`${prefix}-${n}`);
  }
  return [...ids];
}

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'generated' ? [] : testFiles(p);
    return /\.(test|spec)\.tsx?$/.test(e.name) || e.name.endsWith('.testkit.ts') ? [p] : [];
  });
}

/** Test names: the first string argument of it(...) / test(...). */
function citedIds(): Set<string> {
  const cited = new Set<string>();
  for (const f of [...testFiles(join(root, 'src')), ...testFiles(join(root, 'e2e'))]) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/\b(?:it|test)(?:\.\w+)?\(\s*(['"`])((?:\\.|(?!\1).)*)\1/g)) {
      for (const id of m[2]!.matchAll(/\[([A-Z]+-\d+)\]/g)) cited.add(id[1]!);
    }
  }
  return cited;
}

describe('protocol rules', () => {
  it('[DOC-1] every rule id in docs/PROTOCOL.md is cited by a test name', () => {
    const ids = ruleIds();
    expect(ids.length).toBeGreaterThan(40);
    const cited = citedIds();
    expect(ids.filter((id) => !cited.has(id))).toEqual([]);
  });
});
