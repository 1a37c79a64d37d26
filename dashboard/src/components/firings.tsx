import { get } from '../api.ts';
import { useResource } from '../hooks.ts';
import { describeFiringFlowControl } from '../describe.ts';
import type { Firing } from '../types.ts';
import { StatusBadge } from './state.tsx';
import { Empty, ErrorBox, Json, Loading, Time } from './ui.tsx';

/** Where an action's outcome leads: the run it created, the delivery it handed to the webhook service. */
function target(a: Firing['actions'][number]) {
  const d = a.detail ?? {};
  const runId = (d.result as { flow_run_id?: string } | undefined)?.flow_run_id;
  if (runId) return <a href={`/runs/${runId}`}>flow run {runId.slice(0, 8)}</a>;
  if (typeof d.delivery_id === 'string') return <a href={`/deliveries/${d.delivery_id}`}>delivery {d.delivery_id.slice(0, 8)}</a>;
  return null;
}

/** The firing history of an automation: each with its triggering event, bucket and every action's outcome. */
export function Firings({ automationId, highlight, since, until }: { automationId: string; highlight?: string; since: string; until: string }) {
  const firings = useResource(() => get<{ items: Firing[] }>('/api/automation-firings', { automation_id: automationId, since, until, limit: 50 }), `${automationId}|${since}`, {
    topics: [`automation:${automationId}`],
  });
  if (firings.error) return <ErrorBox error={firings.error} />;
  if (!firings.data) return <Loading what="firings" />;
  if (firings.data.items.length === 0) return <Empty>No firings in this range.</Empty>;
  return (
    <ol class="firings">
      {firings.data.items.map((f) => (
        <li key={f.id} id={`firing-${f.id}`} class={highlight === f.id ? 'highlight' : undefined} data-firing-id={f.id}>
          <div>
            <strong>{f.state}</strong> <Time iso={f.fired_at} /> · bucket <code>{f.bucket_key || '(single)'}</code> · count {f.count} · trigger <code>{f.trigger_path}</code>
          </div>
          <div>
            Triggering event:{' '}
            {f.triggering_event ? (
              <a href={`/events?id=${f.triggering_event.id}`}>
                {f.triggering_event.event} ({f.triggering_event.resource['reflex.resource.id']})
              </a>
            ) : (
              'none (proactive)'
            )}
          </div>
          {f.flow_control && <div class="flow-control">Flow control: {describeFiringFlowControl(f.flow_control)}</div>}
          <ul class="outcomes">
            {f.actions.map((a) => (
              <li key={a.index}>
                <StatusBadge status={a.status} /> {a.type} {target(a)} {a.reason && <span class="muted">— {a.reason}</span>}
              </li>
            ))}
          </ul>
          <details>
            <summary>Outcome details</summary>
            <Json value={f.actions} label="Action outcomes" />
          </details>
        </li>
      ))}
    </ol>
  );
}
