// Week and day views: an all-day row and a 24-hour grid; click or drag an empty slot to create,
// drag an event to move it, drag its bottom edge to resize (pointer events; keyboard via EventChip keys).
import { type KeyboardEvent, type PointerEvent, useEffect, useMemo, useRef, useState } from 'react';
import { Temporal } from 'temporal-polyfill';
import type { UiEvent } from '../model.ts';
import { type ColumnBlock, dayColumn, goesInAllDayRow, laneRow, type Timed } from '../time/layout.ts';
import {
  type DateStr,
  formatMonthYear,
  formatTime,
  formatWeekdayShort,
  minuteOfDay,
  msToWall,
  msToZoned,
  parseWall,
  startOfDayMs,
} from '../time/zoned.ts';
import { EventChip, eventKey } from './EventChip.tsx';

export const HOUR_PX = 48;
const SNAP = 15;
const DRAG_THRESHOLD_PX = 4;
/** A finger moving further than this before the long press fires is scrolling, not dragging. */
const TOUCH_SLOP_PX = 10;
/** Touch: hold an event this long to pick it up ([UI-17]); a shorter touch opens it. */
export const LONG_PRESS_MS = 450;

export interface TimeChange {
  ui: UiEvent;
  /** New instants for the event; the caller writes them back in the event's own zone. */
  startMs: number;
  endMs: number;
}

export interface GridProps {
  days: DateStr[];
  events: Timed<UiEvent>[];
  zone: string;
  today: DateStr;
  onOpen: (ui: UiEvent) => void;
  onKey: (e: KeyboardEvent<HTMLButtonElement>, ui: UiEvent) => void;
  onCreate: (slot: { start: string; end: string; allDay: boolean }) => void;
  onChangeTime: (c: TimeChange) => void;
  onGoToDay: (d: DateStr) => void;
  /** Length of an event created by a click or tap (Settings, "Default event length"). */
  defaultMinutes?: number;
}

interface DragBase {
  id: number;
  x: number;
  y: number;
  moved: boolean;
  col: number;
  min: number;
  /** Touch pointers: false until the long press fires (before that, movement is a scroll). */
  armed: boolean;
  touch: boolean;
}

type Drag =
  | (DragBase & { kind: 'create' })
  | (DragBase & { kind: 'move' | 'resize'; block: ColumnBlock<UiEvent> });

interface Preview {
  col: number;
  top: number;
  bottom: number;
  label: string;
}

type Evaluated =
  | { kind: 'create'; col: number; top: number; bottom: number; start: string; end: string }
  | { kind: 'time'; col: number; top: number; bottom: number; startMs: number; endMs: number };

const HOURS = Array.from({ length: 24 }, (_, h) => h);
const snap = (m: number) => Math.round(m / SNAP) * SNAP;
const pad = (n: number) => String(n).padStart(2, '0');

/** Display-zone wall string for minute `m` (0..1440) of `day`; 1440 is the next day's 00:00. */
function wallAt(day: DateStr, m: number): string {
  const dt = Temporal.PlainDate.from(day).toPlainDateTime().add({ minutes: m });
  return `${dt.toPlainDate().toString()}T${pad(dt.hour)}:${pad(dt.minute)}`;
}

