// One event as a focusable button: colour plus text (title, time, "Conflict" badge), never colour alone.
import type { CSSProperties, KeyboardEvent, PointerEvent, ReactNode } from 'react';
import { safeColor, textOn } from '../colors.ts';
import { eventLabel, hasConflict, titleOf, type UiEvent } from '../model.ts';
import type { EventTimes } from '../time/zoned.ts';

export function eventKey(e: UiEvent): string {
  return `${e.ev.calendarId}/${e.ev.id}`;
}

export function ConflictBadge() {
  return (
    <span className="conflict-badge">
      <span aria-hidden="true">⚠</span> Conflict
    </span>
  );
}

export function EventChip(props: {
  ui: UiEvent;
  times: EventTimes;
  zone: string;
  className: string;
  /** Filled chips use the calendar colour as background; others show it as a dot/border. */
  filled: boolean;
  style?: CSSProperties;
  onOpen: (ui: UiEvent) => void;
  onKey: (e: KeyboardEvent<HTMLButtonElement>, ui: UiEvent) => void;
  onPointerDown?: (e: PointerEvent<HTMLButtonElement>, ui: UiEvent) => void;
  children: ReactNode;
}) {
  const { ui } = props;
  const color = safeColor(ui.color);
  const style: CSSProperties = props.filled
    ? { ...props.style, background: color, color: textOn(color) }
    : { ...props.style, ['--cal' as string]: color };
  return (
    <button
      type="button"
      className={`event ${props.className}${hasConflict(ui) ? ' has-conflict' : ''}`}
      style={style}
      data-event-key={eventKey(ui)}
      aria-label={eventLabel(ui, props.times, props.zone)}
      title={titleOf(ui.ev)}
      onClick={() => props.onOpen(ui)}
      onKeyDown={(e) => props.onKey(e, ui)}
      onPointerDown={props.onPointerDown ? (e) => props.onPointerDown?.(e, ui) : undefined}
    >
      {props.children}
      {hasConflict(ui) && <ConflictBadge />}
    </button>
  );
}
