/** First screen: asks for the admin token, says where to find it, and what to do when it is refused. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import type { AdminConfig } from './types';

export type Gate = 'ask' | 'refused';

export function TokenScreen({ gate, onAccepted }: { gate: Gate; onAccepted: (token: string, config: AdminConfig) => void }) {
  const [token, setTokenValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Gate | 'unreachable' | null>(gate === 'ask' ? null : gate);
  const [detail, setDetail] = useState('');
  useEffect(() => {
    if (gate !== 'ask') setProblem(gate);
  }, [gate]);

  async function submit(e: Event) {
    e.preventDefault();
    const t = token.trim();
    if (!t) return;
    setBusy(true);
    try {
      onAccepted(t, await api.config(t));
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      setProblem(status === 401 ? 'refused' : 'unreachable');
      setDetail((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="gate">
      <h1>klaviyo-destination</h1>
      {problem === 'refused' ? (
        <p class="state state-error" role="alert" data-testid="token-error">
          That token was refused. Enter the token the service was started with.
        </p>
      ) : null}
      {problem === 'unreachable' ? (
        <p class="state state-error" role="alert" data-testid="token-error">
          Could not reach the service ({detail}). Check that it is running, then try again.
        </p>
      ) : null}
      <form onSubmit={submit} class="card token-form">
        <label for="token">Admin token</label>
        <p id="token-help" class="hint">
          The one <code>klaviyo-destination start</code> printed in its log beside the dashboard's address (generated on first start and kept in the store), or
          the one it was given with <code>--admin-token</code> / <code>ADMIN_TOKEN</code>. It is kept in this tab only (sessionStorage) and sent as{' '}
          <code>Authorization: Bearer …</code>.
        </p>
        <input
          id="token"
          type="password"
          autoComplete="current-password"
          aria-describedby="token-help"
          value={token}
          onInput={(e) => setTokenValue((e.target as HTMLInputElement).value)}
          data-testid="token-input"
          required
          autoFocus
        />
        <button type="submit" disabled={busy} data-testid="token-submit">
          {busy ? 'Checking…' : 'Open dashboard'}
        </button>
      </form>
    </main>
  );
}