export function TimeGrid(props: GridProps) {
  const { days, zone } = props;
  const n = days.length;
  const colsRef = useRef<HTMLDivElement>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const drag = useRef<Drag | null>(null);
  const suppressClick = useRef(false);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [nowMs, setNowMs] = useState(() => Date.now());

  useEffect(() => {
    const t = setInterval(() => setNowMs(Date.now()), 60_000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    // Start the day at 07:00 like other calendars; the night stays a scroll away.
    if (scrollRef.current) scrollRef.current.scrollTop = 7 * HOUR_PX;
  }, []);

  const allDaySegs = useMemo(
    () =>
      laneRow(
        props.events.filter((e) => goesInAllDayRow(e.times)),
        days,
      ),
    [props.events, days],
  );
  const columns = useMemo(
    () => days.map((d) => dayColumn(props.events, d, zone)),
    [props.events, days, zone],
  );
  const lanes = allDaySegs.reduce((m, s) => Math.max(m, s.lane + 1), 0);

  const locate = (clientX: number, clientY: number) => {
    const r = colsRef.current!.getBoundingClientRect();
    const col = Math.min(n - 1, Math.max(0, Math.floor(((clientX - r.left) / r.width) * n)));
    const min = Math.min(1440, Math.max(0, ((clientY - r.top) / r.height) * 1440));
    return { col, min };
  };

  const pressTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const cancelDrag = () => {
    clearTimeout(pressTimer.current);
    drag.current = null;
    setPreview(null);
  };
  useEffect(() => {
    // While a touch drag is armed the page must not scroll under the finger: cancel its touchmoves
    // (a non-passive listener; scrolling before the long press fires is left alone).
    const stop = (e: TouchEvent) => {
      if (drag.current?.armed && drag.current.touch) e.preventDefault();
    };
    document.addEventListener('touchmove', stop, { passive: false });
    return () => {
      document.removeEventListener('touchmove', stop);
      clearTimeout(pressTimer.current);
    };
  }, []);

  const startDrag = (e: PointerEvent<HTMLElement>, kind: Drag['kind'], block?: ColumnBlock<UiEvent>) => {
    if (e.button !== 0) return;
    const { col, min } = locate(e.clientX, e.clientY);
    const touch = e.pointerType === 'touch';
    const base: DragBase = {
      id: e.pointerId,
      x: e.clientX,
      y: e.clientY,
      moved: false,
      col,
      min,
      armed: !touch,
      touch,
    };
    drag.current = kind === 'create' ? { ...base, kind } : { ...base, kind, block: block! };
    if (!touch) colsRef.current!.setPointerCapture(e.pointerId);
    else if (kind !== 'create') {
      // Touch on an event: a long press picks it up; until then a move is a scroll.
      const id = e.pointerId;
      clearTimeout(pressTimer.current);
      pressTimer.current = setTimeout(() => {
        const d = drag.current;
        if (!d || d.id !== id || d.moved) return;
        d.armed = true;
        try {
          colsRef.current?.setPointerCapture(id);
        } catch {
          // The pointer is gone already: the drag ends with it.
        }
        navigator.vibrate?.(10);
        const r = evaluate(d, d.col, d.min);
        setPreview({ col: r.col, top: r.top, bottom: r.bottom, label: '' });
      }, LONG_PRESS_MS);
    }
    if (kind !== 'create') e.stopPropagation();
  };

  /** Result of the current drag at a pointer position: preview geometry and the new times. */
  const evaluate = (d: Drag, col: number, min: number): Evaluated => {
    if (d.kind === 'create') {
      let a = snap(d.min);
      let b = snap(min);
      if (a > b) [a, b] = [b, a];
      if (!d.moved) {
        a = Math.floor(d.min / 30) * 30;
        b = a + (props.defaultMinutes ?? 60);
      }
      if (b - a < SNAP) b = a + SNAP;
      a = Math.min(a, 1440 - SNAP);
      b = Math.min(b, 1440);
      const day = days[d.col]!;
      return { kind: 'create', col: d.col, top: a, bottom: b, start: wallAt(day, a), end: wallAt(day, b) };
    }
    const t = d.block.times;
    if (d.kind === 'move') {
      const dDays = col - d.col;
      const dMin = snap(min - d.min);
      // Days and minutes are added one after the other: Temporal refuses one Duration that mixes
      // signs (another day *and* an earlier time), which made such drags snap back.
      const start = parseWall(msToWall(t.startMs, zone))
        .add({ days: dDays })
        .add({ minutes: dMin })
        .toZonedDateTime(zone, { disambiguation: 'compatible' }).epochMilliseconds;
      const top = Math.max(0, Math.min(1440 - SNAP, d.block.top + dMin));
      const bottom = Math.min(1440, top + (d.block.bottom - d.block.top));
      return { kind: 'time', col, top, bottom, startMs: start, endMs: start + (t.endMs - t.startMs) };
    }
    // Resize: the end follows the pointer (possibly into a later column), at least one step long.
    const c = Math.max(col, d.col);
    const endMin = snap(min);
    let endMs = parseWall(wallAt(days[c]!, endMin)).toZonedDateTime(zone, {
      disambiguation: 'compatible',
    }).epochMilliseconds;
    if (endMs < t.startMs + SNAP * 60_000) endMs = t.startMs + SNAP * 60_000;
    const bottom = c === d.col ? Math.max(d.block.top + SNAP, endMin) : 1440;
    return { kind: 'time', col: d.col, top: d.block.top, bottom, startMs: t.startMs, endMs };
  };

  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    const dist = Math.hypot(e.clientX - d.x, e.clientY - d.y);
    if (!d.armed) {
      // A finger that moves before the long press is scrolling: let it.
      if (dist >= TOUCH_SLOP_PX) cancelDrag();
      return;
    }
    if (!d.moved && dist < DRAG_THRESHOLD_PX) return;
    d.moved = true;
    const { col, min } = locate(e.clientX, e.clientY);
    const r = evaluate(d, col, min);
    const toMs = (w: string) =>
      parseWall(w).toZonedDateTime(zone, { disambiguation: 'compatible' }).epochMilliseconds;
    const label =
      r.kind === 'create'
        ? `${formatTime(toMs(r.start), zone)} – ${formatTime(toMs(r.end), zone)}`
        : `${formatTime(r.startMs, zone)} – ${formatTime(r.endMs, zone)}`;
    setPreview({ col: r.col, top: r.top, bottom: r.bottom, label });
  };

  const onPointerUp = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    clearTimeout(pressTimer.current);
    drag.current = null;
    setPreview(null);
    const { col, min } = locate(e.clientX, e.clientY);
    if (d.kind === 'create') {
      const r = evaluate(d, col, min);
      if (r.kind === 'create') props.onCreate({ start: r.start, end: r.end, allDay: false });
      return;
    }
    // Pointer capture retargets the click to the grid, so a plain click opens the event here and any
    // click that still reaches the button is ignored.
    suppressClick.current = true;
    setTimeout(() => {
      suppressClick.current = false;
    }, 0);
    if (!d.moved) {
      props.onOpen(d.block.item);
      return;
    }
    const r = evaluate(d, col, min);
    if (r.kind === 'time' && (r.startMs !== d.block.times.startMs || r.endMs !== d.block.times.endMs)) {
      props.onChangeTime({ ui: d.block.item, startMs: r.startMs, endMs: r.endMs });
    }
  };

  const open = (ui: UiEvent) => {
    if (!suppressClick.current) props.onOpen(ui);
  };

  const nowInGrid = days.indexOf(msToZoned(nowMs, zone).toPlainDate().toString());
  const nowMin = minuteOfDay(msToZoned(nowMs, zone));

  return (
    <div className="timegrid" style={{ ['--cols' as string]: n }}>
      <div className="tg-head">
        <div className="tg-gutter" />
        {days.map((d) => (
          <button
            type="button"
            key={d}
            className={`tg-dayhead${d === props.today ? ' is-today' : ''}`}
            aria-current={d === props.today ? 'date' : undefined}
            onClick={() => props.onGoToDay(d)}
          >
            {/* The name is the visible "Tue 24" plus the month, hidden ([UI-11]). */}
            <span className="wd">{formatWeekdayShort(d)}</span>{' '}
            <span className="dn">
              {Number(d.slice(8))}
              <span className="sep"> {formatMonthYear(d)}</span>
            </span>
          </button>
        ))}
      </div>
      <div className="tg-allday" style={{ ['--lanes' as string]: Math.max(1, lanes) }}>
        <div className="tg-gutter tg-allday-label">all-day</div>
        <div className="tg-allday-grid">
          {days.map((d, i) => (
            // biome-ignore lint/a11y/noStaticElementInteractions: pointer shortcut; "New event" is the keyboard path
            // biome-ignore lint/a11y/useKeyWithClickEvents: same as above
            <div
              key={d}
              className="tg-allday-cell"
              style={{ gridColumn: i + 1 }}
              onClick={() => props.onCreate({ start: d, end: d, allDay: true })}
            />
          ))}
          {allDaySegs.map((s) => (
            <EventChip
              key={`${eventKey(s.item)}`}
              ui={s.item}
              times={s.times}
              zone={zone}
              filled
              className={`bar${s.continuesBefore ? ' cont-before' : ''}${s.continuesAfter ? ' cont-after' : ''}`}
              style={{ gridColumn: `${s.startCol + 1} / ${s.endCol + 2}`, gridRow: s.lane + 1 }}
              show={{}}
              onOpen={props.onOpen}
              onKey={props.onKey}
            />
          ))}
        </div>
      </div>
      <div className="tg-scroll" ref={scrollRef}>
        <div className="tg-body" style={{ height: 24 * HOUR_PX }}>
          <div className="tg-gutter tg-hours" aria-hidden="true">
            {HOURS.map((h) => (
              <div key={h} className="tg-hour" style={{ top: h * HOUR_PX }}>
                {h === 0 ? '' : formatTime(startOfDayMs('2000-01-01', 'UTC') + h * 3_600_000, 'UTC')}
              </div>
            ))}
          </div>
          <div
            className="tg-cols"
            ref={colsRef}
            onPointerDown={(e) => {
              if ((e.target as HTMLElement).closest('.event')) return;
              startDrag(e, 'create');
            }}
            onPointerMove={onPointerMove}
            onPointerUp={onPointerUp}
            onPointerCancel={cancelDrag}
          >
            {columns.map((blocks, ci) => (
              <div key={days[ci]} className="tg-col" data-date={days[ci]}>
                {blocks.map((b) => {
                  const dragging =
                    preview && drag.current && 'block' in drag.current && drag.current.block === b;
                  return (
                    <EventChip
                      key={eventKey(b.item)}
                      ui={b.item}
                      times={b.times}
                      zone={zone}
                      filled
                      className={`block${dragging ? ' is-dragging' : ''}${b.bottom - b.top < 45 ? ' short' : ''}`}
                      style={{
                        top: (b.top / 60) * HOUR_PX,
                        height: Math.max(((b.bottom - b.top) / 60) * HOUR_PX - 2, 14),
                        left: `${(b.col / b.cols) * 100}%`,
                        width: `calc(${100 / b.cols}% - 4px)`,
                      }}
                      show={{ time: true, location: true }}
                      onOpen={open}
                      onKey={props.onKey}
                      onPointerDown={(e) => {
                        const onHandle = (e.target as HTMLElement).classList.contains('resize-handle');
                        startDrag(e, onHandle ? 'resize' : 'move', b);
                      }}
                    >
                      {!b.continuesAfter && <span className="resize-handle" aria-hidden="true" />}
                    </EventChip>
                  );
                })}
                {preview && preview.col === ci && (
                  <div
                    className="tg-preview"
                    aria-hidden="true"
                    style={{
                      top: (preview.top / 60) * HOUR_PX,
                      height: ((preview.bottom - preview.top) / 60) * HOUR_PX,
                    }}
                  >
                    {preview.label}
                  </div>
                )}
                {nowInGrid === ci && (
                  <div className="tg-now" style={{ top: (nowMin / 60) * HOUR_PX }} aria-hidden="true" />
                )}
              </div>
            ))}
          </div>
        </div>
      </div>
    </div>
  );
}
