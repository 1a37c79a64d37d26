import { useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { RangePicker } from '../components/range.tsx';
import { Empty, ErrorBox, Loading, Time } from '../components/ui.tsx';
import { rangeBounds } from '../format.ts';
import { useResource } from '../hooks.ts';
import { queryParams, setQuery } from '../router.ts';
import type { AutomationSummary } from '../types.ts';

export function AutomationsPage() {
  const range = queryParams().range ?? '24h';
  const list = useResource(() => get<{ items: AutomationSummary[] }>('/api/automations/summary', rangeBounds(range)), range, { topics: ['automations'] });
  const [error, setError] = useState<Error>();
  const toggle = async (a: AutomationSummary) => {
    setError(undefined);
    try {
      await api('PATCH', `/api/automations/${a.id}`, { enabled: !a.enabled });
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <div class="page-head">
        <h1>Automations</h1>
        <RangePicker value={range} onChange={(v) => setQuery({ range: v })} />
        <a class="button primary" href="/automations/new">
          New automation
        </a>
      </div>
      <ErrorBox error={error ?? list.error} />
      {!list.data ? (
        <Loading what="automations" />
      ) : list.data.items.length === 0 ? (
        <Empty>No automations yet. Create one, or start from an event with “Automate this”.</Empty>
      ) : (
        <table>
          <caption class="sr-only">Automations by name</caption>
          <thead>
            <tr>
              <th scope="col">Enabled</th>
              <th scope="col">Name</th>
              <th scope="col">Trigger</th>
              <th scope="col">Actions</th>
              <th scope="col">Last firing</th>
              <th scope="col">Firings in range</th>
              <th scope="col">Failed actions</th>
              <th scope="col">Failed deliveries</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((a) => (
              <tr key={a.id}>
                <td>
                  <button type="button" role="switch" aria-checked={a.enabled} aria-label={`Enabled: ${a.name}`} class={`switch ${a.enabled ? 'on' : 'off'}`} onClick={() => toggle(a)}>
                    <span aria-hidden="true">{a.enabled ? 'On' : 'Off'}</span>
                  </button>
                </td>
                <td>
                  <a href={`/automations/${a.id}`}>{a.name}</a>
                </td>
                <td>{a.trigger_type}</td>
                <td>{a.action_types.join(', ')}</td>
                <td>
                  <Time iso={a.last_fired_at} />
                </td>
                <td>{a.firings}</td>
                <td>{a.failed_actions > 0 ? <strong class="text-failed">✕ {a.failed_actions}</strong> : '0'}</td>
                <td>
                  {a.failed_deliveries > 0 ? (
                    <a href={`/deliveries?automation_id=${a.id}&status=failed`} class="text-failed">
                      <strong>✕ {a.failed_deliveries}</strong>
                    </a>
                  ) : (
                    '0'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
