// A hostile member or a stranger against the DAG and the registers: equivocation, writes from
// before a removal, ops that would brick a calendar, pending-set floods, cache-dependent validity.
// Each test states the property (its rule id) and plays the attacker by hand-signed ops.

import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { LIMITS } from './codec.ts';
import { PENDING_BYTES_PER_DOC, PENDING_TTL_US, UNKNOWN_AUTHOR_BUDGET } from './gate.ts';
import {
  boxOf,
  EV,
  lastOp,
  MembershipKind,
  membershipOp,
  patchOp,
  proofOf,
  pubOf,
  syncOps,
  team,
  titleOf,
} from './hostile.testkit.ts';
import type { DocId, EntityId, OpId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import { openOp } from './op.ts';
import type { Replica } from './replica.ts';
import { OpKind } from './store.ts';
import { cardOf, craftOp, manualClock, openReplica, seededRandom, testDevice } from './testkit.testkit.ts';

function shuffled<T>(xs: readonly T[], seed: string): T[] {
  const r = seededRandom(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r(4).reduce((a, b) => a * 256 + b, 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const regsOf = (r: Replica, doc: DocId, e: EntityId = EV) =>
  JSON.stringify(r.entity(doc, e), (_, v) => (v instanceof Uint8Array ? toHex(v) : v));

describe('equivocation', () => {
  it('[LWW-1][LWW-4][LWW-5] equivocating writes give every replica the same winner and frontier, past the cap', async () => {
    const t = await team(['eq-a', 'eq-b', 'eq-c']);
    const [, b, c] = t.devs;
    const head = await lastOp(t.reps[0]!, t.doc);
    const ops: Uint8Array[] = [];
    // b signs 40 different ops with ctr 1 (equivocation), all writing the title.
    for (let i = 0; i < 40; i++) {
      ops.push(
        patchOp(
          { by: b!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 10 + ((i * 7) % 40), parents: [head.id] },
          t.key,
          `b${i}`,
        ),
      );
    }
    // c writes after seeing some of them (its vv covers b:1, but only those are in its past).
    const seen = [openOp(ops[0]!).id, openOp(ops[6]!).id].sort() as OpId[];
    ops.push(
      patchOp({ by: c!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 20, parents: seen }, t.key, 'c'),
    );
    const states = new Set<string>();
    for (const seed of ['1', '2', '3', '4']) {
      const r = await openReplica(t.devs[0]!);
      await syncOps(t.reps[0]!, r, t.doc);
      for (const o of shuffled(ops, seed)) await r.receive(o);
      expect(r.pendingCount()).toBe(0);
      states.add(`${r.root(t.doc)} ${regsOf(r, t.doc)}`);
      // LWW-1: the greatest write wins; c never saw b's later-stamped siblings.
      expect(titleOf(r, t.doc)).toBe('b17');
    }
    expect(states.size).toBe(1);
    // Two siblings alone, in both orders.
    const pair = [ops[1]!, ops[2]!];
    const seen2 = new Set<string>();
    for (const order of [pair, [...pair].reverse()]) {
      const r = await openReplica(t.devs[0]!);
      await syncOps(t.reps[0]!, r, t.doc);
      for (const o of order) await r.receive(o);
      seen2.add(regsOf(r, t.doc));
    }
    expect(seen2.size).toBe(1);
  });
  it('[LWW-4] two equivocating writes from the same parents, the greater stamped later, both stay in the frontier in either order', async () => {
    const t = await team(['eqf-a', 'eqf-b']);
    const b = t.devs[1]!;
    const head = await lastOp(t.reps[0]!, t.doc);
    // Same author, ctr and parents (so the same version vector); different values and stamps.
    const x = patchOp(
      { by: b, doc: t.doc, ctr: 1, wallTime: head.wallTime + 5, parents: [head.id] },
      t.key,
      'X',
    );
    const y = patchOp(
      { by: b, doc: t.doc, ctr: 1, wallTime: head.wallTime + 9, parents: [head.id] },
      t.key,
      'Y',
    );
    const seen = new Set<string>();
    for (const order of [
      [x, y],
      [y, x],
    ]) {
      const r = await openReplica(t.devs[0]!);
      await syncOps(t.reps[0]!, r, t.doc);
      for (const o of order) expect((await r.receive(o)).status).toBe('applied');
      const reg = r.entity(t.doc, EV)?.registers.find((g) => g.field === EventField.Title);
      // Siblings never cover each other: the winner Y and the loser X are both in the frontier.
      expect(reg?.writes.map((w) => w.op)).toEqual([openOp(y).id, openOp(x).id]);
      expect(titleOf(r, t.doc)).toBe('Y');
      seen.add(regsOf(r, t.doc));
    }
    expect(seen.size).toBe(1);
  });
});

describe('invites', () => {
  it('[INV-9] an Add by invite is valid only if the inviter is a member in its causal past', async () => {
    const t = await team(['inv-a', 'inv-b']);
    const [ra, rb] = t.reps;
    const { op, secret } = await rb!.createInvite(t.doc, 1_800_000_000_000_000);
    await syncOps(rb!, ra!, t.doc);
    await ra!.removeMember(t.doc, pubOf(t.devs[1]!));
    const j = testDevice('inv-j');
    const rj = await openReplica(j);
    await syncOps(ra!, rj, t.doc);
    // The joiner's Add has b's removal in its causal past: b's invite died with b.
    await expect(rj.joinWithInvite(t.doc, op.id, secret)).rejects.toMatchObject({ code: 'InviteInvalid' });
  });
});

describe('removed devices', () => {
  it('[MEM-5][MEM-6] writes a device made without having seen its removal lose to every write, whatever the order', async () => {
    const t = await team(['rm-a', 'rm-b']);
    const [ra] = t.reps;
    const b = t.devs[1]!;
    const before = await lastOp(ra!, t.doc);
    await ra!.removeMember(t.doc, pubOf(b));
    const removal = await lastOp(ra!, t.doc);
    // b, removed, writes from parents before its removal, stamped far in the future.
    const late = patchOp(
      { by: b, doc: t.doc, ctr: 1, wallTime: removal.wallTime + 10 ** 12, parents: [before.id] },
      t.key,
      'hijacked',
    );
    const r1 = await openReplica(t.devs[0]!);
    const r2 = await openReplica(t.devs[0]!);
    const all = (await ra!.listOps(t.doc, 0, 1000)).map((o) => o.bytes);
    for (const o of all) await r1.receive(o);
    expect((await r1.receive(late)).status).toBe('applied');
    for (const o of all.slice(0, -1)) await r2.receive(o);
    expect((await r2.receive(late)).status).toBe('applied');
    await r2.receive(all[all.length - 1]!);
    expect(titleOf(r1, t.doc)).toBe('Start');
    expect(titleOf(r2, t.doc)).toBe('Start');
    expect(regsOf(r1, t.doc)).toBe(regsOf(r2, t.doc));
  });

  it('[MEM-5] an equivocating sibling of a write its remover saw is revoked too, whatever the order', async () => {
    const t = await team(['rms-a', 'rms-b']);
    const [ra] = t.reps;
    const b = t.devs[1]!;
    const head = await lastOp(ra!, t.doc);
    // b writes once (ctr 1); a sees it, then removes b: the Remove's version vector reaches b:1.
    const seen = patchOp(
      { by: b, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      t.key,
      'before',
    );
    expect((await ra!.receive(seen)).status).toBe('applied');
    await ra!.removeMember(t.doc, pubOf(b));
    const removal = await lastOp(ra!, t.doc);
    // b signs another ctr-1 op from the same old parents, stamped far later: the Remove never saw it.
    const sibling = patchOp(
      { by: b, doc: t.doc, ctr: 1, wallTime: removal.wallTime + 10 ** 12, parents: [head.id] },
      t.key,
      'from old parents',
    );
    const all = (await ra!.listOps(t.doc, 0, 1000)).map((o) => o.bytes);
    const r1 = await openReplica(t.devs[0]!);
    const r2 = await openReplica(t.devs[0]!);
    for (const o of all) await r1.receive(o);
    expect((await r1.receive(sibling)).status).toBe('applied');
    for (const o of all.slice(0, -1)) await r2.receive(o);
    expect((await r2.receive(sibling)).status).toBe('applied');
    await r2.receive(all[all.length - 1]!);
    expect((await ra!.receive(sibling)).status).toBe('applied');
    for (const r of [ra!, r1, r2]) {
      expect(titleOf(r, t.doc)).toBe('before');
      expect((await r.getOps(t.doc, [openOp(sibling).id]))[0]?.body).toBe('inert');
    }
    expect(regsOf(r1, t.doc)).toBe(regsOf(r2, t.doc));
    expect(regsOf(ra!, t.doc)).toBe(regsOf(r2, t.doc));
  });

  it('[MEM-10] an Add made by a device without having seen its own removal adds nobody', async () => {
    const t = await team(['rma-a', 'rma-b']);
    const [ra] = t.reps;
    const b = t.devs[1]!;
    const m = testDevice('rma-m');
    const before = await lastOp(ra!, t.doc);
    await ra!.removeMember(t.doc, pubOf(b));
    const add = membershipOp(
      { by: b, doc: t.doc, ctr: 1, wallTime: before.wallTime + 1, parents: [before.id] },
      {
        kind: MembershipKind.Add,
        subject: pubOf(m),
        subjectBox: boxOf(m),
        boxProof: await proofOf(m, t.doc),
      },
    );
    expect((await ra!.receive(add)).status).toBe('applied');
    expect(ra!.members(t.doc).has(toHex(pubOf(m)) as never)).toBe(false);
  });
});

describe('no valid op bricks a calendar', () => {
  it('[DAG-8] more than 64 heads: local writes still succeed and merge the heads over a few ops', async () => {
    const t = await team(['h-a', 'h-b']);
    const [ra] = t.reps;
    const head = await lastOp(ra!, t.doc);
    for (let i = 0; i < 70; i++) {
      const o = patchOp(
        { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1 + i, parents: [head.id] },
        t.key,
        `f${i}`,
      );
      expect((await ra!.receive(o)).status).toBe('applied');
    }
    expect(ra!.heads(t.doc).length).toBe(70);
    await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('after') }]);
    await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('after2') }]);
    expect(ra!.heads(t.doc).length).toBe(1);
    expect(titleOf(ra!, t.doc)).toBe('after2');
  });

  it('[DAG-8][KEY-4] with more than 64 heads a writer still names every membership op it has seen: a device added meanwhile reads its next write', async () => {
    // a removes x (a new key, sealed for a, b, f); concurrently b adds c (c gets the old key).
    // Then f forks into many heads. a's next write must have b's Add in its past, or it uses
    // the new key, which c never receives: c could never read it (found by the Byzantine test).
    const t = await team(['p8-a', 'p8-b', 'p8-f', 'p8-x']);
    const [ra, rb] = t.reps;
    const c = testDevice('p8-c');
    const rc = await openReplica(c);
    const head = await lastOp(ra!, t.doc);
    await rb!.addMember(t.doc, await cardOf(c, t.doc));
    const add = await lastOp(rb!, t.doc);
    await ra!.removeMember(t.doc, pubOf(t.devs[3]!));
    // Forks by f until at least 64 of them sort before b's Add: a named the smallest 64 heads.
    let below = 0;
    for (let i = 0; below < LIMITS.maxParents + 1 && i < 20_000; i++) {
      const o = patchOp(
        { by: t.devs[2]!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1 + i, parents: [head.id] },
        t.key,
        `f${i}`,
      );
      expect((await ra!.receive(o)).status).toBe('applied');
      if (openOp(o).id < add.id) below++;
    }
    expect(below).toBeGreaterThan(LIMITS.maxParents);
    expect((await ra!.receive(add.bytes)).status).toBe('applied');
    expect(ra!.heads(t.doc).length).toBeGreaterThan(LIMITS.maxParents + 1);
    const w = await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('for everyone') }]);
    expect(openOp(w.bytes).parents.length).toBeLessThanOrEqual(LIMITS.maxParents);
    await syncOps(ra!, rc, t.doc);
    await syncOps(rb!, rc, t.doc);
    const mine = (await rc.getOps(t.doc, [w.id]))[0];
    expect(mine?.body).toBe('applied');
  });

  it('[CLK-5] an op stamped at the 2^53 ceiling does not stop later writes, and later writes win', async () => {
    const t = await team(['ceil-a', 'ceil-b']);
    const [ra, rb] = t.reps;
    const head = await lastOp(ra!, t.doc);
    const top = patchOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: LIMITS.maxU53, parents: [head.id] },
      t.key,
      'top',
    );
    expect((await ra!.receive(top)).status).toBe('applied');
    await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('after') }]);
    expect(titleOf(ra!, t.doc)).toBe('after');
    await rb!.receive(top);
    await syncOps(ra!, rb!, t.doc);
    expect(titleOf(rb!, t.doc)).toBe('after');
    expect(rb!.root(t.doc)).toBe(ra!.root(t.doc));
  });
});

