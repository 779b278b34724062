//! Lineage: the edge rules, recording edges, and walking the graph (level by level, each
//! node expanded once) and finding paths.
pub mod edges;
pub mod path;
pub mod walk;

pub use edges::{EdgeKind, NewEdge};
pub use walk::{Direction, WalkParams};

use std::collections::HashMap;

use entity::node;
use sea_orm::ConnectionTrait;

use crate::registry::read::find_nodes;
use crate::registry::{RegistryError, Result};
use walk::{WalkResult, walk_groups};

/// Walk results with every node they mention.
#[derive(Debug, Default)]
pub struct Walked {
    pub results: Vec<WalkResult>,
    pub nodes: HashMap<i64, node::Model>,
}

/// Walks each group of start nodes (a group walks together); `field` names the start
/// argument in errors. Statements: one for the starts, one per level and direction, one
/// for the nodes found.
pub async fn walk_nodes<C: ConnectionTrait>(
    conn: &C,
    groups: &[Vec<i64>],
    params: &WalkParams,
    field: &str,
) -> Result<Walked> {
    walk_with(conn, groups, params, field, false).await
}

/// As `walk_nodes`; with `lean`, the nodes found carry only id, kind, name and creation
/// time (for callers that show nothing else), which keeps large walks cheap to load.
pub async fn walk_with<C: ConnectionTrait>(
    conn: &C,
    groups: &[Vec<i64>],
    params: &WalkParams,
    field: &str,
    lean: bool,
) -> Result<Walked> {
    let mut ids: Vec<i64> = groups.iter().flatten().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut nodes: HashMap<i64, node::Model> = find_nodes(conn, &ids)
        .await?
        .into_iter()
        .map(|n| (n.id, n))
        .collect();
    if let Some(missing) = ids.iter().find(|id| !nodes.contains_key(id)) {
        return Err(RegistryError::NotFound(format!(
            "{field}: no node with id {missing}"
        )));
    }
    let times: HashMap<i64, i64> = nodes.values().map(|n| (n.id, n.create_time)).collect();
    let results = walk_groups(conn, groups, params, &times).await?;
    let mut found: Vec<i64> = results
        .iter()
        .flat_map(|r| r.entries.iter().map(|e| e.id))
        .filter(|id| !nodes.contains_key(id))
        .collect();
    found.sort_unstable();
    found.dedup();
    if lean {
        nodes.extend(
            lean_nodes(conn, &found)
                .await?
                .into_iter()
                .map(|n| (n.id, n)),
        );
    } else {
        nodes.extend(
            find_nodes(conn, &found)
                .await?
                .into_iter()
                .map(|n| (n.id, n)),
        );
    }
    Ok(Walked { results, nodes })
}

/// Nodes with their id, kind, name and creation time only; every other field is empty.
/// Folded into one JSON row, like a walk step.
async fn lean_nodes<C: ConnectionTrait>(conn: &C, ids: &[i64]) -> Result<Vec<node::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            r#"SELECT COALESCE(json_agg(json_build_array("id", "kind", "name", "create_time"))::text, '[]') AS nodes FROM "node" WHERE "id" IN (SELECT value::bigint FROM json_array_elements_text($1::json))"#
        }
        _ => {
            r#"SELECT COALESCE(json_group_array(json_array("id", "kind", "name", "create_time")), '[]') AS nodes FROM "node" WHERE "id" IN (SELECT value FROM json_each(?))"#
        }
    };
    let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    let row = conn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [json.into()],
        ))
        .await?;
    let text: String = match row {
        Some(row) => row.try_get("", "nodes")?,
        None => return Ok(Vec::new()),
    };
    struct LeanRow {
        id: i64,
        kind: String,
        name: String,
        create_time: i64,
    }
    let rows: Vec<LeanRow> = serde_json::from_str::<Vec<(i64, String, String, i64)>>(&text)
        .map_err(|e| RegistryError::Internal(format!("lean node load returned bad JSON: {e}")))?
        .into_iter()
        .map(|(id, kind, name, create_time)| LeanRow {
            id,
            kind,
            name,
            create_time,
        })
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| node::Model {
            id: r.id,
            kind: r.kind,
            name: r.name,
            namespace: String::new(),
            parent_id: None,
            parent_kind: None,
            scope_id: 0,
            external_id: None,
            description: None,
            owner: None,
            state: String::new(),
            custom_properties: "{}".to_owned(),
            create_time: r.create_time,
            last_update_time: r.create_time,
            revision: 0,
            uri: None,
            model_format_name: None,
            model_format_version: None,
            storage_key: None,
            storage_path: None,
            service_account_name: None,
            model_source_kind: None,
            model_source_class: None,
            model_source_group: None,
            model_source_id: None,
            model_source_name: None,
            digest: None,
            source_type: None,
            source: None,
            dataset_schema: None,
            profile: None,
            metric_value: None,
            metric_timestamp: None,
            metric_step: None,
            parameter_value: None,
            parameter_type: None,
            start_time: None,
            end_time: None,
            status: None,
            registered_model_id: None,
            model_version_id: None,
            runtime: None,
            readme: None,
            maturity: None,
            language: None,
            tasks: None,
            provider: None,
            logo: None,
            license: None,
            license_link: None,
            library_name: None,
            facets: None,
            parent_run_id: None,
        })
        .collect())
}
