// The snapshot flows of a Replica (docs/PROTOCOL.md SNAP-*), run on its queue: plaintexts,
// verification, starting from a plaintext or a sealed snapshot, sealing, endorsing and receiving
// endorsements. Keeps what these remember in memory: the evidence of forged snapshots (SNAP-5)
// and the last snapshot each calendar's snapshots follow (SNAP-1).

import { type EndorsementStatus, loadCertifications, receiveEndorsement } from './certify.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DeviceId, DocId, OpId } from './ids.ts';
import * as local from './local.ts';
import { snapshotAt, snapshotAtHeads } from './snapshot.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';
import { openEndorsement } from './snapshot-envelope.ts';
import { endorse, type SealedSnapshot, sealAtHeads, startSealed } from './snapshot-sealed.ts';
import { startFromSnapshot } from './snapshot-start.ts';
import { type SnapshotEvidence, type SnapshotVerdict, verifySnapshot } from './snapshot-verify.ts';

export class SnapshotDesk {
  /** SNAP-5: snapshots found forged here, per calendar (kept in memory only, see Limitations). */
  private readonly forged = new Map<DocId, SnapshotEvidence[]>();
  /** SNAP-1: the last snapshot hash this replica sealed, endorsed or started from (in memory). */
  private readonly last = new Map<DocId, Uint8Array>();

  constructor(
    private readonly core: Core,
    /** KEY-10 after a start: junk sealed for this device in an anchor is restated, as on arrival. */
    private readonly heal: (docs: DocId[]) => Promise<void>,
  ) {}

  async plaintext(
    doc: DocId,
    opts: { frontier?: readonly OpId[]; previous?: Uint8Array },
  ): Promise<Uint8Array> {
    const prev = opts.previous ?? new Uint8Array(0);
    const state =
      opts.frontier === undefined
        ? await snapshotAtHeads(this.core, doc, prev)
        : await snapshotAt(this.core, doc, opts.frontier, prev);
    if (state === undefined)
      throw new EngineError('InvalidArgument', "an op of the frontier's past is not on this replica");
    return encodeSnapshot(state);
  }

  async verify(doc: DocId, plain: Uint8Array, signer: DeviceId): Promise<SnapshotVerdict> {
    this.core.mustDoc(doc);
    const v = await verifySnapshot(this.core, doc, plain, signer);
    if (v.status === 'forged') this.record(v.evidence);
    return v;
  }

  async startPlain(plain: Uint8Array): Promise<DocId> {
    const state = decodeSnapshot(plain);
    await startFromSnapshot(this.core, state);
    await this.heal([state.doc]);
    return state.doc;
  }

  async seal(doc: DocId, previous: Uint8Array | undefined): Promise<SealedSnapshot> {
    const prev = previous ?? this.last.get(doc) ?? new Uint8Array(0);
    let sealed = await sealAtHeads(this.core, doc, prev);
    if (sealed === undefined) {
      // KEY-4: no key qualifies at the heads; rotate first, as a writer does.
      await local.rotateKey(this.core, doc);
      sealed = await sealAtHeads(this.core, doc, prev);
    }
    if (sealed === undefined) throw new EngineError('NoKey', 'no content key qualifies at the heads (KEY-4)');
    this.last.set(doc, sealed.snapshot);
    return sealed;
  }

  async endorse(manifest: Uint8Array, chunks: readonly Uint8Array[]): Promise<Uint8Array> {
    const out = await endorse(this.core, manifest, chunks);
    if (out.status === 'forged') {
      const ev = out.verdict.evidence;
      this.record(ev);
      throw new EngineError(
        'Malformed',
        `forged snapshot by ${ev.signer}: ${ev.differs.join(', ')} differ (SNAP-5)`,
      );
    }
    await receiveEndorsement(this.core, await openEndorsement(this.core.crypto, out.endorsement));
    this.last.set(out.manifest.doc, out.manifest.snapshot);
    return out.endorsement;
  }

  async receive(bytes: Uint8Array): Promise<EndorsementStatus> {
    return receiveEndorsement(this.core, await openEndorsement(this.core.crypto, bytes));
  }

  async startSealed(
    manifest: Uint8Array,
    chunks: readonly Uint8Array[],
    endorsements: readonly Uint8Array[],
    keySources: readonly Uint8Array[],
    inviteSecrets: readonly Uint8Array[] = [],
  ): Promise<DocId> {
    const { manifest: m, endorsements: ends } = await startSealed(
      this.core,
      manifest,
      chunks,
      endorsements,
      keySources,
      inviteSecrets,
    );
    const records = ends.map((e) => ({ doc: m.doc, id: e.hash, bytes: e.bytes }));
    await loadCertifications(this.core, m.doc, records);
    this.last.set(m.doc, m.snapshot);
    await this.heal([m.doc]);
    return m.doc;
  }

  /**
   * SNAP-12: the frontiers endorsements in force here certify (this device's own included), each
   * once, whose ops are all held, newest first (by causal depth): what a host may prune to.
   */
  async certifiedFrontiers(doc: DocId): Promise<OpId[][]> {
    this.core.mustDoc(doc);
    const seen = new Set<string>();
    const out: { frontier: OpId[]; depth: number }[] = [];
    for (const c of this.core.certs.get(doc) ?? []) {
      const frontier = [...c.frontier].sort();
      const key = frontier.join();
      if (seen.has(key)) continue;
      seen.add(key);
      const metas = await this.core.metas(doc, frontier);
      if (metas.some((m) => m === undefined)) continue;
      // The causal depth of the frontier's past: its ops' version vectors joined, then summed (a
      // sum per op would count shared history once per head, ranking an older frontier with more
      // heads above a newer one that holds it).
      const vv: Record<string, number> = {};
      for (const m of metas) for (const d in m!.vv) vv[d] = Math.max(vv[d] ?? 0, m!.vv[d]!);
      const depth = Object.values(vv).reduce((a, b) => a + b, 0);
      out.push({ frontier, depth });
    }
    return out.sort((a, b) => b.depth - a.depth).map((x) => x.frontier);
  }

  evidence(doc: DocId): SnapshotEvidence[] {
    return [...(this.forged.get(doc) ?? [])];
  }

  private record(ev: SnapshotEvidence): void {
    const list = this.forged.get(ev.doc) ?? [];
    if (!list.some((e) => e.claimed === ev.claimed && e.signer === ev.signer)) list.push(ev);
    this.forged.set(ev.doc, list);
  }
}
