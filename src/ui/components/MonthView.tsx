// Month view: whole weeks, multi-day events as bars across days, "+N more" when a day is full;
// click a day to create, drag a bar to another day to move it. The host lays the grid out
// (monthLayout, [UI-18]): this view measures how many lanes fit, asks for that, and draws the
// bars and counts it gets.
import { type KeyboardEvent, type PointerEvent, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { CalendarInfo, MonthLayout } from '../../worker/api.ts';
import { toTimed, type UiEvent } from '../model.ts';
import { applyOverrides, type TimeOverride } from '../pending.ts';
import type { LaneSegment } from '../time/layout.ts';
import {
  type DateStr,
  daysBetween,
  formatDateMedium,
  formatTime,
  formatWeekdayShort,
} from '../time/zoned.ts';
import { EventChip, eventKey } from './EventChip.tsx';

/** Row geometry (px), as in styles.css .month-week: the date line, then lanes of LANE_PX + gap. */
const DATE_ROW_PX = 28;
const LANE_PX = 21;
const GAP_PX = 2;

/** Lanes before the row is measured (and where it cannot be). */
const DEFAULT_LANES = 4;

/** How many event lanes fit in a week row of `rowPx` (at least one). */
export function lanesThatFit(rowPx: number): number {
  return Math.max(1, Math.floor((rowPx - DATE_ROW_PX - GAP_PX) / (LANE_PX + GAP_PX)));
}

/** A week row as drawn: its bars (shown lanes only), the lanes shown and each day's "+N more". */
export interface MonthRow {
  segs: LaneSegment<UiEvent>[];
  shown: number;
  more: number[];
}

/**
 * The rows of a layout for these weeks, with each shown bar's calendar colour and times in the
 * display zone; no rows (nothing drawn yet) when the layout is of another grid.
 */
const NO_OVERRIDES: ReadonlyMap<string, TimeOverride> = new Map();

export function monthRows(
  layout: MonthLayout | null,
  weeks: DateStr[][],
  calendars: CalendarInfo[],
  zone: string,
  overrides: ReadonlyMap<string, TimeOverride> = NO_OVERRIDES,
): MonthRow[] {
  if (layout === null || layout.weeks.length !== weeks.length) return [];
  return layout.weeks.map((w) => {
    const segs: LaneSegment<UiEvent>[] = [];
    for (const b of w.bars) {
      // Pending times on the bar's own event at once (keyboard moves build on them); where the
      // host places it follows with its next layout.
      const [t] = toTimed(applyOverrides([b.view], overrides), calendars, zone);
      if (t === undefined) continue;
      segs.push({
        ...t,
        startCol: b.startCol,
        endCol: b.endCol,
        lane: b.lane,
        continuesBefore: b.continuesBefore,
        continuesAfter: b.continuesAfter,
      });
    }
    return { segs, shown: w.shown, more: w.more };
  });
}

export function MonthView(props: {
  weeks: DateStr[][];
  month: string;
  /** The host's layout of exactly these weeks (null while it is asked for). */
  layout: MonthLayout | null;
  calendars: CalendarInfo[];
  /** Times shown before the host reports them (the layout has them too, a moment later). */
  overrides: ReadonlyMap<string, TimeOverride>;
  /** Lanes that fit a week row: the layout is asked for with this many. */
  onFit: (lanes: number) => void;
  zone: string;
  today: DateStr;
  onOpen: (ui: UiEvent) => void;
  onKey: (e: KeyboardEvent<HTMLButtonElement>, ui: UiEvent) => void;
  onCreate: (slot: { start: string; end: string; allDay: boolean }) => void;
  onMoveDays: (ui: UiEvent, days: number) => void;
  onGoToDay: (d: DateStr) => void;
}) {
  const { layout, weeks, calendars, zone, overrides, onFit } = props;
  const rows = useMemo(
    () => monthRows(layout, weeks, calendars, zone, overrides),
    [layout, weeks, calendars, zone, overrides],
  );
  const drag = useRef<{
    id: number;
    x: number;
    y: number;
    ui: UiEvent;
    from: DateStr;
    moved: boolean;
  } | null>(null);
  const suppressClick = useRef(false);
  const [over, setOver] = useState<DateStr | null>(null);
  // Lanes per week follow the space the window gives (not a fixed 3): "N more" only when full.
  const boxRef = useRef<HTMLDivElement>(null);
  const [fit, setFit] = useState(DEFAULT_LANES);
  // The layout is asked for once the row is measured (the first request already has the lanes
  // that fit: a request with a guess, then another, would cost a cold start two host answers).
  // Measured before paint, so the request goes out in the same task as the first render's calls.
  useLayoutEffect(() => {
    const el = boxRef.current;
    const measure = () => {
      const row = el?.querySelector<HTMLElement>('.month-week');
      const n = row ? lanesThatFit(row.getBoundingClientRect().height) : DEFAULT_LANES;
      setFit(n);
      onFit(n);
    };
    measure();
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [onFit]);

  // Bars sit above the day cells in the same grid, so look through the stack for the cell.
  const dateAt = (x: number, y: number): DateStr | null => {
    const cell = document
      .elementsFromPoint(x, y)
      .find((el) => el instanceof HTMLElement && el.dataset['date']);
    return (cell as HTMLElement | undefined)?.dataset['date'] ?? null;
  };

  const onBarDown = (e: PointerEvent<HTMLButtonElement>, ui: UiEvent) => {
    if (e.button !== 0) return;
    const from = dateAt(e.clientX, e.clientY);
    if (!from) return;
    drag.current = { id: e.pointerId, x: e.clientX, y: e.clientY, ui, from, moved: false };
  };
  const onMove = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    if (!d.moved && Math.hypot(e.clientX - d.x, e.clientY - d.y) < 4) return;
    d.moved = true;
    setOver(dateAt(e.clientX, e.clientY));
  };
  const onUp = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    drag.current = null;
    setOver(null);
    if (!d.moved) return;
    suppressClick.current = true;
    setTimeout(() => {
      suppressClick.current = false;
    }, 0);
    const to = dateAt(e.clientX, e.clientY);
    if (to && to !== d.from) props.onMoveDays(d.ui, daysBetween(d.from, to));
  };
  const open = (ui: UiEvent) => {
    if (!suppressClick.current) props.onOpen(ui);
  };

  return (
    <div
      ref={boxRef}
      className="month"
      style={{ ['--lanes' as string]: fit }}
      onPointerMove={onMove}
      onPointerUp={onUp}
      onPointerCancel={() => (drag.current = null)}
    >
      <div className="month-head" aria-hidden="true">
        {props.weeks[0]?.map((d) => (
          <div key={d}>{formatWeekdayShort(d)}</div>
        ))}
      </div>
      {props.weeks.map((week, wi) => {
        // The host shows every lane when they all fit, else keeps the last for "+N more".
        const segs = rows[wi]?.segs ?? [];
        const hidden = rows[wi]?.more ?? [];
        return (
          <div className="month-week" key={week[0]}>
            {week.map((d, i) => (
              // biome-ignore lint/a11y/noStaticElementInteractions: pointer shortcut; "New event" is the keyboard path
              // biome-ignore lint/a11y/useKeyWithClickEvents: same as above
              <div
                key={d}
                data-date={d}
                className={`month-cell${d.slice(0, 7) === props.month ? '' : ' other-month'}${d === over ? ' drop-target' : ''}`}
                style={{ gridColumn: i + 1 }}
                onClick={(e) => {
                  if (e.target === e.currentTarget) props.onCreate({ start: d, end: d, allDay: true });
                }}
              >
                <button
                  type="button"
                  className={`month-date${d === props.today ? ' is-today' : ''}`}
                  aria-label={`Show ${formatDateMedium(d)}`}
                  aria-current={d === props.today ? 'date' : undefined}
                  onClick={() => props.onGoToDay(d)}
                >
                  {Number(d.slice(8))}
                </button>
                {(hidden[i] ?? 0) > 0 && (
                  <button type="button" className="month-more" onClick={() => props.onGoToDay(d)}>
                    {hidden[i]} more
                  </button>
                )}
              </div>
            ))}
            {segs.map((s) => (
              <MonthBar
                key={eventKey(s.item)}
                s={s}
                zone={props.zone}
                onOpen={open}
                onKey={props.onKey}
                onDown={onBarDown}
              />
            ))}
          </div>
        );
      })}
    </div>
  );
}

