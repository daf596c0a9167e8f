// Snapshots at the relay (RELAY-25..28, SYNC-13..15): a member device uploads a snapshot it
// signed (its manifest, then its chunks, each checked against the manifest's hash of it and
// written at once, so a connection holds at most one chunk), members endorse it, and a new device
// is served the newest snapshot SNAP-5's trust rule accepts, then the ops after its frontier.
// The relay reads no chunk: it checks signatures, hashes, lengths and membership at the frontier
// (its verify-only replica knows membership), never content. Storage: snapshot-store.ts.

import {
  chunkBytes,
  chunkHash,
  type DeviceId,
  type DocId,
  EngineError,
  type OpenedEndorsement,
  type OpenedManifest,
  type OpId,
  openEndorsement,
  openManifest,
  toHex,
} from '../engine/index.ts';
import { wireCode } from '../sync/codes.ts';
import type { MessageOf, SyncErrorName, SyncMessage } from '../sync/messages.ts';
import { NOT_SERVED, type Refusal } from './admission.ts';
import { SnapshotCerts } from './snapshot-certs.ts';
import { coveredAfter, type Log, tailStart } from './snapshot-scan.ts';
import type { SnapshotStore, StoredSnapshot } from './snapshot-store.ts';
import { HIGH_WATER } from './streams.ts';

/** What this file needs of the relay (relay.ts implements it): the log as the scans read it, and more. */
export interface SnapshotHost extends Log {
  readonly snapshots: SnapshotStore;
  readonly crypto: Parameters<typeof openManifest>[0];
  isMember(doc: DocId, device: DeviceId): boolean;
  membersAt(doc: DocId, frontier: readonly OpId[]): Promise<ReadonlyMap<DeviceId, unknown> | undefined>;
  /** Membership ops of a calendar, in seq order (few; what may seal a snapshot's key). */
  membershipOps(doc: DocId): { seq: number; bytes: Uint8Array }[];
  /** RELAY-31: an endorsement was stored (pruning may be possible now). */
  pruneSoon(doc: DocId): void;
  /** The snapshot frontier a calendar was pruned to, if any (RELAY-30). */
  readonly replica: { startsFrom(doc: DocId): { vv: Readonly<Record<string, number>> } | undefined };
  /** Sends `m` to every session subscribed to `doc` but `except`. */
  broadcast(doc: DocId, except: SnapshotPeer | undefined, m: (peer: SnapshotPeer) => Promise<void>): void;
}

/** The connection a snapshot message came on (session.ts). */
export interface SnapshotPeer {
  readonly device: DeviceId | undefined;
  readonly closed: boolean;
  send(m: SyncMessage): void;
  sendError(code: SyncErrorName, message: string, op: OpId | null, doc: DocId | null): void;
  bufferedAmount(): number;
  /** The upload in progress on this connection (one at a time). */
  upload: Upload | undefined;
}

export interface Upload {
  doc: DocId;
  manifest: OpenedManifest;
  /** Chunk numbers stored so far. */
  held: Set<number>;
}

/** Where a new device's tail starts, and the covered ops after that seq it must not be sent. */
export interface SnapshotStart {
  seq: number;
  skip: Set<OpId>;
}

/** Bytes of key sources (membership ops) an offer carries at most: the newest are sent. */
const KEY_SOURCE_BYTES = 512 * 1024;

function refusal(e: unknown, fallback: SyncErrorName = 'Malformed'): Refusal {
  if (e instanceof EngineError) return { code: wireCode(e.code), message: e.message };
  return { code: fallback, message: e instanceof Error ? e.message : String(e) };
}

export class RelaySnapshots {
  /** SNAP-10 at admission (RELAY-28): what each endorser certified. */
  readonly certs = new SnapshotCerts();

  /** Offers being sent, per calendar (pruning waits for them, RELAY-30). */
  private readonly sending = new Map<DocId, number>();

