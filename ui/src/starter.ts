// The query GraphiQL opens on: a lineage walk from the newest dataset, downstream to
// the models trained on it and where they are deployed.
export const STARTER_QUERY = `# Welcome to modelgraph. Press the run button (or Ctrl-Enter).
# A lineage walk: from the newest dataset, downstream three hops.
# (\`modelgraph seed-demo\` loads a small graph to walk.)
query StarterLineage {
  datasets(first: 1, orderBy: {field: CREATE_TIME, direction: DESC}) {
    nodes {
      id
      name
      downstream(maxDepth: 3) {
        nodes { depth node { id kind name } }
        edges { kind source { id } target { id } }
      }
    }
  }
}
`;