function MonthBar(props: {
  s: LaneSegment<UiEvent>;
  zone: string;
  onOpen: (ui: UiEvent) => void;
  onKey: (e: KeyboardEvent<HTMLButtonElement>, ui: UiEvent) => void;
  onDown: (e: PointerEvent<HTMLButtonElement>, ui: UiEvent) => void;
}) {
  const { s } = props;
  const asBar = s.times.allDay || s.startCol !== s.endCol || s.continuesBefore || s.continuesAfter;
  return (
    <EventChip
      ui={s.item}
      times={s.times}
      zone={props.zone}
      filled={asBar}
      className={`${asBar ? 'bar' : 'dot-item'}${s.continuesBefore ? ' cont-before' : ''}${s.continuesAfter ? ' cont-after' : ''}`}
      style={{ gridColumn: `${s.startCol + 1} / ${s.endCol + 2}`, gridRow: s.lane + 2 }}
      show={{}}
      onOpen={props.onOpen}
      onKey={props.onKey}
      onPointerDown={props.onDown}
    >
      {!asBar && <span className="dot" aria-hidden="true" />}
      {/* The start time, before the title on screen (CSS order); the full time is in the name. */}
      {!s.times.allDay && !s.continuesBefore && (
        <span className="ev-start" aria-hidden="true">
          {formatTime(s.times.startMs, props.zone)}{' '}
        </span>
      )}
    </EventChip>
  );
}
