import { useState } from 'preact/hooks';
import { ApiError, get, post, type FieldIssue } from '../api.ts';
import { duration } from '../format.ts';
import { useResource } from '../hooks.ts';
import type { FlowRunDetail, FlowRunWait } from '../types.ts';
import { ParamForm, type PropSchema } from './param-form.tsx';
import { ErrorBox, Kv, Loading, Section, Time } from './ui.tsx';

type InputSchema = { properties?: Record<string, PropSchema>; required?: string[] } | null;

/**
 * The wait is stored as jsonb, which keeps an object's keys sorted by length, not as the flow's author wrote
 * them; `required` is a list and keeps theirs. So the required fields come first in that order, then the rest.
 */
function inAuthorsOrder(schema: InputSchema): InputSchema {
  if (!schema?.properties) return schema;
  const props = schema.properties;
  const keys = [...(schema.required ?? []).filter((k) => k in props), ...Object.keys(props).filter((k) => !(schema.required ?? []).includes(k))];
  return { ...schema, properties: Object.fromEntries(keys.map((k) => [k, props[k] as PropSchema])) };
}

/**
 * The "Resume" panel of a PAUSED run: what the flow awaits (from `GET /api/flow-runs/:id/pause`), until
 * when, and the form generated from its input JSON Schema (the deployment page's run form). Submitting posts
 * `{ input }` to `/api/flow-runs/:id/resume`; a 400 lands at its fields (`input.<field>`), a 409 (resumed or
 * timed out meanwhile) is a message. The run page's live topic refetches the run, so the new state
 * (RUNNING/Resumed, or SCHEDULED/Resumed for a suspension) and this panel's disappearance follow by themselves.
 */
export function ResumePanel({ run, onChange }: { run: FlowRunDetail; onChange: () => void }) {
  // Keyed by the state too: a run paused a second time has a new wait to show.
  const paused = run.state.type === 'PAUSED';
  const key = `${run.id}:${run.state.type}:${run.state.timestamp}`;
  const wait = useResource<FlowRunWait | null>(
    () => (paused ? get<FlowRunWait>(`/api/flow-runs/${run.id}/pause`).catch((err: Error) => (err instanceof ApiError && err.status === 404 ? null : Promise.reject(err))) : Promise.resolve(null)),
    key,
  );
  const [issues, setIssues] = useState<FieldIssue[]>([]);
  const [error, setError] = useState<Error>();
  const [conflict, setConflict] = useState<string>();
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);
  // Once resumed the panel goes, but what the resume did stays said (the state badge above follows live).
  // A lost race (409) usually arrives after the live stream already showed the run resumed: said here too.
  const said = (
    <>
      {conflict && (
        <p class="error" role="alert">
          {conflict}
        </p>
      )}
      {status && (
        <p role="status" class="resume-done">
          {status}
        </p>
      )}
    </>
  );
  if (!paused) return conflict || status ? said : null;
  if (wait.error) return <ErrorBox error={wait.error} />;
  if (wait.data === undefined) return <Loading what="what the run waits for" />;
  const w = wait.data;
  if (w === null || w.kind === 'event') return said;
  const schema = inAuthorsOrder((w.spec.input_schema ?? null) as InputSchema);
  const timeoutSeconds = typeof w.spec.timeout_seconds === 'number' ? w.spec.timeout_seconds : null;
  const resume = async (input: Record<string, unknown>) => {
    setError(undefined);
    setConflict(undefined);
    setIssues([]);
    setBusy(true);
    try {
      const r = await post<{ state: { type: string; name: string } }>(`/api/flow-runs/${run.id}/resume`, { input });
      setStatus(`Resumed: the run is now ${r.state.name} (${r.state.type}).`);
      onChange();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.issues.length > 0) setIssues(err.issues);
      else if (err instanceof ApiError && err.status === 409) {
        setConflict(`Not resumed: ${err.message}. The page shows the run's current state.`);
        onChange();
      } else setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Resume">
      <div class="resume-panel" data-slot="resume">
        <Kv
          rows={[
            ['Awaiting', schema ? 'input matching the form below' : 'a resume (no input asked for)'],
            ['Kind', w.kind === 'suspend' ? 'Suspended: the worker slot was given back; the run starts again from the top when resumed' : 'Paused: the flow waits in its process'],
            ['Times out', w.timeout_at ? <Time iso={w.timeout_at} /> : 'never'],
            ['Timeout', timeoutSeconds === null ? '—' : duration(timeoutSeconds)],
            ['Waiting since', <Time iso={w.created} />],
          ]}
        />
        <p class="muted small">If nobody resumes it by then, the run fails.</p>
        <ErrorBox error={error} />
        <ParamForm
          key={w.wait_key}
          schema={schema}
          defaults={{}}
          onSubmit={resume}
          serverIssues={issues}
          issuePrefix="input"
          idPrefix="input"
          submitLabel="Resume run"
          emptyText="The flow asks for no input: resuming lets it go on."
          busy={busy}
        />
      </div>
      {said}
    </Section>
  );
}
