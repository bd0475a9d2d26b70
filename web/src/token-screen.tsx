/** First screen: asks for the admin token, and explains what to do when it is refused or the admin API is off. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import type { AdminConfig } from './types';

export type Gate = 'ask' | 'refused' | 'off';

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
      setProblem(status === 401 ? 'refused' : status === 404 ? 'off' : 'unreachable');
      setDetail((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="gate">
      <h1>klaviyo-destination</h1>
      {problem === 'off' ? (
        <div class="state state-error" role="alert" data-testid="admin-off">
          <p class="state-title">The admin API is off.</p>
          <p>
            The dashboard reads everything from <code>/admin/*</code>, which the service serves only when it has an admin token. Restart it with{' '}
            <code>klaviyo-destination start --admin-token &lt;at least 16 characters&gt;</code> (or set <code>ADMIN_TOKEN</code>), then enter that token here.
          </p>
        </div>
      ) : null}
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
          The token given to <code>klaviyo-destination start --admin-token …</code> or in the <code>ADMIN_TOKEN</code> environment variable. It is kept in this tab only
          (sessionStorage) and sent as <code>Authorization: Bearer …</code>.
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
