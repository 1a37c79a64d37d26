/**
 * A run's state as an icon, a label and a colour together: never the colour alone (accessibility), and
 * the icon is decorative because the label says it.
 */
const ICONS: Record<string, string> = {
  COMPLETED: '✓',
  FAILED: '✕',
  CRASHED: '!',
  RUNNING: '▶',
  PENDING: '…',
  SCHEDULED: '◷',
  LATE: '⚠',
  CANCELLING: '⊘',
  CANCELLED: '⊘',
  PAUSED: '‖',
};

export const STATE_TYPES = ['SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CRASHED', 'CANCELLING', 'CANCELLED', 'PAUSED'] as const;

export function stateClass(type: string, name?: string): string {
  return name === 'Late' ? 'st-late' : `st-${type.toLowerCase()}`;
}

export function StateBadge({ type, name }: { type: string; name?: string }) {
  const label = name && name.toUpperCase() !== type ? name : (name ?? type.charAt(0) + type.slice(1).toLowerCase());
  return (
    <span class={`badge ${stateClass(type, name)}`}>
      <span aria-hidden="true" class="icon">
        {ICONS[name === 'Late' ? 'LATE' : type] ?? '•'}
      </span>
      {label}
    </span>
  );
}

const STATUS_ICONS: Record<string, string> = { succeeded: '✓', executed: '✓', failed: '✕', retrying: '↻', pending: '…', 'would-run': '→' };
const STATUS_CLASS: Record<string, string> = { succeeded: 'st-completed', executed: 'st-completed', failed: 'st-failed', retrying: 'st-late', pending: 'st-pending', 'would-run': 'st-running' };

/** A delivery or action status, shown the same way as a state. */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`badge ${STATUS_CLASS[status] ?? 'st-pending'}`}>
      <span aria-hidden="true" class="icon">
        {STATUS_ICONS[status] ?? '•'}
      </span>
      {status}
    </span>
  );
}
