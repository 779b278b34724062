import { describe, expect, it } from "vitest";
import { fromWalks, kindsIn, merge, onlyKinds, pathMembers, type Walk, type WalkNode } from "./graph";
import { layout } from "./layout";

const node = (id: string, kind: string): WalkNode => ({
  id,
  kind,
  name: `n${id}`,
  createTime: "2026-11-30T00:00:00Z",
});

// dataset 1 -> run 2 -> version 3 -> service 4
const walk: Walk = {
  nodes: [
    { depth: 1, node: node("2", "EXPERIMENT_RUN") },
    { depth: 2, node: node("3", "MODEL_VERSION") },
    { depth: 3, node: node("4", "INFERENCE_SERVICE") },
  ],
  edges: [
    { id: "e1", kind: "INPUT", source: { id: "1" }, target: { id: "2" } },
    { id: "e2", kind: "OUTPUT", source: { id: "2" }, target: { id: "3" } },
    { id: "e3", kind: "DEPLOYED_AS", source: { id: "3" }, target: { id: "4" } },
  ],
};

describe("the lineage graph", () => {
  it("holds the start and what the walk reached", () => {
    const g = fromWalks([node("1", "DATASET")], [walk]);
    expect([...g.nodes.keys()].sort()).toEqual(["1", "2", "3", "4"]);
    expect(g.nodes.get("1")?.depth).toBe(0);
    expect(g.edges.size).toBe(3);
    expect(kindsIn(g)).toEqual(["DATASET", "EXPERIMENT_RUN", "MODEL_VERSION", "INFERENCE_SERVICE"]);
  });

  it("grows when a node is expanded, keeping what was drawn", () => {
    const g = fromWalks([node("1", "DATASET")], [walk]);
    const more = fromWalks(
      [node("3", "MODEL_VERSION")],
      [
        {
          nodes: [{ depth: 1, node: node("5", "MODEL_ARTIFACT") }],
          edges: [{ id: "e4", kind: "PART_OF", source: { id: "5" }, target: { id: "3" } }],
        },
      ],
    );
    const merged = merge(g, more);
    expect(merged.nodes.size).toBe(5);
    expect(merged.nodes.get("3")?.depth).toBe(2);
    expect(merged.edges.has("e4")).toBe(true);
    // the inputs are untouched
    expect(g.nodes.size).toBe(4);
  });

  it("filters by kind, dropping edges to what is hidden", () => {
    const g = onlyKinds(fromWalks([node("1", "DATASET")], [walk]), new Set(["DATASET", "EXPERIMENT_RUN"]));
    expect([...g.nodes.keys()].sort()).toEqual(["1", "2"]);
    expect([...g.edges.keys()]).toEqual(["e1"]);
  });

  it("keeps the column lineage datasets carry, and only theirs", () => {
    const clean: WalkNode = {
      ...node("9", "DATASET"),
      columnLineage: [{ field: "user_id", inputs: [{ namespace: "s3", name: "raw", field: "uid" }] }],
    };
    const g = fromWalks([node("1", "DATASET")], [{ nodes: [{ depth: 1, node: clean }], edges: [] }]);
    expect(g.nodes.get("9")?.columns?.[0]?.inputs[0]?.field).toBe("uid");
    expect(g.nodes.get("1")?.columns).toBeUndefined();
  });

  it("collects a path's members", () => {
    expect(pathMembers({ nodes: [{ id: "1" }, { id: "2" }], edges: [{ id: "e1" }] })).toEqual(
      new Set(["1", "2", "e1"]),
    );
  });

  it("lays the graph out left to right along its edges", async () => {
    const g = fromWalks([node("1", "DATASET")], [walk]);
    const pos = await layout(g);
    const x = (id: string) => pos.get(id)?.x ?? Number.NaN;
    expect(x("1")).toBeLessThan(x("2"));
    expect(x("2")).toBeLessThan(x("3"));
    expect(x("3")).toBeLessThan(x("4"));
  });

  it("lays out 500 nodes", async () => {
    const starts = [node("0", "DATASET")];
    const big: Walk = { nodes: [], edges: [] };
    for (let i = 1; i < 500; i++) {
      big.nodes.push({ depth: i % 10, node: node(String(i), i % 2 ? "EXPERIMENT_RUN" : "DATASET") });
      big.edges.push({ id: `e${i}`, kind: "INPUT", source: { id: String(Math.floor(i / 3)) }, target: { id: String(i) } });
    }
    const pos = await layout(fromWalks(starts, [big]));
    expect(pos.size).toBe(500);
  });
});
