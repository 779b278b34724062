import { Link, useParams } from "react-router";
import { useQuery } from "urql";
import { ErrorBox } from "../components/ErrorBox";
import { Properties } from "../components/Properties";
import { formatNumber, formatTime, kindLabel, pageOf } from "../format";
import { graphql } from "../gql";

export const RunQuery = graphql(`
  query Run($id: ID!) {
    experimentRun(id: $id) {
      id
      name
      status
      owner
      description
      startTime
      endTime
      customProperties
      experiment {
        id
        name
      }
      parentRun {
        id
        name
      }
      inputs {
        id
        kind
        name
      }
      outputs {
        id
        kind
        name
      }
      artifacts(artifactTypes: [METRIC, PARAMETER], first: 100) {
        nodes {
          id
          name
          ... on Metric {
            metricValue: numberValue
            step
          }
          ... on Parameter {
            paramValue: stringValue
          }
        }
      }
    }
  }
`);

export function RunPage() {
  const { id = "" } = useParams();
  const [{ data, error, fetching }] = useQuery({ query: RunQuery, variables: { id } });
  const run = data?.experimentRun;
  if (error) return <ErrorBox error={error} />;
  if (fetching && !data) return <p className="muted">loading...</p>;
  if (!run) return <p>No run with id {id}.</p>;
  const links = (nodes: { id: string; kind: string; name: string }[]) =>
    nodes.length === 0 ? (
      <p className="muted">none</p>
    ) : (
      <ul>
        {nodes.map((n) => (
          <li key={n.id}>
            <Link to={pageOf(n.kind, n.id)}>{n.name}</Link> <small className="muted">{kindLabel(n.kind)}</small>
          </li>
        ))}
      </ul>
    );
  return (
    <section>
      <h1>{run.name}</h1>
      <p className="muted">
        {run.status.toLowerCase()} · in <Link to={`/experiments/${run.experiment.id}`}>{run.experiment.name}</Link>
        {run.parentRun && (
          <>
            {" "}
            · child of <Link to={`/runs/${run.parentRun.id}`}>{run.parentRun.name}</Link>
          </>
        )}{" "}
        · {formatTime(run.startTime)} to {formatTime(run.endTime) || "now"} ·{" "}
        <Link to={`/lineage/${run.id}`}>lineage</Link>
      </p>
      <div className="columns-2">
        <div>
          <h2>Inputs</h2>
          {links(run.inputs)}
          <h2>Outputs</h2>
          {links(run.outputs)}
        </div>
        <div>
          <h2>Metrics and parameters</h2>
          <table data-testid="metrics">
            <tbody>
              {run.artifacts.nodes.map((a) => (
                <tr key={a.id}>
                  <th>{a.name}</th>
                  <td className="num">
                    {"metricValue" in a ? formatNumber(a.metricValue) : "paramValue" in a ? a.paramValue : ""}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Custom properties</h2>
          <Properties value={run.customProperties} />
        </div>
      </div>
    </section>
  );
}
