/** A table as `mlflow.log_table` writes it: pandas' "split" layout without the index,
 * `{"columns": [...], "data": [[...], ...]}`, one value per column in every row. */
export interface MlflowTable {
  columns: string[];
  rows: unknown[][];
}

/** The table in `text`, or null for anything else (other JSON, invalid or cut-off JSON) so the
 * caller can fall back to showing the text. */
export function parseMlflowTable(text: string): MlflowTable | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { columns, data } = value as { columns?: unknown; data?: unknown };
  if (!Array.isArray(columns) || !columns.length || !Array.isArray(data)) return null;
  // pandas keeps non-string column labels (0, 1, ...) as JSON numbers
  if (!columns.every((c) => typeof c === "string" || typeof c === "number")) return null;
  if (!data.every((row) => Array.isArray(row) && row.length === columns.length)) return null;
  return { columns: columns.map(String), rows: data as unknown[][] };
}

/** A cell as text: strings as they are (no quotes), anything else (numbers, null, nested
 * objects such as MLflow's image cells) as JSON. */
export function cellText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? "";
}
