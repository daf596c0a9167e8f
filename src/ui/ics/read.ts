// Reading an .ics file into what the Import dialog shows and sends: the preview summary, the items
// for the host, the warnings; or the error with its line. Runs in a worker (parse.worker.ts) so a
// big file never freezes the page, or in the page where workers are missing.

import type { ImportItem } from '../../worker/api.ts';
import { toImportItems } from './convert.ts';
import { IcsError, type ImportSummary, summarize } from './model.ts';
import { parseIcs } from './parse.ts';

export interface ReadIcs {
  summary: ImportSummary;
  items: ImportItem[];
  warnings: string[];
  calendarName: string;
}

export type ReadResult = { ok: true; value: ReadIcs } | { ok: false; line: number; message: string };

export function readIcs(text: string, defaultZone: string): ReadResult {
  try {
    const cal = parseIcs(text, { defaultZone });
    return {
      ok: true,
      value: {
        summary: summarize(cal),
        items: toImportItems(cal),
        warnings: cal.warnings,
        calendarName: cal.name,
      },
    };
  } catch (e) {
    if (e instanceof IcsError) return { ok: false, line: e.line, message: e.message };
    return {
      ok: false,
      line: 0,
      message: `the file could not be read: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
}
