/** Mapping tester: messages in, what a destination or preset would send to Klaviyo out (the preview engine). */
import { useState } from 'preact/hooks';
import { api, type PreviewRequest } from '../api';
import { useApi } from '../hooks';
import type { AdminConfig, PreviewResult } from '../types';
import { PreviewView } from '../components/event-detail';
import { FieldProblem } from '../components/field-problem';
import { Loading } from '../components/states';
import { json } from '../format';

const EXAMPLES: Record<string, unknown> = {
  identify: { type: 'identify', userId: 'u-1', traits: { email: 'ada@example.com', firstName: 'Ada', phone: '+12125550100' } },
  track: { type: 'track', userId: 'u-1', event: 'Product Viewed', properties: { sku: 'A1', price: 12 }, context: { traits: { email: 'ada@example.com' } } },
  order: {
    type: 'track',
    userId: 'u-1',
    event: 'Order Completed',
    properties: {
      order_id: 'o-1',
      revenue: 30,
      products: [
        { product_id: 'A1', price: 12 },
        { product_id: 'B2', price: 18 },
      ],
    },
    context: { traits: { email: 'ada@example.com' } },
  },
  invalid: { type: 'track', event: 'No user' },
};

/** A JSON array, one JSON object, or JSON Lines; a problem names the line to fix. */
export function parseMessages(text: string): { messages: unknown[] } | { error: string } {
  const t = text.trim();
  if (!t) return { error: 'Paste at least one message: a JSON object, a JSON array, or one JSON object per line.' };
  let documentError = '';
  try {
    const v = JSON.parse(t);
    if (Array.isArray(v)) return v.length ? { messages: v } : { error: 'The array is empty.' };
    if (v && typeof v === 'object') return { messages: [v] };
    return { error: 'A message is a JSON object such as {"type": "track", …}.' };
  } catch (err) {
    documentError = (err as Error).message; /* not one JSON document: try JSON Lines */
  }
  const messages: unknown[] = [];
  const lines = t.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    try {
      messages.push(JSON.parse(lines[i]));
    } catch (err) {
      // A broken first line of several is most likely one pretty-printed document: its own error says more.
      if (messages.length === 0 && lines.length > 1)
        return { error: `Not valid JSON: ${documentError}. Use a JSON array, one object, or one object per line.` };
      return { error: `Line ${i + 1} is not JSON (${(err as Error).message}). Use a JSON array, one object, or one object per line.` };
    }
  }
  return { messages };
}

function parseObject(text: string, what: string, kind: 'object' | 'array'): { value?: unknown; error?: string } {
  if (!text.trim()) return {};
  try {
    const v = JSON.parse(text);
    if (kind === 'array' ? !Array.isArray(v) : !v || typeof v !== 'object' || Array.isArray(v)) return { error: `${what} must be a JSON ${kind}.` };
    return { value: v };
  } catch (err) {
    return { error: `${what} is not valid JSON: ${(err as Error).message}` };
  }
}

