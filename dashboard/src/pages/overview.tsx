import { get, type Page } from '../api.ts';
import { ActivityChart, StateCounts } from '../components/chart.tsx';
import { RangePicker } from '../components/range.tsx';
import { StateBadge } from '../components/state.tsx';
import { Empty, ErrorBox, Loading, Section, Time } from '../components/ui.tsx';
import { rangeBounds } from '../format.ts';
import { useResource } from '../hooks.ts';
import { queryParams, setQuery } from '../router.ts';
import type { Overview, PoolStatus, RunHistory } from '../types.ts';

export function OverviewPage() {
  const range = queryParams().range ?? '24h';
  const history = useResource(() => get<RunHistory>('/api/flow-runs/history', { ...rangeBounds(range), buckets: 48 }), range, { topics: ['flow-runs'] });
  const overview = useResource(() => get<Overview>('/api/overview', rangeBounds(range)), range, { topics: ['flow-runs', 'automations', 'deliveries'] });
  const pools = useResource(() => get<Page<PoolStatus>>('/api/work-pool-status'), 'pools', { pollMs: 5000 });
  const o = overview.data;
  return (
    <>
      <div class="page-head">
        <h1>Overview</h1>
        <RangePicker value={range} onChange={(v) => setQuery({ range: v })} />
      </div>
      <Section title="Run activity">
        <ErrorBox error={history.error} />
        {history.data ? (
          <div class="activity">
            <ActivityChart buckets={history.data.buckets} />
            <StateCounts totals={history.data.totals} late={history.data.late} />
          </div>
        ) : (
          <Loading what="activity" />
        )}
      </Section>
      <div class="grid2">
        <Section title="Late runs">
          <ErrorBox error={overview.error} />
          {!o ? (
            <Loading what="late runs" />
          ) : o.late_runs.length === 0 ? (
            <Empty>No late runs in this range.</Empty>
          ) : (
            <ul class="plain">
              {o.late_runs.map((r) => (
                <li key={r.id}>
                  <StateBadge type={r.state.type} name={r.state.name} /> <a href={`/runs/${r.id}`}>{r.name}</a> <span class="muted">{r.flow_name}</span> expected <Time iso={r.expected_start_time} />
                </li>
              ))}
            </ul>
          )}
        </Section>
        <Section title="Work pools">
          <ErrorBox error={pools.error} />
          {!pools.data ? (
            <Loading what="work pools" />
          ) : pools.data.items.length === 0 ? (
            <Empty>No work pools yet.</Empty>
          ) : (
            <table>
              <caption class="sr-only">Work pool health</caption>
              <thead>
                <tr>
                  <th scope="col">Pool</th>
                  <th scope="col">Workers online</th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col">Queued</th>
                </tr>
              </thead>
              <tbody>
                {pools.data.items.map((p) => (
                  <tr key={p.name}>
                    <td>
                      <a href={`/work-pools#pool-${p.name}`}>{p.name}</a> {p.paused && <span class="tag">paused</span>}
                    </td>
                    <td>
                      {p.workers.filter((w) => w.online).length} / {p.workers.length}
                    </td>
                    <td>
                      <Time iso={p.workers[0]?.last_heartbeat} />
                    </td>
                    <td>{p.queue.waiting + p.queue.delayed + p.queue.prioritized}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Failing automations">
          {!o ? (
            <Loading what="automations" />
          ) : o.failing_automations.length === 0 ? (
            <Empty>No automation had a failed action or a failed delivery in this range.</Empty>
          ) : (
            <ul class="plain">
              {o.failing_automations.map((a) => (
                <li key={a.id}>
                  <a href={`/automations/${a.id}`}>{a.name}</a>: {a.failed_actions} failed actions in {a.firings} firings
                  {a.failed_deliveries > 0 && (
                    <>
                      , <a href={`/deliveries?automation_id=${a.id}&status=failed`}>{a.failed_deliveries} failed deliveries</a>
                    </>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Section>
        <Section title="Failing webhooks">
          {!o ? (
            <Loading what="webhooks" />
          ) : o.failing_receivers.length + o.failing_endpoints.length === 0 ? (
            <Empty>No failing webhook receivers or endpoints in this range.</Empty>
          ) : (
            <ul class="plain">
              {o.failing_receivers.map((r) => (
                <li key={r.host}>
                  Outgoing to <code>{r.host}</code>: {r.failed} failed, {r.retrying} retrying — <a href={`/deliveries?status=failed`}>deliveries</a>
                </li>
              ))}
              {o.failing_endpoints.map((e) => (
                <li key={e.id}>
                  Incoming endpoint <a href={`/deliveries?endpoint=${e.id}#incoming`}>{e.name}</a>: {e.failed} failed requests, last <Time iso={e.last} />
                </li>
              ))}
            </ul>
          )}
        </Section>
      </div>
    </>
  );
}
