/** Configuration as it runs (secrets masked), its subscriptions edited live, and in emulator mode what the built-in emulator holds. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { useApi } from '../hooks';
import { json } from '../format';
import type { AdminConfig, DestinationConfig, EmulatorView } from '../types';
import { Async, Empty } from '../components/states';
import { Table } from '../components/table';
import { JsonBlock } from '../components/json-block';
import { SubscriptionEditor } from './config-editor';

export function ConfigPage({ config, onConfig }: { config: AdminConfig; onConfig: (c: AdminConfig) => void }) {
  const [error, setError] = useState<string | null>(null);
  async function reload() {
    try {
      onConfig(await api.config());
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  }
  return (
    <>
      <div class="toolbar">
        <button type="button" onClick={reload}>
          Reload
        </button>
        {error ? (
          <span class="problem" role="alert">
            {error}
          </span>
        ) : null}
      </div>
      <dl class="facts">
        <dt>Version</dt>
        <dd data-testid="config-version">
          {config.version ?? '—'}
          {config.appliedBy ? <> (applied by {config.appliedBy})</> : null}
        </dd>
        <dt>Role</dt>
        <dd>{config.role}</dd>
        <dt>Store</dt>
        <dd>{config.store}</dd>
        <dt>Klaviyo</dt>
        <dd>{config.emulator ? <>built-in emulator at {config.emulator}</> : 'Klaviyo (API keys below)'}</dd>
        <dt>Presets</dt>
        <dd>{config.presets.join(', ')}</dd>
      </dl>
      <SubscriptionEditor config={config} onConfig={onConfig} />
      <section aria-labelledby="sources-h" data-testid="config-sources">
        <h2 id="sources-h">Sources</h2>
        <Table caption="Write keys accepted at /v1/* and where their messages go" columns={['Name', 'Write key', 'Destinations']}>
          {config.sources.map((s) => (
            <tr key={s.name}>
              <th scope="row">{s.name}</th>
              <td class="mono">{s.writeKey ?? 'generated at start (see the log)'}</td>
              <td>{s.destinations.join(', ') || 'all'}</td>
            </tr>
          ))}
        </Table>
      </section>
      <section aria-labelledby="dest-h" data-testid="config-destinations">
        <h2 id="dest-h">Destinations</h2>
        {config.destinations.map((d) => (
          <Destination key={d.name} d={d} emulator={config.emulator} />
        ))}
      </section>
      {config.emulator ? <EmulatorBrowser /> : null}
    </>
  );
}

function Destination({ d, emulator }: { d: DestinationConfig; emulator: string | null }) {
  return (
    <article class="panel" aria-labelledby={`cfg-${d.name}`}>
      <h3 id={`cfg-${d.name}`}>{d.name}</h3>
      <dl class="facts">
        <dt>Preset</dt>
        <dd data-testid="config-preset">
          {d.preset}
          {d.presetSummary ? <> — {d.presetSummary}</> : null}
        </dd>
        <dt>API key</dt>
        <dd class="mono">{d.apiKey ?? 'none (built-in emulator)'}</dd>
        <dt>Klaviyo URL</dt>
        <dd class="mono">{d.deliversTo ?? d.klaviyoUrl ?? (d.apiKey || !emulator ? 'https://a.klaviyo.com' : emulator)}</dd>
      </dl>
      <Table caption="Subscriptions: which messages trigger which action" columns={['Name', 'Trigger (FQL)', 'Action', 'Enabled', 'Mapping']}>
        {d.subscriptions.map((s, i) => (
          <SubscriptionRow key={i} s={s} />
        ))}
      </Table>
      <details>
        <summary>Settings</summary>
        <JsonBlock value={d.settings} />
      </details>
      <details>
        <summary>Delivery</summary>
        <JsonBlock value={d.delivery} />
      </details>
    </article>
  );
}

function SubscriptionRow({ s }: { s: DestinationConfig['subscriptions'][number] }) {
  return (
    <tr>
      <th scope="row">{s.name ?? '—'}</th>
      <td>
        <code>{s.subscribe}</code>
      </td>
      <td>{s.partnerAction}</td>
      <td>{s.enabled === false ? 'no' : 'yes'}</td>
      <td>
        {s.mapping ? (
          <details>
            <summary>{Object.keys(s.mapping).length} fields</summary>
            <pre>{json(s.mapping)}</pre>
          </details>
        ) : (
          'defaults'
        )}
      </td>
    </tr>
  );
}

const TABS = ['profiles', 'lists', 'events'] as const;

function EmulatorBrowser() {
  const [tab, setTab] = useState<(typeof TABS)[number]>('profiles');
  const state = useApi((signal) => api.emulator(200, signal), [], { pollMs: 5000 });
  return (
    <section aria-labelledby="emu-h" data-testid="emulator-browser">
      <h2 id="emu-h">Emulator</h2>
      <p class="hint">No Klaviyo API key is configured, so messages go to the built-in Klaviyo emulator. This is what it holds (newest first).</p>
      <div role="tablist" aria-label="Emulator data" class="tabs">
        {TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-selected={tab === t}
            aria-controls={`panel-${t}`}
            tabIndex={tab === t ? 0 : -1}
            onClick={() => setTab(t)}
            onKeyDown={(e) => {
              // Arrow keys move between tabs, as in any tab list.
              const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
              if (!step) return;
              const next = TABS[(TABS.indexOf(t) + step + TABS.length) % TABS.length];
              setTab(next);
              document.getElementById(`tab-${next}`)?.focus();
            }}
            data-testid={`emulator-tab-${t}`}
          >
            {t} {state.data ? `(${state.data.counts[t]})` : ''}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        <Async state={state} what="the emulator's data">
          {(v) => <EmulatorTab tab={tab} v={v} />}
        </Async>
      </div>
    </section>
  );
}

function EmulatorTab({ tab, v }: { tab: (typeof TABS)[number]; v: EmulatorView }) {
  if (tab === 'profiles')
    return v.profiles.length === 0 ? (
      <Empty title="No profiles yet.">Send an identify call; the profile appears here once delivered.</Empty>
    ) : (
      <Table caption={`Profiles (${v.counts.profiles})`} columns={['Id', 'Email', 'External id', 'Phone', 'Lists', 'Attributes']}>
        {v.profiles.map((p) => (
          <tr key={p.id} data-testid="emulator-profile">
            <th scope="row" class="mono">
              {p.id}
            </th>
            <td>{String(p.attributes.email ?? '—')}</td>
            <td>{String(p.attributes.external_id ?? '—')}</td>
            <td>{String(p.attributes.phone_number ?? '—')}</td>
            <td>{p.lists?.length ?? 0}</td>
            <td>
              <details>
                <summary>all</summary>
                <pre>{json({ attributes: p.attributes, properties: p.properties, subscriptions: p.subscriptions })}</pre>
              </details>
            </td>
          </tr>
        ))}
      </Table>
    );
  if (tab === 'lists')
    return v.lists.length === 0 ? (
      <Empty title="No lists yet.">Lists appear when an Audience Entered event or a list_id setting adds a profile to one.</Empty>
    ) : (
      <Table caption={`Lists (${v.counts.lists})`} columns={['Id', 'Name', 'Members']}>
        {v.lists.map((l) => (
          <tr key={l.id}>
            <th scope="row" class="mono">
              {l.id}
            </th>
            <td>{l.name}</td>
            <td>{l.size}</td>
          </tr>
        ))}
      </Table>
    );
  return v.events.length === 0 ? (
    <Empty title="No events yet.">Send a track call; the event appears here once delivered.</Empty>
  ) : (
    <Table caption={`Events (${v.counts.events})`} columns={['Metric', 'Time', 'Profile', 'Unique id', 'Value', 'Properties']}>
      {v.events.map((e) => (
        <tr key={e.id} data-testid="emulator-event">
          <th scope="row">{e.metric}</th>
          <td>{e.time ?? '—'}</td>
          <td class="mono">{e.profile_id}</td>
          <td class="mono">{e.unique_id ?? '—'}</td>
          <td>{e.value ?? '—'}</td>
          <td>
            <details>
              <summary>{Object.keys(e.properties ?? {}).length} properties</summary>
              <pre>{json(e.properties)}</pre>
            </details>
          </td>
        </tr>
      ))}
    </Table>
  );
}
