import { get } from '../api.ts';
import { RunArtifacts } from '../components/artifacts.tsx';
import { Logs } from '../components/logs.tsx';
import { ResumePanel } from '../components/resume-panel.tsx';
import { RunActions } from '../components/run-actions.tsx';
import { StateBadge } from '../components/state.tsx';
import { TaskTimeline } from '../components/timeline.tsx';
import { Empty, ErrorBox, Json, Kv, Loading, Section, Time } from '../components/ui.tsx';
import { duration } from '../format.ts';
import { useResource } from '../hooks.ts';
import type { FlowRunDetail, RunCause, RunError } from '../types.ts';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);

/** A state's message that only repeats its error (the worker writes `<name>: <message>`) is not shown twice. */
const sameAsError = (message: string, error: RunError | null | undefined) => Boolean(error && (message === error.message || message === `${error.name}: ${error.message}`));

/** The error a state carries: its class and message, its Reflex code (docs/errors.md), the stack folded. */
function RunErrorView({ error, label }: { error: RunError; label: string }) {
  return (
    <div class="run-error" role="group" aria-label={label}>
      <p>
        <strong>{error.name}</strong>: {error.message}
        {error.code && (
          <span class="tag">
            code <code>{error.code}</code>
          </span>
        )}
      </p>
      {error.stack && (
        <details>
          <summary>Stack trace</summary>
          <pre class="json">{error.stack}</pre>
        </details>
      )}
    </div>
  );
}

function Cause({ cause }: { cause: RunCause | undefined }) {
  if (!cause) return <Loading what="cause" />;
  switch (cause.kind) {
    case 'automation':
      return (
        <ol class="chain" aria-label="Causal chain">
          {cause.event && (
            <li>
              Event <a href={`/events?id=${cause.event.id}`}>{cause.event.event}</a> about <code>{cause.event.resource_id}</code> at <Time iso={cause.event.occurred} />
            </li>
          )}
          <li>
            fired automation <a href={`/automations/${cause.automation?.id}`}>{cause.automation?.name ?? cause.automation?.id}</a>
            {cause.firing && (
              <>
                {' '}
                (firing <a href={`/automations/${cause.automation?.id}?firing=${cause.firing.id}`}>{cause.firing.id.slice(0, 8)}</a>, bucket <code>{cause.firing.bucket_key || '(single)'}</code>, count {cause.firing.count}, <Time iso={cause.firing.fired_at} />)
              </>
            )}
          </li>
          <li>which ran its deployment and created this run.</li>
        </ol>
      );
    case 'schedule':
      return <p>Created by the scheduler for the start time {cause.scheduled_for ? <Time iso={cause.scheduled_for} /> : 'of a schedule'}.</p>;
    case 'subflow':
      return (
        <p>
          A subflow of <a href={`/runs/${cause.parent_flow_run?.id}`}>{cause.parent_flow_run?.name}</a>.
        </p>
      );
    case 'manual':
      return <p>Started by a call to the API or the CLI (POST /api/deployments/…/runs).</p>;
    case 'direct':
      return <p>The flow was called directly in a script, not through a deployment.</p>;
  }
}

export function RunPage({ id = '' }: { id?: string }) {
  const run = useResource(() => get<FlowRunDetail>(`/api/flow-runs/${id}`), id, { topics: [`flow-run:${id}`] });
  // Refetched with the run: the triggering event and the firing may be recorded a moment after the run.
  const cause = useResource(() => get<RunCause>(`/api/flow-runs/${id}/cause`), id, { topics: [`flow-run:${id}`] });
  const depId = run.data?.deployment_id ?? '';
  const deployment = useResource(() => (depId ? get<{ name: string }>(`/api/deployments/${depId}`) : Promise.resolve(undefined)), depId);
  const r = run.data;
  if (!r) return run.error ? <ErrorBox error={run.error} /> : <Loading what="run" />;
  const running = !TERMINAL.has(r.state.type);
  const taskNames = new Map(r.task_runs.map((t) => [t.id, t.dynamic_key]));
  return (
    <>
      <div class="page-head">
        <h1>
          <span class="muted">Run</span> {r.name}
        </h1>
        <span class="big-state" aria-live="polite">
          <StateBadge type={r.state.type} name={r.state.name} />
        </span>
      </div>
      {r.state.message && !sameAsError(r.state.message, r.state.error) && <p class="state-message">{r.state.message}</p>}
      {r.state.error && <RunErrorView error={r.state.error} label="Error of the current state" />}
      <RunActions run={r} onChange={run.reload} />
      <ErrorBox error={run.error} />
      <ResumePanel run={r} onChange={run.reload} />
      <div class="grid2">
        <Section title="Details">
          <Kv
            rows={[
              ['Flow', r.flow_name],
              ['Deployment', r.deployment_id ? <a href={`/deployments/${r.deployment_id}`}>{deployment.data?.name ?? r.deployment_id}</a> : '—'],
              ['Work pool', r.work_pool ? <a href={`/work-pools#pool-${r.work_pool}`}>{r.work_pool}</a> : '—'],
              ['Parent run', r.parent_flow_run_id ? <a href={`/runs/${r.parent_flow_run_id}`}>{r.parent_flow_run_id}</a> : '—'],
              ['Created', <Time iso={r.created} />],
              ['Started', <Time iso={r.start_time} />],
              ['Ended', <Time iso={r.end_time} />],
              ['Run time', duration(r.total_run_time_seconds)],
              ['Attempts', String(r.run_count)],
              ['Tags', r.tags.length ? r.tags.join(', ') : '—'],
              ['Id', <code>{r.id}</code>],
            ]}
          />
        </Section>
        <Section title="What caused it">
          <ErrorBox error={cause.error} />
          <Cause cause={cause.data} />
        </Section>
      </div>
      <Section title="Task runs">
        {r.task_runs.length === 0 ? <Empty>No task runs{running ? ' yet' : ''}.</Empty> : <TaskTimeline tasks={r.task_runs} flowStart={r.start_time} flowEnd={r.end_time} />}
      </Section>
      <Section title="Logs">
        <Logs runId={r.id} running={running} taskNames={taskNames} />
      </Section>
      <div class="grid2">
        <Section title="Parameters">
          <Json value={r.parameters} label="Parameters" />
        </Section>
        <Section title="Result">{r.result === null || r.result === undefined ? <Empty>No result{running ? ' yet' : ''}.</Empty> : <Json value={r.result} label="Result" />}</Section>
      </div>
      <Section title="Artifacts">
        <div data-slot="artifacts">
          <RunArtifacts runId={r.id} topics={[`flow-run:${id}`]} />
        </div>
      </Section>
      <Section title="State history">
        <table>
          <caption class="sr-only">State history, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">State</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {r.state_history.map((s, i) => (
              <tr key={i}>
                <td>
                  <Time iso={s.timestamp} />
                </td>
                <td>
                  <StateBadge type={s.type} name={s.name} />
                </td>
                <td>
                  {s.message && !sameAsError(s.message, s.error) ? s.message : ''}
                  {s.error && <RunErrorView error={s.error} label={`Error of state ${s.name}`} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}
