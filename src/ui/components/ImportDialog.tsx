// "Import": pick (or drop) an .ics file and a calendar, see a preview ("312 events, 14 repeating,
// 2009-2026, into calendar …"), then import it as one atomic step with progress and Cancel.
// Loaded lazily: ical.js and the converters come with it, not with the app shell.
import { useEffect, useId, useRef, useState } from 'react';
import type { CalendarClient, CalendarInfo, ImportItem } from '../../worker/api.ts';
import { ICS_LIMITS, IcsError, type ImportSummary } from '../ics/model.ts';
import type { ReadResult } from '../ics/read.ts';
import { Modal } from './Modal.tsx';

interface Parsed {
  fileName: string;
  summary: ImportSummary;
  items: ImportItem[];
  warnings: string[];
  calendarName: string;
}

type Phase =
  | { kind: 'idle' }
  | { kind: 'reading' }
  | { kind: 'ready'; parsed: Parsed }
  | { kind: 'error'; message: string }
  | { kind: 'importing'; parsed: Parsed; done: number; total: number; importId: string };

/** The preview sentence, e.g. "312 events, 14 repeating, 2009-2026, into calendar “Work”". */
export function previewText(s: ImportSummary, calendar: string): string {
  const n = (k: number, one: string, many: string) => `${k.toLocaleString('en-US')} ${k === 1 ? one : many}`;
  const parts = [n(s.events, 'event', 'events'), `${s.repeating.toLocaleString('en-US')} repeating`];
  if (s.overrides > 0) parts.push(n(s.overrides, 'changed occurrence', 'changed occurrences'));
  if (s.years) parts.push(s.years[0] === s.years[1] ? String(s.years[0]) : `${s.years[0]}-${s.years[1]}`);
  return `${parts.join(', ')}, into calendar “${calendar}”`;
}

/** Reads a file in a worker (the page stays responsive on big files), or here if there is none. */
export async function readIcsFile(file: File, defaultZone: string): Promise<Parsed> {
  if (file.size > ICS_LIMITS.maxBytes)
    throw new IcsError(0, `the file is larger than ${ICS_LIMITS.maxBytes / 1024 / 1024} MB`);
  const text = await file.text();
  let r: ReadResult;
  if (typeof Worker === 'function') {
    const w = new Worker(new URL('../ics/parse.worker.ts', import.meta.url), { type: 'module' });
    try {
      r = await new Promise<ReadResult>((resolve, reject) => {
        w.onmessage = (e: MessageEvent<ReadResult>) => resolve(e.data);
        w.onerror = (e) => reject(new Error(e.message || 'the file reader failed'));
        w.postMessage({ text, zone: defaultZone });
      });
    } finally {
      w.terminate();
    }
  } else {
    r = (await import('../ics/read.ts')).readIcs(text, defaultZone);
  }
  if (!r.ok) throw new IcsError(r.line, r.message.replace(/^line \d+: /, ''));
  return { fileName: file.name, ...r.value };
}

