//! The bulk path: loading a whole graph (nodes.csv, edges.csv as `modelgraph gen-graph`
//! writes them) in large batched transactions, for benchmarks and migrations.
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use entity::node;
use futures_util::{StreamExt, stream};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, FromQueryResult, TransactionTrait,
};

use super::edges::{EdgeKind, NewEdge, insert_edges};
use super::error::{RegistryError, Result};
use super::fields::{NodeFields, validate_name};
use super::history::{Actor, NewChange, Operation, Write, begin};
use super::kind::NodeKind;
use super::read::find_by_name;
use super::time::now_ms;
use super::write::{create_in, note_version_number, version_number};
use crate::db::direct::{DirectOptions, Session};
use crate::db::exec::{build_statement, rows_per_statement};

const BATCH: usize = 1000;
/// Nodes, and edges, written in one transaction without the import's own SQLite session
/// (PostgreSQL, MySQL/MariaDB, SQLite in memory).
const NODE_BATCH: usize = BATCH * 10;
const EDGE_BATCH: usize = BATCH * 20;
/// Nodes, and edges, written in one transaction of the import's own SQLite session. Each
/// commit writes every page it dirtied to the WAL, and the pages every batch touches (the
/// B-trees' right edges, the indexes' inner pages) are written again by each: ten times
/// larger batches took the 1M-node graph's nodes from 9.2-9.4 s to 6.9-7.2 s. Nodes
/// also land wherever their names do in `ux_node_name`: one page per project and kind
/// (33,000 of them in the 10M-node graph), so the more nodes a batch holds, the more of
/// them each of those pages takes for one write. A node batch holds the store's write
/// lock for 2-4 s (2 s at the 1M graph's rate, 4 s at the 10M graph's), inside other
/// writers' 10 s busy timeout.
const SQLITE_NODE_BATCH: usize = NODE_BATCH * 20;
const SQLITE_EDGE_BATCH: usize = EDGE_BATCH * 10;
/// Transactions an import keeps going at once on PostgreSQL, each on a connection of
/// its own. A PostgreSQL backend works on one core: one transaction at a time kept one
/// core of the server busy and left the other idle.
const POSTGRES_STREAMS: usize = 2;
/// A checkpoint every 32,768 pages (128 MB of WAL).
const CHECKPOINT_EVERY_128_MB: &str = "PRAGMA wal_autocheckpoint = 32768";
/// The import reads its store through a memory map as large as a store can grow (64 GB),
/// where the server's connections map 1 GB: the 10M-node graph's store is 8 GB, and the
/// index builds and `ANALYZE` read it whole, each page past the map copied into the page
/// cache first (2-9 s of the 10M import's 206-234 s). SQLite caps the map at 2 GB
/// unless built with a larger `SQLITE_MAX_MMAP_SIZE`, which `.cargo/config.toml` sets.
const MAP_THE_WHOLE_STORE: &str = "PRAGMA mmap_size = 68719476736";
/// The import's own SQLite session: a 256 MB page cache, [`CHECKPOINT_EVERY_128_MB`],
/// [`MAP_THE_WHOLE_STORE`].
const IMPORT_SESSION: [&str; 3] = [
    "PRAGMA cache_size = -262144",
    CHECKPOINT_EVERY_128_MB,
    MAP_THE_WHOLE_STORE,
];
/// While nodes are written, a checkpoint every 1 GB of WAL: a checkpoint copies each page
/// once however many batches rewrote it, and the name index's pages are rewritten by
/// every batch. Then the WAL is emptied, and the edges and index builds go back to
/// 128 MB: a page not in the cache is looked up in the WAL first, at a cost that grows
/// with the WAL, and the edges' reference checks and the index builds read the node
/// table at random and whole.
const NODES_SESSION: &str = "PRAGMA wal_autocheckpoint = 262144";
const AFTER_NODES: [&str; 2] = ["PRAGMA wal_checkpoint(TRUNCATE)", CHECKPOINT_EVERY_128_MB];
/// Parents of imported nodes that need one (versions, runs, services).
const CONTAINER: &str = "imported-graph";
/// Turns off PostgreSQL's foreign-key checks for the rest of one transaction, as
/// `pg_restore --disable-triggers` does for a data-only restore.
const SKIP_REFERENCE_CHECKS: &str = "SET LOCAL session_replication_role = replica";
/// Turns off SQLite's foreign-key checks on the import's own connection (a per-connection
/// setting: the server's connections check as before).
const SKIP_REFERENCE_CHECKS_SQLITE: &str = "PRAGMA foreign_keys = OFF";