describe('invites after the ceiling', () => {
  it('[CLK-5][INV-1] after an op stamped at the 2^53 ceiling an honest member can still invite', async () => {
    const t = await team(['ci-a', 'ci-b']);
    const [ra] = t.reps;
    const head = await lastOp(ra!, t.doc);
    const top = patchOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: LIMITS.maxU53, parents: [head.id] },
      t.key,
      'top',
    );
    expect((await ra!.receive(top)).status).toBe('applied');
    const { op } = await ra!.createInvite(t.doc, 1_800_000_000_000_000);
    expect(op.bytes.length).toBeGreaterThan(0);
  });
});

describe('strangers and the pending set', () => {
  it('[DAG-4] a stranger cannot park ops for calendars this replica does not hold', async () => {
    const s = testDevice('stranger');
    const r = await openReplica(testDevice('victim'));
    for (let i = 0; i < 50; i++) {
      const o = craftOp({
        secret: s.secret,
        doc: seededRandom(`d${i}`)(16),
        ctr: 1,
        kind: OpKind.Patch,
        wallTime: 5,
        parents: [seededRandom(`p${i}`)(32)],
        body: new Uint8Array(1000),
        key: { id: new Uint8Array(8), key: new Uint8Array(32) },
      });
      expect((await r.receive(o)).status).toBe('rejected');
    }
    expect(r.pendingCount()).toBe(0);
  });

  it('[DAG-4] a stranger cannot park ops in a calendar it is no part of; a member is bounded per author', async () => {
    const t = await team(['pf-a', 'pf-b', 'pf-c']);
    const r = await openReplica(t.devs[0]!, { pendingLimit: 100 });
    await syncOps(t.reps[0]!, r, t.doc);
    // Strangers (any number of fresh keys) share a small budget per calendar.
    for (let i = 0; i < 100; i++) {
      const s = testDevice(`pf-stranger-${i}`);
      await r.receive(
        patchOp({ by: s, doc: t.doc, ctr: 1, wallTime: 5, parents: ['ab'.repeat(32) as OpId] }, t.key, 'x'),
      );
    }
    expect(r.pendingCount()).toBe(UNKNOWN_AUTHOR_BUDGET);
    // Member b floods with ops whose parents never come; c's out-of-order op still waits.
    for (let i = 0; i < 200; i++) {
      await r.receive(
        patchOp(
          {
            by: t.devs[1]!,
            doc: t.doc,
            ctr: 1,
            wallTime: 5 + i,
            parents: [toHex(seededRandom(`m${i}`)(32)) as OpId],
          },
          t.key,
          'x',
        ),
      );
    }
    const head = await lastOp(t.reps[0]!, t.doc);
    const first = patchOp(
      { by: t.devs[2]!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      t.key,
      'c1',
    );
    const second = patchOp(
      {
        by: t.devs[2]!,
        doc: t.doc,
        ctr: 2,
        wallTime: head.wallTime + 2,
        prev: openOp(first).id,
        parents: [],
      },
      t.key,
      'c2',
    );
    expect((await r.receive(second)).status).toBe('pending');
    expect((await r.receive(first)).status).toBe('applied');
    expect(titleOf(r, t.doc)).toBe('c2');
  });

  it('[DAG-4] waiting ops are bounded by bytes per calendar, and ops waiting over 24 hours make room', async () => {
    const t = await team(['pb-a', 'pb-b']);
    const clock = manualClock();
    const r = await openReplica(t.devs[0]!, { clock });
    await syncOps(t.reps[0]!, r, t.doc);
    const big = 'x'.repeat(60_000);
    const ghost = (i: number) =>
      patchOp(
        {
          by: t.devs[1]!,
          doc: t.doc,
          ctr: 1,
          wallTime: 5 + i,
          parents: [toHex(seededRandom(`pb${i}`)(32)) as OpId],
        },
        t.key,
        big,
      );
    // One member's ops of ~60 KiB whose parents never come: the count bounds (5,000 per
    // calendar, 1,250 per author) are far off; the byte bound stops them.
    let parked = 0;
    let refused: string | undefined;
    for (let i = 0; i < 400 && refused === undefined; i++) {
      const res = await r.receive(ghost(i));
      if (res.status === 'pending') parked++;
      else refused = res.error?.code;
    }
    expect(refused).toBe('PendingFull');
    expect(parked * 60_000).toBeLessThanOrEqual(PENDING_BYTES_PER_DOC);
    expect(parked).toBeGreaterThan(200);
    expect(r.pendingCount(t.doc)).toBe(parked);
    // A day later the stale ops are dropped to make room for a new one.
    clock.advance(PENDING_TTL_US + 1);
    expect((await r.receive(ghost(1000))).status).toBe('pending');
    expect(r.pendingCount(t.doc)).toBe(1);
  }, 60_000);

  it('[DAG-9] the parents of an op refused for a full pending set are reported as missing', async () => {
    const t = await team(['pm-a', 'pm-b']);
    const r = await openReplica(t.devs[0]!, { pendingLimit: 1 });
    await syncOps(t.reps[0]!, r, t.doc);
    const wants = ['01', '02'].map((x) => x.repeat(32) as OpId);
    const res = [];
    for (const [i, p] of wants.entries()) {
      res.push(
        await r.receive(
          patchOp({ by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: 5 + i, parents: [p] }, t.key, 'x'),
        ),
      );
    }
    expect(res.map((x) => x.status)).toEqual(['pending', 'rejected']);
    expect(r.missing(t.doc).sort()).toEqual(wants);
  });
});

describe('validity never depends on cache state', () => {
  it("[DAG-10] an op naming another calendar's op as parent is judged alike with a warm or cold cache", async () => {
    const t = await team(['wd-a', 'wd-b']);
    const store = createMemoryStore();
    const r = await openReplica(t.devs[0]!, { store });
    await syncOps(t.reps[0]!, r, t.doc);
    const other = await r.createCalendar({ name: 'Other' });
    const foreign = await lastOp(r, other.doc);
    const o = patchOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: foreign.wallTime + 1, parents: [foreign.id] },
      t.key,
      'x',
    );
    const cold = await (await openReplica(t.devs[0]!, { store })).receive(o);
    const warm = await r.receive(o);
    expect(warm.status).toBe(cold.status);
    expect(warm.error?.code).toBe(cold.error?.code);
  });

  it('[OP-2][MEM-7][MEM-11] every length the protocol fixes is checked in membership bodies', async () => {
    const t = await team(['len-a', 'len-b']);
    const [ra] = t.reps;
    const head = await lastOp(ra!, t.doc);
    const c = { by: t.devs[0]!, doc: t.doc, ctr: 0, wallTime: head.wallTime + 1, parents: [head.id] };
    const own = (await ra!.listOps(t.doc, 0, 1000)).filter((o) => o.author === ra!.deviceId);
    c.ctr = own.length + 1;
    const prev = own[own.length - 1]!.id;
    const x = testDevice('len-x');
    // Each Add carries x's valid box proof (MEM-11), so the one defect is the length under test.
    const boxProof = await proofOf(x, t.doc);
    const addX = { kind: MembershipKind.Add, subject: pubOf(x), subjectBox: boxOf(x), boxProof };
    const bad = [
      { ...addX, keys: [{ recipient: pubOf(x), keyId: t.key.id, sealed: new Uint8Array(5) }] },
      { ...addX, invite: new Uint8Array(96) },
      { ...addX, expires: 99 },
      { ...addX, boxProof: boxProof.subarray(0, 63) },
      { kind: MembershipKind.Remove, subject: pubOf(t.devs[1]!), subjectBox: boxOf(x) },
      { kind: MembershipKind.Remove, subject: pubOf(t.devs[1]!), boxProof },
      { kind: MembershipKind.Rotate, subjectBox: boxOf(t.devs[0]!), boxProof },
    ];
    for (const body of bad) {
      const o = membershipOp({ ...c, prev, parents: [head.id].filter((h) => h !== prev) as OpId[] }, body);
      expect((await ra!.receive(o)).error?.code).toBe('Malformed');
    }
    expect(fromHex(ra!.root(t.doc))).toHaveLength(32);
    // The same Add with every length right is valid.
    const good = membershipOp({ ...c, prev, parents: [head.id].filter((h) => h !== prev) as OpId[] }, addX);
    expect((await ra!.receive(good)).status).toBe('applied');
  });
});
