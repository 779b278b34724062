import { graphql } from "../gql";

/** What the views draw of a walk: nodes (with column lineage) and edges. */
export const WalkFields = graphql(`
  fragment WalkFields on LineageGraph {
    truncated
    nodes {
      depth
      node {
        id
        kind
        name
        createTime
        ... on Dataset {
          columnLineage {
            field
            inputs {
              namespace
              name
              field
            }
          }
        }
      }
    }
    edges {
      id
      kind
      createTime
      source {
        id
      }
      target {
        id
      }
    }
  }
`);