/// Whether the import's writes check their references (parents, edge ends) row by row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReferenceChecks {
    /// The store checks each row, as for any write.
    #[default]
    Checked,
    /// The store skips its per-row checks: the import checked every reference before
    /// writing (edge ends against the nodes file, parents found or created first), and
    /// nodes are never deleted, so nothing it refers to can go away meanwhile. On
    /// PostgreSQL each check is a trigger running a lookup (for the 1M-node graph's 1.36M
    /// edges about 14 us an edge); on SQLite a lookup of each end in the node table,
    /// which at 10M nodes outgrows the import's page cache. PostgreSQL skips them in the
    /// import's transactions when its role may; SQLite on the import's own connection.
    Skipped,
}

/// On PostgreSQL, whether this role may skip the per-row reference checks: setting
/// `session_replication_role` needs a superuser (or a grant to set it). Elsewhere, and
/// when it may not, every row is checked.
async fn reference_checks(db: &DatabaseConnection) -> Result<ReferenceChecks> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(ReferenceChecks::Checked);
    }
    let probe = db.begin().await?;
    let allowed = probe
        .execute_unprepared(SKIP_REFERENCE_CHECKS)
        .await
        .is_ok();
    probe.rollback().await?;
    Ok(if allowed {
        ReferenceChecks::Skipped
    } else {
        ReferenceChecks::Checked
    })
}

#[derive(Debug, Default)]
pub struct ImportStats {
    pub nodes: usize,
    pub edges: usize,
    pub seconds: f64,
    /// Whether the store checked each row's references.
    pub reference_checks: ReferenceChecks,
}

struct CsvNode {
    id: i64,
    kind: NodeKind,
    name: String,
    /// Its place in the nodes file, from 0: its creation time's offset.
    place: usize,
    /// Its line in the nodes file.
    line: usize,
}

/// Puts `nodes` in the order of the store's unique name index, `ux_node_name` (kind,
/// scope, namespace, name: every imported node of a kind has the same parent and no
/// namespace), each name's nodes in the file's order. Written in that order, each node
/// lands at the end of the index instead of wherever its name does: `gen-graph`'s names
/// put each batch's nodes on one leaf page per project and kind (33,000 pages a batch in
/// the 10M-node graph, three nodes a page, each page written again by every batch). The
/// nodes are numbered in this order; their creation times still follow the file's.
fn name_order(nodes: &mut [CsvNode]) {
    nodes.sort_unstable_by(|a, b| {
        (a.kind.as_str(), &a.name, a.place).cmp(&(b.kind.as_str(), &b.name, b.place))
    });
}

/// The first line (in the file) naming a node that an earlier line already named with the
/// same kind, with that earlier line; `nodes` in [`name_order`], where they are side by
/// side. Every imported node of a kind has the same parent, so a name given twice would
/// fail the store's unique name index partway through the load, after earlier batches
/// were written.
fn named_twice(nodes: &[CsvNode]) -> Option<(&CsvNode, usize)> {
    nodes
        .windows(2)
        .filter(|pair| pair[0].kind == pair[1].kind && pair[0].name == pair[1].name)
        .map(|pair| (&pair[1], pair[0].line))
        .min_by_key(|(again, _)| again.line)
}

/// An edge of the edges file, checked against the nodes file: its ends by their places
/// in it.
struct CheckedEdge {
    source: usize,
    target: usize,
    kind: EdgeKind,
    source_kind: NodeKind,
}

/// Where each node of the nodes file is (its place, from 0), by the id the file gives it.
/// Ids that run through a range at most twice the nodes' count (`gen-graph`'s run from 1)
/// are kept in a vector indexed from the lowest: an edges file lists neighbours near one
/// another, and their places are then read from nearby memory, where a hash map sends
/// each to a random place (at 10M nodes a cache miss for each of 27M edge ends). Other
/// ids go in a hash map.
enum Places {
    Dense { lowest: i64, places: Vec<usize> },
    Sparse(HashMap<i64, usize>),
}

impl Places {
    /// The places of `nodes` (in the file's order), or the line giving an id that an
    /// earlier line already gave, with that line.
    fn new(nodes: &[CsvNode]) -> std::result::Result<Self, (usize, usize)> {
        let (Some(lowest), Some(highest)) = (
            nodes.iter().map(|n| n.id).min(),
            nodes.iter().map(|n| n.id).max(),
        ) else {
            return Ok(Self::Sparse(HashMap::new()));
        };
        let span = i128::from(highest) - i128::from(lowest) + 1;
        if span <= 2 * nodes.len() as i128 {
            let mut places = vec![usize::MAX; span as usize];
            for (place, n) in nodes.iter().enumerate() {
                let slot = &mut places[(n.id - lowest) as usize];
                if *slot != usize::MAX {
                    return Err((n.line, nodes[*slot].line));
                }
                *slot = place;
            }
            return Ok(Self::Dense { lowest, places });
        }
        let mut places = HashMap::with_capacity(nodes.len());
        for (place, n) in nodes.iter().enumerate() {
            if let Some(first) = places.insert(n.id, place) {
                return Err((n.line, nodes[first].line));
            }
        }
        Ok(Self::Sparse(places))
    }

