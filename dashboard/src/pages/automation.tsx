import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, get, post, type FieldIssue, type Page } from '../api.ts';
import { DryRunView, type DryRunResult } from '../components/dry-run.tsx';
import { Firings } from '../components/firings.tsx';
import { JsonEditor } from '../components/json-editor.tsx';
import { RangePicker } from '../components/range.tsx';
import { ErrorBox, Loading, Section } from '../components/ui.tsx';
import { MASK, rangeBounds } from '../format.ts';
import { navigate, queryParams, setQuery } from '../router.ts';
import { describeFlowControl } from '../describe.ts';
import type { FlowControl, StoredEvent } from '../types.ts';
import { automationDraftFrom } from './events.tsx';

const BLANK = { name: 'my-automation', description: '', enabled: true, trigger: { type: 'event', expect: ['order.created'], threshold: 1, within: 0 }, actions: [{ type: 'do-nothing' }] };

const toText = (v: unknown) => JSON.stringify(v, null, 2);
/** Issues of a document sent inside a request body come back as `automation.<path>`. */
const unprefix = (issues: FieldIssue[]) => issues.map((i) => ({ ...i, path: i.path.replace(/^automation\.?/, '') }));
const toInput = ({ received: _r, ...e }: StoredEvent) => e;

function parse(text: string): { doc?: unknown; issue?: FieldIssue } {
  try {
    return { doc: JSON.parse(text) };
  } catch (err) {
    return { issue: { path: '', message: `not valid JSON: ${(err as Error).message}` } };
  }
}

