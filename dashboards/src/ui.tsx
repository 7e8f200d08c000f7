import type { ComponentChildren } from 'preact';

/** A table head from its column labels. */
export function Head({ cols }: { cols: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (
          <th>{c}</th>
        ))}
      </tr>
    </thead>
  );
}

/**
 * A cell that carries its column's label: on a phone the table becomes one card per row and each
 * value shows its label beside it (styles.css), so no value stands there bare.
 */
export function Cell({
  label,
  children,
  class: cls,
}: {
  label: string;
  children?: ComponentChildren;
  class?: string;
}) {
  return (
    <td data-label={label} class={cls}>
      {children}
    </td>
  );
}

/** A person, device, site … by its name, with its id on hover (and the id alone when it has no name). */
export function Named({ id, name }: { id: string | null | undefined; name?: string | null }) {
  if (!id) return <>—</>;
  return (
    <span title={id} data-id={id}>
      {name || id}
    </span>
  );
}