  /**
   * SYNC-15: per calendar, the newest snapshot and the devices it was offered to at subscribe
   * (sent whole) while this relay runs: offered once each, so a member that does not endorse it
   * (compliance mode, CMP-2; a forgery; a key it lacks) is not sent its chunks at every connection.
   * One entry per calendar, at most one device id per member.
   */
  private readonly offered = new Map<DocId, { id: string; devices: Set<DeviceId> }>();

  constructor(private readonly h: SnapshotHost) {}

  /** Whether a snapshot of `doc` is being sent to some connection. */
  offering(doc: DocId): boolean {
    return (this.sending.get(doc) ?? 0) > 0;
  }

  /** Loads what the stored endorsements certify (before the relay takes connections). */
  async load(docs: readonly DocId[]): Promise<void> {
    for (const doc of docs) {
      for (const e of await this.h.snapshots.allEndorsements(doc)) {
        try {
          this.certify(await openEndorsement(this.h.crypto, e.bytes));
        } catch {
          // Stored only after these checks passed; a row that no longer opens certifies nothing.
        }
      }
    }
  }

  // --- upload (SYNC-13, RELAY-26) ------------------------------------------------------------

  /** SnapshotPut: checks the manifest and records it; the device then sends the chunks. */
  async put(peer: SnapshotPeer, m: MessageOf<'snapshotPut'>): Promise<void> {
    const device = peer.device!;
    if (!this.h.isMember(m.doc, device)) return this.refuse(peer, NOT_SERVED, m.doc);
    let man: OpenedManifest;
    try {
      man = await openManifest(this.h.crypto, m.manifest);
    } catch (e) {
      return this.refuse(peer, refusal(e), m.doc);
    }
    const bad = await this.checkManifest(man, m.doc, device);
    if (bad !== undefined) return this.refuse(peer, bad, m.doc);
    const stored = await this.h.snapshots.getSnapshot(m.doc, man.hash);
    if (stored?.complete === true) {
      peer.send({
        type: 'snapshotStored',
        doc: m.doc,
        snapshot: man.hash,
        chunks: stored.chunkCount,
        complete: true,
      });
      return;
    }
    // One upload per connection: a new one abandons the last (its rows are dropped).
    const last = peer.upload;
    if (last !== undefined && last.manifest.hash !== man.hash)
      await this.h.snapshots.dropIncomplete(last.doc, last.manifest.hash);
    if (stored === undefined) await this.h.snapshots.putManifest(await this.rowOf(man));
    const held = new Set(await this.h.snapshots.chunksHeld(m.doc, man.hash));
    peer.upload = { doc: m.doc, manifest: man, held };
    peer.send({
      type: 'snapshotStored',
      doc: m.doc,
      snapshot: man.hash,
      chunks: leading(held),
      complete: false,
    });
  }

  /** RELAY-26: the signer is the uploader, a member at the frontier, which the relay holds. */
  private async checkManifest(
    man: OpenedManifest,
    doc: DocId,
    device: DeviceId,
  ): Promise<Refusal | undefined> {
    if (man.doc !== doc) return { code: 'WrongDoc', message: 'the manifest names another calendar' };
    if (man.signer !== device)
      return { code: 'NotPermitted', message: 'a device uploads only snapshots it signed' };
    for (const f of man.frontier)
      if (this.h.seqOf(doc, f) === undefined)
        return { code: 'Unsupported', message: 'the snapshot covers ops the relay has not acknowledged' };
    if (this.belowPruned(doc, man.frontier))
      return { code: 'Unsupported', message: 'the snapshot covers less than the relay was pruned to' };
    const members = await this.h.membersAt(doc, man.frontier);
    if (members?.has(device) !== true)
      return { code: 'NotMember', message: 'the signer is not a member at the frontier' };
    return undefined;
  }

