//! Kubeflow list semantics over keyset pages: `pageSize` (0, absent or over the server's
//! `--max-page-size`: that maximum), `orderBy`, `sortOrder`, opaque `nextPageToken` (""
//! on the last page), `filterQuery`; find-one.
use std::collections::HashMap;

use entity::node;
use serde_json::{Value, json};

use super::convert::{NodeBody, node_out};
use crate::AppState;
use crate::db::direct::read_on;
use crate::http::error::HttpError;
use crate::registry::artifacts;
use crate::registry::filter_query;
use crate::registry::page::{Direction, Order, OrderField, PageArgs, PageLimits};
use crate::registry::read::{find_nodes, list, list_of};
use crate::registry::{Filter, NodeKind, RegistryError, Result};
use serde::ser::{Serialize, SerializeMap, Serializer};

pub struct ListArgs {
    pub kinds: Vec<NodeKind>,
    pub filter: Filter,
    pub order: Order,
    pub page_size: u64,
    pub token: Option<String>,
}

fn page_size(q: &HashMap<String, String>) -> Result<u64> {
    match q.get("pageSize").map(|s| s.trim()) {
        None | Some("") => Ok(0),
        Some(s) => s.parse::<u64>().map_err(|_| {
            RegistryError::invalid("pageSize", format!("{s:?} is not a non-negative integer"))
        }),
    }
}

fn order(q: &HashMap<String, String>) -> Result<Order> {
    let field = match q.get("orderBy").map(String::as_str) {
        None | Some("") | Some("ID") => OrderField::Id,
        Some("CREATE_TIME") => OrderField::CreateTime,
        Some("LAST_UPDATE_TIME") => OrderField::LastUpdateTime,
        Some(other) => {
            return Err(RegistryError::invalid(
                "orderBy",
                format!("{other:?} is not one of CREATE_TIME, LAST_UPDATE_TIME, ID"),
            ));
        }
    };
    let direction = match q.get("sortOrder").map(String::as_str) {
        None | Some("") | Some("ASC") => Direction::Asc,
        Some("DESC") => Direction::Desc,
        Some(other) => {
            return Err(RegistryError::invalid(
                "sortOrder",
                format!("{other:?} is not ASC or DESC"),
            ));
        }
    };
    Ok(Order { field, direction })
}

/// The items one page holds: Kubeflow's pageSize 0 (or none) means "as many as the
/// server gives", and the server gives at most `--max-page-size`, with a nextPageToken
/// for the rest (the spec's pattern allows only 1 and up, and its clients page).
fn page_items(asked: u64, limits: PageLimits) -> u64 {
    match asked {
        0 => limits.max_size,
        n => n.min(limits.max_size),
    }
}

impl ListArgs {
    pub fn parse(q: &HashMap<String, String>, kinds: &[NodeKind]) -> Result<Self> {
        let mut kinds = kinds.to_vec();
        if let Some(t) = q.get("artifactType").filter(|t| !t.is_empty()) {
            let kind = NodeKind::from_artifact_type(t).ok_or_else(|| {
                RegistryError::invalid("artifactType", format!("{t:?} is not one of model-artifact, doc-artifact, dataset-artifact, metric, parameter"))
            })?;
            if !kinds.contains(&kind) {
                return Err(RegistryError::invalid(
                    "artifactType",
                    format!("{t} is not listed here"),
                ));
            }
            kinds = vec![kind];
        }
        let mut filter = Filter::default();
        if let Some(name) = q.get("name") {
            filter.name = Some(crate::registry::filter::StringMatch {
                eq: Some(name.clone()),
                ..Default::default()
            });
        }
        if let Some(ext) = q.get("externalId") {
            filter.external_id = Some(ext.clone());
        }
        if let Some(text) = q.get("filterQuery").filter(|t| !t.trim().is_empty()) {
            let parsed = filter_query::parse_query(text, &kinds)?;
            filter.query = Some(parsed.condition);
            filter.query_properties = parsed.bare_properties;
        }
        Ok(Self {
            kinds,
            filter,
            order: order(q)?,
            page_size: page_size(q)?,
            token: q.get("nextPageToken").filter(|t| !t.is_empty()).cloned(),
        })
    }
}

/// Kubeflow bodies for nodes, with the experiment of artifacts logged in runs (one batch).
pub async fn bodies(state: &AppState, nodes: &[node::Model]) -> Result<Vec<Value>> {
    let experiments = experiments_of_runs(state, nodes).await?;
    Ok(nodes
        .iter()
        .map(|n| node_out(n, experiment_of(n, &experiments)))
        .collect())
}

/// The experiment of each run that one of `nodes` (artifacts) was logged in.
async fn experiments_of_runs(
    state: &AppState,
    nodes: &[node::Model],
) -> Result<HashMap<i64, Option<i64>>> {
    let mut runs: Vec<i64> = nodes
        .iter()
        .filter(|n| n.parent_kind.as_deref() == Some("EXPERIMENT_RUN"))
        .filter_map(|n| n.parent_id)
        .collect();
    runs.sort_unstable();
    runs.dedup();
    if runs.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(
        read_on!(&state.db, &state.readers, |conn| find_nodes(conn, &runs))
            .await?
            .into_iter()
            .map(|r| (r.id, r.parent_id))
            .collect(),
    )
}

fn experiment_of(n: &node::Model, experiments: &HashMap<i64, Option<i64>>) -> Option<i64> {
    n.parent_id
        .and_then(|p| experiments.get(&p).copied().flatten())
}

