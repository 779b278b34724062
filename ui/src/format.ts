// Formatting helpers shared by the pages (unit-tested in format.test.ts).
import type { CombinedError } from "urql";

export interface ErrorLine {
  code: string | null;
  message: string;
}

/** An API error as lines a person can read, each with its `extensions.code`. */
export function errorLines(error: CombinedError): ErrorLine[] {
  if (error.graphQLErrors.length > 0) {
    return error.graphQLErrors.map((e) => ({
      code: typeof e.extensions?.code === "string" ? e.extensions.code : null,
      message: e.message,
    }));
  }
  const status = (error.response as Response | undefined)?.status;
  if (status === 401) {
    return [{ code: "UNAUTHENTICATED", message: "the server needs a credential" }];
  }
  return [{ code: null, message: error.networkError?.message ?? error.message }];
}

/** A timestamp as `2026-11-30 13:24:05` in the viewer's time zone; empty for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
    `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`
  );
}

/** `MODEL_VERSION` -> `model version`. */
export function kindLabel(kind: string): string {
  return kind.toLowerCase().replace(/_/g, " ");
}

/** Where a node of this kind has its own page. */
export function pageOf(kind: string, id: string): string {
  switch (kind) {
    case "REGISTERED_MODEL":
      return `/models/${id}`;
    case "MODEL_VERSION":
      return `/versions/${id}`;
    case "EXPERIMENT":
      return `/experiments/${id}`;
    case "EXPERIMENT_RUN":
      return `/runs/${id}`;
    default:
      return `/lineage/${id}`;
  }
}

export type Cell = string | number | null | undefined;

/** Compares table cells: numbers (and numeric text) by value, text naturally, blanks last. */
export function compareCells(a: Cell, b: Cell): number {
  const blank = (v: Cell) => v === null || v === undefined || v === "";
  if (blank(a) || blank(b)) return blank(a) === blank(b) ? 0 : blank(a) ? 1 : -1;
  const na = typeof a === "number" ? a : Number(a);
  const nb = typeof b === "number" ? b : Number(b);
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Rows sorted by one column, stably, ascending or descending (blanks stay last). */
export function sortRows<T>(rows: readonly T[], cell: (row: T) => Cell, descending: boolean): T[] {
  return rows
    .map((row, i) => ({ row, i }))
    .sort((x, y) => {
      const a = cell(x.row);
      const b = cell(y.row);
      const blankA = a === null || a === undefined || a === "";
      const blankB = b === null || b === undefined || b === "";
      if (blankA || blankB) return blankA === blankB ? x.i - y.i : blankA ? 1 : -1;
      const c = compareCells(a, b);
      return (descending ? -c : c) || x.i - y.i;
    })
    .map((x) => x.row);
}

/** A metric's value, shown with at most four significant decimals. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}

/** Custom properties as sorted `[key, text]` pairs. */
export function propertyPairs(props: unknown): [string, string][] {
  if (!props || typeof props !== "object") return [];
  return Object.entries(props as Record<string, unknown>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]);
}