  /**
   * RELAY-30: a snapshot whose frontier does not hold the frontier the calendar was pruned to
   * would be served with a tail that lacks pruned ops: never stored, never completed.
   */
  private belowPruned(doc: DocId, frontier: readonly OpId[]): boolean {
    const base = this.h.replica.startsFrom(doc);
    if (base === undefined) return false;
    const vv: Record<string, number> = {};
    for (const f of frontier) {
      const seq = this.h.seqOf(doc, f);
      if (seq === undefined) return true;
      const [op] = this.h.opsAfter(doc, seq - 1, 1);
      if (op === undefined) return true;
      for (const [d, c] of Object.entries(op.vv)) vv[d] = Math.max(vv[d] ?? 0, c);
    }
    return Object.entries(base.vv).some(([d, c]) => (vv[d] ?? 0) < c);
  }

  /** The stored row: where the tail starts (every op up to baseSeq is covered) and how new it is. */
  private async rowOf(man: OpenedManifest): Promise<Omit<StoredSnapshot, 'complete'>> {
    const { baseSeq, frontierSeq } = await tailStart(this.h, man.doc, man.frontier);
    return {
      doc: man.doc,
      id: man.hash,
      signer: man.signer,
      wallTime: man.wallTime,
      frontier: man.frontier,
      chunkCount: man.chunks.length,
      baseSeq,
      frontierSeq,
      manifest: man.bytes,
    };
  }

  /** SnapshotChunk: length and hash as the manifest states, written at once. */
  async chunk(peer: SnapshotPeer, m: MessageOf<'snapshotChunk'>): Promise<void> {
    const up = peer.upload;
    if (up === undefined || up.doc !== m.doc || up.manifest.hash !== m.snapshot)
      return this.refuse(
        peer,
        { code: 'Malformed', message: 'a chunk of no snapshot being uploaded here' },
        m.doc,
      );
    const man = up.manifest;
    if (m.index >= man.chunks.length)
      return this.refuse(
        peer,
        { code: 'Malformed', message: `chunk ${m.index} of ${man.chunks.length}` },
        m.doc,
      );
    if (
      m.bytes.length !== chunkBytes(man.size, m.index) ||
      toHex(chunkHash(m.bytes)) !== toHex(man.chunks[m.index]!)
    )
      return this.refuse(
        peer,
        { code: 'BadBodyHash', message: `chunk ${m.index} does not match the manifest` },
        m.doc,
      );
    if (!up.held.has(m.index)) {
      await this.h.snapshots.putChunk(m.doc, man.hash, m.index, m.bytes);
      up.held.add(m.index);
    }
    const complete = up.held.size === man.chunks.length;
    if (complete && this.belowPruned(m.doc, man.frontier)) {
      // Pruned while it was uploaded (RELAY-30): dropped, never served.
      peer.upload = undefined;
      await this.h.snapshots.dropIncomplete(m.doc, man.hash);
      return this.refuse(
        peer,
        { code: 'Unsupported', message: 'the snapshot covers less than the relay was pruned to' },
        m.doc,
      );
    }
    if (complete) {
      await this.h.snapshots.markComplete(m.doc, man.hash);
      peer.upload = undefined;
    }
    // Durable before it is acknowledged (RELAY-25): a SIGKILL loses nothing the device was told.
    await this.h.snapshots.durable();
    peer.send({ type: 'snapshotStored', doc: m.doc, snapshot: man.hash, chunks: leading(up.held), complete });
    // SNAP-15: members online are offered it to verify and endorse.
    if (complete)
      this.h.broadcast(m.doc, peer, async (p) => {
        await this.offer(p, m.doc, man.hash, 0);
      });
  }

  // --- endorsements (SYNC-14, RELAY-27) ------------------------------------------------------

