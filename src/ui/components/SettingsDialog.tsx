// The "Settings" dialog: week start, clock, default calendar and event length, display time zone.
// Every change applies at once and is kept on this device ([UI-15]).
import { useId } from 'react';
import type { CalendarInfo } from '../../worker/api.ts';
import { EVENT_LENGTHS, type Settings, WEEK_STARTS } from '../settings.ts';
import type { WeekStart } from '../time/nav.ts';
import { Modal } from './Modal.tsx';
import { ZoneCombobox } from './ZoneCombobox.tsx';

function lengthLabel(min: number): string {
  if (min < 60) return `${min} minutes`;
  return min === 60 ? '1 hour' : `${min / 60} hours`;
}

export function SettingsDialog(props: {
  settings: Settings;
  calendars: CalendarInfo[];
  shared: ReadonlySet<string>;
  deviceZone: string;
  storage: React.ReactNode;
  onChange: (patch: Partial<Settings>) => void;
  onClose: () => void;
}) {
  const s = props.settings;
  const uid = useId();
  const id = (n: string) => `${uid}-${n}`;
  return (
    <Modal label="Settings" onClose={props.onClose} className="settings-dialog" describedBy={id('where')}>
      <header className="dialog-head">
        <h2>Settings</h2>
        <button type="button" className="icon-btn" aria-label="Close" onClick={props.onClose}>
          ✕
        </button>
      </header>
      <p id={id('where')} className="hint">
        Settings are kept on this device; your other devices keep their own.
      </p>
      <div className="field">
        <label htmlFor={id('week')}>Week starts on</label>
        <select
          id={id('week')}
          value={s.weekStart}
          data-autofocus
          onChange={(e) => props.onChange({ weekStart: Number(e.target.value) as WeekStart })}
        >
          {WEEK_STARTS.map((w) => (
            <option key={w.day} value={w.day}>
              {w.label}
            </option>
          ))}
        </select>
      </div>
      <fieldset className="field radios">
        <legend>Time format</legend>
        {(['12', '24'] as const).map((f) => (
          <label key={f}>
            <input
              type="radio"
              name={id('clock')}
              value={f}
              checked={s.timeFormat === f}
              onChange={() => props.onChange({ timeFormat: f })}
            />{' '}
            {f}-hour <span className="muted">({f === '12' ? '1:30 PM' : '13:30'})</span>
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor={id('cal')}>Default calendar</label>
        <select
          id={id('cal')}
          value={props.calendars.some((c) => c.id === s.defaultCalendar) ? s.defaultCalendar : ''}
          onChange={(e) => props.onChange({ defaultCalendar: e.target.value })}
        >
          <option value="">Automatic: the first calendar you do not share</option>
          {props.calendars.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
              {props.shared.has(c.id) ? ' (shared)' : ''}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={id('len')}>Default event length</label>
        <select
          id={id('len')}
          value={s.eventMinutes}
          onChange={(e) => props.onChange({ eventMinutes: Number(e.target.value) })}
        >
          {EVENT_LENGTHS.map((m) => (
            <option key={m} value={m}>
              {lengthLabel(m)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <ZoneCombobox
          label="Display time zone"
          value={s.displayZone}
          device={props.deviceZone}
          onChange={(z) => props.onChange({ displayZone: z })}
        />
      </div>
      {props.storage}
      <footer className="dialog-foot">
        <span className="spacer" />
        <button type="button" className="primary" onClick={props.onClose}>
          Done
        </button>
      </footer>
    </Modal>
  );
}
