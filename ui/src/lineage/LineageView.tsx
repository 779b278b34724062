// Draws a lineage graph left to right (React Flow, laid out by elkjs). Each node carries
// `data-node-id`, links to its page, and shows column lineage when it has some.
import {
  Background,
  Controls,
  type Edge,
  Handle,
  type Node,
  type NodeProps,
  Position as Side,
  ReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { createContext, useContext, useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { kindLabel, pageOf } from "../format";
import type { GNode, Graph } from "./graph";
import { layout, NODE_WIDTH, nodeHeight, type Position } from "./layout";

type CardData = { node: GNode };

/**
 * What is marked on the drawing (a path, picked nodes). Cards read it from here, not from
 * their node objects: React Flow forgets a node's measured size whenever it is handed a
 * new node object and hides the node until it measures it again, and a mark that changed
 * while a measurement was in flight could leave a node hidden for good. So node objects
 * change only with a new layout, which remounts the view anyway.
 */
const Marks = createContext<{ highlight?: ReadonlySet<string>; selected?: ReadonlySet<string> }>({});

function NodeCard({ data }: NodeProps<Node<CardData>>) {
  const { node } = data;
  const marks = useContext(Marks);
  const highlighted = marks.highlight?.has(node.id) ?? false;
  const selected = marks.selected?.has(node.id) ?? false;
  const classes = ["lineage-node", `kind-${node.kind.toLowerCase()}`];
  if (highlighted) classes.push("on-path");
  if (selected) classes.push("selected");
  return (
    <div
      className={classes.join(" ")}
      data-node-id={node.id}
      data-kind={node.kind}
      style={{ width: NODE_WIDTH, minHeight: nodeHeight(node) }}
      title={`${kindLabel(node.kind)} ${node.name} (id ${node.id})`}
    >
      <Handle type="target" position={Side.Left} />
      <div className="lineage-kind">{kindLabel(node.kind)}</div>
      <div className="lineage-name">
        <Link to={pageOf(node.kind, node.id)} onClick={(e) => e.stopPropagation()}>
          {node.name}
        </Link>
      </div>
      {node.columns && (
        <ul className="columns" data-testid="column-lineage">
          {node.columns.slice(0, 6).map((c) => (
            <li key={c.field}>
              {c.field} &larr; {c.inputs.map((i) => `${i.name}.${i.field}`).join(", ")}
            </li>
          ))}
        </ul>
      )}
      <Handle type="source" position={Side.Right} />
    </div>
  );
}

const nodeTypes = { card: NodeCard };

/** Layouts made so far: each gets the next number, its key (see below). */
let layoutsMade = 0;

export interface LineageViewProps {
  graph: Graph;
  /** Ids of nodes and edges to highlight (a path). */
  highlight?: ReadonlySet<string>;
  selected?: ReadonlySet<string>;
  onNodeClick?: (id: string) => void;
  height?: number;
}

export function LineageView({ graph, highlight, selected, onNodeClick, height = 520 }: LineageViewProps) {
  // the graph drawn and its positions change together: the previous drawing stays until
  // the next layout is ready
  const [laidOut, setLaidOut] = useState<{ graph: Graph; positions: Map<string, Position>; key: number } | null>(
    null,
  );
  useEffect(() => {
    let current = true;
    layout(graph).then((positions) => {
      if (current) setLaidOut({ graph, positions, key: ++layoutsMade });
    });
    return () => {
      current = false;
    };
  }, [graph]);

  const nodes: Node<CardData>[] = useMemo(
    () =>
      laidOut
        ? [...laidOut.graph.nodes.values()].map((n) => ({
            id: n.id,
            type: "card",
            position: laidOut.positions.get(n.id) ?? { x: 0, y: 0 },
            data: { node: n },
            draggable: false,
          }))
        : [],
    [laidOut],
  );
  const marks = useMemo(() => ({ highlight, selected }), [highlight, selected]);
  const edges: Edge[] = useMemo(() => {
    if (!laidOut) return [];
    const drawn = laidOut.graph;
    return [...drawn.edges.values()]
      .filter((e) => drawn.nodes.has(e.source) && drawn.nodes.has(e.target))
      .map((e) => ({
        id: e.id,
        source: e.source,
        target: e.target,
        label: e.kind.toLowerCase().replace(/_/g, " "),
        className: highlight?.has(e.id) ? "on-path" : undefined,
        animated: highlight?.has(e.id) ?? false,
      }));
  }, [laidOut, highlight]);

  return (
    <div className="lineage-canvas" style={{ height }} data-testid="lineage-graph" data-nodes={graph.nodes.size}>
      {laidOut && (
        <Marks.Provider value={marks}>
          <ReactFlow
            // a new layout is fitted to the view afresh
            key={laidOut.key}
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            fitView
            fitViewOptions={{ maxZoom: 1, padding: 0.08 }}
            minZoom={0.05}
            onlyRenderVisibleElements={laidOut.graph.nodes.size > 200}
            onNodeClick={(_, node) => onNodeClick?.(node.id)}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls showInteractive={false} />
          </ReactFlow>
        </Marks.Provider>
      )}
    </div>
  );
}
