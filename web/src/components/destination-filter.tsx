/** The "Destination: All / …" filter the list pages share. */
import type { AdminConfig } from '../types';

export function DestinationFilter({
  config,
  value,
  onChange,
  testId,
}: {
  config: AdminConfig;
  value: string;
  onChange: (name: string) => void;
  testId?: string;
}) {
  return (
    <label>
      Destination
      <select value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)} data-testid={testId}>
        <option value="">All</option>
        {config.destinations.map((d) => (
          <option key={d.name}>{d.name}</option>
        ))}
      </select>
    </label>
  );
}
