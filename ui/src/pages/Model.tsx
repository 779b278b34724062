// One model: its versions side by side (state, author, aliases, metrics), properties,
// history, and release requests with approve / reject for those who may decide.
import { Link, useParams } from "react-router";
import { useMutation, useQuery } from "urql";
import { ErrorBox } from "../components/ErrorBox";
import { History } from "../components/History";
import { Properties } from "../components/Properties";
import { formatNumber, formatTime } from "../format";
import { graphql } from "../gql";

export const ModelQuery = graphql(`
  query Model($id: ID!) {
    viewer {
      subject
      roles
    }
    registeredModel(id: $id) {
      id
      name
      description
      owner
      state
      createTime
      lastUpdateTime
      customProperties
      aliases {
        alias
        versionId
        setBy
        setAt
        protected
        requiredApprovals
      }
      versions(first: 20, orderBy: { field: CREATE_TIME, direction: DESC }) {
        totalCount
        nodes {
          id
          name
          state
          author
          createTime
          aliases
          artifacts(artifactTypes: [METRIC], first: 20) {
            nodes {
              name
              ... on Metric {
                metricValue: numberValue
              }
            }
          }
        }
      }
      history(first: 20) {
        nodes {
          sequence
          at
          actor
          via
          operation
          after
        }
      }
    }
    releaseRequests(filter: { modelId: $id }, first: 20) {
      nodes {
        id
        alias
        state
        note
        requestedBy
        requestedAt
        version {
          id
          name
        }
        decisions {
          by
          approve
          note
        }
      }
    }
  }
`);

const Approve = graphql(`
  mutation ApproveRelease($id: ID!) {
    approveRelease(id: $id) {
      id
      state
    }
  }
`);

const Reject = graphql(`
  mutation RejectRelease($id: ID!) {
    rejectRelease(id: $id) {
      id
      state
    }
  }
`);

export function ModelPage() {
  const { id = "" } = useParams();
  const [{ data, error, fetching }, refetch] = useQuery({ query: ModelQuery, variables: { id } });
  const [approval, approve] = useMutation(Approve);
  const [rejection, reject] = useMutation(Reject);
  const model = data?.registeredModel;
  if (error) return <ErrorBox error={error} />;
  if (fetching && !data) return <p className="muted">loading...</p>;
  if (!model) return <p>No model with id {id}.</p>;
  const viewer = data?.viewer;
  const mayDecide = viewer?.roles.includes("APPROVER") ?? false;
  const versions = model.versions.nodes;
  const metricNames = [
    ...new Set(versions.flatMap((v) => v.artifacts.nodes.map((a) => a.name))),
  ].sort();
  const decide = async (requestId: string, yes: boolean) => {
    await (yes ? approve({ id: requestId }) : reject({ id: requestId }));
    refetch({ requestPolicy: "network-only" });
  };
  return (
    <section>
      <h1>
        {model.name} {model.state === "ARCHIVED" && <span className="tag">archived</span>}
      </h1>
      <p className="muted">
        owner {model.owner ?? "-"} · created {formatTime(model.createTime)} · updated{" "}
        {formatTime(model.lastUpdateTime)} · <Link to={`/lineage/${model.id}`}>lineage</Link>
      </p>
      {model.description && <p>{model.description}</p>}

      <h2>Aliases</h2>
      {model.aliases.length === 0 ? (
        <p className="muted">none</p>
      ) : (
        <ul className="aliases" data-testid="aliases">
          {model.aliases.map((a) => (
            <li key={a.alias} data-alias={a.alias}>
              <span className="tag alias">@{a.alias}</span>{" "}
              {a.versionId ? <Link to={`/versions/${a.versionId}`}>{versions.find((v) => v.id === a.versionId)?.name ?? `version ${a.versionId}`}</Link> : "unset"}
              {a.protected && <span className="tag">protected, {a.requiredApprovals} approvals</span>}{" "}
              <small className="muted">
                by {a.setBy} at {formatTime(a.setAt)}
              </small>
            </li>
          ))}
        </ul>
      )}

      <h2>Versions ({model.versions.totalCount})</h2>
      <table data-testid="versions">
        <thead>
          <tr>
            <th>version</th>
            <th>state</th>
            <th>author</th>
            <th>created</th>
            <th>aliases</th>
            {metricNames.map((m) => (
              <th key={m} className="num">
                {m}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.id}>
              <td>
                <Link to={`/versions/${v.id}`}>{v.name}</Link>
              </td>
              <td>{v.state.toLowerCase()}</td>
              <td>{v.author}</td>
              <td>{formatTime(v.createTime)}</td>
              <td>
                {v.aliases.map((a) => (
                  <span key={a} className="tag alias">
                    @{a}
                  </span>
                ))}
              </td>
              {metricNames.map((m) => {
                const metric = v.artifacts.nodes.find((a) => a.name === m);
                const value = metric && "metricValue" in metric ? metric.metricValue : null;
                return (
                  <td key={m} className="num">
                    {formatNumber(value)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Custom properties</h2>
      <Properties value={model.customProperties} />

      <h2>Release requests</h2>
      {(approval.error || rejection.error) && <ErrorBox error={(approval.error ?? rejection.error)!} />}
      {data?.releaseRequests.nodes.length === 0 ? (
        <p className="muted">none</p>
      ) : (
        <table data-testid="release-requests">
          <thead>
            <tr>
              <th>alias</th>
              <th>version</th>
              <th>state</th>
              <th>requested by</th>
              <th>decisions</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data?.releaseRequests.nodes.map((r) => (
              <tr key={r.id} data-request-id={r.id}>
                <td>@{r.alias}</td>
                <td>{r.version && <Link to={`/versions/${r.version.id}`}>{r.version.name}</Link>}</td>
                <td>{r.state.toLowerCase()}</td>
                <td>
                  {r.requestedBy} <small className="muted">{formatTime(r.requestedAt)}</small>
                  {r.note && <div className="muted">{r.note}</div>}
                </td>
                <td>
                  {r.decisions.map((d) => (
                    <div key={d.by}>
                      {d.approve ? "approved" : "rejected"} by {d.by}
                      {d.note ? `: ${d.note}` : ""}
                    </div>
                  ))}
                </td>
                <td>
                  {mayDecide &&
                    r.state === "PENDING" &&
                    r.requestedBy !== viewer?.subject &&
                    !r.decisions.some((d) => d.by === viewer?.subject) && (
                      <>
                        <button type="button" onClick={() => decide(r.id, true)}>
                          approve
                        </button>{" "}
                        <button type="button" onClick={() => decide(r.id, false)}>
                          reject
                        </button>
                      </>
                    )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>History</h2>
      <History entries={model.history.nodes} />
    </section>
  );
}
