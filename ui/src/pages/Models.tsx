// Registered models: searchable by name, keyset-paged (the API's cursors).
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { ErrorBox } from "../components/ErrorBox";
import { formatTime } from "../format";
import { graphql } from "../gql";

const PAGE = 25;

export const ModelsQuery = graphql(`
  query Models($first: Int!, $after: String, $name: String) {
    registeredModels(
      first: $first
      after: $after
      filter: { name: { contains: $name } }
      orderBy: { field: LAST_UPDATE_TIME, direction: DESC }
    ) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        name
        owner
        state
        lastUpdateTime
        latestVersion {
          id
          name
        }
        aliases {
          alias
          versionId
        }
      }
    }
  }
`);

export function ModelsPage() {
  const [params, setParams] = useSearchParams();
  const name = params.get("name") ?? "";
  const after = params.get("after");
  const [draft, setDraft] = useState(name);
  const [{ data, error, fetching }] = useQuery({
    query: ModelsQuery,
    variables: { first: PAGE, after, name: name || null },
  });
  const page = data?.registeredModels;
  return (
    <section>
      <h1>Models</h1>
      <form
        className="filter"
        onSubmit={(e) => {
          e.preventDefault();
          setParams(draft ? { name: draft } : {});
        }}
      >
        <input
          type="search"
          placeholder="filter by name"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          aria-label="filter models by name"
        />
        <button type="submit">filter</button>
        {page && <span className="muted">{page.totalCount} models</span>}
      </form>
      {error && <ErrorBox error={error} />}
      {fetching && !data && <p className="muted">loading...</p>}
      {page && (
        <table data-testid="models">
          <thead>
            <tr>
              <th>name</th>
              <th>owner</th>
              <th>latest version</th>
              <th>aliases</th>
              <th>last update</th>
            </tr>
          </thead>
          <tbody>
            {page.nodes.map((m) => (
              <tr key={m.id} data-model-id={m.id}>
                <td>
                  <Link to={`/models/${m.id}`}>{m.name}</Link>
                  {m.state === "ARCHIVED" && <span className="tag">archived</span>}
                </td>
                <td>{m.owner}</td>
                <td>
                  {m.latestVersion && <Link to={`/versions/${m.latestVersion.id}`}>{m.latestVersion.name}</Link>}
                </td>
                <td>
                  {m.aliases.map((a) => (
                    <Link key={a.alias} className="tag alias" to={a.versionId ? `/versions/${a.versionId}` : "#"}>
                      @{a.alias}
                    </Link>
                  ))}
                </td>
                <td>{formatTime(m.lastUpdateTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav className="pager">
        {after && (
          <button type="button" onClick={() => setParams(name ? { name } : {})}>
            first page
          </button>
        )}
        {page?.pageInfo.hasNextPage && page.pageInfo.endCursor && (
          <button
            type="button"
            onClick={() => {
              const next: Record<string, string> = { after: page.pageInfo.endCursor ?? "" };
              if (name) next.name = name;
              setParams(next);
            }}
          >
            next page
          </button>
        )}
      </nav>
    </section>
  );
}