  async endorse(peer: SnapshotPeer, m: MessageOf<'endorse'>): Promise<void> {
    const device = peer.device!;
    if (!this.h.isMember(m.doc, device)) return this.refuse(peer, NOT_SERVED, m.doc);
    let e: OpenedEndorsement;
    try {
      e = await openEndorsement(this.h.crypto, m.endorsement);
    } catch (err) {
      return this.refuse(peer, refusal(err), m.doc);
    }
    if (e.doc !== m.doc)
      return this.refuse(
        peer,
        { code: 'WrongDoc', message: 'the endorsement names another calendar' },
        m.doc,
      );
    if (e.endorser !== device)
      return this.refuse(
        peer,
        { code: 'NotPermitted', message: 'a device sends only endorsements it signed' },
        m.doc,
      );
    const snap = await this.h.snapshots.getSnapshot(m.doc, e.manifest);
    if (snap?.complete !== true)
      return this.refuse(peer, { code: 'Unsupported', message: 'the relay holds no such snapshot' }, m.doc);
    // A maker's own endorsement is stored and forwarded: it certifies its chain (SNAP-10, SNAP-16)
    // and adds no trust (`trusted` counts endorsers other than the maker, SNAP-5).
    if (e.frontier.join() !== snap.frontier.join())
      return this.refuse(
        peer,
        { code: 'Malformed', message: 'the endorsement states another frontier' },
        m.doc,
      );
    const members = await this.h.membersAt(m.doc, snap.frontier);
    if (members?.has(device) !== true)
      return this.refuse(
        peer,
        { code: 'NotMember', message: 'the endorser is not a member at the frontier' },
        m.doc,
      );
    const fresh = await this.h.snapshots.putEndorsement({
      doc: m.doc,
      snapshot: snap.id,
      endorser: device,
      bytes: e.bytes,
    });
    // In force for admission at once (RELAY-28): the signed statement is what justifies a refusal.
    this.certify(e);
    await this.h.snapshots.durable();
    this.h.pruneSoon(m.doc);
    if (fresh)
      this.h.broadcast(m.doc, peer, async (p) =>
        p.send({ type: 'endorse', doc: m.doc, endorsement: e.bytes }),
      );
  }

  /** RELAY-28: remembers what an endorsement certifies (SNAP-10), for admission. */
  private certify(e: OpenedEndorsement): void {
    const need: [DeviceId, number][] = [];
    for (const f of e.frontier) {
      const seq = this.h.seqOf(e.doc, f);
      if (seq === undefined) return;
      const [op] = this.h.opsAfter(e.doc, seq - 1, 1);
      if (op !== undefined) need.push([op.author, op.ctr]);
    }
    this.certs.add(e.doc, e.endorser, e.ctr, need);
  }

  // --- serving (SYNC-15, RELAY-27) -----------------------------------------------------------

  /**
   * SNAP-5's trust rule, as the relay can check it: endorsed by a device other than its maker
   * that is a member at the frontier (checked when stored), or made by the only member there.
   */
  private async trusted(s: StoredSnapshot): Promise<boolean> {
    if ((await this.h.snapshots.endorsementsOf(s.doc, s.id)).some((e) => e.endorser !== s.signer))
      return true;
    const members = await this.h.membersAt(s.doc, s.frontier);
    return members !== undefined && members.size === 1 && members.has(s.signer);
  }

  /** The newest snapshot a new device may start from, or undefined (then: the whole history). */
  async newestTrusted(doc: DocId): Promise<StoredSnapshot | undefined> {
    for (const s of await this.h.snapshots.listSnapshots(doc)) if (await this.trusted(s)) return s;
    return undefined;
  }

  /**
   * SYNC-15: offers a new device the newest trusted snapshot (manifest, endorsements, chunks, one
   * frame each, sent only while the socket drains), and says where its tail starts.
   */
  async serve(peer: SnapshotPeer, doc: DocId): Promise<SnapshotStart | undefined> {
    const s = await this.newestTrusted(doc);
    if (s === undefined) return undefined;
    if (!(await this.offer(peer, doc, s.id, s.baseSeq))) return undefined;
    return { seq: s.baseSeq, skip: await coveredAfter(this.h, s) };
  }

