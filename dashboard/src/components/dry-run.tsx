import { StatusBadge } from './state.tsx';
import { Empty, Json } from './ui.tsx';

export interface DryRunResult {
  firings: Array<Record<string, unknown> & { actions?: Array<{ type: string; status: string; reason?: string; rendered?: unknown }> }>;
  buckets: Array<{ trigger_path: string; key: string; labels: Record<string, string>; fired: boolean; firings: number; count: number; reason: string }>;
  events_evaluated: number;
  truncated: boolean;
}

/** What a dry run or backtest answered: every bucket with why it did or did not fire, and the firings. */
export function DryRunView({ result }: { result: DryRunResult }) {
  return (
    <div class="dry-run" aria-live="polite">
      <p>
        {result.events_evaluated} events evaluated, {result.firings.length} firing{result.firings.length === 1 ? '' : 's'}
        {result.truncated ? ' (truncated at 1,000)' : ''}.
      </p>
      <h3>Buckets</h3>
      {result.buckets.length === 0 ? (
        <Empty>No bucket was opened: no event matched the trigger's filters.</Empty>
      ) : (
        <table>
          <caption class="sr-only">Buckets and why each fired or not</caption>
          <thead>
            <tr>
              <th scope="col">Trigger</th>
              <th scope="col">Bucket</th>
              <th scope="col">Fired</th>
              <th scope="col">Count</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {result.buckets.map((b) => (
              <tr key={b.trigger_path + b.key}>
                <td>
                  <code>{b.trigger_path}</code>
                </td>
                <td>
                  <code>{b.key || '(single)'}</code>
                </td>
                <td>{b.fired ? <StatusBadge status="executed" /> : <span class="badge st-pending">✕ no</span>}</td>
                <td>{b.count}</td>
                <td class="reason">{b.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Firings</h3>
      {result.firings.length === 0 ? (
        <Empty>It would not fire.</Empty>
      ) : (
        <ol>
          {result.firings.map((f, i) => (
            <li key={i}>
              <span>
                {String(f.state ?? 'triggered')} at {String(f.fired_at ?? '')} (bucket <code>{String(f.bucket_key ?? f.key ?? '')}</code>)
              </span>
              <ul>
                {(f.actions ?? []).map((a, j) => (
                  <li key={j}>
                    <StatusBadge status={a.status} /> {a.type} {a.reason && <span class="muted">— {a.reason}</span>}
                    {a.rendered !== undefined && <Json value={a.rendered} label={`What action ${j + 1} would send`} />}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
