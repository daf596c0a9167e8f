// `npm run soak`: the attack soak of issue 10 (src/server/soak.testkit.ts) for 60 s with 200
// hostile sockets against a relay process with its default budgets. Targets: relay RSS < 400 MB,
// database growth < 50 MB, /health p99 < 100 ms, honest edit p99 < 500 ms, no hostile state kept
// across a restart. `npm run bench` runs it too (bench/run.ts); run alone, it merges its figures
// into bench/results.json under "soak". SOAK_MS and SOAK_SOCKETS override the size.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runSoak } from '../src/server/soak.testkit.ts';
import type { Figures } from './relay.ts';

export async function benchSoak(): Promise<Figures> {
  const f = await runSoak({
    durationMs: Number(process.env['SOAK_MS'] ?? 60_000),
    hostile: Number(process.env['SOAK_SOCKETS'] ?? 200),
    progress: (l) => process.stdout.write(`${l}\n`),
  });
  return {
    ...f,
    targets:
      'rss < 400 MB, db growth < 50 MB, health p99 < 100 ms, honest edit p99 < 500 ms, hostile state 0',
  };
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const figures = await benchSoak();
  for (const [k, v] of Object.entries(figures)) console.log(`soak.${k.padEnd(30)} ${v}`);
  const file = new URL('./results.json', import.meta.url);
  const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  all['soak'] = figures;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  console.log('wrote bench/results.json (soak)');
}
