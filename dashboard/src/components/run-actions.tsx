import { useState } from 'preact/hooks';
import { post } from '../api.ts';
import { navigate } from '../router.ts';
import type { FlowRunDetail } from '../types.ts';
import { STATE_TYPES } from './state.tsx';
import { ErrorBox, Field } from './ui.tsx';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);

/** Cancel, retry as a new run with the same parameters (deployment runs only), and set state. */
export function RunActions({ run, onChange }: { run: FlowRunDetail; onChange: () => void }) {
  const [error, setError] = useState<Error>();
  const [status, setStatus] = useState<string>();
  const [open, setOpen] = useState(false);
  const [type, setType] = useState('COMPLETED');
  const [message, setMessage] = useState('');
  const [force, setForce] = useState(false);
  const act = async (what: string, fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      setStatus(what);
      onChange();
    } catch (err) {
      setError(err as Error);
    }
  };
  const retry = () =>
    act('A new run was created.', async () => {
      const created = await post<{ id: string }>(`/api/deployments/${run.deployment_id}/runs`, { parameters: run.parameters, tags: run.tags });
      navigate(`/runs/${created.id}`);
    });
  return (
    <div class="actions">
      <div class="toolbar">
        <button type="button" disabled={TERMINAL.has(run.state.type)} onClick={() => act('Cancellation requested.', () => post(`/api/flow-runs/${run.id}/cancel`, { message: 'Cancelled from the dashboard' }))}>
          Cancel run
        </button>
        <button type="button" disabled={!run.deployment_id} title={run.deployment_id ? undefined : 'Only runs of a deployment can be started again from here'} onClick={retry}>
          Retry as new run
        </button>
        <button type="button" aria-expanded={open} aria-controls="set-state" onClick={() => setOpen(!open)}>
          Set state…
        </button>
        <span role="status" class="muted">
          {status}
        </span>
      </div>
      {open && (
        <form
          id="set-state"
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            void act('State set.', () => post(`/api/flow-runs/${run.id}/set-state`, { state: { type, message: message || undefined }, force }));
          }}
        >
          <Field label="New state">
            <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
              {STATE_TYPES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Message">
            <input type="text" value={message} onInput={(e) => setMessage((e.target as HTMLInputElement).value)} />
          </Field>
          <label class="check">
            <input type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} /> Force (skip the transition rules)
          </label>
          <button type="submit" class="primary">
            Set state
          </button>
        </form>
      )}
      <ErrorBox error={error} />
    </div>
  );
}
