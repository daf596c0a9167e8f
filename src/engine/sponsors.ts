// Sponsor groups (docs/PROTOCOL.md ROLE-12): which devices consented to be brought into a calendar
// by one another. Each sponsored Add that counts (ROLE-11, not void by MEM-10/ROLE-6) is an edge
// between its author and its subject, signed by both (the author's op, the subject's sponsor
// proof naming that author). A device's group is its connected component. Edges stay after
// removals: consent is permanent. Pure and deterministic: a function of the ops given.

import type { DeviceId } from './ids.ts';

/** An edge: a sponsored Add by `author` of `subject`. */
export interface SponsorEdge {
  author: DeviceId;
  subject: DeviceId;
}

/** The connected components of the edges: each device mapped to its group's representative. */
export class SponsorGroups {
  private readonly up = new Map<DeviceId, DeviceId>();

  constructor(edges: Iterable<SponsorEdge>) {
    for (const e of edges) this.union(e.author, e.subject);
  }

  private find(d: DeviceId): DeviceId {
    let r = d;
    for (let p = this.up.get(r); p !== undefined && p !== r; p = this.up.get(r)) r = p;
    // Path compression: every device on the way points at the root.
    for (let x = d, p = this.up.get(x); p !== undefined && p !== r; p = this.up.get(x)) {
      this.up.set(x, r);
      x = p;
    }
    return r;
  }

  private union(a: DeviceId, b: DeviceId): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (!this.up.has(ra)) this.up.set(ra, ra);
    if (!this.up.has(rb)) this.up.set(rb, rb);
    // The smaller id is the root, so the structure does not depend on the edges' order.
    if (ra < rb) this.up.set(rb, ra);
    else if (rb < ra) this.up.set(ra, rb);
  }

  /** Whether a and b are one device or linked by a chain of sponsored Adds. */
  same(a: DeviceId, b: DeviceId): boolean {
    return a === b || this.find(a) === this.find(b);
  }

  /** The devices of d's group, d included, ascending. */
  groupOf(d: DeviceId): DeviceId[] {
    const r = this.find(d);
    const out = new Set<DeviceId>([d]);
    for (const x of this.up.keys()) if (this.find(x) === r) out.add(x);
    return [...out].sort();
  }
}