    fn get(&self, id: i64) -> Option<usize> {
        match self {
            Self::Dense { lowest, places } => {
                let at = usize::try_from(i128::from(id) - i128::from(*lowest)).ok()?;
                places.get(at).copied().filter(|&p| p != usize::MAX)
            }
            Self::Sparse(places) => places.get(&id).copied(),
        }
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| RegistryError::invalid(path.display().to_string(), e.to_string()))
}

/// The data rows of a CSV file's `text` (its header and blank lines skipped), each with
/// its line number and its `N` cells, trimmed and unquoted, borrowed from the text: a
/// 10M-node graph's files are read without a string per cell.
fn csv_rows<'t, const N: usize>(
    path: &'t Path,
    text: &'t str,
) -> impl Iterator<Item = Result<(usize, [&'t str; N])>> + 't {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.trim().is_empty())
        .map(move |(i, line)| {
            let mut cells = [""; N];
            let mut found = 0;
            for cell in line.split(',') {
                if let Some(slot) = cells.get_mut(found) {
                    *slot = cell.trim().trim_matches('"');
                }
                found += 1;
            }
            if found != N {
                return Err(RegistryError::invalid(
                    at_line(path, i + 1),
                    format!("expected {N} columns, found {found}"),
                ));
            }
            Ok((i + 1, cells))
        })
}

/// Where in a file an error is: `path:line`.
fn at_line(path: &Path, line: usize) -> String {
    format!("{}:{line}", path.display())
}

async fn container(
    db: &DatabaseConnection,
    kind: NodeKind,
    extra: NodeFields,
) -> Result<node::Model> {
    if let Some(found) = find_by_name(db, kind, 0, "", CONTAINER).await? {
        return Ok(found);
    }
    let txn = begin(db, &Actor::cli()).await?;
    let created = create_in(
        &txn,
        kind,
        NodeFields {
            name: Some(CONTAINER.to_owned()),
            ..extra
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// Runs `$work` (a future using the journaled transaction `$tx`) in one write
/// transaction: in `$session`, a direct SQLite session, when there is one (its statements
/// run on this thread and bind by position), else through sea-orm on `$db`, without
/// foreign-key checks when `$checks` says they are skipped.
macro_rules! in_batch {
    ($db:expr, $session:expr, $checks:expr, |$tx:ident| $work:expr) => {
        async {
            match $session {
                Some(session) => {
                    let _turn = crate::db::writer::turn($db).await;
                    super::history::on_session(session, Actor::cli(), async |$tx| $work.await).await
                }
                None => {
                    let txn = begin($db, &Actor::cli()).await?;
                    if $checks == ReferenceChecks::Skipped {
                        txn.conn().execute_unprepared(SKIP_REFERENCE_CHECKS).await?;
                    }
                    let out = {
                        let $tx = &txn;
                        $work.await?
                    };
                    txn.commit().await?;
                    Ok(out)
                }
            }
        }
        .await
    };
}

/// The containers imported nodes that need a parent go under.
struct Parents<'a> {
    model: &'a node::Model,
    experiment: &'a node::Model,
    environment: &'a node::Model,
}

#[derive(FromQueryResult, serde::Deserialize)]
struct Key {
    id: i64,
}

/// Inserts `batch` in its order (each node created at `base` plus its place in the
/// file), recording each creation; the new ids, in order.
async fn insert_nodes<E: Write>(
    tx: &E,
    batch: &[CsvNode],
    base: i64,
    parents: &Parents<'_>,
) -> Result<Vec<i64>> {
    if tx.backend() == sea_orm::DbBackend::Postgres {
        return insert_nodes_postgres(tx, batch, base, parents).await;
    }
    if let Some(session) = tx.session() {
        return insert_nodes_each(tx, session, batch, base, parents);
    }
    let mut keys = Vec::with_capacity(batch.len());
    let per_statement = rows_per_statement(tx, NODE_COLUMNS.len(), BATCH);
    for chunk in batch.chunks(per_statement) {
        let mut insert = Query::insert();
        insert
            .into_table(node::Entity)
            .columns(NODE_COLUMNS.map(|(name, _)| Alias::new(name)))
            .returning_col(node::Column::Id);
        for n in chunk {
            insert.values_panic(node_row(n, base, parents).map(Into::into));
        }
        let added: Vec<Key> = tx.fetch(build_statement(tx.backend(), &insert)).await?;
        if added.len() != chunk.len() {
            return Err(RegistryError::Internal(format!(
                "inserted {} nodes, {} came back",
                chunk.len(),
                added.len()
            )));
        }
        for (n, key) in chunk.iter().zip(&added) {
            tx.record(created_change(n, key.id));
        }
        keys.extend(added.into_iter().map(|k| k.id));
    }
    Ok(keys)
}

/// `insert_nodes` on a direct SQLite session: one single-row insert, prepared once and
/// stepped per node; each node's id is the rowid it inserted.
fn insert_nodes_each<E: Write>(
    tx: &E,
    session: &Session,
    batch: &[CsvNode],
    base: i64,
    parents: &Parents<'_>,
) -> Result<Vec<i64>> {
    use crate::db::exec::Bind;
    let sql = format!(
        r#"INSERT INTO "node" ({columns}) VALUES ({marks})"#,
        columns = crate::db::recordset::names("", &NODE_COLUMNS),
        marks = crate::db::direct::positional_marks(NODE_COLUMNS.len()),
    );
    let rows = batch
        .iter()
        .map(|n| rusqlite::params_from_iter(node_row(n, base, parents).into_iter().map(Bind)));
    let added = session.insert_each(&sql, rows)?;
    let mut keys = Vec::with_capacity(batch.len());
    for (n, id) in batch.iter().zip(added) {
        let id =
            id.ok_or_else(|| RegistryError::Internal(format!("node {} was not inserted", n.name)))?;
        tx.record(created_change(n, id));
        keys.push(id);
    }
    Ok(keys)
}

/// The columns an imported node is written with, and their PostgreSQL types.
const NODE_COLUMNS: [(&str, &str); 12] = [
    ("kind", "text"),
    ("name", "text"),
    ("namespace", "text"),
    ("parent_id", "bigint"),
    ("parent_kind", "text"),
    ("scope_id", "bigint"),
    ("state", "text"),
    ("custom_properties", "text"),
    ("create_time", "bigint"),
    ("last_update_time", "bigint"),
    ("revision", "bigint"),
    ("registered_model_id", "bigint"),
];

/// An imported node's values, in [`NODE_COLUMNS`] order.
type NodeRow = [sea_orm::Value; NODE_COLUMNS.len()];

/// The row that imports `n`, created at `base` plus its place in the file.
fn node_row(n: &CsvNode, base: i64, parents: &Parents<'_>) -> NodeRow {
    let parent = parent_of(n.kind, parents);
    let t = base + n.place as i64;
    [
        n.kind.as_str().into(),
        n.name.as_str().into(),
        "".into(),
        parent.map(|p| p.id).into(),
        parent.map(|p| p.kind.clone()).into(),
        parent.map_or(0, |p| p.id).into(),
        n.kind.default_state().into(),
        "{}".into(),
        t.into(),
        t.into(),
        1i64.into(),
        (n.kind == NodeKind::InferenceService)
            .then_some(parents.model.id)
            .into(),
    ]
}

/// `insert_nodes` on PostgreSQL: the batch as column arrays (`db::recordset`), inserted
/// in the arrays' order. Each node's creation time is its own, so the ids that come back
/// are matched to the nodes by it rather than by the order rows come back in.
async fn insert_nodes_postgres<E: Write>(
    tx: &E,
    batch: &[CsvNode],
    base: i64,
    parents: &Parents<'_>,
) -> Result<Vec<i64>> {
    use crate::db::recordset::{column_arrays, names, unnest_numbered};
    #[derive(FromQueryResult, serde::Deserialize)]
    struct Created {
        id: i64,
        create_time: i64,
    }
    let rows: Vec<NodeRow> = batch.iter().map(|n| node_row(n, base, parents)).collect();
    let sql = format!(
        r#"INSERT INTO "node" ({columns}) SELECT {picked} FROM {rows}
           ORDER BY v."place" RETURNING "id", "create_time""#,
        columns = names("", &NODE_COLUMNS),
        picked = names("v", &NODE_COLUMNS),
        rows = unnest_numbered(1, "v", &NODE_COLUMNS, "place"),
    );
    let arrays = column_arrays(&NODE_COLUMNS, &rows);
    let statement =
        sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, arrays);
    let created: Vec<Created> = tx.fetch(statement).await?;
    if created.len() != batch.len() {
        return Err(RegistryError::Internal(format!(
            "inserted {} nodes, {} came back",
            batch.len(),
            created.len()
        )));
    }
    let by_time: HashMap<i64, i64> = created.into_iter().map(|c| (c.create_time, c.id)).collect();
    let mut keys = Vec::with_capacity(batch.len());
    for n in batch {
        let id = by_time
            .get(&(base + n.place as i64))
            .copied()
            .ok_or_else(|| {
                RegistryError::Internal(format!(
                    "node {} came back without its creation time",
                    n.name
                ))
            })?;
        tx.record(created_change(n, id));
        keys.push(id);
    }
    Ok(keys)
}

/// The parent an imported node of `kind` goes under, if it needs one.
fn parent_of<'a>(kind: NodeKind, parents: &Parents<'a>) -> Option<&'a node::Model> {
    match kind {
        NodeKind::ModelVersion => Some(parents.model),
        NodeKind::ExperimentRun => Some(parents.experiment),
        NodeKind::InferenceService => Some(parents.environment),
        _ => None,
    }
}

