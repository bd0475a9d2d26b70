/** Loading, empty and error states: each says what is happening and what to do next. */
import type { ComponentChildren } from 'preact';
import { ApiError } from '../api';

export function Loading({ what }: { what: string }) {
  return (
    <p class="state state-loading" role="status" data-testid="loading">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty" data-testid="empty">
      <p class="state-title">{title}</p>
      {children ? <p>{children}</p> : null}
    </div>
  );
}

/** What to do about a failed call, by kind of failure. */
function advice(err: Error): string {
  if (!(err instanceof ApiError)) return 'Reload the page; if it persists, check the service log.';
  if (err.status === 0) return 'Check that the service is running and reachable, then retry.';
  if (err.status === 400) return 'Fix the input named above and try again.';
  if (err.status === 401) return 'Enter the admin token again.';
  if (err.status >= 500) return 'The service failed to answer; its log says why. Retry in a moment.';
  return 'Retry, or check the service log.';
}

export function ErrorState({ error, retry, what }: { error: Error; retry?: () => void; what: string }) {
  return (
    <div class="state state-error" role="alert" data-testid="error">
      <p class="state-title">Could not load {what}.</p>
      <p>
        <code>{error.message}</code>
      </p>
      <p>{advice(error)}</p>
      {retry ? (
        <button type="button" onClick={retry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

/** The usual trio: error first, then loading (only before the first answer), then the content. */
export function Async<T>({
  state,
  what,
  children,
}: {
  state: { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void };
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  if (state.error && state.data === undefined) return <ErrorState error={state.error} retry={state.reload} what={what} />;
  if (state.data === undefined) return <Loading what={what} />;
  return (
    <>
      {state.error ? <ErrorState error={state.error} retry={state.reload} what={`the latest ${what}`} /> : null}
      {children(state.data)}
    </>
  );
}
