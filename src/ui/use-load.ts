import { useCallback, useEffect, useState } from 'preact/hooks';

export type Load<T> = { state: 'loading' } | { state: 'ready'; data: T } | { state: 'error'; error: Error & { status?: number } };

/** Loads on mount and when `key` changes; `reload` fetches again (after an action). */
export function useLoad<T>(fetcher: (signal: AbortSignal) => Promise<T>, key: string): [Load<T>, () => void] {
  const [load, setLoad] = useState<Load<T>>({ state: 'loading' });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    const c = new AbortController();
    fetcher(c.signal).then(
      (data) => !c.signal.aborted && setLoad({ state: 'ready', data }),
      (error: Error) => !c.signal.aborted && setLoad({ state: 'error', error }),
    );
    return () => c.abort();
  }, [key, nonce]);
  return [load, useCallback(() => setNonce((n) => n + 1), [])];
}
