//! Lineage reads: walking the graph (level by level, each node expanded once) and
//! finding paths. Edges are written by `registry::edges`.
pub mod path;
pub mod walk;

pub use walk::{Direction, WalkParams};

use std::collections::HashMap;
use std::sync::Arc;

use entity::node;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::db::direct::Readers;
use crate::registry::read::find_nodes;
use crate::registry::{RegistryError, Result};
use walk::{WalkResult, json_ids, walk_groups, walk_groups_direct};

/// Walk results with every node they mention. Nodes are shared, not copied: a node
/// model is large and a walk may list thousands.
#[derive(Debug, Default)]
pub struct Walked {
    pub results: Vec<WalkResult>,
    pub nodes: foldhash::HashMap<i64, Arc<node::Model>>,
}

/// Walks each group of start nodes (a group walks together); `field` names the start
/// argument in errors. Statements: one for the starts, one per level and direction, one
/// for the nodes found.
pub async fn walk_nodes(
    db: &DatabaseConnection,
    readers: &Readers,
    groups: &[Vec<i64>],
    params: &WalkParams,
    field: &str,
) -> Result<Walked> {
    walk_with(db, readers, groups, params, field, false).await
}

/// As `walk_nodes`; with `lean`, the nodes found carry only id, kind, name and creation
/// time (for callers that show nothing else), which keeps large walks cheap to load. On
/// SQLite the walk (and a lean load) runs in one direct session.
pub async fn walk_with(
    db: &DatabaseConnection,
    readers: &Readers,
    groups: &[Vec<i64>],
    params: &WalkParams,
    field: &str,
    lean: bool,
) -> Result<Walked> {
    let mut ids: Vec<i64> = groups.iter().flatten().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    // on SQLite the start nodes, the walk and the nodes it found are read in one direct
    // session, on one of the server's read connections (no hand-off to sqlx's driver
    // thread per statement)
    let direct = readers
        .run(db, |session| {
            let starts = start_nodes(
                session.query_as(NODES_SQLITE, [json_ids(&ids)])?,
                &ids,
                field,
            )?;
            let results = walk_groups_direct(session, groups, params, &create_times(&starts))?;
            let missing = unloaded(&results, &starts);
            let found: Vec<Arc<node::Model>> = if lean {
                session.query_rows(LEAN_SQLITE_ROWS, [json_ids(&missing)], |row| {
                    Ok(Arc::new(lean_node((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                    ))))
                })?
            } else {
                let found: Vec<node::Model> =
                    session.query_as(NODES_SQLITE, [json_ids(&missing)])?;
                found.into_iter().map(Arc::new).collect()
            };
            Ok::<_, RegistryError>((starts, results, found))
        })
        .await?;
    let (starts, results, found) = match direct {
        Some(done) => done,
        None => {
            let starts = start_nodes(find_nodes(db, &ids).await?, &ids, field)?;
            let results = walk_groups(db, groups, params, &create_times(&starts)).await?;
            let missing = unloaded(&results, &starts);
            let found = if lean {
                lean_nodes(db, &missing).await?
            } else {
                find_nodes(db, &missing).await?
            };
            (starts, results, found.into_iter().map(Arc::new).collect())
        }
    };
    let mut nodes = foldhash::HashMap::default();
    nodes.reserve(starts.len() + found.len());
    nodes.extend(starts.into_iter().map(|(id, n)| (id, Arc::new(n))));
    nodes.extend(found.into_iter().map(|n| (n.id, n)));
    Ok(Walked { results, nodes })
}

/// The start nodes by id; NOT_FOUND naming `field` when one is missing.
fn start_nodes(
    found: Vec<node::Model>,
    ids: &[i64],
    field: &str,
) -> Result<HashMap<i64, node::Model>> {
    let nodes: HashMap<i64, node::Model> = found.into_iter().map(|n| (n.id, n)).collect();
    match ids.iter().find(|id| !nodes.contains_key(id)) {
        Some(missing) => Err(RegistryError::NotFound(format!(
            "{field}: no node with id {missing}"
        ))),
        None => Ok(nodes),
    }
}

fn create_times(nodes: &HashMap<i64, node::Model>) -> HashMap<i64, i64> {
    nodes.values().map(|n| (n.id, n.create_time)).collect()
}

/// The nodes the walks found that are not loaded yet, sorted.
fn unloaded(results: &[WalkResult], loaded: &HashMap<i64, node::Model>) -> Vec<i64> {
    let mut found: Vec<i64> = results
        .iter()
        .flat_map(|r| r.entries.iter().map(|e| e.id))
        .filter(|id| !loaded.contains_key(id))
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// Whole nodes by id in a direct session; rows are mapped by column name, so `*` serves
/// (and is shorter to compile when a borrowed connection prepares it anew).
const NODES_SQLITE: &str = r#"SELECT * FROM "node" WHERE "id" IN (SELECT value FROM json_each(?))"#;
const LEAN_SQLITE: &str = r#"SELECT COALESCE(json_group_array(json_array("id", "kind", "name", "create_time")), '[]') AS nodes FROM "node" WHERE "id" IN (SELECT value FROM json_each(?))"#;
const LEAN_SQLITE_ROWS: &str = r#"SELECT "id", "kind", "name", "create_time" FROM "node" WHERE "id" IN (SELECT value FROM json_each(?))"#;
const LEAN_POSTGRES: &str = r#"SELECT COALESCE(json_agg(json_build_array("id", "kind", "name", "create_time"))::text, '[]') AS nodes FROM "node" WHERE "id" IN (SELECT value::bigint FROM json_array_elements_text($1::json))"#;

/// Nodes with their id, kind, name and creation time only; every other field is empty.
/// Folded into one JSON row, like a walk step.
async fn lean_nodes<C: ConnectionTrait>(conn: &C, ids: &[i64]) -> Result<Vec<node::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => LEAN_POSTGRES,
        _ => LEAN_SQLITE,
    };
    let row = conn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [json_ids(ids).into()],
        ))
        .await?;
    let text: Option<String> = match row {
        Some(row) => row.try_get("", "nodes")?,
        None => None,
    };
    parse_lean(text.as_deref())
}

/// The lean nodes of a lean load's JSON row.
fn parse_lean(text: Option<&str>) -> Result<Vec<node::Model>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let rows = serde_json::from_str::<Vec<(i64, String, String, i64)>>(text)
        .map_err(|e| RegistryError::Internal(format!("lean node load returned bad JSON: {e}")))?;
    Ok(rows.into_iter().map(lean_node).collect())
}

/// A node with only its id, kind, name and creation time.
fn lean_node((id, kind, name, create_time): (i64, String, String, i64)) -> node::Model {
    node::Model {
        id,
        kind,
        name,
        namespace: String::new(),
        parent_id: None,
        parent_kind: None,
        scope_id: 0,
        external_id: None,
        description: None,
        owner: None,
        state: String::new(),
        custom_properties: "{}".to_owned(),
        create_time,
        last_update_time: create_time,
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
    }
}
