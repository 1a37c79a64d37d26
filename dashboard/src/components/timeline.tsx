import { StateBadge, stateClass } from './state.tsx';
import { duration } from '../format.ts';
import type { TaskRun } from '../types.ts';

/**
 * The task runs of a flow run as a timeline: one row per task, a bar from its start to its end (to now
 * while running), the state as icon + label beside it and retries spelled out. The bars are SVG
 * attributes, not inline styles, so the strict CSP holds.
 */
export function TaskTimeline({ tasks, flowStart, flowEnd }: { tasks: TaskRun[]; flowStart: string | null; flowEnd: string | null }) {
  const now = Date.now();
  const starts = tasks.map((t) => Date.parse(t.start_time ?? t.created));
  const t0 = Math.min(flowStart ? Date.parse(flowStart) : Infinity, ...starts);
  const t1 = Math.max(flowEnd ? Date.parse(flowEnd) : 0, ...tasks.map((t) => (t.end_time ? Date.parse(t.end_time) : now)), t0 + 1);
  const span = t1 - t0;
  return (
    <ol class="timeline" aria-label="Task runs in start order">
      {tasks.map((t) => {
        const s = Date.parse(t.start_time ?? t.created);
        const e = t.end_time ? Date.parse(t.end_time) : t.start_time ? now : s;
        const x = ((s - t0) / span) * 100;
        const w = Math.max(0.5, ((e - s) / span) * 100);
        const secs = t.start_time ? (e - s) / 1000 : null;
        return (
          <li key={t.id} class="tl-row" data-task={t.task_name}>
            <span class="tl-name" title={t.dynamic_key}>
              {t.dynamic_key}
            </span>
            <svg class="tl-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
              <rect x={x} y={1} width={w} height={8} rx={1} class={`bar ${stateClass(t.state.type, t.state.name)}`} />
            </svg>
            <span class="tl-state">
              <StateBadge type={t.state.type} name={t.state.name} />
              <span class="muted small">
                {' '}
                {duration(secs)}
                {t.run_count > 1 ? ` · ${t.run_count} attempts (${t.run_count - 1} ${t.run_count === 2 ? 'retry' : 'retries'})` : ''}
              </span>
            </span>
          </li>
        );
      })}
    </ol>
  );
}
