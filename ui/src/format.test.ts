import { describe, expect, it } from "vitest";
import { compareCells, formatNumber, kindLabel, pageOf, propertyPairs, sortRows } from "./format";

describe("formatting", () => {
  it("labels kinds and links them to their pages", () => {
    expect(kindLabel("MODEL_VERSION")).toBe("model version");
    expect(pageOf("MODEL_VERSION", "7")).toBe("/versions/7");
    expect(pageOf("DATASET", "3")).toBe("/lineage/3");
  });

  it("shows numbers briefly", () => {
    expect(formatNumber(0.912345678)).toBe("0.912346");
    expect(formatNumber(42)).toBe("42");
    expect(formatNumber(null)).toBe("");
  });

  it("lists properties sorted, values as text", () => {
    expect(propertyPairs({ b: 1, a: "x", c: { d: true } })).toEqual([
      ["a", "x"],
      ["b", "1"],
      ["c", '{"d":true}'],
    ]);
    expect(propertyPairs(null)).toEqual([]);
  });
});

describe("sorting table cells", () => {
  it("compares numbers by value, even as text", () => {
    expect(compareCells("10", "9")).toBeGreaterThan(0);
    expect(compareCells(0.5, 0.25)).toBeGreaterThan(0);
    expect(compareCells("run-2", "run-10")).toBeLessThan(0);
  });

  it("keeps blanks last both ways and is stable", () => {
    const rows = [
      { n: "a", v: 2 },
      { n: "b", v: null },
      { n: "c", v: 1 },
      { n: "d", v: 2 },
    ];
    expect(sortRows(rows, (r) => r.v, false).map((r) => r.n)).toEqual(["c", "a", "d", "b"]);
    expect(sortRows(rows, (r) => r.v, true).map((r) => r.n)).toEqual(["a", "d", "c", "b"]);
  });
});