/// A Kubeflow list's body, its items written straight to the response
/// (`convert::NodeBody`).
pub struct NodeList {
    nodes: Vec<node::Model>,
    experiments: HashMap<i64, Option<i64>>,
    next: String,
    page_size: u64,
}

impl Serialize for NodeList {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        struct Items<'a>(&'a NodeList);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(
                &self,
                serializer: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                let list = self.0;
                serializer.collect_seq(
                    list.nodes
                        .iter()
                        .map(|n| NodeBody::new(n, experiment_of(n, &list.experiments))),
                )
            }
        }
        let mut out = serializer.serialize_map(Some(4))?;
        out.serialize_entry("items", &Items(self))?;
        out.serialize_entry("nextPageToken", &self.next)?;
        out.serialize_entry("pageSize", &self.page_size)?;
        out.serialize_entry("size", &self.nodes.len())?;
        out.end()
    }
}

pub async fn list_nodes(
    state: &AppState,
    args: &ListArgs,
    _: Option<()>,
) -> Result<NodeList, HttpError> {
    let limits = state.limits.page();
    let size = page_items(args.page_size, limits);
    let page = PageArgs {
        first: Some(size as i64),
        after: args.token.clone(),
        ..Default::default()
    };
    // only the columns the bodies show
    let columns = super::convert::columns_shown(&args.kinds);
    let result = read_on!(&state.db, &state.readers, |conn| {
        list_of(
            conn,
            &args.kinds,
            &args.filter,
            args.order,
            &page,
            limits,
            columns,
        )
    })
    .await
    .map_err(|e| match e {
        RegistryError::InvalidInput { field, message } if field == "after" => {
            RegistryError::invalid("nextPageToken", message)
        }
        other => other,
    })?;
    let next = if result.has_next {
        result
            .items
            .last()
            .map(|n| crate::registry::page::Cursor::of(args.order, n).encode())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let experiments = experiments_of_runs(state, &result.items).await?;
    Ok(NodeList {
        nodes: result.items,
        experiments,
        next,
        page_size: size,
    })
}

/// `GET /registered_model?name=...` and friends: the one match, or 404.
pub async fn find_one(
    state: &AppState,
    kinds: &[NodeKind],
    q: &HashMap<String, String>,
) -> Result<node::Model, HttpError> {
    let mut filter = Filter::default();
    let name = q.get("name").filter(|s| !s.is_empty());
    let external = q.get("externalId").filter(|s| !s.is_empty());
    if name.is_none() && external.is_none() {
        return Err(RegistryError::invalid("name", "give name or externalId").into());
    }
    if let Some(name) = name {
        filter.name = Some(crate::registry::filter::StringMatch {
            eq: Some(name.clone()),
            ..Default::default()
        });
    }
    filter.external_id = external.cloned();
    if let Some(parent) = q.get("parentResourceId").filter(|s| !s.is_empty()) {
        let id = parent.parse::<i64>().map_err(|_| {
            RegistryError::invalid("parentResourceId", format!("{parent:?} is not a valid id"))
        })?;
        filter.parent_ids = Some(vec![id]);
    }
    let page = PageArgs {
        first: Some(1),
        ..Default::default()
    };
    let order = Order {
        field: OrderField::Id,
        direction: Direction::Asc,
    };
    let limits = state.limits.page();
    let found = read_on!(&state.db, &state.readers, |conn| {
        list(conn, kinds, &filter, order, &page, limits)
    })
    .await?;
    found.items.into_iter().next().ok_or_else(|| {
        RegistryError::not_found(format!("{} matching the query", kinds[0].label())).into()
    })
}

/// `.../metric_history`: every logged value, as Metric bodies.
pub async fn metric_history(
    state: &AppState,
    run: Option<i64>,
    q: &HashMap<String, String>,
) -> Result<Value, HttpError> {
    let size = page_size(q)?;
    let order = order(q)?;
    let steps = match q.get("stepIds").filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.split(',')
                .map(|p| {
                    p.trim().parse::<i64>().map_err(|_| {
                        RegistryError::invalid(
                            "stepIds",
                            format!("{s:?} is not a comma-separated list of integers"),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    let after = match q.get("nextPageToken").filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse::<i64>().map_err(|_| {
            RegistryError::invalid("nextPageToken", "is not a token from this list")
        })?),
        None => None,
    };
    let size = page_items(size, state.limits.page());
    let limit = size + 1;
    let mut rows = artifacts::metric_history(
        &state.db,
        run,
        q.get("name").filter(|n| !n.is_empty()).map(String::as_str),
        steps.as_deref(),
        after,
        order.direction == Direction::Desc,
        limit,
    )
    .await?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let next = if more {
        rows.last().map(|r| r.id.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut m = json!({
                "id": r.id.to_string(),
                "name": r.name,
                "artifactType": "metric",
                "experimentRunId": r.run_id.to_string(),
                "customProperties": {},
                "state": "LIVE",
                "createTimeSinceEpoch": r.create_time.to_string(),
                "lastUpdateTimeSinceEpoch": r.create_time.to_string(),
            });
            if let Some(v) = r.value {
                m["value"] = json!(v);
            }
            if let Some(s) = r.step {
                m["step"] = json!(s);
            }
            if let Some(t) = r.timestamp {
                m["timestamp"] = json!(t.to_string());
            }
            m
        })
        .collect();
    Ok(json!({
        "items": items,
        "nextPageToken": next,
        "pageSize": size,
        "size": items.len(),
    }))
}
