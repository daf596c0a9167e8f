// The edits the views and dialogs run (commands.ts), wired to the app: their undo in the toast,
// the recurring-event question, times shown before the host reports them, and the focus that
// follows an event a keyboard move carried into another column.
import { useLayoutEffect, useState } from 'react';
import type { CalendarClient, SeriesScope } from '../../worker/api.ts';
import { createCommands } from '../commands.ts';
import type { useFeedback } from './feedback.ts';
import type { useViewState } from './view-state.ts';

export function useEdits(
  client: CalendarClient,
  v: ReturnType<typeof useViewState>,
  fb: ReturnType<typeof useFeedback>,
  askScope: (kind: 'edit' | 'delete', allowThis: boolean) => Promise<SeriesScope | undefined>,
) {
  // An event to focus once it is rendered (after a keyboard move into another column, or creation).
  const [focusKey, setFocusKey] = useState<string | null>(null);
  // Keyboard moves can carry an event into another column (a remount): put focus back on it, in
  // the commit that remounts it (a layout effect), so a key pressed right after is not lost to
  // the page while the month view's layout arrives from the host.
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-run when the events change
  useLayoutEffect(() => {
    if (!focusKey) return;
    // The month view's bar moves to its new day when the host's layout for the move arrives: until
    // then the focused bar is the one to keep, and the focus follows it once it is redrawn.
    if (v.isMonth && !v.loaded) return;
    const el = document.querySelector<HTMLElement>(`main [data-event-key="${CSS.escape(focusKey)}"]`);
    if (!el) return;
    if (document.activeElement !== el) el.focus();
    setFocusKey(null);
  }, [focusKey, v.timed, v.layout, v.isMonth, v.loaded]);

  return createCommands({
    client,
    run: fb.run,
    record: fb.record,
    focus: setFocusKey,
    askScope,
    setOverride: (key, times) =>
      v.setOverrides((o) => {
        const m = new Map(o);
        if (times) m.set(key, { ...times, at: Date.now() });
        else m.delete(key);
        return m;
      }),
  });
}