/// The change recording an imported node's creation.
fn created_change(n: &CsvNode, id: i64) -> NewChange {
    let mut after = serde_json::Map::new();
    after.insert("name".into(), n.name.clone().into());
    NewChange {
        operation: Operation::Create,
        node_id: id,
        node_kind: n.kind.as_str().to_owned(),
        other_node_id: None,
        before: None,
        after: Some(after),
    }
}

/// Writes the nodes (in [`name_order`]), then the checked edges (each listed once or
/// more), in batches; the number of edges.
async fn load(
    db: &DatabaseConnection,
    session: Option<&Session>,
    checks: ReferenceChecks,
    nodes: &[CsvNode],
    checked: Vec<CheckedEdge>,
    [model, experiment, environment]: [&node::Model; 3],
    progress: &mut impl FnMut(&str, usize, usize),
) -> Result<usize> {
    // creation times follow the file's order (a topological one), ending now, whatever
    // order the nodes are written in
    let base = now_ms() - nodes.len() as i64;
    let parents = Parents {
        model,
        experiment,
        environment,
    };
    let streams = streams(db, session);
    let (node_batch, edge_batch) = match session {
        Some(_) => (SQLITE_NODE_BATCH, SQLITE_EDGE_BATCH),
        None => (NODE_BATCH, EDGE_BATCH),
    };
    // a node's place in the file -> its stored id
    let mut ids = vec![0i64; nodes.len()];
    let mut done = 0;
    let parents = &parents;
    if session.is_some() {
        in_session(db, session, NODES_SESSION).await?;
    }
    let mut written = stream::iter(nodes.chunks(node_batch))
        .map(|batch| async move {
            let keys = in_batch!(db, session, checks, |tx| insert_nodes(
                tx, batch, base, parents
            ))
            .map_err(|e| (batch, e))?;
            Ok::<_, (&[CsvNode], RegistryError)>((batch, keys))
        })
        .buffered(streams);
    let mut failed = None;
    while let Some(written) = written.next().await {
        let (batch, keys) = match written {
            Ok(written) => written,
            Err(refused) => {
                failed = Some(refused);
                break;
            }
        };
        for (n, key) in batch.iter().zip(keys) {
            ids[n.place] = key;
        }
        done += batch.len();
        progress("nodes", done, nodes.len());
    }
    drop(written);
    // also when a batch failed: the index builds that follow a failed load read the
    // node table whole, and should not do it through a 1 GB WAL
    if session.is_some() {
        for pragma in AFTER_NODES {
            in_session(db, session, pragma).await?;
        }
    }
    if let Some((batch, e)) = failed {
        return Err(match e {
            RegistryError::AlreadyExists(_) => taken(db, batch, parents).await?.unwrap_or(e),
            e => e,
        });
    }
    // versions named with numbers: the next unnamed one comes after the highest
    let highest = nodes
        .iter()
        .filter(|n| n.kind == NodeKind::ModelVersion)
        .filter_map(|n| version_number(&n.name))
        .max();
    if let Some(number) = highest {
        let txn = begin(db, &Actor::cli()).await?;
        note_version_number(&txn, model.id, number).await?;
        txn.commit().await?;
    }
    let mut new_edges: Vec<NewEdge> = checked
        .into_iter()
        .map(|e| NewEdge {
            source: ids[e.source],
            target: ids[e.target],
            kind: e.kind,
            properties: None,
            source_kind: Some(e.source_kind),
        })
        .collect();
    drop(ids);
    // written in the order of the edges' unique index (source, target, kind), so each
    // insert lands beside the one before instead of on a random page of an index that
    // outgrows the page cache on large graphs; an edge listed twice is then next to its
    // twin and written once (the store would keep one anyway), and batches written at
    // once hold disjoint ranges of the index, so none waits on another's rows
    new_edges.sort_unstable_by_key(index_order);
    new_edges.dedup_by_key(|e| index_order(e));
    let mut written = stream::iter(new_edges.chunks(edge_batch))
        .map(|batch| async move {
            in_batch!(db, session, checks, |tx| insert_edges(tx, batch))?;
            Ok::<_, RegistryError>(batch.len())
        })
        .buffered(streams);
    let mut done = 0;
    while let Some(written) = written.next().await {
        done += written?;
        progress("edges", done, new_edges.len());
    }
    Ok(new_edges.len())
}

