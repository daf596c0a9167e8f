// "Display time zone": a searchable combobox (WAI-ARIA combobox with a listbox popup) over
// current zone ids with their city and offset now. Type to filter (city, id or "+5:30"), arrows
// to move, Enter to choose, Escape to close.
import { useId, useMemo, useRef, useState } from 'react';
import { canonicalZone, searchZones, type ZoneOption, zoneOptions } from '../time/zones.ts';

export function ZoneCombobox(props: {
  label: string;
  value: string;
  /** The device's own zone, marked "(this device)". */
  device: string;
  onChange: (zone: string) => void;
}) {
  const options = useMemo(() => zoneOptions(Date.now()), []);
  const current = canonicalZone(props.value);
  const [query, setQuery] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const uid = useId();
  const listId = `${uid}-list`;
  const inputRef = useRef<HTMLInputElement>(null);
  const results = useMemo(() => searchZones(options, query ?? '', 60), [options, query]);
  const shownText = (o: ZoneOption | undefined, id: string) =>
    o ? `${o.city} (${o.offset}) · ${o.id}` : id.replaceAll('_', ' ');
  const selected = options.find((o) => o.id === current);

  const choose = (o: ZoneOption) => {
    props.onChange(o.id);
    setQuery(null);
    setOpen(false);
  };

  return (
    <div className="zone-combo">
      <label htmlFor={`${uid}-in`}>{props.label}</label>
      <input
        id={`${uid}-in`}
        ref={inputRef}
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && results[active] ? `${uid}-o-${active}` : undefined}
        autoComplete="off"
        spellCheck={false}
        value={query ?? shownText(selected, current)}
        onFocus={(e) => e.currentTarget.select()}
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
          setOpen(true);
        }}
        onBlur={() => {
          // Leaving without choosing keeps the zone that was set.
          setOpen(false);
          setQuery(null);
        }}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
            e.preventDefault();
            if (!open) setOpen(true);
            const n = results.length;
            if (n > 0) setActive((a) => (a + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
          } else if (e.key === 'Enter') {
            if (open && results[active]) {
              e.preventDefault();
              choose(results[active]);
            }
          } else if (e.key === 'Escape' && open) {
            // Close the list only; a second Escape reaches the dialog.
            e.preventDefault();
            e.stopPropagation();
            e.nativeEvent.stopImmediatePropagation();
            setOpen(false);
            setQuery(null);
          }
        }}
      />
      <p className="hint">
        {props.device === current
          ? 'This device’s zone.'
          : `This device: ${props.device.replaceAll('_', ' ')}.`}
      </p>
      {open && (
        <div id={listId} role="listbox" aria-label={props.label} className="zone-list">
          {results.length === 0 && (
            <div className="muted" role="presentation">
              No time zone matches.
            </div>
          )}
          {results.map((o, i) => (
            // biome-ignore lint/a11y/useKeyWithClickEvents: the keyboard stays in the combobox input (aria-activedescendant)
            <div
              tabIndex={-1}
              role="option"
              key={o.id}
              id={`${uid}-o-${i}`}
              aria-selected={i === active}
              className={i === active ? 'is-active' : undefined}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => choose(o)}
            >
              <span className="zone-city">{o.city}</span> <span className="zone-offset">{o.offset}</span>{' '}
              <span className="zone-id muted">
                {o.id}
                {o.id === props.device ? ' (this device)' : ''}
              </span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
