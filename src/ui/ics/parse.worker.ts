// Worker entry: reads one .ics text per message (read.ts) and posts the result back.
import { readIcs } from './read.ts';

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<{ text: string; zone: string }>) => void) | null;
  postMessage(m: unknown): void;
};
scope.onmessage = (e) =>
  scope.postMessage(readIcs(String(e.data?.text ?? ''), String(e.data?.zone ?? 'UTC')));
