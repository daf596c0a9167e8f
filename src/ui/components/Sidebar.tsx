// Sidebar: mini month to jump to a date, the calendars (colour, show/hide, create). The display
// zone is in Settings.
import { type KeyboardEvent, useEffect, useId, useMemo, useRef, useState } from 'react';
import type { CalendarInfo } from '../../worker/api.ts';
import { isHexColor, PALETTE, safeColor } from '../colors.ts';
import { monthWeeks, type WeekStart } from '../time/nav.ts';
import {
  addDays,
  addMonths,
  type DateStr,
  formatDateMedium,
  formatMonthYear,
  formatWeekdayShort,
} from '../time/zoned.ts';

export function MiniMonth(props: {
  selected: DateStr;
  today: DateStr;
  weekStart: WeekStart;
  visible: Set<DateStr>;
  onPick: (d: DateStr) => void;
}) {
  // The mini month browses independently of the main view until a day is picked.
  const [shown, setShown] = useState<DateStr | null>(null);
  const anchor = shown ?? props.selected;
  const weeks = useMemo(() => monthWeeks(anchor, props.weekStart), [anchor, props.weekStart]);
  const month = anchor.slice(0, 7);
  const headId = useId();
  // One tab stop for the whole grid (roving tabindex, [UI-12]); arrow keys move between days.
  const [cursor, setCursor] = useState<DateStr | null>(null);
  const tabDay =
    cursor !== null && cursor.slice(0, 7) === month
      ? cursor
      : props.selected.slice(0, 7) === month
        ? props.selected
        : `${month}-01`;
  const gridRef = useRef<HTMLTableElement>(null);
  const moved = useRef(false);
  useEffect(() => {
    if (!moved.current) return;
    moved.current = false;
    gridRef.current?.querySelector<HTMLElement>(`button[data-date="${tabDay}"]`)?.focus();
  }, [tabDay]);
  const onGridKey = (e: KeyboardEvent<HTMLTableElement>) => {
    const by: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
    let next: DateStr | null = null;
    if (by[e.key] !== undefined) next = addDays(tabDay, by[e.key]!);
    else if (e.key === 'PageUp') next = addMonths(tabDay, -1);
    else if (e.key === 'PageDown') next = addMonths(tabDay, 1);
    if (next === null || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    e.stopPropagation();
    moved.current = true;
    setCursor(next);
    if (next.slice(0, 7) !== month) setShown(next);
  };
  return (
    <section className="mini" aria-labelledby={headId}>
      <div className="mini-head">
        <h2 id={headId}>{formatMonthYear(anchor)}</h2>
        {/* Names avoid "Previous"/"Next"/"Month" so the main navigation's names stay unique. */}
        <button
          type="button"
          className="icon-btn"
          aria-label="Earlier"
          onClick={() => setShown(addMonths(anchor, -1))}
        >
          ‹
        </button>
        <button
          type="button"
          className="icon-btn"
          aria-label="Later"
          onClick={() => setShown(addMonths(anchor, 1))}
        >
          ›
        </button>
      </div>
      <table className="mini-grid" ref={gridRef} onKeyDown={onGridKey}>
        <thead>
          <tr>
            {weeks[0]?.map((d) => (
              <th key={d} scope="col" abbr={formatWeekdayShort(d)}>
                {formatWeekdayShort(d).slice(0, 2)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {weeks.map((w) => (
            <tr key={w[0]}>
              {w.map((d) => (
                <td key={d}>
                  <button
                    type="button"
                    className={[
                      d.slice(0, 7) !== month ? 'other-month' : '',
                      d === props.today ? 'is-today' : '',
                      d === props.selected ? 'is-selected' : '',
                      props.visible.has(d) ? 'in-view' : '',
                    ].join(' ')}
                    data-date={d}
                    tabIndex={d === tabDay ? 0 : -1}
                    aria-label={formatDateMedium(d)}
                    aria-current={d === props.today ? 'date' : undefined}
                    aria-pressed={d === props.selected}
                    onClick={() => {
                      setShown(null);
                      setCursor(null);
                      props.onPick(d);
                    }}
                  >
                    {Number(d.slice(8))}
                  </button>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function CalendarList(props: {
  calendars: CalendarInfo[];
  onToggle: (c: CalendarInfo, hidden: boolean) => void;
  onCreate: (name: string, color: string) => Promise<void>;
  /** Opens a calendar's settings (name, colour, compliance mode). */
  onSettings?: (c: CalendarInfo) => void;
}) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [color, setColor] = useState(PALETTE[props.calendars.length % PALETTE.length]!);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const headId = useId();
  return (
    <section className="cals" aria-labelledby={headId}>
      <h2 id={headId}>My calendars</h2>
      <ul>
        {props.calendars.map((c) => (
          <li key={c.id}>
            <input
              id={`${id}-${c.id}`}
              type="checkbox"
              checked={!c.hidden}
              style={{ accentColor: safeColor(c.color) }}
              onChange={(e) => props.onToggle(c, !e.target.checked)}
            />
            <span className="swatch" style={{ background: safeColor(c.color) }} aria-hidden="true" />
            <label htmlFor={`${id}-${c.id}`}>{c.name}</label>
            {/* A calendar's own fields are written by managers only (ROLE-8); unknown role: not yet loaded. */}
            {props.onSettings && (c.role === undefined || c.role === 'manager') && (
              <button
                type="button"
                className="icon-btn cal-settings"
                aria-label={`Edit calendar ${c.name}`}
                title="Calendar settings"
                onClick={() => props.onSettings?.(c)}
              >
                <span aria-hidden="true">⚙</span>
              </button>
            )}
          </li>
        ))}
        {props.calendars.length === 0 && (
          <li className="muted">No calendars yet: saving an event creates one.</li>
        )}
      </ul>
      {!open ? (
        <button
          type="button"
          className="link-btn"
          onClick={() => {
            // A new calendar's colour: the next palette entry after the calendars that exist now.
            setColor(PALETTE[props.calendars.length % PALETTE.length]!);
            setOpen(true);
          }}
        >
          + Add calendar
        </button>
      ) : (
        <form
          className="cal-form"
          onSubmit={async (e) => {
            e.preventDefault();
            if (name.trim() === '' || !isHexColor(color) || busy) return;
            setBusy(true);
            try {
              await props.onCreate(name.trim(), color);
              setName('');
              setOpen(false);
            } finally {
              setBusy(false);
            }
          }}
        >
          <label htmlFor={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            value={name}
            required
            // biome-ignore lint/a11y/noAutofocus: the form was just opened to type this name
            autoFocus
            onChange={(e) => setName(e.target.value)}
          />
          <label htmlFor={`${id}-color`}>Colour</label>
          <input id={`${id}-color`} type="color" value={color} onChange={(e) => setColor(e.target.value)} />
          <div className="row">
            <button type="submit" className="primary" disabled={busy}>
              Create calendar
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
