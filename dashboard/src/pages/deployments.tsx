import { get, type Page } from '../api.ts';
import { Empty, ErrorBox, Loading } from '../components/ui.tsx';
import { useResource } from '../hooks.ts';
import type { Deployment } from '../types.ts';

export function DeploymentsPage() {
  const list = useResource(() => get<Page<Deployment>>('/api/deployments', { limit: 500 }), 'deployments', { topics: ['deployments'] });
  return (
    <>
      <h1>Deployments</h1>
      <ErrorBox error={list.error} />
      {!list.data ? (
        <Loading what="deployments" />
      ) : list.data.items.length === 0 ? (
        <Empty>No deployments. `npx reflex deploy flows/deployments.json` creates the example one.</Empty>
      ) : (
        <table>
          <caption class="sr-only">Deployments by name</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Flow</th>
              <th scope="col">Work pool</th>
              <th scope="col">Schedules</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((d) => (
              <tr key={d.id}>
                <td>
                  <a href={`/deployments/${d.id}`}>{d.name}</a>
                </td>
                <td>{d.flow}</td>
                <td>{d.work_pool}</td>
                <td>{d.schedules.length}</td>
                <td>{d.paused ? <span class="badge st-paused">‖ Paused</span> : <span class="badge st-completed">✓ Active</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
