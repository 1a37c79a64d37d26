import { RANGES } from '../format.ts';

/** The time range of a page, kept in the `range` query parameter. */
export function RangePicker({ value, onChange, id = 'range' }: { value: string; onChange: (v: string) => void; id?: string }) {
  return (
    <label class="field inline">
      <span class="field-label">Time range</span>
      <select id={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {Object.entries(RANGES).map(([k, r]) => (
          <option key={k} value={k}>
            {r.label}
          </option>
        ))}
      </select>
    </label>
  );
}
