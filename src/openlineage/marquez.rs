//! `GET /api/v1/lineage?nodeId=...&depth=N` in Marquez's shape, so Marquez tooling can
//! read modelgraph: datasets and jobs as nodes (runs fold into their job), with edges both
//! ways.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use entity::node;
use serde_json::{Value, json};

use crate::AppState;
use crate::lineage::walk::Direction;
use crate::lineage::{WalkParams, walk_nodes};
use crate::registry::filter::Filter;
use crate::registry::page::{Direction as SortDirection, Order, OrderField, PageArgs, PageLimits};
use crate::registry::read::{find_by_external_id, find_by_name, find_nodes, list};
use crate::registry::{NodeKind, RegistryError, Result};

#[derive(Debug, PartialEq)]
pub enum NodeId {
    Dataset { namespace: String, name: String },
    Job { namespace: String, name: String },
    Run(String),
}

/// As Marquez writes it (`dataset:NS:NAME`, `job:NS:NAME`, `run:ID`).
impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dataset { namespace, name } => write!(f, "dataset:{namespace}:{name}"),
            Self::Job { namespace, name } => write!(f, "job:{namespace}:{name}"),
            Self::Run(id) => write!(f, "run:{id}"),
        }
    }
}

/// Splits `NS:NAME`: a ':' followed by '//' or a digit belongs to the namespace.
fn split(rest: &str, field: &str) -> Result<(String, String)> {
    let bytes = rest.as_bytes();
    for (i, c) in rest.char_indices() {
        if c != ':' {
            continue;
        }
        let after = &rest[i + 1..];
        if after.starts_with("//") || bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let (ns, name) = (&rest[..i], after);
        if ns.is_empty() || name.is_empty() {
            break;
        }
        return Ok((ns.to_owned(), name.to_owned()));
    }
    Err(RegistryError::invalid(
        field,
        format!("{rest:?} is not NAMESPACE:NAME"),
    ))
}

pub fn parse_node_id(raw: &str) -> Result<NodeId> {
    let field = "nodeId";
    if let Some(rest) = raw.strip_prefix("dataset:") {
        let (namespace, name) = split(rest, field)?;
        return Ok(NodeId::Dataset { namespace, name });
    }
    if let Some(rest) = raw.strip_prefix("job:") {
        let (namespace, name) = split(rest, field)?;
        return Ok(NodeId::Job { namespace, name });
    }
    if let Some(id) = raw.strip_prefix("run:").filter(|id| !id.is_empty()) {
        return Ok(NodeId::Run(id.to_owned()));
    }
    Err(RegistryError::invalid(
        field,
        format!("{raw:?} is not dataset:NS:NAME, job:NS:NAME or run:ID"),
    ))
}

fn dataset_id(n: &node::Model) -> String {
    format!("dataset:{}:{}", n.namespace, n.name)
}

fn job_id(experiment: &node::Model) -> String {
    format!("job:{}:{}", experiment.namespace, experiment.name)
}

fn facets(n: &node::Model) -> Value {
    n.facets
        .as_deref()
        .and_then(|f| serde_json::from_str(f).ok())
        .unwrap_or_else(|| json!({}))
}

fn time(ms: i64) -> String {
    crate::registry::time::datetime(ms).to_rfc3339()
}

/// The start nodes a Marquez id names.
async fn starts(state: &AppState, id: &NodeId) -> Result<Vec<node::Model>> {
    let db = &state.db;
    let found = match id {
        NodeId::Dataset { namespace, name } => {
            find_by_name(db, NodeKind::Dataset, 0, namespace, name)
                .await?
                .into_iter()
                .collect()
        }
        NodeId::Run(run) => find_by_external_id(db, run).await?.into_iter().collect(),
        NodeId::Job { namespace, name } => {
            match find_by_name(db, NodeKind::Experiment, 0, namespace, name).await? {
                Some(job) => {
                    let filter = Filter {
                        parent_ids: Some(vec![job.id]),
                        ..Default::default()
                    };
                    let order = Order {
                        field: OrderField::Id,
                        direction: SortDirection::Asc,
                    };
                    let page = PageArgs {
                        first: Some(1000),
                        ..Default::default()
                    };
                    list(
                        db,
                        &[NodeKind::ExperimentRun],
                        &filter,
                        order,
                        &page,
                        PageLimits::default(),
                    )
                    .await?
                    .items
                }
                None => Vec::new(),
            }
        }
    };
    if found.is_empty() {
        return Err(RegistryError::not_found(format!("lineage node {id}")));
    }
    Ok(found)
}

