import { useEffect, useState } from 'preact/hooks';

/** Pages live under /ui/ as real paths, so a page can be linked, reloaded, and refused by the server. */
export type Route = { page: 'overview' } | { page: 'client'; clientId: string } | { page: 'models' } | { page: 'not-found' };

export function parseRoute(pathname: string): Route {
  if (pathname === '/ui/' || pathname === '/ui') return { page: 'overview' };
  if (pathname === '/ui/models') return { page: 'models' };
  const m = /^\/ui\/clients\/([a-z0-9._-]+)\/?$/.exec(pathname);
  if (m) return { page: 'client', clientId: m[1]! };
  return { page: 'not-found' };
}

export function navigate(href: string): void {
  if (href === location.pathname) return;
  history.pushState(null, '', href);
  dispatchEvent(new PopStateEvent('popstate'));
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.pathname));
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return route;
}

/** Same-document navigation for plain left clicks on /ui/ links; everything else is the browser's. */
export function onLinkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  const href = a?.getAttribute('href');
  if (!a || !href || !href.startsWith('/ui') || a.target) return;
  e.preventDefault();
  navigate(href);
}
