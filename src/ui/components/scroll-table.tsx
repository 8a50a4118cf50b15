import type { ComponentChildren } from 'preact';

export interface ScrollTableProps {
  /** The region's accessible name: what a screen reader announces before the table. */
  label: string;
  /** The column headings, in order. */
  columns: readonly string[];
  /** The rows (`<tr>`s), inside the table's body. */
  children: ComponentChildren;
  /** Extra classes beside `table` (a page's own column widths). */
  tableClass?: string;
  id?: string;
  describedBy?: string;
  caption?: ComponentChildren;
}

/**
 * A data table in a region that scrolls sideways on narrow screens. The region is focusable so a
 * keyboard can scroll it, and every heading is a column header: one place for what each of the
 * dashboard's wide tables needs to stay usable and readable by assistive technology.
 */
export function ScrollTable(props: ScrollTableProps) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={props.label}>
      <table id={props.id} class={props.tableClass ? `table ${props.tableClass}` : 'table'} aria-describedby={props.describedBy}>
        {props.caption !== undefined ? <caption class="sr-only">{props.caption}</caption> : null}
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