/// The Marquez graph around `node_id`, `depth` hops out. A hop is two edges (dataset ->
/// job -> dataset), so `depth` is bounded by half the lineage depth bound; over it is
/// LIMIT_EXCEEDED, as `maxDepth` is in GraphQL.
pub async fn graph(state: &AppState, node_id: &str, depth: u32) -> Result<Value> {
    let max_hops = state.limits.max_lineage_depth / 2;
    if depth > max_hops {
        return Err(RegistryError::LimitExceeded(format!(
            "depth is at most {max_hops} (asked for {depth}): each hop is two edges, \
             and a walk follows at most {} edges",
            state.limits.max_lineage_depth
        )));
    }
    let id = parse_node_id(node_id)?;
    let start = starts(state, &id).await?;
    let params = WalkParams {
        directions: vec![Direction::Upstream, Direction::Downstream],
        max_depth: depth * 2,
        first: state.limits.max_lineage_nodes as usize,
        edges: true,
        ..Default::default()
    };
    let ids: Vec<i64> = start.iter().map(|n| n.id).collect();
    let walked = walk_nodes(&state.db, &state.readers, &[ids], &params, "nodeId").await?;
    let result = walked.results.first().cloned().unwrap_or_default();
    // Marquez shows datasets and jobs (runs fold into their jobs): only those are loaded
    let mut shown: Vec<i64> = walked
        .nodes
        .values()
        .filter(|n| matches!(n.kind, NodeKind::Dataset | NodeKind::ExperimentRun))
        .map(|n| n.id)
        .collect();
    shown.sort_unstable();
    let shown: HashMap<i64, node::Model> = find_nodes(&state.db, &shown)
        .await?
        .into_iter()
        .map(|n| (n.id, n))
        .collect();
    let mut experiments: Vec<i64> = shown
        .values()
        .filter(|n| n.kind == NodeKind::ExperimentRun.as_str())
        .filter_map(|n| n.parent_id)
        .collect();
    experiments.sort_unstable();
    experiments.dedup();
    let jobs: HashMap<i64, node::Model> = find_nodes(&state.db, &experiments)
        .await?
        .into_iter()
        .map(|n| (n.id, n))
        .collect();
    let graph_id = |n: &node::Model| -> Option<(String, &'static str, Value)> {
        if n.kind == NodeKind::Dataset.as_str() {
            let fields = n
                .facets
                .as_deref()
                .and_then(|f| serde_json::from_str::<Value>(f).ok())
                .and_then(|f| f.get("schema").and_then(|s| s.get("fields")).cloned())
                .unwrap_or_else(|| json!([]));
            let data = json!({
                "id": {"namespace": n.namespace, "name": n.name},
                "type": "DB_TABLE",
                "name": n.name,
                "physicalName": n.name,
                "namespace": n.namespace,
                "sourceName": n.namespace,
                "fields": fields,
                "facets": facets(n),
                "createdAt": time(n.create_time),
                "updatedAt": time(n.last_update_time),
            });
            return Some((dataset_id(n), "DATASET", data));
        }
        if n.kind == NodeKind::ExperimentRun.as_str() {
            let job = jobs.get(&n.parent_id?)?;
            let data = json!({
                "id": {"namespace": job.namespace, "name": job.name},
                "type": "BATCH",
                "name": job.name,
                "namespace": job.namespace,
                "facets": facets(job),
                "createdAt": time(job.create_time),
                "updatedAt": time(job.last_update_time),
            });
            return Some((job_id(job), "JOB", data));
        }
        None
    };
    let mut nodes: BTreeMap<String, (&'static str, Value)> = BTreeMap::new();
    for n in shown.values() {
        if let Some((gid, ty, data)) = graph_id(n) {
            nodes.entry(gid).or_insert((ty, data));
        }
    }
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for e in &result.edges {
        let (Some(s), Some(t)) = (shown.get(&e.source_id), shown.get(&e.target_id)) else {
            continue;
        };
        if let (Some((from, _, _)), Some((to, _, _))) = (graph_id(s), graph_id(t))
            && from != to
        {
            edges.insert((from, to));
        }
    }
    let graph: Vec<Value> = nodes
        .into_iter()
        .map(|(gid, (ty, data))| {
            let edge = |(o, d): &(String, String)| json!({"origin": o, "destination": d});
            json!({
                "id": gid,
                "type": ty,
                "data": data,
                "inEdges": edges.iter().filter(|(_, d)| *d == gid).map(edge).collect::<Vec<_>>(),
                "outEdges": edges.iter().filter(|(o, _)| *o == gid).map(edge).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({ "graph": graph }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_keep_schemes_and_ports() {
        let d = |ns: &str, name: &str| NodeId::Dataset {
            namespace: ns.into(),
            name: name.into(),
        };
        assert_eq!(
            parse_node_id("dataset:s3://bucket:raw/users.parquet").unwrap(),
            d("s3://bucket", "raw/users.parquet")
        );
        assert_eq!(
            parse_node_id("dataset:postgres://db:5432:public.users").unwrap(),
            d("postgres://db:5432", "public.users")
        );
        assert_eq!(parse_node_id("dataset:ns:table").unwrap(), d("ns", "table"));
        assert_eq!(
            parse_node_id("job:airflow:dag.task").unwrap(),
            NodeId::Job {
                namespace: "airflow".into(),
                name: "dag.task".into()
            }
        );
        assert!(parse_node_id("dataset:nocolon").is_err());
        assert!(parse_node_id("thing:a:b").is_err());
    }
}
