// The random steps of the snapshot property tests (snapshot-property.test.ts,
// snapshot-sealed-property.test.ts) over the Byzantine world (byzantine-world.testkit.ts): honest
// writes with skewed clocks, removals and role changes by the owner, hostile equivocation and
// writes from old parents, shuffled partial delivery.

import fc from 'fast-check';
import { utf8 } from './bytes.ts';
import {
  deliver,
  ENTITIES,
  FIELDS,
  local,
  type Node,
  publish,
  valueFor,
  type World,
} from './byzantine-world.testkit.ts';

/** Node 3 never acts: it keeps every op. */
export const OBSERVER = 3;
export const HOSTILE = 4;

export type Step =
  | { t: 'write'; who: number; entity: number; field: number; value: number | null; jump: number }
  | { t: 'remove'; subject: number }
  | { t: 'role'; subject: number; role: number }
  | { t: 'equivocate'; entity: number }
  | { t: 'stale'; entity: number }
  | { t: 'deliver'; to: number; pick: number; batch: boolean };

const who = fc.constantFrom(0, 1, 2);
export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      who,
      entity: fc.nat(1),
      field: fc.nat(2),
      value: fc.option(fc.nat(5), { freq: 4 }),
      jump: fc.integer({ min: -3_000_000, max: 3_000_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('remove' as const), subject: fc.constantFrom(2, HOSTILE) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('role' as const),
      subject: fc.constantFrom(1, 2, HOSTILE),
      role: fc.constantFrom(1, 2, 3),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('equivocate' as const), entity: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stale' as const), entity: fc.nat(1) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('deliver' as const),
      to: fc.constantFrom(0, 1, 2, HOSTILE),
      pick: fc.nat(),
      batch: fc.boolean(),
    }),
  },
);

export async function run(w: World, step: Step): Promise<void> {
  const doc = w.doc;
  const node = (i: number): Node => w.nodes[i]!;
  const pub = (i: number) => node(i).replica.deviceId!;
  const hexBytes = (h: string) => Uint8Array.from(h.match(/../g)!.map((x) => Number.parseInt(x, 16)));
  if (step.t === 'write') {
    const n = node(step.who);
    n.clock.advance(step.jump);
    const entity = ENTITIES[step.entity]!;
    const writes = [{ field: FIELDS[step.field]!, value: valueFor(FIELDS[step.field]!, step.value) }];
    await local(w, n, 'write', (r) => r.write(doc, entity, writes), { entity, writes });
  } else if (step.t === 'remove') {
    await local(w, node(0), 'remove', (r) => r.removeMember(doc, hexBytes(pub(step.subject))));
  } else if (step.t === 'role') {
    await local(w, node(0), 'role', (r) =>
      r.setRole(doc, hexBytes(pub(step.subject)), step.role as 1 | 2 | 3),
    );
  } else if (step.t === 'equivocate' || step.t === 'stale') {
    const evil = node(HOSTILE).evil!;
    const entity = ENTITIES[step.entity]!;
    const a = [{ field: FIELDS[0]!, value: utf8('evil a') }];
    const made =
      step.t === 'equivocate'
        ? evil.equivocate(entity, a, [{ field: FIELDS[0]!, value: utf8('evil b') }])
        : [evil.patch(entity, a, evil.early)].filter((c) => c !== undefined);
    await publish(w, node(HOSTILE), made, false);
  } else {
    const open = w.pool.filter((p) => !p.withheld);
    const n = 1 + (step.pick % Math.max(1, open.length));
    const from = Math.floor(step.pick / 7) % Math.max(1, open.length);
    await deliver(w, node(step.to), [...open.slice(from), ...open.slice(0, from)].slice(0, n), step.batch);
  }
}
