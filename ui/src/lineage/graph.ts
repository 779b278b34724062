// The lineage graph the views draw: nodes and edges by id, built from walk results,
// merged as nodes are expanded, filtered by kind. Pure data: unit-tested.

export interface ColumnInput {
  namespace: string;
  name: string;
  field: string;
}

export interface ColumnLink {
  field: string;
  inputs: ColumnInput[];
}

export interface GNode {
  id: string;
  kind: string;
  name: string;
  createTime: string;
  /** Column lineage, for datasets that carry it. */
  columns?: ColumnLink[];
  /** Distance from the start (0 for a start node). */
  depth: number;
}

export interface GEdge {
  id: string;
  kind: string;
  source: string;
  target: string;
}

export interface Graph {
  nodes: Map<string, GNode>;
  edges: Map<string, GEdge>;
}

/** What a walk answers (the fields the views ask for). */
export interface WalkNode {
  id: string;
  kind: string;
  name: string;
  createTime: string;
  columnLineage?: ColumnLink[] | null;
}

export interface Walk {
  nodes: { depth: number; node: WalkNode }[];
  edges: { id: string; kind: string; source: { id: string }; target: { id: string } }[];
}

export function emptyGraph(): Graph {
  return { nodes: new Map(), edges: new Map() };
}

function toNode(n: WalkNode, depth: number): GNode {
  const node: GNode = { id: n.id, kind: n.kind, name: n.name, createTime: n.createTime, depth };
  if (n.columnLineage && n.columnLineage.length > 0) node.columns = n.columnLineage;
  return node;
}

/** The graph of one or more walks from `starts` (walks list no start nodes). */
export function fromWalks(starts: WalkNode[], walks: Walk[]): Graph {
  const graph = emptyGraph();
  for (const s of starts) graph.nodes.set(s.id, toNode(s, 0));
  for (const walk of walks) {
    for (const entry of walk.nodes) {
      const known = graph.nodes.get(entry.node.id);
      if (!known || known.depth > entry.depth) {
        graph.nodes.set(entry.node.id, toNode(entry.node, entry.depth));
      }
    }
    for (const e of walk.edges) {
      graph.edges.set(e.id, { id: e.id, kind: e.kind, source: e.source.id, target: e.target.id });
    }
  }
  return graph;
}

/** `base` with what `more` adds: nodes already drawn stay as they are. */
export function merge(base: Graph, more: Graph): Graph {
  const out: Graph = { nodes: new Map(base.nodes), edges: new Map(base.edges) };
  for (const [id, n] of more.nodes) {
    if (!out.nodes.has(id)) out.nodes.set(id, n);
  }
  for (const [id, e] of more.edges) out.edges.set(id, e);
  return out;
}

/** Only nodes of `kinds` (all when null), and the edges between those left. */
export function onlyKinds(graph: Graph, kinds: ReadonlySet<string> | null): Graph {
  if (!kinds) return graph;
  const nodes = new Map([...graph.nodes].filter(([, n]) => kinds.has(n.kind)));
  const edges = new Map(
    [...graph.edges].filter(([, e]) => nodes.has(e.source) && nodes.has(e.target)),
  );
  return { nodes, edges };
}

/** Nodes and edges of a path, to highlight. */
export function pathMembers(path: {
  nodes: { id: string }[];
  edges: { id: string }[];
}): Set<string> {
  return new Set([...path.nodes.map((n) => n.id), ...path.edges.map((e) => e.id)]);
}

/** Kinds present, in the order the layout reads left to right. */
export function kindsIn(graph: Graph): string[] {
  const order = [
    "DATASET",
    "EXPERIMENT",
    "EXPERIMENT_RUN",
    "METRIC",
    "PARAMETER",
    "MODEL_ARTIFACT",
    "DOC_ARTIFACT",
    "REGISTERED_MODEL",
    "MODEL_VERSION",
    "SERVING_ENVIRONMENT",
    "INFERENCE_SERVICE",
    "SERVE_MODEL",
  ];
  const present = new Set([...graph.nodes.values()].map((n) => n.kind));
  return [...order.filter((k) => present.has(k)), ...[...present].filter((k) => !order.includes(k))];
}
