/** A validation error or warning that names the field to fix. */
import type { FieldError } from '../types';

export function FieldProblem({ error, warning }: { error: FieldError; warning?: boolean }) {
  return (
    <p class={warning ? 'warning' : 'problem'} role={warning ? undefined : 'alert'} data-testid={warning ? 'field-warning' : 'field-error'}>
      <span class="visually-hidden">{warning ? 'Warning' : 'Error'} in field </span>
      {error.field ? (
        <code class="field" data-testid="field-name">
          {error.field}
        </code>
      ) : null}{' '}
      {error.message}
    </p>
  );
}