export function TesterPage({ config }: { config: AdminConfig }) {
  const [mode, setMode] = useState<'destination' | 'preset'>(config.destinations.length ? 'destination' : 'preset');
  const [destination, setDestination] = useState(config.destinations[0]?.name ?? '');
  const [preset, setPreset] = useState(config.presets[0] ?? 'segment-actions');
  const [settings, setSettings] = useState('{}');
  const [subscriptions, setSubscriptions] = useState('');
  const [text, setText] = useState(json(EXAMPLES.track));
  const [inputError, setInputError] = useState<{ field: string; message: string } | null>(null);
  const [results, setResults] = useState<{ messages: unknown[]; results: PreviewResult[] } | null>(null);
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const recent = useApi((signal) => api.events({ limit: 20 }, signal), []);

  async function pickRecent(id: string) {
    if (!id) return;
    try {
      setText(json((await api.event(id)).message));
      setInputError(null);
    } catch (err) {
      setInputError({ field: 'messages', message: `Could not load message ${id}: ${(err as Error).message}` });
    }
  }

  async function submit(e: Event) {
    e.preventDefault();
    setServerError(null);
    const parsed = parseMessages(text);
    if ('error' in parsed) return setInputError({ field: 'messages', message: parsed.error });
    let body: PreviewRequest;
    if (mode === 'destination') body = { destination, messages: parsed.messages };
    else {
      const s = parseObject(settings, 'Settings', 'object');
      if (s.error) return setInputError({ field: 'settings', message: s.error });
      const subs = parseObject(subscriptions, 'Subscriptions', 'array');
      if (subs.error) return setInputError({ field: 'subscriptions', message: subs.error });
      body = { preset, settings: s.value ?? {}, ...(subs.value ? { subscriptions: subs.value } : {}), messages: parsed.messages };
    }
    setInputError(null);
    setBusy(true);
    try {
      const r = await api.preview(body);
      setResults({ messages: parsed.messages, results: r.results });
    } catch (err) {
      setResults(null);
      setServerError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const errorFor = (field: string) => (inputError?.field === field ? inputError : null);

  return (
    <>
      <p class="hint">Nothing is sent to Klaviyo: this runs the same planning the workers use and shows the requests they would make.</p>
      <form class="card tester" onSubmit={submit}>
        <fieldset>
          <legend>Map with</legend>
          <label class="inline">
            <input type="radio" name="mode" checked={mode === 'destination'} disabled={!config.destinations.length} onChange={() => setMode('destination')} /> a
            configured destination
          </label>
          <label class="inline">
            <input type="radio" name="mode" checked={mode === 'preset'} onChange={() => setMode('preset')} data-testid="tester-mode-preset" /> a preset with
            settings
          </label>
        </fieldset>
        {mode === 'destination' ? (
          <label>
            Destination
            <select value={destination} onChange={(e) => setDestination((e.target as HTMLSelectElement).value)} data-testid="tester-destination">
              {config.destinations.map((d) => (
                <option key={d.name} value={d.name}>
                  {d.name} ({d.preset}, {d.subscriptions.length} subscriptions)
                </option>
              ))}
            </select>
          </label>
        ) : (
          <>
            <label>
              Preset
              <select value={preset} onChange={(e) => setPreset((e.target as HTMLSelectElement).value)} data-testid="tester-preset">
                {config.presets.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
            <label>
              Settings (JSON object{preset === 'rudderstack' ? '; RudderStack’s settings as they are, or its destination export with "config"' : ''})
              <textarea
                rows={3}
                value={settings}
                onInput={(e) => setSettings((e.target as HTMLTextAreaElement).value)}
                aria-invalid={Boolean(errorFor('settings'))}
                spellcheck={false}
              />
            </label>
            {errorFor('settings') ? <FieldProblem error={errorFor('settings')!} /> : null}
            <label>
              Subscriptions (optional JSON array; empty = the preset’s)
              <textarea
                rows={4}
                value={subscriptions}
                onInput={(e) => setSubscriptions((e.target as HTMLTextAreaElement).value)}
                aria-invalid={Boolean(errorFor('subscriptions'))}
                spellcheck={false}
                placeholder='[{"subscribe": "type = \"track\"", "partnerAction": "trackEvent"}]'
              />
            </label>
            {errorFor('subscriptions') ? <FieldProblem error={errorFor('subscriptions')!} /> : null}
          </>
        )}
        <div class="row">
          <label>
            Insert an example
            <select
              value=""
              onChange={(e) => {
                const k = (e.target as HTMLSelectElement).value;
                if (k) setText(json(EXAMPLES[k]));
              }}
              data-testid="tester-example"
            >
              <option value="">Choose…</option>
              <option value="identify">identify</option>
              <option value="track">track</option>
              <option value="order">Order Completed</option>
              <option value="invalid">invalid (no user)</option>
            </select>
          </label>
          <label>
            Or a recent message
            <select
              value=""
              onChange={(e) => pickRecent((e.target as HTMLSelectElement).value)}
              disabled={!recent.data?.events.length}
              data-testid="tester-recent"
            >
              <option value="">{recent.data?.events.length ? 'Choose…' : 'none yet'}</option>
              {recent.data?.events.map((ev) => (
                <option key={ev.id} value={ev.id}>
                  {ev.type} {ev.event ?? ''} ({ev.id})
                </option>
              ))}
            </select>
          </label>
        </div>
        <label for="tester-messages">Messages</label>
        <p id="tester-messages-help" class="hint">
          One JSON message, a JSON array of messages, or JSON Lines (one per line).
        </p>
        <textarea
          id="tester-messages"
          rows={12}
          value={text}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          aria-describedby="tester-messages-help"
          aria-invalid={Boolean(errorFor('messages'))}
          spellcheck={false}
          data-testid="tester-input"
        />
        {errorFor('messages') ? <FieldProblem error={errorFor('messages')!} /> : null}
        <button type="submit" disabled={busy} data-testid="tester-run">
          {busy ? 'Mapping…' : 'Show what would be sent'}
        </button>
      </form>
      {busy ? <Loading what="the preview" /> : null}
      {serverError ? (
        <p class="problem" role="alert" data-testid="tester-server-error">
          {serverError}
        </p>
      ) : null}
      {results ? (
        <section aria-label="Results" data-testid="tester-results">
          <h2>Results</h2>
          {results.results.map((r, i) => (
            <article key={i} class="panel" data-testid="tester-result" data-ok={r.error ? 'false' : 'true'}>
              <h3>
                Message {i + 1}
                {r.messageId ? <span class="mono"> · {r.messageId}</span> : null}{' '}
                {r.error ? <span class="badge failed">error</span> : <span class="badge ok">ok</span>}
              </h3>
              <PreviewView p={r} />
              <details>
                <summary>Input message</summary>
                <pre>{json(results.messages[i])}</pre>
              </details>
            </article>
          ))}
        </section>
      ) : null}
    </>
  );
}