/// Why the store refused a batch for a name it already holds: the batch's node first in
/// the file whose kind and name the store has under the same parent, named. (Names given twice
/// in the file are refused before anything is written.)
async fn taken(
    db: &DatabaseConnection,
    batch: &[CsvNode],
    parents: &Parents<'_>,
) -> Result<Option<RegistryError>> {
    #[derive(FromQueryResult)]
    struct Named {
        kind: String,
        scope_id: i64,
        name: String,
    }
    let mut held = std::collections::HashSet::new();
    for chunk in batch.chunks(BATCH) {
        let mut select = Query::select();
        select
            .columns([
                node::Column::Kind,
                node::Column::ScopeId,
                node::Column::Name,
            ])
            .from(node::Entity)
            .and_where(node::Column::Namespace.eq(""))
            .and_where(node::Column::Name.is_in(chunk.iter().map(|n| n.name.as_str())));
        let found = Named::find_by_statement(build_statement(db.get_database_backend(), &select))
            .all(db)
            .await?;
        held.extend(found.into_iter().map(|n| (n.kind, n.scope_id, n.name)));
    }
    Ok(batch
        .iter()
        .filter(|n| {
            let scope = parent_of(n.kind, parents).map_or(0, |p| p.id);
            held.contains(&(n.kind.as_str().to_owned(), scope, n.name.clone()))
        })
        .min_by_key(|n| n.place)
        .map(|n| {
            RegistryError::AlreadyExists(format!(
                "node {} of the nodes file: the store already holds a {} named {:?}",
                n.id, n.kind, n.name
            ))
        }))
}

