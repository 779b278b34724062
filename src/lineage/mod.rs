//! Lineage reads: walking the graph (level by level, each node expanded once) and
//! finding paths. Edges are written by `registry::edges`.
pub mod path;
pub mod walk;

pub use walk::{Direction, WalkParams, WalkResult, WalkedEdge};

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::db::direct::{Readers, Session};
use crate::db::ids::{in_ids, json_ids};
use crate::registry::{NodeKind, RegistryError, Result};
use walk::{walk_groups, walk_groups_direct, walk_groups_summarised};

/// What a walk tells of a node it lists; whoever shows more loads the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSummary {
    pub id: i64,
    pub kind: NodeKind,
    pub name: String,
    pub create_time: i64,
}

pub type Summaries = foldhash::HashMap<i64, NodeSummary>;

/// Walk results with a summary of every node they mention.
#[derive(Debug, Default)]
pub struct Walked {
    pub results: Vec<WalkResult>,
    pub nodes: Summaries,
}

/// One group's walk; the groups walked together share their summaries.
#[derive(Clone, Debug, Default)]
pub struct WalkGraph {
    pub result: Arc<WalkResult>,
    pub nodes: Arc<Summaries>,
}

impl Walked {
    /// One graph per group, in order.
    pub fn graphs(self) -> Vec<WalkGraph> {
        let nodes = Arc::new(self.nodes);
        self.results
            .into_iter()
            .map(|result| WalkGraph {
                result: Arc::new(result),
                nodes: nodes.clone(),
            })
            .collect()
    }
}

/// Walks each group of start nodes (a group walks together); `field` names the start
/// argument in errors. Statements: one for the starts, one per level and direction, one
/// for the nodes found. On SQLite all of them run in one direct session; on PostgreSQL
/// the walk's statements read the start nodes and the nodes found (without `asOf`, a
/// walk is one statement); on MySQL/MariaDB the starts are read with the nodes found.
pub async fn walk_nodes(
    db: &DatabaseConnection,
    readers: &Readers,
    groups: &[Vec<i64>],
    params: &WalkParams,
    field: &str,
) -> Result<Walked> {
    let mut ids: Vec<i64> = groups.iter().flatten().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    // on SQLite the start nodes, the walk and the nodes it found are read in one direct
    // session, on one of the server's read connections (no hand-off to sqlx's driver
    // thread per statement)
    let direct = readers
        .run(db, |session| {
            let starts = start_nodes(summaries_direct(session, &ids)?, &ids, field)?;
            let results = walk_groups_direct(session, groups, params, &create_times(&starts))?;
            let found = summaries_direct(session, &unlisted(&results, &starts))?;
            Ok::<_, RegistryError>((starts, results, found))
        })
        .await?;
    let (mut nodes, results, found) = match direct {
        Some(done) => done,
        None => {
            // a round trip costs more than a short walk: without asOf the walk needs
            // nothing from the start nodes, and on PostgreSQL its statements summarise
            // the nodes they start from and reach, so a walk is one statement; the starts
            // and found nodes no statement summarised (on PostgreSQL, only a start that
            // does not exist, which walks nowhere) are read after it, in one statement
            let (mut nodes, (results, read_by_walk)) = match params.as_of {
                None => (
                    Summaries::default(),
                    walk_groups_summarised(db, groups, params, &HashMap::new()).await?,
                ),
                Some(_) => {
                    let starts = start_nodes(summaries(db, &ids).await?, &ids, field)?;
                    let walked =
                        walk_groups_summarised(db, groups, params, &create_times(&starts)).await?;
                    (starts, walked)
                }
            };
            for text in &read_by_walk {
                nodes.extend(parse_summaries(text)?.into_iter().map(|n| (n.id, n)));
            }
            let mut unread = unlisted(&results, &nodes);
            unread.extend(ids.iter().filter(|id| !nodes.contains_key(id)));
            unread.sort_unstable();
            unread.dedup();
            let rest = summaries(db, &unread).await?;
            (nodes, results, rest)
        }
    };
    nodes.reserve(found.len());
    nodes.extend(found.into_iter().map(|n| (n.id, n)));
    all_read(&nodes, &ids, field)?;
    for result in &results {
        crate::metrics::walk(result.entries.len());
    }
    Ok(Walked { results, nodes })
}