  /**
   * SNAP-15, SYNC-15: a member that subscribes holding the calendar is offered the newest
   * snapshot if it has not endorsed it and is a member at its frontier (it can): a device that was
   * offline when it was uploaded endorses it now, which is also its consent to pruning (RELAY-29).
   */
  async offerToEndorse(peer: SnapshotPeer, doc: DocId): Promise<void> {
    const [s] = await this.h.snapshots.listSnapshots(doc);
    if (s === undefined || peer.device === undefined) return;
    const ends = await this.h.snapshots.endorsementsOf(doc, s.id);
    if (ends.some((e) => e.endorser === peer.device)) return;
    if ((await this.h.membersAt(doc, s.frontier))?.has(peer.device) !== true) return;
    let sent = this.offered.get(doc);
    if (sent?.id !== s.id) {
      sent = { id: s.id, devices: new Set() };
      this.offered.set(doc, sent);
    }
    if (sent.devices.has(peer.device)) return;
    if (await this.offer(peer, doc, s.id, 0)) sent.devices.add(peer.device);
  }

  /** Sends one snapshot's offer and chunks. False if the connection went away meanwhile. */
  private async offer(peer: SnapshotPeer, doc: DocId, id: string, seq: number): Promise<boolean> {
    this.sending.set(doc, (this.sending.get(doc) ?? 0) + 1);
    try {
      return await this.sendOffer(peer, doc, id, seq);
    } finally {
      const n = (this.sending.get(doc) ?? 1) - 1;
      if (n > 0) this.sending.set(doc, n);
      else this.sending.delete(doc);
    }
  }

  private async sendOffer(peer: SnapshotPeer, doc: DocId, id: string, seq: number): Promise<boolean> {
    const s = await this.h.snapshots.getSnapshot(doc, id);
    if (s === undefined || peer.closed) return false;
    const endorsements = (await this.h.snapshots.endorsementsOf(doc, id)).slice(0, 64).map((e) => e.bytes);
    peer.send({
      type: 'snapshotOffer',
      doc,
      manifest: s.manifest,
      endorsements,
      seq,
      keySources: this.keySources(doc, seq),
    });
    for (let i = 0; i < s.chunkCount; i++) {
      while (peer.bufferedAmount() > HIGH_WATER && !peer.closed) await new Promise((r) => setTimeout(r, 20));
      if (peer.closed) return false;
      const bytes = await this.h.snapshots.getChunk(doc, id, i);
      if (bytes === undefined)
        throw new EngineError('Storage', `chunk ${i} of a complete snapshot is missing`);
      peer.send({ type: 'snapshotChunk', doc, snapshot: id, index: i, bytes });
    }
    return true;
  }

  /**
   * A start's key sources: the calendar's membership ops, newest first, within KEY_SOURCE_BYTES
   * (the device's Add, or the Invite it joins by, and the rotations that seal keys, are recent).
   */
  private keySources(doc: DocId, seq: number): Uint8Array[] {
    if (seq === 0) return [];
    const out: Uint8Array[] = [];
    let bytes = 0;
    const ops = this.h.membershipOps(doc);
    for (let i = ops.length - 1; i >= 0 && out.length < 512; i--) {
      bytes += ops[i]!.bytes.length;
      if (bytes > KEY_SOURCE_BYTES) break;
      out.push(ops[i]!.bytes);
    }
    return out;
  }

  private refuse(peer: SnapshotPeer, r: Refusal, doc: DocId): void {
    peer.sendError(r.code, r.message, null, doc);
  }
}

/** Chunks held from 0 without a gap: where an interrupted upload resumes. */
function leading(held: ReadonlySet<number>): number {
  let n = 0;
  while (held.has(n)) n++;
  return n;
}
