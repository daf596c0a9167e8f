// What endorsements certify, for admission (RELAY-28, SNAP-10): an endorsement by device e at its
// chain position ctr c certifies the snapshot's frontier F for e: every op of e after c must hold
// F in its causal past. The relay refuses, before its engine sees it, an op of e with ctr > c
// whose predecessors it holds and whose causal past (the predecessors' version vectors) lacks an
// op of F, as it refuses a removed device's ops (RELAY-10). An op whose predecessors it does not
// hold yet is left to the engine's SNAP-10 revocation (as on every replica).

import type { DeviceId, DocId } from '../engine/index.ts';

interface Cert {
  /** The endorser's ctr when it endorsed: its ops up to here need not hold the frontier. */
  ctr: number;
  /** Each frontier op as (author, ctr): held by a causal past whose vv reaches it. */
  need: readonly (readonly [DeviceId, number])[];
}

export class SnapshotCerts {
  private readonly byDoc = new Map<DocId, Map<DeviceId, Cert[]>>();

  add(doc: DocId, endorser: DeviceId, ctr: number, need: readonly (readonly [DeviceId, number])[]): void {
    let d = this.byDoc.get(doc);
    if (d === undefined) {
      d = new Map();
      this.byDoc.set(doc, d);
    }
    const list = d.get(endorser) ?? [];
    list.push({ ctr, need });
    d.set(endorser, list);
  }

  /** Whether any certification binds an op of `author` at `ctr` (only then is its past read). */
  binds(doc: DocId, author: DeviceId, ctr: number): boolean {
    return (
      this.byDoc
        .get(doc)
        ?.get(author)
        ?.some((c) => ctr > c.ctr) ?? false
    );
  }

  /**
   * The first certified frontier op an op of `author` at `ctr`, whose causal past has version
   * vector `vv`, fails to hold; undefined when it holds every frontier it must.
   */
  violation(
    doc: DocId,
    author: DeviceId,
    ctr: number,
    vv: Readonly<Record<string, number>>,
  ): string | undefined {
    for (const c of this.byDoc.get(doc)?.get(author) ?? []) {
      if (ctr <= c.ctr) continue;
      for (const [a, n] of c.need) if ((vv[a] ?? 0) < n) return `${a}:${n}`;
    }
    return undefined;
  }
}
