// `npm run bench`: runs every benchmark, prints a table, writes bench/results.json (one key per
// figure, units in the key names). Targets are printed beside the figures; nothing here fails a
// build: tests check behaviour, benchmarks measure speed.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchEngine, type Figures } from './engine.ts';

type Bench = { name: string; run: () => Promise<Figures> };

const benches: Bench[] = [{ name: 'engine', run: () => benchEngine(Number(process.env['BENCH_N'] ?? 3000)) }];

// Benchmarks of other parts register themselves here when their modules exist.
for (const [name, file, fn] of [
  ['relay', './relay.ts', 'benchRelay'],
  ['scale', './scale.ts', 'benchScale'],
  ['soak', './soak.ts', 'benchSoak'],
  ['runtime', './runtime.ts', 'benchRuntime'],
  ['ui', './ui.ts', 'benchUi'],
  ['ics', './ics.ts', 'benchIcs'],
  ['recurrence', './recurrence.ts', 'benchRecurrence'],
  ['history', './history.ts', 'benchHistory'],
  ['compaction', './compaction.ts', 'benchCompaction'],
  ['sealed', './sealed.ts', 'benchSealed'],
  ['resync', './resync.ts', 'benchResync'],
] as const) {
  if (existsSync(new URL(file, import.meta.url))) {
    benches.push({
      name,
      run: async () => {
        const mod = (await import(file)) as Record<string, () => Promise<Figures>>;
        return mod[fn]!();
      },
    });
  }
}

const only = process.argv.slice(2);
const file = new URL('./results.json', import.meta.url);
// A partial run (`tsx bench/run.ts relay soak`) keeps the other parts' figures from the last run.
const previous =
  only.length > 0 && existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Figures | string>)
    : {};
const results: Record<string, Figures | string> = {
  ...previous,
  machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
  date: new Date().toISOString(),
};
for (const b of benches) {
  if (only.length > 0 && !only.includes(b.name)) continue;
  process.stdout.write(`running ${b.name}...\n`);
  try {
    results[b.name] = await b.run();
  } catch (e) {
    results[b.name] = `failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

const rows: [string, string][] = [];
for (const [k, v] of Object.entries(results)) {
  if (typeof v === 'object') for (const [fk, fv] of Object.entries(v)) rows.push([`${k}.${fk}`, String(fv)]);
  else rows.push([k, v]);
}
const w = Math.max(...rows.map(([k]) => k.length));
console.log(`\n${'figure'.padEnd(w)}  value\n${'-'.repeat(w)}  -----`);
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwrote bench/results.json');
