// The lineage explorer for any node: direction, depth, kinds, an asOf slider, click a
// node to expand it, or pick two nodes to highlight the path between them. Everything
// but expansions lives in the URL, so a view can be shared.
import { useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useClient, useQuery } from "urql";
import { ErrorBox } from "../components/ErrorBox";
import { formatTime, kindLabel, pageOf } from "../format";
import { graphql } from "../gql";
import type { LineageDirection } from "../gql/graphql";
import { fromWalks, type Graph, kindsIn, merge, onlyKinds, pathMembers } from "../lineage/graph";
import { LineageView } from "../lineage/LineageView";

export const LineageQuery = graphql(`
  query Lineage($start: ID!, $direction: LineageDirection!, $depth: Int!) {
    node(id: $start) {
      id
      kind
      name
      createTime
    }
    lineage(start: [$start], direction: $direction, maxDepth: $depth, first: 1000) {
      ...WalkFields
    }
  }
`);

const Expand = graphql(`
  query ExpandNode($start: ID!, $direction: LineageDirection!) {
    lineage(start: [$start], direction: $direction, maxDepth: 1, first: 200) {
      ...WalkFields
    }
  }
`);

const Path = graphql(`
  query LineagePath($from: ID!, $to: ID!) {
    lineagePath(from: $from, to: $to) {
      nodes {
        id
      }
      edges {
        id
      }
    }
  }
`);

const DIRECTIONS: LineageDirection[] = ["UPSTREAM", "DOWNSTREAM", "BOTH"];

/** The as-of slider's positions: the last one is "now". */
const SLIDER_STEPS = 200;

interface Bounds {
  min: number;
  max: number;
}

/** The time at a slider position (from the oldest node drawn to the newest). */
function sliderTime(step: number, b: Bounds): number {
  return Math.round(b.min + ((b.max - b.min) * step) / SLIDER_STEPS);
}

function sliderStep(t: number, b: Bounds): number {
  if (b.max <= b.min) return SLIDER_STEPS;
  return Math.min(SLIDER_STEPS, Math.max(0, Math.round(((t - b.min) / (b.max - b.min)) * SLIDER_STEPS)));
}

/** Nodes and edges created at or before `asOf` (ms); all when null. */
function asOfView(graph: Graph, created: Map<string, string>, asOf: number | null): Graph {
  if (asOf === null) return graph;
  const at = (iso: string | undefined) => (iso ? Date.parse(iso) : 0);
  const nodes = new Map([...graph.nodes].filter(([, n]) => at(n.createTime) <= asOf));
  const edges = new Map(
    [...graph.edges].filter(
      ([id, e]) => nodes.has(e.source) && nodes.has(e.target) && at(created.get(id)) <= asOf,
    ),
  );
  return { nodes, edges };
}

