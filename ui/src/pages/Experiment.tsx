// An experiment's runs with their parameters and metrics in one sortable table; tick
// two runs to compare them side by side.
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { useQuery } from "urql";
import { ErrorBox } from "../components/ErrorBox";
import { Properties } from "../components/Properties";
import { type Cell, formatNumber, formatTime, sortRows } from "../format";
import { graphql } from "../gql";

export const ExperimentQuery = graphql(`
  query Experiment($id: ID!) {
    experiment(id: $id) {
      id
      name
      namespace
      owner
      description
      createTime
      customProperties
      runs(first: 50, orderBy: { field: CREATE_TIME, direction: DESC }) {
        totalCount
        nodes {
          id
          name
          status
          startTime
          endTime
          artifacts(artifactTypes: [METRIC, PARAMETER], first: 30) {
            nodes {
              name
              artifactType
              ... on Metric {
                metricValue: numberValue
              }
              ... on Parameter {
                paramValue: stringValue
              }
            }
          }
        }
      }
    }
  }
`);

interface Row {
  id: string;
  name: string;
  status: string;
  startTime: string | null | undefined;
  values: Map<string, Cell>;
}

export function ExperimentPage() {
  const { id = "" } = useParams();
  const [{ data, error, fetching }] = useQuery({ query: ExperimentQuery, variables: { id } });
  const [sort, setSort] = useState<{ column: string; descending: boolean }>({ column: "start", descending: true });
  const [picked, setPicked] = useState<string[]>([]);
  const experiment = data?.experiment;
  const { rows, params, metrics } = useMemo(() => {
    const params = new Set<string>();
    const metrics = new Set<string>();
    const rows: Row[] = (experiment?.runs.nodes ?? []).map((r) => {
      const values = new Map<string, Cell>();
      for (const a of r.artifacts.nodes) {
        if ("metricValue" in a) {
          metrics.add(a.name);
          values.set(`m:${a.name}`, a.metricValue);
        } else if ("paramValue" in a) {
          params.add(a.name);
          values.set(`p:${a.name}`, a.paramValue);
        }
      }
      return { id: r.id, name: r.name, status: r.status, startTime: r.startTime, values };
    });
    return { rows, params: [...params].sort(), metrics: [...metrics].sort() };
  }, [experiment]);
  const cell = (row: Row, column: string): Cell => {
    if (column === "name") return row.name;
    if (column === "status") return row.status;
    if (column === "start") return row.startTime ? Date.parse(row.startTime) : null;
    return row.values.get(column);
  };
  const sorted = useMemo(() => sortRows(rows, (r) => cell(r, sort.column), sort.descending), [rows, sort]);
  if (error) return <ErrorBox error={error} />;
  if (fetching && !data) return <p className="muted">loading...</p>;
  if (!experiment) return <p>No experiment with id {id}.</p>;
  const header = (column: string, label: string, numeric = false) => (
    <th
      key={column}
      className={numeric ? "num sortable" : "sortable"}
      data-column={column}
      onClick={() => setSort((s) => ({ column, descending: s.column === column ? !s.descending : numeric }))}
    >
      {label}
      {sort.column === column ? (sort.descending ? " ▼" : " ▲") : ""}
    </th>
  );
  const show = (v: Cell) => (typeof v === "number" ? formatNumber(v) : (v ?? ""));
  const compared = picked.map((p) => rows.find((r) => r.id === p)).filter((r): r is Row => Boolean(r));
  return (
    <section>
      <h1>
        {experiment.name} {experiment.namespace && <small className="muted">{experiment.namespace}</small>}
      </h1>
      <p className="muted">
        owner {experiment.owner ?? "-"} · created {formatTime(experiment.createTime)} ·{" "}
        <Link to={`/lineage/${experiment.id}`}>lineage</Link>
      </p>
      <h2>Runs ({experiment.runs.totalCount})</h2>
      <table data-testid="runs">
        <thead>
          <tr>
            <th>compare</th>
            {header("name", "run")}
            {header("status", "status")}
            {header("start", "started")}
            {params.map((p) => header(`p:${p}`, p))}
            {metrics.map((m) => header(`m:${m}`, m, true))}
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => (
            <tr key={r.id} data-run-id={r.id}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`compare ${r.name}`}
                  checked={picked.includes(r.id)}
                  onChange={(e) =>
                    setPicked((ps) => (e.target.checked ? [...ps.filter((p) => p !== r.id), r.id].slice(-2) : ps.filter((p) => p !== r.id)))
                  }
                />
              </td>
              <td>
                <Link to={`/runs/${r.id}`}>{r.name}</Link>
              </td>
              <td>{r.status.toLowerCase()}</td>
              <td>{formatTime(r.startTime)}</td>
              {params.map((p) => (
                <td key={p}>{show(r.values.get(`p:${p}`))}</td>
              ))}
              {metrics.map((m) => (
                <td key={m} className="num">
                  {show(r.values.get(`m:${m}`))}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {compared.length === 2 && (
        <>
          <h2>Comparing {compared[0]?.name} and {compared[1]?.name}</h2>
          <table data-testid="compare">
            <thead>
              <tr>
                <th />
                <th>{compared[0]?.name}</th>
                <th>{compared[1]?.name}</th>
              </tr>
            </thead>
            <tbody>
              {[...params.map((p) => `p:${p}`), ...metrics.map((m) => `m:${m}`)].map((key) => {
                const a = compared[0]?.values.get(key);
                const b = compared[1]?.values.get(key);
                return (
                  <tr key={key} className={a === b ? "" : "differs"}>
                    <th>{key.slice(2)}</th>
                    <td>{show(a)}</td>
                    <td>{show(b)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
      <h2>Custom properties</h2>
      <Properties value={experiment.customProperties} />
    </section>
  );
}
