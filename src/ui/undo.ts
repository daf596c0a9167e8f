// Undo stack: every user edit records how to reverse it (as a later write, so undo syncs like any edit).
export interface UndoEntry {
  /** Shown in the toast, e.g. "Event deleted". */
  label: string;
  undo: () => Promise<void>;
}

export const UNDO_LIMIT = 50;

export class UndoStack {
  private entries: UndoEntry[] = [];

  push(e: UndoEntry): void {
    this.entries.push(e);
    if (this.entries.length > UNDO_LIMIT) this.entries.shift();
  }

  /** Removes and returns the newest entry (undefined when there is nothing to undo). */
  pop(): UndoEntry | undefined {
    return this.entries.pop();
  }

  /** Drops a specific entry (the toast's Undo ran it directly). */
  remove(e: UndoEntry): void {
    const i = this.entries.lastIndexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
  }

  get size(): number {
    return this.entries.length;
  }
}
