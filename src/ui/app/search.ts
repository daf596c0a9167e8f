// Search as you type: the query, and the host's results for it a moment after the last key.
import { useEffect, useState } from 'react';
import type { CalendarClient, EventView, HostError } from '../../worker/api.ts';

const TYPING_MS = 150;

export function useSearch(client: CalendarClient, pushError: (e: HostError) => void) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<EventView[] | null>(null);
  useEffect(() => {
    const q = query.trim();
    if (q === '') {
      setResults(null);
      return;
    }
    let live = true;
    setResults(null);
    const t = setTimeout(() => {
      client.search(q, 100).then(
        (r) => live && setResults(r),
        (e: unknown) => live && pushError({ code: 'search', message: String((e as Error)?.message ?? e) }),
      );
    }, TYPING_MS);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [client, query, pushError]);
  return { query, setQuery, results };
}
