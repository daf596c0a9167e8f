// Agenda: a scrolling list of the days ahead with their events (multi-day events on each day).
import type { KeyboardEvent } from 'react';
import type { UiEvent } from '../model.ts';
import { agendaDays, type Timed } from '../time/layout.ts';
import { type DateStr, formatDateLong } from '../time/zoned.ts';
import { EventChip, eventKey } from './EventChip.tsx';

export function AgendaView(props: {
  days: DateStr[];
  events: Timed<UiEvent>[];
  zone: string;
  today: DateStr;
  onOpen: (ui: UiEvent) => void;
  onKey: (e: KeyboardEvent<HTMLButtonElement>, ui: UiEvent) => void;
}) {
  const groups = agendaDays(props.events, props.days);
  if (groups.length === 0) {
    return (
      <div className="agenda">
        <p className="empty">
          No events from {formatDateLong(props.days[0]!)} to {formatDateLong(props.days.at(-1)!)}.
        </p>
      </div>
    );
  }
  return (
    <div className="agenda">
      {groups.map((g) => (
        <section key={g.day} className="agenda-day" aria-labelledby={`agenda-${g.day}`}>
          <h2 id={`agenda-${g.day}`} className={g.day === props.today ? 'is-today' : ''}>
            {formatDateLong(g.day)}
          </h2>
          <ul>
            {g.entries.map((e) => {
              return (
                <li key={eventKey(e.item)}>
                  <EventChip
                    ui={e.item}
                    times={e.times}
                    zone={props.zone}
                    filled={false}
                    className="agenda-item"
                    show={{
                      time: true,
                      location: true,
                      calendar: true,
                      timePrefix: e.dayCount > 1 ? `Day ${e.dayNumber} of ${e.dayCount} · ` : '',
                    }}
                    onOpen={props.onOpen}
                    onKey={props.onKey}
                  >
                    <span className="dot" aria-hidden="true" />
                  </EventChip>
                </li>
              );
            })}
          </ul>
        </section>
      ))}
    </div>
  );
}
