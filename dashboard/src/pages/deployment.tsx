import { useState } from 'preact/hooks';
import { ApiError, get, post, type FieldIssue, type Page } from '../api.ts';
import { ParamForm } from '../components/param-form.tsx';
import { StateBadge } from '../components/state.tsx';
import { Empty, ErrorBox, Json, Kv, Loading, Section, Time } from '../components/ui.tsx';
import { rangeBounds } from '../format.ts';
import { useResource } from '../hooks.ts';
import { navigate } from '../router.ts';
import { describeConcurrency, describeSla } from '../describe.ts';
import type { Deployment, DeploymentPlan as Plan, RunRow, StoredEvent } from '../types.ts';

/** The newest SLA event per declared SLA: violated since when, or met. */
function slaStatus(events: StoredEvent[] | undefined, index: number): { violated: boolean; since?: string; detail?: string } | null {
  const latest = events?.find((e) => (e.payload as { sla_index?: number }).sla_index === index);
  if (!latest) return null;
  const p = latest.payload as { since?: string; detail?: string };
  return latest.event === 'reflex.sla.violated' ? { violated: true, since: p.since, detail: p.detail } : { violated: false };
}

/** A deployment: schedules with the next planned runs, recent runs, pause/resume, a generated run form. */
export function DeploymentPage({ id = '' }: { id?: string }) {
  const dep = useResource(() => get<Deployment>(`/api/deployments/${id}`), id);
  const plan = useResource(() => get<Plan>(`/api/deployments/${id}/plan`, { count: 5 }), id, { topics: ['deployments'] });
  const runs = useResource(() => get<Page<RunRow>>('/api/flow-runs/search', { deployment_id: id, ...rangeBounds('30d'), limit: 10 }), id, { topics: ['flow-runs'] });
  const slaEvents = useResource(
    () => post<Page<StoredEvent>>('/api/events/filter', { event: ['reflex.sla.violated', 'reflex.sla.resolved'], resource_id: `reflex.deployment.${id}`, limit: 100 }),
    id,
    // Polled: the events topic of the live stream carries every event, too much for one deployment's SLAs.
    { pollMs: 5000 },
  );
  const [issues, setIssues] = useState<FieldIssue[]>([]);
  const [error, setError] = useState<Error>();
  const d = dep.data;
  if (!d) return dep.error ? <ErrorBox error={dep.error} /> : <Loading what="deployment" />;
  const run = async (parameters: Record<string, unknown>) => {
    setError(undefined);
    try {
      const created = await post<{ id: string }>(`/api/deployments/${d.id}/runs`, { parameters });
      navigate(`/runs/${created.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.issues.some((i) => i.path.startsWith('parameters'))) setIssues(err.issues);
      else setError(err as Error);
    }
  };
  const togglePause = async () => {
    try {
      await post(`/api/deployments/${d.id}/${d.paused ? 'resume' : 'pause'}`);
      dep.reload();
      plan.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <div class="page-head">
        <h1>
          <span class="muted">Deployment</span> {d.name}
        </h1>
        {d.paused ? <span class="badge st-paused">‖ Paused</span> : <span class="badge st-completed">✓ Active</span>}
        <button type="button" onClick={togglePause}>
          {d.paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <ErrorBox error={error} />
      <div class="grid2">
        <Section title="Details">
          <Kv
            rows={[
              ['Flow', d.flow],
              ['Work pool', <a href={`/work-pools#pool-${d.work_pool}`}>{d.work_pool}</a>],
              ['Concurrency limit', d.concurrency_limit === null ? 'none' : String(d.concurrency_limit)],
              ['Tags', d.tags.join(', ') || '—'],
              ['Description', d.description ?? '—'],
            ]}
          />
          <h3>Default parameters</h3>
          <Json value={d.parameters} label="Default parameters" />
        </Section>
        <Section title="Run">
          <ParamForm schema={d.parameter_schema as never} defaults={d.parameters} onSubmit={run} serverIssues={issues} />
        </Section>
      </div>
      <Section title="Run control">
        <Kv
          rows={[
            ['Priority', `${d.priority}${d.priority === 0 ? ' (default)' : ''}: higher runs first within work pool ${d.work_pool}`],
            ['Concurrency key', describeConcurrency(d.concurrency, d.concurrency_limit) ?? 'none'],
          ]}
        />
        <h3>Service levels</h3>
        {d.slas.length === 0 ? (
          <Empty>No SLAs declared.</Empty>
        ) : (
          <ul class="plain slas">
            {d.slas.map((sla, i) => {
              const st = slaStatus(slaEvents.data?.items, i);
              return (
                <li key={i} data-sla-index={i}>
                  {st === null ? <span class="badge st-scheduled">no verdict yet</span> : st.violated ? <span class="badge st-failed">✗ Violated</span> : <span class="badge st-completed">✓ Met</span>}{' '}
                  {describeSla(sla)}
                  {st?.violated && (
                    <span class="muted">
                      {' '}since <Time iso={st.since ?? ''} />
                      {st.detail ? ` — ${st.detail}` : ''}
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </Section>
      <Section title="Schedules">
        {!plan.data ? (
          <Loading what="schedules" />
        ) : plan.data.schedules.length === 0 ? (
          <Empty>No schedules: runs start only when asked for.</Empty>
        ) : (
          <ul class="plain">
            {plan.data.schedules.map((s) => (
              <li key={s.index}>
                <code>{s.description}</code> {s.active ? '' : '(inactive)'} — next:{' '}
                {s.next.length ? s.next.map((t, i) => <span key={t}>{i > 0 && ', '}<Time iso={t} /></span>) : d.paused ? 'none while paused' : 'none'}
              </li>
            ))}
          </ul>
        )}
        {plan.data && plan.data.scheduled_runs.length > 0 && (
          <>
            <h3>Runs waiting to start</h3>
            <ul class="plain">
              {plan.data.scheduled_runs.map((r) => (
                <li key={r.id}>
                  <StateBadge type="SCHEDULED" name={r.state_name} /> <a href={`/runs/${r.id}`}>{r.name}</a> at <Time iso={r.scheduled_time} />
                </li>
              ))}
            </ul>
          </>
        )}
      </Section>
      <Section title="Recent runs" actions={<a href={`/runs?deployment_id=${d.id}&range=30d`}>All runs</a>}>
        {!runs.data ? (
          <Loading what="runs" />
        ) : runs.data.items.length === 0 ? (
          <Empty>No runs in the last 30 days.</Empty>
        ) : (
          <ul class="plain">
            {runs.data.items.map((r) => (
              <li key={r.id}>
                <StateBadge type={r.state.type} name={r.state.name} /> <a href={`/runs/${r.id}`}>{r.name}</a> <Time iso={r.created} />
              </li>
            ))}
          </ul>
        )}
      </Section>
    </>
  );
}