/** Create or edit an automation: the JSON document, checked against the schema, dry-run, backtested. */
export function AutomationPage({ id = '' }: { id?: string }) {
  const isNew = id === 'new';
  const q = queryParams();
  const [text, setText] = useState<string>();
  const [issues, setIssues] = useState<FieldIssue[]>([]);
  const [error, setError] = useState<Error>();
  const [status, setStatus] = useState<string>();
  const [result, setResult] = useState<DryRunResult>();
  const [eventsText, setEventsText] = useState('[]');
  const [recent, setRecent] = useState<StoredEvent[]>();
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const range = q.range ?? '24h';

  useEffect(() => {
    setText(undefined);
    setResult(undefined);
    if (isNew) {
      if (q.from_event) get<StoredEvent>(`/api/events/${q.from_event}`).then((e) => setText(toText(automationDraftFrom(e))), (err: Error) => (setError(err), setText(toText(BLANK))));
      else setText(toText(BLANK));
    } else {
      // The API shows a signing secret as the mask, and keeps the stored one when the mask comes back.
      get<Record<string, unknown>>(`/api/automations/${id}`).then(({ id: _i, created: _c, updated: _u, ...doc }) => setText(toText(doc)), setError);
    }
  }, [id, q.from_event]);

  /** Runs a request that takes the document; schema errors land at their field paths. */
  const withDoc = async (what: string, fn: (doc: unknown) => Promise<void>) => {
    setError(undefined);
    setStatus(undefined);
    const { doc, issue } = parse(text ?? '');
    if (issue) return setIssues([issue]);
    try {
      await fn(doc);
      setIssues([]);
      setStatus(what);
    } catch (err) {
      if (err instanceof ApiError && err.issues.length) setIssues(unprefix(err.issues));
      else setError(err as Error);
    }
  };
  const validate = () => withDoc('The document is valid.', async (doc) => void (await post('/api/automations/test', { automation: doc, events: [] })));
  const dryRun = () =>
    withDoc('Dry run done: nothing was stored or sent.', async (doc) => {
      let pasted: unknown[] = [];
      try {
        pasted = JSON.parse(eventsText) as unknown[];
        if (!Array.isArray(pasted)) throw new Error('the events must be a JSON array');
      } catch (err) {
        throw new ApiError(400, 'invalid_request', `events: ${(err as Error).message}`);
      }
      const chosen = (recent ?? []).filter((e) => picked.has(e.id)).map(toInput).reverse();
      setResult(await post<DryRunResult>('/api/automations/test', { automation: doc, events: [...chosen, ...pasted] }));
    });
  const backtest = () =>
    withDoc('Backtest done over stored events.', async (doc) => {
      const b = rangeBounds(range);
      setResult(await post<DryRunResult>('/api/automations/backtest', { automation: doc, occurred_after: b.since, occurred_before: b.until }));
    });
  const save = () =>
    withDoc('Saved.', async (doc) => {
      const saved = isNew ? await post<{ id: string }>('/api/automations', doc) : await api<{ id: string }>('PUT', `/api/automations/${id}`, doc);
      if (isNew) navigate(`/automations/${saved.id}`, true);
    });
  const remove = async () => {
    if (!window.confirm('Delete this automation? Its firing history stays.')) return;
    try {
      await api('DELETE', `/api/automations/${id}`);
      navigate('/automations');
    } catch (err) {
      setError(err as Error);
    }
  };
  const loadRecent = () => post<Page<StoredEvent>>('/api/events/filter', { limit: 20 }).then((p) => setRecent(p.items), setError);

  if (text === undefined) return error ? <ErrorBox error={error} /> : <Loading what="automation" />;
  const b = rangeBounds(range);
  return (
    <>
      <div class="page-head">
        <h1>{isNew ? 'New automation' : 'Automation'}</h1>
        {!isNew && (
          <button type="button" class="danger" onClick={remove}>
            Delete
          </button>
        )}
      </div>
      <Section title="Document">
        <JsonEditor id="automation-doc" label="Automation (JSON, see docs/automations.md)" value={text} onInput={setText} issues={issues} rows={22} />
        <FlowControlLine text={text} />
        {text.includes(`"${MASK}"`) && (
          <p class="muted small">
            A signing secret reads as <code>{MASK}</code>: leave it to keep the stored secret, or put a new <code>whsec_…</code> secret in its place.
          </p>
        )}
        <div class="toolbar">
          <button type="button" onClick={validate}>
            Validate
          </button>
          <button type="button" class="primary" onClick={save}>
            {isNew ? 'Create' : 'Save'}
          </button>
          <span role="status" class="muted">
            {status}
          </span>
        </div>
        <ErrorBox error={error} />
      </Section>
      <div class="grid2">
        <Section title="Dry run">
          <JsonEditor id="dry-run-events" label="Events to evaluate (JSON array, as sent to POST /api/events)" value={eventsText} onInput={setEventsText} issues={[]} rows={6} />
          <details onToggle={(e) => (e.target as HTMLDetailsElement).open && !recent && void loadRecent()}>
            <summary>Pick events from the feed</summary>
            {!recent ? (
              <Loading what="recent events" />
            ) : (
              <ul class="plain picks">
                {recent.map((e) => (
                  <li key={e.id}>
                    <label class="check">
                      <input
                        type="checkbox"
                        checked={picked.has(e.id)}
                        onChange={() => {
                          const s = new Set(picked);
                          if (s.has(e.id)) s.delete(e.id);
                          else s.add(e.id);
                          setPicked(s);
                        }}
                      />{' '}
                      {e.event} <code>{e.resource['reflex.resource.id']}</code>
                    </label>
                  </li>
                ))}
              </ul>
            )}
          </details>
          <button type="button" onClick={dryRun}>
            Dry run
          </button>
        </Section>
        <Section title="Backtest">
          <p class="muted">Replays the stored events of a range through this document; nothing is stored or sent.</p>
          <RangePicker id="backtest-range" value={range} onChange={(v) => setQuery({ range: v })} />
          <button type="button" onClick={backtest}>
            Backtest
          </button>
        </Section>
      </div>
      {result && (
        <Section title="Dry-run result">
          <DryRunView result={result} />
        </Section>
      )}
      {!isNew && (
        <Section title="Firing history">
          <Firings automationId={id} highlight={q.firing} since={b.since} until={b.until} />
        </Section>
      )}
    </>
  );
}

/** The document's flow control in words, as the editor's text stands (nothing while it is not valid JSON). */
function FlowControlLine({ text }: { text: string }) {
  const { doc } = parse(text);
  const fc = (doc as { flow_control?: FlowControl } | undefined)?.flow_control;
  const words = fc && typeof fc === 'object' ? describeFlowControl(fc) : null;
  return words ? <p class="flow-control-summary">{words}</p> : null;
}
