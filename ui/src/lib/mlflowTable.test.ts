import { describe, expect, it } from "vitest";
import { cellText, parseMlflowTable } from "./mlflowTable";

describe("parseMlflowTable", () => {
  it("reads the layout mlflow.log_table writes", () => {
    const text = JSON.stringify({ columns: ["epoch", "label"], data: [[1, "a"], [2, "b"]] });
    expect(parseMlflowTable(text)).toEqual({ columns: ["epoch", "label"], rows: [[1, "a"], [2, "b"]] });
  });
  it("keeps a table with no rows and numeric column labels", () => {
    expect(parseMlflowTable('{"columns": [0, 1], "data": []}')).toEqual({ columns: ["0", "1"], rows: [] });
  });
  it("refuses other JSON, so it is shown as text", () => {
    for (const other of [
      '{"best_acc": 0.93, "epochs": 12}',
      '{"columns": ["a"]}',
      '{"data": [[1]]}',
      '{"columns": [], "data": []}',
      '{"columns": "a", "data": [[1]]}',
      '{"columns": [{"name": "a"}], "data": [[1]]}',
      '{"columns": ["a", "b"], "data": [[1]]}',
      '{"columns": ["a"], "data": [1, 2]}',
      '[["a"], [1]]',
      "null",
      "42",
    ])
      expect(parseMlflowTable(other)).toBeNull();
  });
  it("refuses invalid or cut-off JSON", () => {
    expect(parseMlflowTable('{"columns": ["a"], "data": [[1], [2')).toBeNull();
    expect(parseMlflowTable("")).toBeNull();
  });
});

describe("cellText", () => {
  it("shows strings bare and everything else as JSON", () => {
    expect(cellText("a<b>")).toBe("a<b>");
    expect(cellText(1.5)).toBe("1.5");
    expect(cellText(true)).toBe("true");
    expect(cellText(null)).toBe("null");
    expect(cellText({ type: "image", filepath: "x.png" })).toBe('{"type":"image","filepath":"x.png"}');
  });
});
