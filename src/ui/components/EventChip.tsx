// One event as a focusable button: colour plus text (title, time, "Conflict" badge), never colour
// alone. The button's accessible name is its own text (WCAG 2.5.3, [UI-11]): the visible parts in
// reading order with visually hidden commas between them, then, hidden, whatever the view leaves
// out (time, place, calendar). A view that shows the time before the title does so by CSS order,
// so the name still starts with the title.
import type { CSSProperties, KeyboardEvent, PointerEvent, ReactNode } from 'react';
import { safeColor, textOn } from '../colors.ts';
import { hasConflict, titleOf, type UiEvent } from '../model.ts';
import { type EventTimes, timeLabel } from '../time/zoned.ts';

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

/** Which parts a view shows; the rest is still in the accessible name. */
export interface ChipShow {
  time?: boolean;
  location?: boolean;
  calendar?: boolean;
  /** Text before the time, e.g. "Day 2 of 3 · ". */
  timePrefix?: string;
}

export function EventChip(props: {
  ui: UiEvent;
  times: EventTimes;
  zone: string;
  className: string;
  /** Filled chips use the calendar colour as background; others show it as a dot/border. */
  filled: boolean;
  show: ChipShow;
  style?: CSSProperties;
  onOpen: (ui: UiEvent) => void;
  onKey: (e: KeyboardEvent<HTMLButtonElement>, ui: UiEvent) => void;
  onPointerDown?: (e: PointerEvent<HTMLButtonElement>, ui: UiEvent) => void;
  /** Decoration (a dot, a resize handle): must be aria-hidden. */
  children?: ReactNode;
}) {
  const { ui, show } = props;
  const ev = ui.ev;
  const color = safeColor(ui.color);
  const style: CSSProperties = props.filled
    ? { ...props.style, background: color, color: textOn(color) }
    : { ...props.style, ['--cal' as string]: color };
  const l = timeLabel(ev, props.times, props.zone);
  const time = (
    <>
      {show.timePrefix ?? ''}
      {l.display}
      {l.original && <span className="ev-orig"> ({l.original})</span>}
    </>
  );
  // Visible parts in reading order; what the view leaves out follows, visually hidden. Commas
  // and hidden parts sit inline inside the part before them (class "sep": zero-size text, not an
  // absolutely positioned box, which the name computation would set apart as "Title , 9:00").
  const parts: { cls: string; node: ReactNode }[] = [{ cls: 'ev-title', node: titleOf(ev) }];
  const hidden: ReactNode[] = [];
  show.time ? parts.push({ cls: 'ev-time', node: time }) : hidden.push(time);
  if (ev.location)
    show.location ? parts.push({ cls: 'ev-loc', node: ev.location }) : hidden.push(ev.location);
  if (ui.calendarName)
    show.calendar ? parts.push({ cls: 'ev-cal', node: ui.calendarName }) : hidden.push(ui.calendarName);
  const conflict = hasConflict(ui);
  const last = parts.length - 1;
  return (
    <button
      type="button"
      className={`event ${props.className}${hasConflict(ui) ? ' has-conflict' : ''}`}
      style={style}
      data-event-key={eventKey(ui)}
      title={titleOf(ev)}
      onClick={() => props.onOpen(ui)}
      onKeyDown={(e) => props.onKey(e, ui)}
      onPointerDown={props.onPointerDown ? (e) => props.onPointerDown?.(e, ui) : undefined}
    >
      {props.children}
      {parts.map((p, i) => (
        <span key={p.cls} className={p.cls}>
          {p.node}
          {i < last ? (
            <span className="sep">, </span>
          ) : (
            (hidden.length > 0 || conflict) && (
              <span className="sep">
                {hidden.map((h, j) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: a fixed, ordered list of parts
                  <span key={j}>, {h}</span>
                ))}
                {conflict && ', '}
              </span>
            )
          )}
        </span>
      ))}
      {conflict && <ConflictBadge />}
    </button>
  );
}
