// Search across kinds by name (case-insensitive substring), one request.
import { Link, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { ErrorBox } from "../components/ErrorBox";
import { kindLabel, pageOf } from "../format";
import { graphql } from "../gql";

export const SearchQuery = graphql(`
  query Search($q: String!) {
    registeredModels(first: 20, filter: { name: { contains: $q } }) {
      nodes {
        id
        kind
        name
      }
    }
    modelVersions(first: 20, filter: { name: { contains: $q } }) {
      nodes {
        id
        kind
        name
        registeredModel {
          name
        }
      }
    }
    datasets(first: 20, filter: { name: { contains: $q } }) {
      nodes {
        id
        kind
        name
      }
    }
    experiments(first: 20, filter: { name: { contains: $q } }) {
      nodes {
        id
        kind
        name
      }
    }
    experimentRuns(first: 20, filter: { name: { contains: $q } }) {
      nodes {
        id
        kind
        name
      }
    }
    inferenceServices(first: 20, filter: { name: { contains: $q } }) {
      nodes {
        id
        kind
        name
      }
    }
  }
`);

export function SearchPage() {
  const [params] = useSearchParams();
  const q = params.get("q") ?? "";
  const [{ data, error, fetching }] = useQuery({ query: SearchQuery, variables: { q }, pause: !q });
  const hits = data
    ? [
        ...data.registeredModels.nodes,
        ...data.modelVersions.nodes.map((v) => ({ ...v, name: `${v.registeredModel.name} / ${v.name}` })),
        ...data.datasets.nodes,
        ...data.experiments.nodes,
        ...data.experimentRuns.nodes,
        ...data.inferenceServices.nodes,
      ]
    : [];
  return (
    <section>
      <h1>Search{q && <>: “{q}”</>}</h1>
      {!q && <p className="muted">Type a name in the search box above.</p>}
      {error && <ErrorBox error={error} />}
      {fetching && <p className="muted">searching...</p>}
      {data && hits.length === 0 && <p>Nothing named like that.</p>}
      <ul className="hits" data-testid="hits">
        {hits.map((h) => (
          <li key={h.id}>
            <Link to={pageOf(h.kind, h.id)}>{h.name}</Link> <small className="muted">{kindLabel(h.kind)}</small>
          </li>
        ))}
      </ul>
    </section>
  );
}