export function LineagePage() {
  const { nodeId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const direction = (DIRECTIONS.find((d) => d === params.get("direction")) ?? "BOTH") as LineageDirection;
  const depth = Math.min(Math.max(Number(params.get("depth") ?? 3) || 3, 1), 10);
  const asOfParam = params.get("asOf");
  const asOf = asOfParam ? Date.parse(asOfParam) : null;
  const kindsParam = params.get("kinds");
  const from = params.get("from");
  const to = params.get("to");
  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === "") next.delete(k);
      else next.set(k, v);
    }
    setParams(next, { replace: true });
  };

  const [{ data, error, fetching }] = useQuery({
    query: LineageQuery,
    variables: { start: nodeId, direction, depth },
  });
  const client = useClient();
  const [expansions, setExpansions] = useState<Graph[]>([]);
  const [expandError, setExpandError] = useState<string | null>(null);
  const [pickPath, setPickPath] = useState(false);
  useEffect(() => setExpansions([]), [nodeId, direction, depth]);

  const [pathResult] = useQuery({
    query: Path,
    variables: { from: from ?? "", to: to ?? "" },
    pause: !from || !to,
  });

  const start = data?.node;
  const startId = start?.id;
  const full = useMemo(() => {
    if (!data || !start) return null;
    let graph = fromWalks([start], [data.lineage]);
    for (const more of expansions) graph = merge(graph, more);
    return graph;
  }, [data, start, expansions]);
  // when each edge was created, for the asOf view
  const [edgeTimes, setEdgeTimes] = useState(new Map<string, string>());
  useEffect(() => {
    if (data) setEdgeTimes((m) => new Map([...m, ...data.lineage.edges.map((e) => [e.id, e.createTime] as const)]));
  }, [data]);

  const bounds = useMemo(() => {
    if (!full) return null;
    const times = [...full.nodes.values()].map((n) => Date.parse(n.createTime)).filter((t) => !Number.isNaN(t));
    if (times.length === 0) return null;
    return { min: Math.min(...times), max: Math.max(...times) };
  }, [full]);
  const kinds = useMemo(() => (kindsParam ? new Set(kindsParam.split(",")) : null), [kindsParam]);
  const shown = useMemo(
    () => (full ? onlyKinds(asOfView(full, edgeTimes, asOf), kinds) : null),
    [full, edgeTimes, asOf, kinds],
  );
  const highlight = useMemo(
    () => (pathResult.data?.lineagePath ? pathMembers(pathResult.data.lineagePath) : undefined),
    [pathResult.data],
  );

  const selected = useMemo(
    () => new Set([...(startId ? [startId] : []), ...(from ? [from] : []), ...(to ? [to] : [])]),
    [startId, from, to],
  );

  const onNodeClick = async (id: string) => {
    if (pickPath) {
      if (!from || (from && to)) update({ from: id, to: null });
      else update({ to: id });
      return;
    }
    const result = await client.query(Expand, { start: id, direction }).toPromise();
    if (result.error) {
      setExpandError(result.error.message);
      return;
    }
    const walk = result.data?.lineage;
    const node = full?.nodes.get(id);
    if (walk && node) {
      setEdgeTimes((m) => new Map([...m, ...walk.edges.map((e) => [e.id, e.createTime] as const)]));
      setExpansions((xs) => [...xs, fromWalks([node], [walk])]);
    }
  };

  if (error) return <ErrorBox error={error} />;
  if (fetching && !data) return <p className="muted">loading...</p>;
  if (!start || !full || !shown) return <p>No node with id {nodeId}.</p>;
  return (
    <section>
      <h1>
        Lineage of <Link to={pageOf(start.kind, start.id)}>{start.name}</Link>{" "}
        <small className="muted">{kindLabel(start.kind)}</small>
      </h1>
      <div className="toolbar">
        <label>
          direction{" "}
          <select value={direction} onChange={(e) => update({ direction: e.target.value })} aria-label="direction">
            {DIRECTIONS.map((d) => (
              <option key={d} value={d}>
                {d.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          depth{" "}
          <input
            type="number"
            min={1}
            max={10}
            value={depth}
            onChange={(e) => update({ depth: e.target.value })}
            aria-label="depth"
          />
        </label>
        <span className="kinds">
          {kindsIn(full).map((k) => (
            <label key={k}>
              <input
                type="checkbox"
                checked={!kinds || kinds.has(k)}
                onChange={(e) => {
                  const all = new Set(kinds ?? kindsIn(full));
                  if (e.target.checked) all.add(k);
                  else all.delete(k);
                  update({ kinds: all.size === kindsIn(full).length ? null : [...all].join(",") });
                }}
              />
              {kindLabel(k)}
            </label>
          ))}
        </span>
        <label>
          <input type="checkbox" checked={pickPath} onChange={(e) => setPickPath(e.target.checked)} /> click picks
          path ends
        </label>
        {(from || to) && (
          <button type="button" onClick={() => update({ from: null, to: null })}>
            clear path
          </button>
        )}
      </div>
      {bounds && (
        <div className="toolbar">
          <label>
            as of{" "}
            <input
              type="range"
              aria-label="as of"
              min={0}
              max={SLIDER_STEPS}
              step={1}
              value={asOf === null ? SLIDER_STEPS : sliderStep(asOf, bounds)}
              onChange={(e) => {
                const step = Number(e.target.value);
                update({ asOf: step >= SLIDER_STEPS ? null : new Date(sliderTime(step, bounds)).toISOString() });
              }}
            />
          </label>
          <span data-testid="as-of">{asOf === null ? "now" : formatTime(new Date(asOf).toISOString())}</span>
          <span className="muted">
            {shown.nodes.size} of {full.nodes.size} nodes
            {data?.lineage.truncated ? " (walk truncated: lower the depth)" : ""}
          </span>
        </div>
      )}
      {expandError && <div className="error">{expandError}</div>}
      {pathResult.error && <ErrorBox error={pathResult.error} />}
      {from && to && pathResult.data && !pathResult.data.lineagePath && <p className="muted">no path between them</p>}
      <LineageView
        graph={shown}
        highlight={highlight}
        selected={selected}
        onNodeClick={onNodeClick}
        height={640}
      />
    </section>
  );
}
