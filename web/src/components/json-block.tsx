/** A JSON value, pretty-printed in a scrollable block. */
import { json } from '../format';

export function JsonBlock({ value, label, testid }: { value: unknown; label?: string; testid?: string }) {
  return (
    <figure class="json">
      {label ? <figcaption>{label}</figcaption> : null}
      <pre tabIndex={0} data-testid={testid}>
        {value === undefined ? '—' : json(value)}
      </pre>
    </figure>
  );
}
