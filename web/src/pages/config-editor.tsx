/**
 * Editing one subscription live: its trigger and mapping, validated as they are typed (a dry run of the change),
 * tested on the newest live messages (the requests before and after, from the one planner), applied on top of the
 * version it was edited from, then the dead letters the change fixes replayed.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { useDebounced } from '../hooks';
import { json } from '../format';
import type { AdminConfig, ConfigChange, DestinationConfig, PreviewResult, Subscription } from '../types';
import { PreviewView } from '../components/event-detail';
import { FieldProblem } from '../components/field-problem';

type Check = { state: 'unchanged' } | { state: 'checking' } | { state: 'invalid'; field: string; message: string } | { state: 'valid'; diff: ConfigChange[] };

type Edit = { patch: { subscriptions: Subscription[] } } | { error: { field: string; message: string } };

const mappingText = (s: Subscription | undefined) => (s?.mapping ? json(s.mapping) : '');

/** The destination's subscriptions with the edited one replaced, or what is wrong with the text typed. */
function editOf(dest: DestinationConfig, index: number, trigger: string, mapping: string): Edit {
  let parsed: Record<string, unknown> | undefined;
  if (mapping.trim()) {
    try {
      parsed = JSON.parse(mapping);
    } catch (err) {
      return { error: { field: 'mapping', message: `is not valid JSON: ${(err as Error).message}` } };
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      return { error: { field: 'mapping', message: 'must be a JSON object: {"field": {"@path": "$.properties.x"}}' } };
  }
  const { mapping: _old, ...rest } = dest.subscriptions[index];
  const next: Subscription = { ...rest, subscribe: trigger, ...(parsed ? { mapping: parsed } : {}) };
  return { patch: { subscriptions: dest.subscriptions.map((s, i) => (i === index ? next : s)) } };
}

export function SubscriptionEditor({ config, onConfig }: { config: AdminConfig; onConfig: (c: AdminConfig) => void }) {
  const editable = config.editable === true;
  const [destName, setDestName] = useState(config.destinations[0]?.name ?? '');
  const [index, setIndex] = useState(0);
  const dest = config.destinations.find((d) => d.name === destName);
  const sub = dest?.subscriptions[index];
  const [trigger, setTrigger] = useState(sub?.subscribe ?? '');
  const [mapping, setMapping] = useState(mappingText(sub));
  // The version the edit starts from: applying it is refused if another one was applied since.
  const [basedOn, setBasedOn] = useState(config.version);
  const [check, setCheck] = useState<Check>({ state: 'unchanged' });
  const [liveCount, setLiveCount] = useState(10);
  const [compare, setCompare] = useState<{ results: PreviewResult[]; before: PreviewResult[] } | null>(null);
  const [busy, setBusy] = useState<'testing' | 'applying' | null>(null);
  const [problem, setProblem] = useState<{ message: string; conflict: boolean } | null>(null);
  const [applied, setApplied] = useState<{ destination: string; version: number } | null>(null);

  // Another subscription picked, or the configuration loaded again: start from what runs.
  useEffect(() => {
    setTrigger(sub?.subscribe ?? '');
    setMapping(mappingText(sub));
    setBasedOn(config.version);
    setCheck({ state: 'unchanged' });
    setCompare(null);
    setProblem(null);
  }, [config, destName, index]);

  const key = JSON.stringify([destName, index, trigger, mapping]);
  const settled = useDebounced(key, 400);
  const changed = Boolean(sub) && (trigger !== sub!.subscribe || mapping !== mappingText(sub));

  // Validation as you type: a dry run of the change once typing pauses; the answer names the path at fault.
  useEffect(() => {
    if (!editable || !dest || !changed) return setCheck({ state: 'unchanged' });
    if (settled !== key) return setCheck({ state: 'checking' });
    const edit = editOf(dest, index, trigger, mapping);
    if ('error' in edit) return setCheck({ state: 'invalid', ...edit.error });
    const ctl = new AbortController();
    setCheck({ state: 'checking' });
    api.patchDestination(dest.name, edit.patch, { dryRun: true, basedOn }, ctl.signal).then(
      (r) => setCheck(r.diff.length ? { state: 'valid', diff: r.diff } : { state: 'unchanged' }),
      (err: Error) => {
        if (!ctl.signal.aborted && err.name !== 'AbortError') setCheck({ state: 'invalid', field: '', message: err.message });
      },
    );
    return () => ctl.abort();
  }, [settled, key, basedOn, editable]);

  if (!config.destinations.length) return null;

  async function test() {
    if (!dest) return;
    const edit = editOf(dest, index, trigger, mapping);
    if ('error' in edit) return setCheck({ state: 'invalid', ...edit.error });
    setBusy('testing');
    setProblem(null);
    try {
      setCompare(await api.compare(dest.name, edit.patch, liveCount));
    } catch (err) {
      setCompare(null);
      setProblem({ message: (err as Error).message, conflict: false });
    } finally {
      setBusy(null);
    }
  }

  async function apply() {
    if (!dest || check.state !== 'valid') return;
    const edit = editOf(dest, index, trigger, mapping);
    if ('error' in edit) return;
    setBusy('applying');
    setProblem(null);
    try {
      const r = await api.patchDestination(dest.name, edit.patch, { basedOn });
      setApplied({ destination: dest.name, version: r.version });
      onConfig(await api.config());
    } catch (err) {
      const conflict = err instanceof ApiError && err.status === 409;
      setProblem({ message: conflict ? `Not applied: ${(err as Error).message}` : (err as Error).message, conflict });
    } finally {
      setBusy(null);
    }
  }

  const reload = async () => {
    try {
      onConfig(await api.config());
    } catch (err) {
      setProblem({ message: (err as Error).message, conflict: false });
    }
  };

  return (
    <section aria-labelledby="edit-h" class="panel editor" data-testid="config-editor">
      <h2 id="edit-h">Edit a subscription</h2>
      {editable ? (
        <p class="hint">
          Changes apply to the running service without a restart, as version {(config.version ?? 0) + 1}; messages planned from then on use them.
        </p>
      ) : (
        <p class="hint" data-testid="config-readonly">
          {config.editable === false
            ? 'This service takes its configuration from its file only (configEdits: "file"): edit the file, then send SIGHUP. Shown read-only.'
            : 'This service cannot change its configuration from here. Shown read-only.'}
        </p>
      )}
      <div class="row">
        <label>
          Destination
          <select
            value={destName}
            onChange={(e) => {
              setDestName((e.target as HTMLSelectElement).value);
              setIndex(0);
            }}
            data-testid="edit-destination"
          >
            {config.destinations.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Subscription
          <select value={index} onChange={(e) => setIndex(Number((e.target as HTMLSelectElement).value))} data-testid="edit-subscription">
            {dest?.subscriptions.map((s, i) => (
              <option key={i} value={i}>
                {s.name ?? `#${i + 1}`} ({s.partnerAction})
              </option>
            ))}
          </select>
        </label>
      </div>
      {sub ? (
        <>
          <label>
            Trigger (FQL)
            <textarea
              rows={2}
              value={trigger}
              readOnly={!editable}
              onInput={(e) => setTrigger((e.target as HTMLTextAreaElement).value)}
              aria-invalid={check.state === 'invalid'}
              spellcheck={false}
              data-testid="edit-trigger"
            />
          </label>
          <label>
            Mapping (JSON; empty: the action's defaults)
            <textarea
              rows={12}
              value={mapping}
              readOnly={!editable}
              onInput={(e) => setMapping((e.target as HTMLTextAreaElement).value)}
              aria-invalid={check.state === 'invalid'}
              spellcheck={false}
              data-testid="edit-mapping"
            />
          </label>
          {editable ? <CheckView check={check} /> : null}
        </>
      ) : (
        <p class="hint">This destination has no subscriptions.</p>
      )}
      {editable && sub ? (
        <div class="toolbar">
          <label>
            Live messages
            <input
              type="number"
              min={1}
              max={100}
              value={liveCount}
              onInput={(e) => setLiveCount(Math.min(100, Math.max(1, Number((e.target as HTMLInputElement).value) || 1)))}
              data-testid="edit-live-count"
            />
          </label>
          <button type="button" onClick={test} disabled={busy !== null || check.state === 'invalid'} data-testid="edit-test">
            {busy === 'testing' ? 'Testing…' : 'Test on the newest live messages'}
          </button>
          <button type="button" onClick={apply} disabled={busy !== null || check.state !== 'valid'} data-testid="edit-apply">
            {busy === 'applying' ? 'Applying…' : 'Apply'}
          </button>
        </div>
      ) : null}
      {problem ? (
        <div class="problem" role="alert" data-testid="edit-problem">
          <p class="pre">{problem.message}</p>
          {problem.conflict ? (
            <button type="button" onClick={reload} data-testid="edit-reload">
              Load the newest version (your edit is discarded)
            </button>
          ) : null}
        </div>
      ) : null}
      {compare ? <Comparison compare={compare} version={config.version} /> : null}
      {applied ? <FixableDeadLetters key={`${applied.destination}-${applied.version}`} {...applied} /> : null}
    </section>
  );
}

function CheckView({ check }: { check: Check }) {
  if (check.state === 'unchanged')
    return (
      <p class="hint" data-testid="edit-check" data-state="unchanged">
        No change yet.
      </p>
    );
  if (check.state === 'checking')
    return (
      <p class="hint" data-testid="edit-check" data-state="checking" aria-live="polite">
        Checking…
      </p>
    );
  if (check.state === 'invalid')
    return (
      <div data-testid="edit-check" data-state="invalid">
        <FieldProblem error={{ field: check.field, message: check.message }} />
      </div>
    );
  return (
    <div data-testid="edit-check" data-state="valid" aria-live="polite">
      <p class="success">Valid. It changes:</p>
      <ul class="diff" data-testid="edit-diff">
        {check.diff.map((c) => (
          <li key={c.path}>
            <code>{c.path}</code>: {'before' in c ? <code>{JSON.stringify(c.before)}</code> : 'none'} →{' '}
            {'after' in c ? <code>{JSON.stringify(c.after)}</code> : 'removed'}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Comparison({ compare, version }: { compare: { results: PreviewResult[]; before: PreviewResult[] }; version?: number }) {
  if (!compare.results.length)
    return (
      <p class="hint" data-testid="compare-empty">
        This process has seen no messages for this destination yet: send some, then test again.
      </p>
    );
  const differ = compare.results.filter((r, i) => json(r) !== json(compare.before[i])).length;
  return (
    <section aria-labelledby="compare-h" data-testid="compare">
      <h3 id="compare-h">
        The newest {compare.results.length} live messages: {differ} would be sent differently
      </h3>
      {compare.results.map((after, i) => {
        const before = compare.before[i];
        const same = json(after) === json(before);
        return (
          <article key={i} class="compare-row" data-testid="compare-row" data-message-id={after.messageId ?? ''} data-changed={String(!same)}>
            <h4>
              <span class="mono">{after.messageId ?? `message ${i + 1}`}</span>{' '}
              {same ? <span class="badge">same</span> : <span class="badge warn">changes</span>}
            </h4>
            <div class="compare">
              <div data-testid="compare-before">
                <p>
                  <strong>Before</strong> (version {version ?? '?'}, running)
                </p>
                <PreviewView p={before} />
              </div>
              <div data-testid="compare-after">
                <p>
                  <strong>After</strong> (this edit)
                </p>
                <PreviewView p={after} />
              </div>
            </div>
          </article>
        );
      })}
    </section>
  );
}

/** After an apply: how many of the destination's dead letters now plan without error, and replaying those. */
function FixableDeadLetters({ destination, version }: { destination: string; version: number }) {
  const [count, setCount] = useState<{ deadLetters: number; fixable: number } | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.fixable(destination).then(setCount, (err: Error) => setProblem(err.message));
  }, [destination, version]);

  async function replay() {
    setBusy(true);
    try {
      const r = await api.replayFixable(destination);
      setResult(
        `Replayed ${r.replayed} dead letter${r.replayed === 1 ? '' : 's'}${r.dropped ? ` (${r.dropped} dropped: queued already, or an older copy of one replayed)` : ''}: they are delivered with version ${version}.`,
      );
      setCount(null);
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="applied" data-testid="edit-applied" aria-live="polite">
      <p class="success">Applied: version {version} is running.</p>
      {problem ? (
        <p class="problem" role="alert">
          {problem}
        </p>
      ) : null}
      {result ? (
        <p class="success" data-testid="replay-fixable-result">
          {result}
        </p>
      ) : count ? (
        <>
          <p data-testid="fixable-count" data-fixable={count.fixable}>
            {count.fixable} of {destination}'s {count.deadLetters} dead letters would be delivered with this change.
          </p>
          <button type="button" onClick={replay} disabled={busy || count.fixable === 0} data-testid="replay-fixable">
            {busy ? 'Replaying…' : `Replay the ${count.fixable} dead letters this change fixes`}
          </button>
        </>
      ) : null}
    </div>
  );
}
