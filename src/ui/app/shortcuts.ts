// The app's global keyboard shortcuts: single keys with no modifier (the help dialog lists the same
// keys) and Ctrl/Cmd+Z. Ignored while typing and while a dialog is open (the dialog owns the keyboard).
import { useEffect, useRef } from 'react';
import type { View } from '../time/nav.ts';

export type ShortcutAction = View | 'new' | 'today' | 'next' | 'prev' | 'search' | 'help';

/** Single-key shortcuts (no modifiers); the help dialog lists the same keys. */
const SHORTCUT_ACTIONS: Record<string, ShortcutAction> = {
  n: 'new',
  t: 'today',
  m: 'month',
  w: 'week',
  d: 'day',
  a: 'agenda',
  j: 'next',
  k: 'prev',
  ArrowRight: 'next',
  ArrowLeft: 'prev',
  '/': 'search',
  '?': 'help',
};

export interface ShortcutTarget {
  /** A dialog is open: it owns the keyboard. */
  blocked: boolean;
  menuOpen: boolean;
  /** Escape with the drawer open. */
  closeMenu: () => void;
  undo: () => void;
  act: (action: ShortcutAction) => void;
}

function isTyping(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName);
}

function onKey(e: KeyboardEvent, to: ShortcutTarget): void {
  if (e.defaultPrevented || to.blocked) return;
  if (e.key === 'Escape' && to.menuOpen) {
    to.closeMenu();
    return;
  }
  if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'z' && !e.shiftKey) {
    if (isTyping(e.target)) return; // text fields keep their own undo
    e.preventDefault();
    to.undo();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
  const action = SHORTCUT_ACTIONS[e.key];
  if (!action) return;
  e.preventDefault();
  to.act(action);
}

/** Listens on the window once; each key goes to the target of the latest render. */
export function useShortcuts(target: ShortcutTarget): void {
  const latest = useRef(target);
  latest.current = target;
  useEffect(() => {
    const h = (e: KeyboardEvent) => onKey(e, latest.current);
    window.addEventListener('keydown', h);
    return () => window.removeEventListener('keydown', h);
  }, []);
}
