// Left-to-right layered layout (elkjs "layered"): edges point downstream, so datasets
// come before the runs that read them, runs before the versions they made, versions
// before the services that serve them.
import ELK from "elkjs/lib/elk.bundled.js";
import type { Graph, GNode } from "./graph";

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 54;

export interface Position {
  x: number;
  y: number;
}

const elk = new ELK();

/** A node's height: taller when it lists column lineage. */
export function nodeHeight(node: GNode): number {
  return NODE_HEIGHT + Math.min(node.columns?.length ?? 0, 6) * 14;
}

export async function layout(graph: Graph): Promise<Map<string, Position>> {
  const result = await elk.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "elk.spacing.nodeNode": "24",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
    },
    children: [...graph.nodes.values()].map((n) => ({
      id: n.id,
      width: NODE_WIDTH,
      height: nodeHeight(n),
    })),
    edges: [...graph.edges.values()]
      .filter((e) => graph.nodes.has(e.source) && graph.nodes.has(e.target))
      .map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions = new Map<string, Position>();
  for (const child of result.children ?? []) {
    positions.set(child.id, { x: child.x ?? 0, y: child.y ?? 0 });
  }
  return positions;
}
