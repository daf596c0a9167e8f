// "Edit recurring event" / "Delete recurring event": which occurrences a change applies to
// (docs/PROTOCOL.md SER-1..5), as radio buttons and "OK", the way Google Calendar asks.
import { useId, useState } from 'react';
import type { SeriesScope } from '../../worker/api.ts';
import { Modal } from './Modal.tsx';

const CHOICES: [SeriesScope, string][] = [
  ['this', 'This event'],
  ['following', 'This and following events'],
  ['all', 'All events'],
];

export function SeriesScopeDialog(props: {
  kind: 'edit' | 'delete';
  /** false when the change is to the repetition itself, which one occurrence cannot have. */
  allowThis: boolean;
  onDone: (scope: SeriesScope | undefined) => void;
}) {
  const uid = useId();
  const [scope, setScope] = useState<SeriesScope>(props.allowThis ? 'this' : 'following');
  const title = props.kind === 'edit' ? 'Edit recurring event' : 'Delete recurring event';
  return (
    <Modal label={title} onClose={() => props.onDone(undefined)} className="scope-dialog">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          props.onDone(scope);
        }}
      >
        <h2>{title}</h2>
        <fieldset>
          <legend className="sr-only">Apply to</legend>
          {CHOICES.filter(([s]) => s !== 'this' || props.allowThis).map(([s, label], i) => (
            <label key={s} className="check">
              <input
                type="radio"
                name={`${uid}-scope`}
                value={s}
                checked={scope === s}
                onChange={() => setScope(s)}
                {...(i === 0 ? { 'data-autofocus': true } : {})}
              />
              {label}
            </label>
          ))}
        </fieldset>
        <footer className="dialog-foot">
          <span className="spacer" />
          <button type="button" onClick={() => props.onDone(undefined)}>
            Cancel
          </button>
          <button type="submit" className="primary">
            OK
          </button>
        </footer>
      </form>
    </Modal>
  );
}