/// The ids of the nodes within `max_depth` of `start` in `directions` (at most
/// `max_nodes`), through sea-orm: what a `lineageChanged` subscription watches.
pub async fn reach(
    db: &DatabaseConnection,
    start: i64,
    directions: &[Direction],
    max_depth: u32,
    max_nodes: u32,
) -> Result<Vec<i64>> {
    let params = WalkParams {
        directions: directions.to_vec(),
        max_depth,
        node_kinds: Vec::new(),
        edge_kinds: Vec::new(),
        as_of: None,
        first: max_nodes as usize,
        edge_properties: false,
        edges: false,
    };
    let starts = start_nodes(summaries(db, &[start]).await?, &[start], "start")?;
    let results = walk_groups(db, &[vec![start]], &params, &create_times(&starts)).await?;
    Ok(results
        .iter()
        .flat_map(|r| r.entries.iter().map(|e| e.id))
        .collect())
}

/// The start nodes by id; NOT_FOUND naming `field` when one is missing.
fn start_nodes(found: Vec<NodeSummary>, ids: &[i64], field: &str) -> Result<Summaries> {
    let nodes: Summaries = found.into_iter().map(|n| (n.id, n)).collect();
    all_read(&nodes, ids, field)?;
    Ok(nodes)
}

/// NOT_FOUND naming `field` when one of the start nodes `ids` is not among `nodes`.
fn all_read(nodes: &Summaries, ids: &[i64], field: &str) -> Result<()> {
    match ids.iter().find(|id| !nodes.contains_key(id)) {
        Some(missing) => Err(RegistryError::not_found(format!("{field}: node {missing}"))),
        None => Ok(()),
    }
}

fn create_times(nodes: &Summaries) -> HashMap<i64, i64> {
    nodes.values().map(|n| (n.id, n.create_time)).collect()
}

/// The nodes the walks found that are not summarised yet, sorted.
fn unlisted(results: &[WalkResult], known: &Summaries) -> Vec<i64> {
    let mut found: Vec<i64> = results
        .iter()
        .flat_map(|r| r.entries.iter().map(|e| e.id))
        .filter(|id| !known.contains_key(id))
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn summary_sql(backend: DbBackend, folded: bool) -> String {
    let placeholder = crate::db::param(backend, 1);
    let columns = r#""id", "kind", "name", "create_time""#;
    let from = format!(
        r#"FROM "node" WHERE {}"#,
        in_ids(backend, r#""id""#, &placeholder)
    );
    match (folded, backend) {
        (false, _) => format!("SELECT {columns} {from}"),
        (true, DbBackend::Postgres) => format!(
            "SELECT COALESCE(json_agg(json_build_array({columns}))::text, '[]') AS nodes {from}"
        ),
        (true, DbBackend::MySql) => {
            format!("SELECT COALESCE(JSON_ARRAYAGG(JSON_ARRAY({columns})), '[]') AS nodes {from}")
        }
        (true, _) => format!(
            "SELECT COALESCE(json_group_array(json_array({columns})), '[]') AS nodes {from}"
        ),
    }
}

fn summary((id, kind, name, create_time): (i64, String, String, i64)) -> Result<NodeSummary> {
    let kind = kind
        .parse()
        .map_err(|_| RegistryError::Internal(format!("node {id} has an unknown kind {kind:?}")))?;
    Ok(NodeSummary {
        id,
        kind,
        name,
        create_time,
    })
}

/// Summaries by id in a direct session: plain rows, which cost no hand-off there.
fn summaries_direct(session: &Session, ids: &[i64]) -> Result<Vec<NodeSummary>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = summary_sql(DbBackend::Sqlite, false);
    session
        .query_rows(&sql, [json_ids(ids)], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .into_iter()
        .map(summary)
        .collect()
}

/// Summaries by id through sea-orm, folded into one JSON row, like a walk step: a driver
/// decodes one row faster than thousands.
async fn summaries<C: ConnectionTrait>(conn: &C, ids: &[i64]) -> Result<Vec<NodeSummary>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            summary_sql(backend, true),
            [json_ids(ids).into()],
        ))
        .await?;
    let text: Option<String> = match row {
        Some(row) => row.try_get("", "nodes")?,
        None => None,
    };
    match text {
        Some(text) => parse_summaries(&text),
        None => Ok(Vec::new()),
    }
}

/// Summaries folded into one JSON array of `[id, kind, name, create_time]`.
fn parse_summaries(text: &str) -> Result<Vec<NodeSummary>> {
    serde_json::from_str::<Vec<(i64, String, String, i64)>>(text)
        .map_err(|e| RegistryError::Internal(format!("node summaries came back as bad JSON: {e}")))?
        .into_iter()
        .map(summary)
        .collect()
}
