// The event dialog's "Repeat" select and its Custom editor ("Repeat every", "Repeat on", "Ends").
import { useId, useState } from 'react';
import type { Weekday } from '../../engine/index.ts';
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

/** `rule` is the RRULE value ('' = does not repeat); onChange gets undefined while Custom is invalid. */
export function RepeatField(props: {
  rule: string;
  start: string;
  onChange: (rule: string | undefined) => void;
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
    </div>
  );
}
