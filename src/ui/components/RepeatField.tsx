// The event dialog's "Repeat" select and its Custom editor ("Repeat every", "Repeat on", "Ends").
import { useId, useState } from 'react';
import type { Weekday } from '../../engine/index.ts';
import type { SeriesExceptions } from '../../worker/api.ts';
import {
  type CustomState,
  customFrom,
  type PresetKey,
  presetOf,
  presets,
  ruleFromCustom,
  type Unit,
  WEEKDAY_NAMES,
} from '../repeat.ts';

const UNITS: [Unit, string][] = [
  ['DAILY', 'days'],
  ['WEEKLY', 'weeks'],
  ['MONTHLY', 'months'],
  ['YEARLY', 'years'],
];
const DAYS = Object.entries(WEEKDAY_NAMES) as [Weekday, string][];

/** "2026-03-09T09:00" or "2026-03-09" as the person reads it ("Mon, Mar 9, 2026, 09:00"). */
function dateLabel(wall: string): string {
  const d = new Date(`${wall.slice(0, 10)}T00:00Z`);
  const day = d.toLocaleDateString('en-US', {
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    year: 'numeric',
    timeZone: 'UTC',
  });
  return wall.length > 10 ? `${day}, ${wall.slice(11, 16)}` : day;
}

/** A series' extra dates (RDATE, shown) and skipped ones (EXDATE or cancelled: each can be restored). */
function Exceptions(props: { exceptions: SeriesExceptions; onRestore?: ((r: string) => void) | undefined }) {
  const { extra, skipped } = props.exceptions;
  if (extra.length === 0 && skipped.length === 0) return null;
  return (
    <div className="repeat-exceptions">
      {extra.length > 0 && <div aria-hidden="true">Extra dates</div>}
      {extra.length > 0 && (
        <ul aria-label="Extra dates">
          {extra.map((r) => (
            <li key={r}>Also on {dateLabel(r)}</li>
          ))}
        </ul>
      )}
      {skipped.length > 0 && <div aria-hidden="true">Skipped dates</div>}
      {skipped.length > 0 && (
        <ul aria-label="Skipped dates">
          {skipped.map((s) => (
            <li key={s.recurrenceId}>
              {dateLabel(s.recurrenceId)} {s.by === 'exdate' ? '(excluded)' : '(deleted)'}{' '}
              {props.onRestore && (
                <button
                  type="button"
                  className="link"
                  aria-label={`Restore ${dateLabel(s.recurrenceId)}`}
                  onClick={() => props.onRestore?.(s.recurrenceId)}
                >
                  Restore
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** `rule` is the RRULE value ('' = does not repeat); onChange gets undefined while Custom is invalid. */
export function RepeatField(props: {
  rule: string;
  start: string;
  onChange: (rule: string | undefined) => void;
  exceptions?: SeriesExceptions;
  onRestoreSkipped?: (recurrenceId: string) => void;
}) {
  const uid = useId();
  const id = (s: string) => `${uid}-${s}`;
  const [key, setKey] = useState<PresetKey>(() => presetOf(props.rule, props.start));
  const [custom, setCustom] = useState<CustomState>(() => customFrom(props.rule, props.start));
  const list = presets(props.start);

  const choose = (k: PresetKey) => {
    setKey(k);
    if (k === 'custom') props.onChange(ruleFromCustom(custom));
    else props.onChange(list.find((p) => p.key === k)!.rule);
  };
  const edit = (patch: Partial<CustomState>) => {
    const next = { ...custom, ...patch };
    setCustom(next);
    props.onChange(ruleFromCustom(next));
  };

  return (
    <div className="field repeat">
      <label htmlFor={id('repeat')}>Repeat</label>
      <select id={id('repeat')} value={key} onChange={(e) => choose(e.target.value as PresetKey)}>
        {list.map((p) => (
          <option key={p.key} value={p.key}>
            {p.label}
          </option>
        ))}
        <option value="custom">Custom…</option>
      </select>
      {key === 'custom' && (
        <fieldset className="repeat-custom">
          <legend>Custom repeat</legend>
          <div className="field-row">
            <label htmlFor={id('every')}>Repeat every</label>
            <input
              id={id('every')}
              type="number"
              min={1}
              max={999}
              value={custom.every}
              onChange={(e) => edit({ every: Number(e.target.value) })}
            />
            <select
              aria-label="Repeat unit"
              value={custom.unit}
              onChange={(e) => edit({ unit: e.target.value as Unit })}
            >
              {UNITS.map(([u, label]) => (
                <option key={u} value={u}>
                  {label}
                </option>
              ))}
            </select>
          </div>
          {custom.unit === 'WEEKLY' && (
            <fieldset className="repeat-on">
              <legend>Repeat on</legend>
              {DAYS.map(([d, name]) => (
                <label key={d} className="check">
                  <input
                    type="checkbox"
                    checked={custom.on.includes(d)}
                    onChange={(e) =>
                      edit({ on: e.target.checked ? [...custom.on, d] : custom.on.filter((x) => x !== d) })
                    }
                  />
                  {name}
                </label>
              ))}
            </fieldset>
          )}
          <fieldset className="repeat-ends">
            <legend>Ends</legend>
            <label className="check">
              <input
                type="radio"
                name={id('ends')}
                checked={custom.ends === 'never'}
                onChange={() => edit({ ends: 'never' })}
              />
              Never
            </label>
            <label className="check">
              <input
                type="radio"
                name={id('ends')}
                checked={custom.ends === 'on'}
                onChange={() => edit({ ends: 'on' })}
              />
              On
            </label>
            <input
              type="date"
              aria-label="End date"
              value={custom.until}
              disabled={custom.ends !== 'on'}
              onChange={(e) => edit({ until: e.target.value })}
            />
            <label className="check">
              <input
                type="radio"
                name={id('ends')}
                checked={custom.ends === 'after'}
                onChange={() => edit({ ends: 'after' })}
              />
              After
            </label>
            <input
              type="number"
              aria-label="Occurrences"
              min={1}
              max={9999}
              value={custom.count}
              disabled={custom.ends !== 'after'}
              onChange={(e) => edit({ count: Number(e.target.value) })}
            />
          </fieldset>
        </fieldset>
      )}
      {props.exceptions && props.rule !== '' && (
        <Exceptions exceptions={props.exceptions} onRestore={props.onRestoreSkipped} />
      )}
    </div>
  );
}