export function ImportDialog(props: {
  client: CalendarClient;
  calendars: CalendarInfo[];
  /** The device's zone: floating times in files without X-WR-TIMEZONE are read in it. */
  zone: string;
  /** A file dropped on the app, to read at once. */
  file?: File | undefined;
  onClose: () => void;
  onDone: (text: string) => void;
}) {
  const id = useId();
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [calendarId, setCalendarId] = useState(props.calendars[0]?.id ?? '');
  const phaseRef = useRef(phase);
  phaseRef.current = phase;
  const calendar = props.calendars.find((c) => c.id === calendarId);

  const read = (file: File) => {
    setPhase({ kind: 'reading' });
    readIcsFile(file, props.zone).then(
      (parsed) => setPhase({ kind: 'ready', parsed }),
      (e: unknown) =>
        setPhase({
          kind: 'error',
          message: `${file.name} could not be imported: ${e instanceof Error ? e.message : String(e)}`,
        }),
    );
  };
  const dropped = useRef(props.file);
  // Only the file the dialog was opened with, once; later files come through the input.
  // biome-ignore lint/correctness/useExhaustiveDependencies: read once on open
  useEffect(() => {
    if (dropped.current) read(dropped.current);
  }, []);

  useEffect(
    () =>
      props.client.onImportProgress((p) => {
        const cur = phaseRef.current;
        if (cur.kind === 'importing' && cur.importId === p.importId)
          setPhase({ ...cur, done: p.done, total: p.total });
      }),
    [props.client],
  );

  const start = async () => {
    if (phase.kind !== 'ready' || calendar === undefined) return;
    const importId = crypto.randomUUID();
    const parsed = phase.parsed;
    setPhase({ kind: 'importing', parsed, done: 0, total: parsed.items.length, importId });
    try {
      const r = await props.client.importEvents(calendar.id, importId, parsed.items);
      props.onDone(
        r.written === 0
          ? `Nothing to import: “${calendar.name}” already has these ${r.unchanged.toLocaleString('en-US')} events`
          : `Imported ${parsed.summary.events.toLocaleString('en-US')} events into “${calendar.name}”`,
      );
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/cancelled/.test(msg)) setPhase({ kind: 'ready', parsed });
      else setPhase({ kind: 'error', message: `Import failed, nothing was written: ${msg}` });
    }
  };

  const cancel = () => {
    if (phase.kind === 'importing') void props.client.cancelImport(phase.importId);
    else props.onClose();
  };

  const parsed = phase.kind === 'ready' || phase.kind === 'importing' ? phase.parsed : undefined;
  const busy = phase.kind === 'importing' || phase.kind === 'reading';
  return (
    <Modal label="Import" describedBy={`${id}-about`} onClose={cancel} className="import-dialog">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <header className="dialog-head">
          <h2>Import</h2>
        </header>
        <p id={`${id}-about`} className="hint">
          Events from Google Calendar, Apple Calendar, Outlook or Thunderbird (.ics). Importing the same file
          again updates its events instead of adding copies.
        </p>
        <div className="field">
          <label htmlFor={`${id}-file`}>Calendar file (.ics)</label>
          <input
            id={`${id}-file`}
            type="file"
            accept=".ics,.ical,.ifb,.icalendar,text/calendar"
            disabled={busy}
            data-autofocus
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) read(f);
            }}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-cal`}>Calendar</label>
          <select
            id={`${id}-cal`}
            value={calendarId}
            disabled={busy}
            onChange={(e) => setCalendarId(e.target.value)}
          >
            {props.calendars.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        {phase.kind === 'reading' && <p className="hint">Reading the file…</p>}
        {parsed && calendar && (
          <div className="import-preview" aria-live="polite">
            <p>
              <strong>{previewText(parsed.summary, calendar.name)}</strong>
            </p>
            {parsed.warnings.length > 0 && (
              <details>
                <summary>
                  {parsed.warnings.length} {parsed.warnings.length === 1 ? 'note' : 'notes'} on this file
                </summary>
                <ul>
                  {parsed.warnings.map((w) => (
                    <li key={w}>{w}</li>
                  ))}
                </ul>
              </details>
            )}
          </div>
        )}
        {phase.kind === 'importing' && (
          <div className="field">
            <label htmlFor={`${id}-progress`}>Importing…</label>
            <progress id={`${id}-progress`} max={Math.max(1, phase.total)} value={phase.done} />
          </div>
        )}
        {phase.kind === 'error' && (
          <p className="form-error" role="alert">
            {phase.message}
          </p>
        )}
        {props.calendars.length === 0 && (
          <p className="form-error" role="alert">
            Create a calendar first: events are imported into one of your calendars.
          </p>
        )}
        <footer className="dialog-foot">
          <span className="spacer" />
          <button type="button" onClick={cancel}>
            Cancel
          </button>
          <button
            type="submit"
            className="primary"
            disabled={phase.kind !== 'ready' || calendar === undefined || parsed?.items.length === 0}
          >
            Import
          </button>
        </footer>
      </form>
    </Modal>
  );
}
