// What the app tells the user after an action: errors from the host and from failed calls, the
// toast (with Undo when the action can be undone) and the undo stack (Ctrl+Z, the toast's Undo).
import { useCallback, useEffect, useRef, useState } from 'react';
import type { CalendarClient } from '../../worker/api.ts';
import { useHostErrors } from '../hooks.ts';
import { type UndoEntry, UndoStack } from '../undo.ts';

const TOAST_MS = 10_000;

export interface ToastState {
  text: string;
  entry?: UndoEntry;
}

export function useFeedback(client: CalendarClient) {
  const [errors, dismissError, pushError] = useHostErrors(client);
  const [toast, setToast] = useState<ToastState | null>(null);
  const undo = useRef(new UndoStack());

  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), TOAST_MS);
    return () => clearTimeout(t);
  }, [toast]);

  /** Runs a client call; a rejection becomes a visible error instead of an unhandled promise. */
  const run = useCallback(
    async <T>(p: Promise<T>): Promise<T | undefined> => {
      try {
        return await p;
      } catch (e) {
        pushError({
          code: (e as { code?: string })?.code ?? 'error',
          message: String((e as Error)?.message ?? e),
        });
        return undefined;
      }
    },
    [pushError],
  );

  /** Records an undoable action and shows it in the toast; the returned function takes it back. */
  const record = (text: string, undoFn: () => Promise<void>) => {
    const entry: UndoEntry = { label: text, undo: undoFn };
    undo.current.push(entry);
    setToast({ text, entry });
    return () => {
      undo.current.remove(entry);
      setToast((t) => (t?.entry === entry ? null : t));
    };
  };

  const undoEntry = async (entry: UndoEntry | undefined) => {
    if (!entry) {
      setToast({ text: 'Nothing to undo' });
      return;
    }
    undo.current.remove(entry);
    await run(entry.undo());
    setToast({ text: `Undone: ${entry.label.toLowerCase()}` });
  };
  /** Undoes the latest action (Ctrl+Z). */
  const undoLast = () => undoEntry(undo.current.pop());

  return { errors, dismissError, pushError, toast, setToast, run, record, undoEntry, undoLast };
}
