import type { RunHistory } from '../types.ts';
import { STATE_TYPES, StateBadge, stateClass } from './state.tsx';

type HistoryBucket = RunHistory['buckets'][number];

/**
 * Run activity as stacked bars, one per time bucket, coloured per state. Colour is not the only cue:
 * every bar has a title listing its counts by state, and the totals beside the chart carry icon + label.
 */
export function ActivityChart({ buckets }: { buckets: HistoryBucket[] }) {
  const max = Math.max(1, ...buckets.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0)));
  const w = 800;
  const h = 160;
  const bw = w / Math.max(1, buckets.length);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label="Flow runs per time bucket, stacked by state" preserveAspectRatio="none">
        {buckets.map((b, i) => {
          let y = h;
          const total = Object.values(b.counts).reduce((a, n) => a + n, 0);
          const label = `${new Date(b.start).toLocaleString()}: ${total} runs${total ? ' — ' : ''}${Object.entries(b.counts).map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}`;
          return (
            <g key={b.start}>
              <title>{label}</title>
              <rect x={i * bw} y={0} width={bw} height={h} class="bar-bg" />
              {STATE_TYPES.filter((s) => b.counts[s]).map((s) => {
                const bh = ((b.counts[s] ?? 0) / max) * (h - 4);
                y -= bh;
                return <rect key={s} x={i * bw + 1} y={y} width={Math.max(1, bw - 2)} height={bh} class={`bar ${stateClass(s)}`} />;
              })}
            </g>
          );
        })}
      </svg>
      <figcaption class="muted small">
        {buckets.length > 0 && `${new Date(buckets[0].start).toLocaleString()} — ${new Date(buckets[buckets.length - 1].end).toLocaleString()} · tallest bar ${max} runs · hover a bar for its counts`}
      </figcaption>
    </figure>
  );
}

export function StateCounts({ totals, late }: { totals: RunHistory['totals']; late: number }) {
  return (
    <ul class="counts" aria-label="Runs by state">
      {STATE_TYPES.map((s) => (
        <li key={s}>
          <a href={`/runs?state=${s}`}>
            <StateBadge type={s} /> <strong>{totals[s] ?? 0}</strong>
          </a>
        </li>
      ))}
      <li>
        <a href="/runs?state=Late">
          <StateBadge type="SCHEDULED" name="Late" /> <strong>{late}</strong>
        </a>
      </li>
    </ul>
  );
}
