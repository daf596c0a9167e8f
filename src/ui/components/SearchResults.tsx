// Search results (titles, locations, notes) listed newest first; picking one opens it.
import type { CalendarInfo, EventView } from '../../worker/api.ts';
import { titleOf, toTimed, type UiEvent } from '../model.ts';
import { formatDateLong, timeLabel } from '../time/zoned.ts';

export function SearchResults(props: {
  query: string;
  results: EventView[] | null;
  calendars: CalendarInfo[];
  zone: string;
  onPick: (ui: UiEvent, firstDay: string) => void;
  onClear: () => void;
}) {
  const timed = props.results ? toTimed(props.results, props.calendars, props.zone) : [];
  return (
    <section className="search-results" aria-labelledby="search-head">
      <div className="row">
        <h2 id="search-head">Results for “{props.query}”</h2>
        <button type="button" onClick={props.onClear}>
          Clear search
        </button>
      </div>
      {props.results === null ? (
        <p className="muted">Searching…</p>
      ) : timed.length === 0 ? (
        <p className="muted">No events match.</p>
      ) : (
        <ul>
          {timed.map(({ item, times }) => (
            <li key={`${item.ev.calendarId}/${item.ev.id}`}>
              <button type="button" className="result" onClick={() => props.onPick(item, times.firstDay)}>
                <span className="dot" style={{ background: item.color }} aria-hidden="true" />
                <span className="ev-title">{titleOf(item.ev)}</span>
                <span className="ev-time">
                  {formatDateLong(times.firstDay)} · {timeLabel(item.ev, times, props.zone).display}
                </span>
                {item.ev.location && <span className="ev-loc">{item.ev.location}</span>}
                {item.ev.conflicts.length > 0 && <span className="conflict-badge">⚠ Conflict</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
