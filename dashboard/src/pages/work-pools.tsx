import { useState } from 'preact/hooks';
import { get, post, type Page } from '../api.ts';
import { Empty, ErrorBox, Loading, Section, Time } from '../components/ui.tsx';
import { useResource } from '../hooks.ts';
import type { PoolStatus } from '../types.ts';

/** Work pools: workers seen, limits, paused flags and the queue's counts (polled: queues emit no events). */
export function WorkPoolsPage() {
  const pools = useResource(() => get<Page<PoolStatus>>('/api/work-pool-status'), 'pools', { pollMs: 3000, topics: ['flow-runs'] });
  const [error, setError] = useState<Error>();
  const toggle = async (p: PoolStatus) => {
    try {
      await post(`/api/work-pools/${p.name}/${p.paused ? 'resume' : 'pause'}`);
      pools.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <h1>Work pools</h1>
      <ErrorBox error={error ?? pools.error} />
      {!pools.data ? (
        <Loading what="work pools" />
      ) : pools.data.items.length === 0 ? (
        <Empty>No work pools yet: one is created when a deployment or a worker first names it.</Empty>
      ) : (
        pools.data.items.map((p) => (
          <Section
            key={p.name}
            title={`Pool ${p.name}`}
            actions={
              <button type="button" onClick={() => toggle(p)}>
                {p.paused ? 'Resume pool' : 'Pause pool'}
              </button>
            }
          >
            <div id={`pool-${p.name}`} class="stats">
              <span>{p.paused ? <span class="badge st-paused">‖ Paused</span> : <span class="badge st-completed">✓ Accepting runs</span>}</span>
              <span>Concurrency limit: {p.concurrency_limit ?? 'none'}</span>
              <span>Waiting: {p.queue.waiting + p.queue.prioritized}</span>
              <span>Active: {p.queue.active}</span>
              <span>Delayed: {p.queue.delayed}</span>
              <span>Failed jobs: {p.queue.failed}</span>
              <span>Runs pending/running/late: {p.runs.pending}/{p.runs.running}/{p.runs.late}</span>
            </div>
            {p.workers.length === 0 ? (
              <Empty>No worker seen in the last day. Start one: npx reflex worker start --pool {p.name}</Empty>
            ) : (
              <table>
                <caption class="sr-only">Workers of {p.name}</caption>
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">Status</th>
                    <th scope="col">Host / pid</th>
                    <th scope="col">Concurrency</th>
                    <th scope="col">Started</th>
                    <th scope="col">Last heartbeat</th>
                  </tr>
                </thead>
                <tbody>
                  {p.workers.map((w) => (
                    <tr key={w.id}>
                      <td>
                        <code>{w.id.slice(0, 8)}</code>
                      </td>
                      <td>{w.online ? <span class="badge st-completed">● Online</span> : <span class="badge st-crashed">○ Offline</span>}</td>
                      <td>
                        {w.hostname} / {w.pid}
                      </td>
                      <td>{w.concurrency}</td>
                      <td>
                        <Time iso={w.started} />
                      </td>
                      <td>
                        <Time iso={w.last_heartbeat} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Section>
        ))
      )}
    </>
  );
}
