// One model version: artifacts, metrics and parameters, the runs that produced it, its
// deployments and its lineage graph, all from one GraphQL request.
import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { useQuery } from "urql";
import { ErrorBox } from "../components/ErrorBox";
import { Properties } from "../components/Properties";
import { formatNumber, formatTime } from "../format";
import { graphql } from "../gql";
import { fromWalks } from "../lineage/graph";
import { LineageView } from "../lineage/LineageView";

export const VersionQuery = graphql(`
  query Version($id: ID!) {
    modelVersion(id: $id) {
      id
      kind
      name
      state
      author
      description
      createTime
      lastUpdateTime
      customProperties
      aliases
      registeredModel {
        id
        name
      }
      artifacts(first: 50) {
        nodes {
          id
          name
          artifactType
          ... on ModelArtifact {
            uri
            modelFormatName
            modelFormatVersion
          }
          ... on Dataset {
            uri
          }
          ... on Metric {
            metricValue: numberValue
          }
          ... on Parameter {
            paramValue: stringValue
          }
        }
      }
      producedBy {
        id
        name
        status
        experiment {
          id
          name
        }
      }
      deployments {
        id
        name
        state
        servingEnvironment {
          name
        }
      }
      upstream(maxDepth: 4, first: 300) {
        ...WalkFields
      }
      downstream(maxDepth: 4, first: 300) {
        ...WalkFields
      }
    }
  }
`);

export function VersionPage() {
  const { id = "" } = useParams();
  const [{ data, error, fetching }] = useQuery({ query: VersionQuery, variables: { id } });
  const version = data?.modelVersion;
  const graph = useMemo(
    () =>
      version
        ? fromWalks(
            [{ id: version.id, kind: version.kind, name: version.name, createTime: version.createTime }],
            [version.upstream, version.downstream],
          )
        : null,
    [version],
  );
  if (error) return <ErrorBox error={error} />;
  if (fetching && !data) return <p className="muted">loading...</p>;
  if (!version || !graph) return <p>No model version with id {id}.</p>;
  const artifacts = version.artifacts.nodes;
  const files = artifacts.filter((a) => a.artifactType === "MODEL_ARTIFACT" || a.artifactType === "DOC_ARTIFACT" || a.artifactType === "DATASET");
  const metrics = artifacts.filter((a) => a.artifactType === "METRIC");
  const params = artifacts.filter((a) => a.artifactType === "PARAMETER");
  return (
    <section>
      <h1>
        <Link to={`/models/${version.registeredModel.id}`}>{version.registeredModel.name}</Link> / {version.name}{" "}
        {version.aliases.map((a) => (
          <span key={a} className="tag alias">
            @{a}
          </span>
        ))}
      </h1>
      <p className="muted">
        {version.state.toLowerCase()} · by {version.author ?? "-"} · created {formatTime(version.createTime)} ·{" "}
        <Link to={`/lineage/${version.id}`}>explore lineage</Link>
      </p>
      {version.description && <p>{version.description}</p>}

      <h2>Lineage</h2>
      <LineageView graph={graph} selected={new Set([version.id])} height={420} />

      <div className="columns-2">
        <div>
          <h2>Artifacts</h2>
          {files.length === 0 ? (
            <p className="muted">none</p>
          ) : (
            <table data-testid="artifacts">
              <thead>
                <tr>
                  <th>name</th>
                  <th>uri</th>
                  <th>format</th>
                </tr>
              </thead>
              <tbody>
                {files.map((a) => (
                  <tr key={a.id}>
                    <td>{a.name}</td>
                    <td className="mono">{"uri" in a ? a.uri : ""}</td>
                    <td>{"modelFormatName" in a ? [a.modelFormatName, a.modelFormatVersion].filter(Boolean).join(" ") : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Metrics and parameters</h2>
          <table data-testid="metrics">
            <tbody>
              {metrics.map((m) => (
                <tr key={m.id}>
                  <th>{m.name}</th>
                  <td className="num">{"metricValue" in m ? formatNumber(m.metricValue) : ""}</td>
                </tr>
              ))}
              {params.map((p) => (
                <tr key={p.id}>
                  <th>{p.name}</th>
                  <td>{"paramValue" in p ? p.paramValue : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h2>Produced by</h2>
          {version.producedBy.length === 0 ? (
            <p className="muted">no recorded run</p>
          ) : (
            <ul>
              {version.producedBy.map((r) => (
                <li key={r.id}>
                  <Link to={`/runs/${r.id}`}>{r.name}</Link> ({r.status.toLowerCase()}) in{" "}
                  <Link to={`/experiments/${r.experiment.id}`}>{r.experiment.name}</Link>
                </li>
              ))}
            </ul>
          )}
          <h2>Deployments</h2>
          {version.deployments.length === 0 ? (
            <p className="muted">not deployed</p>
          ) : (
            <ul data-testid="deployments">
              {version.deployments.map((d) => (
                <li key={d.id}>
                  <Link to={`/lineage/${d.id}`}>{d.name}</Link> on {d.servingEnvironment.name} ({d.state.toLowerCase()})
                </li>
              ))}
            </ul>
          )}
          <h2>Custom properties</h2>
          <Properties value={version.customProperties} />
        </div>
      </div>
    </section>
  );
}