/// An edge's key in the edges' unique index, `ux_lineage_edge`.
fn index_order(e: &NewEdge) -> (i64, i64, EdgeKind) {
    (e.source, e.target, e.kind)
}

/// Nodes in the store now.
async fn existing_nodes(db: &DatabaseConnection) -> Result<i64> {
    #[derive(FromQueryResult)]
    struct Count {
        n: i64,
    }
    let found = Count::find_by_statement(sea_orm::Statement::from_string(
        db.get_database_backend(),
        r#"SELECT COUNT(*) AS n FROM "node""#,
    ))
    .one(db)
    .await?;
    Ok(found.map_or(0, |c| c.n))
}

/// Batches (and index builds) in flight at once: on PostgreSQL [`POSTGRES_STREAMS`];
/// one elsewhere (SQLite writes one transaction at a time, through the import's own
/// session; MySQL/MariaDB was not measured with more).
fn streams(db: &DatabaseConnection, session: Option<&Session>) -> usize {
    if session.is_none() && db.get_database_backend() == sea_orm::DbBackend::Postgres {
        POSTGRES_STREAMS
    } else {
        1
    }
}

/// Runs a statement in the import's own SQLite session when it has one. Schema changes
/// go there so that each change and the next are made by one connection: another
/// connection's copy of the schema can be stale until its next transaction, and SQLite
/// checks `CREATE INDEX` against that copy ("already exists" for an index just dropped
/// elsewhere). `ANALYZE` goes there because its page cache holds what was just written.
async fn in_session(db: &DatabaseConnection, session: Option<&Session>, sql: &str) -> Result<()> {
    match session {
        Some(session) => {
            let _turn = crate::db::writer::turn(db).await;
            session.execute(sql, [])?;
        }
        None => {
            db.execute_unprepared(sql).await?;
        }
    }
    Ok(())
}

/// The tables an import fills.
const FILLED: [&str; 3] = ["node", "lineage_edge", "change"];

