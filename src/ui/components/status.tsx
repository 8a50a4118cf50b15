import type { Load } from '../use-load';

/** Loading and error states of a page, announced to screen readers. */
export function LoadStatus<T>(props: { load: Load<T>; what: string }) {
  if (props.load.state === 'loading')
    return (
      <p class="status" role="status">
        Loading {props.what}…
      </p>
    );
  if (props.load.state === 'error') {
    const e = props.load.error;
    return (
      <div class="notice notice-error" role="alert">
        <strong>{e.status === 403 ? 'Forbidden (403)' : e.status === 404 ? 'Not found (404)' : 'Could not load'}</strong>
        <span> — {e.status === 403 ? `your credential may not see ${props.what}.` : e.message}</span>
      </div>
    );
  }
  return null;
}
