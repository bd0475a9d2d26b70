/** A captioned data table that scrolls on its own when wider than the page; `columns` are its header cells. */
import type { ComponentChildren } from 'preact';

export function Table({
  caption,
  columns,
  class: className,
  children,
}: {
  caption: string;
  columns: ComponentChildren[];
  class?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="table-wrap">
      <table class={className}>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