/// Drops the secondary indexes of the tables an import fills that enforce nothing (not
/// unique, not keys) and returns the statements that create them again, as the store
/// has them.
async fn defer_indexes(db: &DatabaseConnection, session: Option<&Session>) -> Result<Vec<String>> {
    #[derive(FromQueryResult)]
    struct Index {
        name: String,
        definition: String,
    }
    let tables = FILLED.map(|t| format!("'{t}'")).join(", ");
    let sql = match db.get_database_backend() {
        // InnoDB keeps an index a foreign key uses whatever is asked, and rebuilds the
        // others table by table: MySQL/MariaDB loads with its indexes in place
        sea_orm::DbBackend::MySql => return Ok(Vec::new()),
        sea_orm::DbBackend::Postgres => format!(
            "SELECT indexname AS name, indexdef AS definition FROM pg_indexes
             WHERE schemaname = current_schema() AND tablename IN ({tables})
               AND indexdef NOT LIKE 'CREATE UNIQUE %'"
        ),
        _ => format!(
            "SELECT name, sql AS definition FROM sqlite_master
             WHERE type = 'index' AND tbl_name IN ({tables}) AND sql IS NOT NULL
               AND sql NOT LIKE 'CREATE UNIQUE %'"
        ),
    };
    let indexes = Index::find_by_statement(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .all(db)
    .await?;
    let mut creates = Vec::with_capacity(indexes.len());
    for index in indexes {
        // names come from the store's own catalogue, quoted as identifiers
        let name = index.name.replace('"', "\"\"");
        in_session(db, session, &format!(r#"DROP INDEX "{name}""#)).await?;
        creates.push(index.definition);
    }
    Ok(creates)
}

/// Loads a graph; `progress(stage, done, total)` is called after every batch.
pub async fn import_graph(
    db: &DatabaseConnection,
    nodes_csv: &Path,
    edges_csv: &Path,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<ImportStats> {
    let started = Instant::now();
    let text = read_text(nodes_csv)?;
    let mut nodes: Vec<CsvNode> = csv_rows(nodes_csv, &text)
        .zip(0..)
        .map(|(row, place)| {
            let (line, [id, kind, name]) = row?;
            let at = || at_line(nodes_csv, line);
            let id = id
                .parse()
                .map_err(|_| RegistryError::invalid(at(), "id is not an integer"))?;
            let kind: NodeKind = kind
                .parse()
                .map_err(|_| RegistryError::invalid(at(), format!("unknown kind {kind:?}")))?;
            validate_name(&at(), name)?;
            Ok(CsvNode {
                id,
                kind,
                name: name.to_owned(),
                place,
                line,
            })
        })
        .collect::<Result<_>>()?;
    drop(text);
    // every edge checked against the nodes file before anything is written, and each end
    // kept as its node's place in the file
    let places = Places::new(&nodes).map_err(|(line, first)| {
        RegistryError::invalid(
            at_line(nodes_csv, line),
            format!("id is already given on line {first}"),
        )
    })?;
    let kinds: Vec<NodeKind> = nodes.iter().map(|n| n.kind).collect();
    name_order(&mut nodes);
    if let Some((again, first)) = named_twice(&nodes) {
        return Err(RegistryError::invalid(
            at_line(nodes_csv, again.line),
            format!(
                "{} {:?} is already named on line {first}",
                again.kind, again.name
            ),
        ));
    }
    let text = read_text(edges_csv)?;
    let mut checked = Vec::new();
    for row in csv_rows(edges_csv, &text) {
        let (line, [source, target, kind]) = row?;
        let at = || at_line(edges_csv, line);
        let end = |cell: &str| -> Result<(usize, NodeKind)> {
            let csv_id: i64 = cell
                .parse()
                .map_err(|_| RegistryError::invalid(at(), "node id is not an integer"))?;
            let place = places.get(csv_id).ok_or_else(|| {
                RegistryError::invalid(at(), format!("node {csv_id} is not in the nodes file"))
            })?;
            Ok((place, kinds[place]))
        };
        let (source, source_kind) = end(source)?;
        let (target, target_kind) = end(target)?;
        let kind: EdgeKind = kind
            .parse()
            .map_err(|_| RegistryError::invalid(at(), format!("unknown edge kind {kind:?}")))?;
        if !kind.allows(source_kind, target_kind) || source == target {
            return Err(RegistryError::invalid(
                at(),
                format!("{kind} cannot join a {source_kind} to a {target_kind}"),
            ));
        }
        checked.push(CheckedEdge {
            source,
            target,
            kind,
            source_kind,
        });
    }
    drop(text);
    drop(places);
    drop(kinds);
    let model = container(db, NodeKind::RegisteredModel, NodeFields::default()).await?;
    let experiment = container(db, NodeKind::Experiment, NodeFields::default()).await?;
    let environment = container(db, NodeKind::ServingEnvironment, NodeFields::default()).await?;

    // on a SQLite file, batches run in a session of the import's own, on this thread,
    // with room to keep the indexes' pages it keeps revisiting (the server's connections
    // keep 16 MB) and the WAL copied into the file every 128 MB rather than every 4 MB
    // (1 GB while nodes are written: `NODES_SESSION`)
    let session = Session::open_writer(db, &DirectOptions::default())?;
    if let Some(session) = &session {
        for pragma in IMPORT_SESSION {
            session.execute(pragma, [])?;
        }
    }
    let session = session.as_ref();
    // into a store smaller than the graph, the tables' secondary indexes are built once
    // after the load, from sorted data, instead of taking a random insert per row
    let deferred = if existing_nodes(db).await? < nodes.len() as i64 {
        defer_indexes(db, session).await?
    } else {
        Vec::new()
    };
    let checks = match session {
        Some(session) => {
            session.execute(SKIP_REFERENCE_CHECKS_SQLITE, [])?;
            ReferenceChecks::Skipped
        }
        None => reference_checks(db).await?,
    };
    let loaded = load(
        db,
        session,
        checks,
        &nodes,
        checked,
        [&model, &experiment, &environment],
        &mut progress,
    )
    .await;
    // built again whether the load finished or not (on PostgreSQL two at a time, each
    // by a backend of its own)
    let mut built = stream::iter(&deferred)
        .map(|create| in_session(db, session, create))
        .buffer_unordered(streams(db, session));
    let mut done = 0;
    while let Some(outcome) = built.next().await {
        outcome?;
        done += 1;
        progress("indexes", done, deferred.len());
    }
    let edge_count = loaded?;
    // fresh statistics, so the planner knows the tables' new sizes; on PostgreSQL also
    // the visibility map, without which a walk's index-only scans visit the table for
    // every edge until autovacuum comes by
    // (one statement each: several in one message would run as one transaction, which
    // VACUUM refuses)
    let analyze: &[&str] = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => &[
            "VACUUM (ANALYZE) node",
            "VACUUM (ANALYZE) lineage_edge",
            "VACUUM (ANALYZE) node_property",
        ],
        sea_orm::DbBackend::MySql => &[r#"ANALYZE TABLE "node", "lineage_edge", "node_property""#],
        // not the change log, as on the others: its 2.4M rows took a third of the 1M-node
        // graph's ANALYZE, and without statistics its reads are planned as on any store
        // that never imported a graph
        _ => &[
            r#"ANALYZE "node""#,
            r#"ANALYZE "lineage_edge""#,
            r#"ANALYZE "node_property""#,
        ],
    };
    for (i, statement) in analyze.iter().enumerate() {
        // on SQLite in the import's session, whose cache holds the pages just written
        in_session(db, session, statement).await?;
        progress("statistics", i + 1, analyze.len());
    }
    Ok(ImportStats {
        nodes: nodes.len(),
        edges: edge_count,
        seconds: started.elapsed().as_secs_f64(),
        reference_checks: checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows keep their file's line numbers (blank lines skipped, not counted away), cells
    /// come trimmed and unquoted, and a row with another number of cells names its line.
    #[test]
    fn csv_rows_borrow_cells_and_name_their_lines() {
        let path = Path::new("g/nodes.csv");
        let text = "id,kind,name\n1, DATASET ,\"raw\"\n\n2,MODEL_VERSION,v1\n";
        let rows: Vec<(usize, [&str; 3])> = csv_rows(path, text).collect::<Result<_>>().unwrap();
        assert_eq!(
            rows,
            [
                (2, ["1", "DATASET", "raw"]),
                (4, ["2", "MODEL_VERSION", "v1"])
            ]
        );
        for (bad, found) in [("1,DATASET\n", 2), ("1,DATASET,a,b\n", 4)] {
            let text = format!("id,kind,name\n1,DATASET,ok\n\n{bad}");
            let err = csv_rows::<3>(path, &text)
                .collect::<Result<Vec<_>>>()
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("g/nodes.csv:4") && err.contains(&format!("found {found}")),
                "{err}"
            );
        }
    }

    /// The import's session, set up as `import` sets it up, maps the whole store, not
    /// SQLite's default cap of 2 GB: the cap is raised where SQLite is built
    /// (`.cargo/config.toml`), and without it the pragma would quietly map less.
    #[test]
    fn the_import_session_maps_a_store_larger_than_two_gigabytes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("store.sqlite")).unwrap();
        for pragma in IMPORT_SESSION {
            conn.execute_batch(pragma).unwrap();
        }
        let mapped: i64 = conn
            .query_row("PRAGMA mmap_size", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mapped, 64 << 30);
    }
}
