//! Walking lineage level by level: each step is one batched statement for the whole
//! frontier (`WHERE target_id IN (...)` upstream, `source_id IN (...)` downstream), and a
//! visited set expands every node once, so the cost grows with the nodes reached, never
//! with the number of paths, and cycles end. Many independent walks with the same
//! parameters (a nested `upstream` field on every node of a list) share each level's
//! statement.
use std::collections::hash_map::Entry as Slot;
use std::collections::{HashMap, HashSet};

use foldhash::HashMapExt;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::db::direct::Session;
use crate::db::ids::{ids_in, in_ids, json_ids};
use crate::registry::edges::EdgeKind;
use crate::registry::kind::NodeKind;
use crate::registry::{RegistryError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Upstream,
    Downstream,
}

/// What a walk follows and returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WalkParams {
    /// Walk UPSTREAM, DOWNSTREAM or both (each separately).
    pub directions: Vec<Direction>,
    pub max_depth: u32,
    /// Kinds of node returned (all when empty); the walk passes through the others.
    pub node_kinds: Vec<NodeKind>,
    /// Kinds of edge followed (all when empty).
    pub edge_kinds: Vec<EdgeKind>,
    /// Ignore nodes and edges created after this time (ms).
    pub as_of: Option<i64>,
    /// Most nodes returned; more reached sets `truncated`.
    pub first: usize,
    /// Read each edge's properties. Without them a level is read from the edge index
    /// alone, never from the table.
    pub edge_properties: bool,
    /// Keep the edges crossed (the graph's `edges`); without them only nodes are listed.
    pub edges: bool,
}

/// One edge the walk crossed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkedEdge {
    pub id: i64,
    pub source_id: i64,
    pub target_id: i64,
    pub kind: String,
    pub create_time: i64,
    /// The far end's kind and creation time, read with the edge.
    pub node_kind: String,
    pub node_create_time: i64,
    /// The edge's properties (JSON text), as given when it was added.
    pub properties: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub depth: u32,
    pub direction: Direction,
}

/// What one walk found: nodes by ascending depth, the edges between listed (or start)
/// nodes, and whether `first` cut the list.
#[derive(Clone, Debug, Default)]
pub struct WalkResult {
    pub starts: Vec<i64>,
    pub entries: Vec<Entry>,
    pub edges: Vec<WalkedEdge>,
    pub truncated: bool,
}

impl WalkResult {
    /// Ids of every node the result mentions (starts and listed), for hydration.
    pub fn node_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.starts
            .iter()
            .copied()
            .chain(self.entries.iter().map(|e| e.id))
    }
}

/// One group's progress in one direction.
struct Walker {
    /// Nodes seen (start nodes at depth 0), by id; foldhash, as ids are not chosen by
    /// whoever asks.
    visited: foldhash::HashMap<i64, u32>,
    frontier: Vec<i64>,
    reached: Vec<Entry>,
    edges: Vec<WalkedEdge>,
    listed: usize,
    done: bool,
}

/// Checks the bounds of a walk.
pub fn check_bounds(
    max_depth: i64,
    first: i64,
    max_depth_limit: u32,
    first_limit: u32,
) -> Result<(u32, usize)> {
    if max_depth < 0 {
        return Err(RegistryError::invalid("maxDepth", "must not be negative"));
    }
    if first < 0 {
        return Err(RegistryError::invalid("first", "must not be negative"));
    }
    if max_depth > i64::from(max_depth_limit) {
        return Err(RegistryError::LimitExceeded(format!(
            "maxDepth is at most {max_depth_limit} (asked for {max_depth})"
        )));
    }
    if first > i64::from(first_limit) {
        return Err(RegistryError::LimitExceeded(format!(
            "a lineage walk returns at most {first_limit} nodes (asked for {first})"
        )));
    }
    Ok((max_depth as u32, first as usize))
}

/// Levels walked per statement while the frontier is narrow: a recursive query walks
/// this many levels at once, and the visited sets are applied between chunks.
const LEVELS_PER_STATEMENT: u32 = 5;

/// How a walk reaches its store, which decides how many levels one statement walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// A direct SQLite session: a statement costs only its own work, so one level each,
    /// and no node is expanded twice.
    Direct,
    /// SQLite through sqlx: each statement costs a hand-off between threads, so narrow
    /// frontiers walk several levels at once (without a visited set inside the
    /// statement, so a wide frontier revisits more within a chunk than a statement costs).
    Sqlx,
    /// PostgreSQL: a statement costs a round trip, and the statement keeps a visited set
    /// itself ([`postgres_chunk_sql`]), so it walks every level left, up to a number of
    /// nodes.
    Postgres,
    /// MySQL/MariaDB: a statement costs a round trip, and SQLite's recursive form walks
    /// several levels at once while the frontier is narrow, as through sqlx.
    Mysql,
}

fn levels_for(width: usize, route: Route, left: u32) -> u32 {
    let levels = match (route, width) {
        (Route::Direct, _) => 1,
        (Route::Postgres, _) => left,
        (Route::Sqlx | Route::Mysql, 0..=64) => LEVELS_PER_STATEMENT,
        (Route::Sqlx | Route::Mysql, 65..=512) => 2,
        (Route::Sqlx | Route::Mysql, _) => 1,
    };
    levels.min(left)
}

/// The most nodes one PostgreSQL statement reaches before it stops at the end of a level
/// (the walk goes on with another): a walk asking for `first` nodes reads about that many
/// more, not the whole graph below its depth.
fn reach_per_statement(first: usize) -> i64 {
    i64::try_from(first)
        .unwrap_or(i64::MAX)
        .saturating_add(1)
        .max(64)
}

/// What a level reads beside the edge's ends: the far node's kind and creation time
/// (joined only when a filter needs them), the join, and the edge filters.
fn edge_filters(params: &WalkParams, far: &str) -> (String, String, String) {
    let join = params.as_of.is_some() || !params.node_kinds.is_empty();
    let (node_cols, join_sql) = if join {
        (
            "n.kind, n.create_time".to_owned(),
            format!(r#" JOIN "node" n ON n."id" = e."{far}""#),
        )
    } else {
        ("'', 0".to_owned(), String::new())
    };
    // kinds come from a closed enum and times are integers: literals are safe here
    let mut filters = String::new();
    if !params.edge_kinds.is_empty() {
        let kinds: Vec<String> = params
            .edge_kinds
            .iter()
            .map(|k| format!("'{}'", k.as_str()))
            .collect();
        filters.push_str(&format!(" AND e.\"kind\" IN ({})", kinds.join(", ")));
    }
    if let Some(t) = params.as_of {
        filters.push_str(&format!(
            " AND e.\"create_time\" <= {t} AND n.\"create_time\" <= {t}"
        ));
    }
    (node_cols, join_sql, filters)
}

/// One chunk's statement: up to `levels` levels from the frontier in one recursive
/// statement (SQLite, MariaDB; PostgreSQL's several levels are [`postgres_chunk_sql`]),
/// each edge with the level (1-based) it was reached at, folded into one JSON row. Nodes in
/// `exclude` (visited by every walk sharing the statement) are not expanded again;
/// within the chunk an edge may come back at several levels, and the caller keeps the
/// first way in, as a level-by-level walk does. Parameters: the frontier (a JSON
/// array), then for more than one level the number of levels and the excluded ids (a JSON
/// array). Zero levels asks for one level's edges as plain rows (for a walk: unless the
/// walk keeps its edges, with only their ends filled in).
fn chunk_sql(backend: DbBackend, direction: Direction, params: &WalkParams, levels: u32) -> String {
    let (near, far) = match direction {
        Direction::Upstream => ("target_id", "source_id"),
        Direction::Downstream => ("source_id", "target_id"),
    };
    let postgres = backend == DbBackend::Postgres;
    let placeholder = |n: usize| crate::db::param(backend, n);
    let list = |n: usize| ids_in(backend, &placeholder(n));
    let (node_cols, join_sql, filters) = edge_filters(params, far);
    let properties = if params.edge_properties {
        r#"e."properties""#
    } else if postgres {
        "NULL::text"
    } else {
        "NULL"
    };
    let (agg, array, cast) = match backend {
        DbBackend::Postgres => ("json_agg", "json_build_array", "::text"),
        DbBackend::MySql => ("JSON_ARRAYAGG", "JSON_ARRAY", ""),
        _ => ("json_group_array", "json_array", ""),
    };
    if levels == 0 {
        // rows, not one JSON row: a direct session reads rows without a hand-off each;
        // when the edges are not kept, only their ends are read
        let edge_cols = if params.edges {
            r#"e."id", e."source_id", e."target_id", e."kind", e."create_time""#
        } else {
            r#"0, e."source_id", e."target_id", '', 0"#
        };
        return format!(
            r#"SELECT {edge_cols}, {node_cols}, {properties} FROM "lineage_edge" e{join_sql} WHERE {first}{filters}"#,
            first = in_ids(backend, &format!(r#"e."{near}""#), &placeholder(1)),
        );
    }
    if levels == 1 {
        // one level needs no recursion: the frontier's edges, straight off the index
        return format!(
            r#"SELECT COALESCE({agg}({array}(e."id", e."source_id", e."target_id", e."kind", e."create_time", {node_cols}, {properties}, 1)){cast}, '[]') AS edges FROM "lineage_edge" e{join_sql} WHERE {first}{filters}"#,
            first = in_ids(backend, &format!(r#"e."{near}""#), &placeholder(1)),
        );
    }
    // several levels: SQLite's and MariaDB's recursive form (PostgreSQL's is
    // [`postgres_chunk_sql`]); MariaDB binds by position, in the order the parameters
    // appear: the frontier, the levels, the excluded ids
    debug_assert!(
        !postgres,
        "PostgreSQL walks several levels in postgres_chunk_sql"
    );
    let cols =
        format!(r#"e."id", e."source_id", e."target_id", e."kind", e."create_time", {properties}"#);
    format!(
        r#"WITH RECURSIVE walk(id, source_id, target_id, kind, create_time, properties, node_kind, node_create_time, depth) AS (
SELECT {cols}, {node_cols}, 1 FROM "lineage_edge" e{join_sql} WHERE e."{near}" IN ({first}){filters}
UNION
SELECT {cols}, {node_cols}, w.depth + 1 FROM walk w JOIN "lineage_edge" e ON e."{near}" = w.{far}{join_sql}
WHERE w.depth < {levels} AND w.{far} NOT IN ({excluded}){filters})
SELECT COALESCE({agg}({array}(id, source_id, target_id, kind, create_time, node_kind, node_create_time, properties, depth)), '[]') AS edges FROM walk"#,
        first = list(1),
        levels = placeholder(2),
        excluded = list(3),
    )
}

/// PostgreSQL's chunk: up to `$2` levels from the frontier (`$1`, a JSON array) in one
/// recursive statement that carries the nodes seen so far (the frontier, the excluded
/// ids `$3`, and every node reached) as an array, so each node is expanded once, at the
/// first level it is reached, as a level-by-level walk expands it. It stops after a
/// level once it has seen more than `$4` nodes (the frontier and the excluded count).
/// One row: the edges (a JSON array, each with its level, as [`chunk_sql`]'s), the
/// number of levels walked, and with `summarise` the summaries of the nodes reached.
fn postgres_chunk_sql(direction: Direction, params: &WalkParams, summarise: bool) -> String {
    let (near, far) = match direction {
        Direction::Upstream => ("target_id", "source_id"),
        Direction::Downstream => ("source_id", "target_id"),
    };
    let (_, join_sql, filters) = edge_filters(params, far);
    // the JSON is built by concatenating text rather than by `json_build_array`, which
    // looks up each argument's type and output function on every call: 15-25% of a
    // depth-50 walk's statement (docs/performance.md). Ids and times are integers and
    // kinds a closed set of upper-case words; names and properties go through `to_json`.
    let node_cols = if join_sql.is_empty() {
        r#"',"",0'"#
    } else {
        r#"',"' || n."kind" || '",' || n."create_time""#
    };
    let properties = if params.edge_properties {
        r#"COALESCE(to_json(e."properties")::text, 'null')"#
    } else {
        "'null'"
    };
    // every level's new nodes are its frontier: their summaries, as [`super::summaries`]
    // reads them, so that the walk needs no statement before or after it (the first
    // level's frontier is where the walk starts: a walk's first statement summarises its
    // start nodes, a later one the last level of the one before it again)
    let nodes = if summarise {
        r#", (SELECT '[' || COALESCE(string_agg('[' || n."id" || ',"' || n."kind" || '",' || to_json(n."name")::text || ',' || n."create_time" || ']', ','), '') || ']' FROM "node" n WHERE n."id" = ANY(ARRAY(SELECT unnest(w.frontier) FROM walk w))) AS nodes"#
    } else {
        ""
    };
    format!(
        r#"WITH RECURSIVE walk(frontier, seen, depth, edges) AS (
SELECT f.ids, f.ids || x.ids, 0, NULL::text
FROM (SELECT COALESCE(array_agg(value::bigint), '{{}}') AS ids FROM json_array_elements_text($1::json)) f,
     (SELECT COALESCE(array_agg(value::bigint), '{{}}') AS ids FROM json_array_elements_text($3::json)) x
UNION ALL
SELECT n.ids, w.seen || n.ids, w.depth + 1, l.edges
FROM walk w
CROSS JOIN LATERAL (
  SELECT string_agg('[' || e."id" || ',' || e."source_id" || ',' || e."target_id" || ',"' || e."kind" || '",' || e."create_time" || {node_cols} || ',' || {properties} || ',' || (w.depth + 1) || ']', ',') AS edges,
         array_agg(DISTINCT e."{far}") AS fars
  FROM "lineage_edge" e{join_sql} WHERE e."{near}" = ANY(w.frontier){filters}) l
CROSS JOIN LATERAL (
  SELECT COALESCE(array_agg(f), '{{}}') AS ids
  FROM (SELECT unnest(l.fars) EXCEPT SELECT unnest(w.seen)) AS found(f)) n
WHERE w.depth < $2::int AND cardinality(w.frontier) > 0 AND cardinality(w.seen) <= $4::int
)
SELECT '[' || COALESCE(string_agg(edges, ','), '') || ']' AS edges, MAX(depth)::int AS levels{nodes} FROM walk"#
    )
}

/// The edges of a chunk's JSON row, each with its level.
fn parse_chunk(text: Option<&str>) -> Result<Vec<(u32, WalkedEdge)>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    type Row = (i64, i64, i64, String, i64, String, i64, Option<String>, u32);
    let rows: Vec<Row> = serde_json::from_str(text)
        .map_err(|e| RegistryError::Internal(format!("walk chunk returned bad JSON: {e}")))?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                source_id,
                target_id,
                kind,
                create_time,
                node_kind,
                node_create_time,
                properties,
                depth,
            )| {
                (
                    depth,
                    WalkedEdge {
                        id,
                        source_id,
                        target_id,
                        kind,
                        create_time,
                        node_kind,
                        node_create_time,
                        properties,
                    },
                )
            },
        )
        .collect())
}

/// What one chunk found: the edges, each with its level; the number of levels walked
/// (fewer than asked when a PostgreSQL statement stopped at its reach); and, when asked
/// for on PostgreSQL, the summaries of the nodes it reached (a JSON array).
type Chunk = (Vec<(u32, WalkedEdge)>, u32, Option<String>);

/// Runs one chunk through sea-orm. On PostgreSQL a chunk asked to `summarise` the nodes
/// it reaches takes PostgreSQL's form even for one level.
async fn chunk<C: ConnectionTrait>(
    conn: &C,
    request: &ChunkRequest,
    params: &WalkParams,
    summarise: bool,
) -> Result<Chunk> {
    let backend = conn.get_database_backend();
    let postgres = backend == DbBackend::Postgres && (request.levels > 1 || summarise);
    let mut values: Vec<sea_orm::Value> = vec![json_ids(&request.frontier).into()];
    if request.levels > 1 || postgres {
        values.push(i32::try_from(request.levels).unwrap_or(1).into());
        values.push(json_ids(&request.exclude).into());
    }
    let sql = if postgres {
        let seen = request.frontier.len() + request.exclude.len();
        let cap = reach_per_statement(params.first).saturating_add(seen as i64);
        values.push(i32::try_from(cap).unwrap_or(i32::MAX).into());
        postgres_chunk_sql(request.direction, params, summarise)
    } else {
        chunk_sql(backend, request.direction, params, request.levels)
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let (text, levels, nodes): (Option<String>, Option<i32>, Option<String>) = match row {
        Some(row) if postgres && summarise => (
            row.try_get("", "edges")?,
            row.try_get("", "levels")?,
            row.try_get("", "nodes")?,
        ),
        Some(row) if postgres => (row.try_get("", "edges")?, row.try_get("", "levels")?, None),
        Some(row) => (row.try_get("", "edges")?, None, None),
        None => (None, None, None),
    };
    let walked = match levels {
        // at least one level is walked (the reach counts the nodes seen at the start)
        Some(levels) => u32::try_from(levels).unwrap_or(1).clamp(1, request.levels),
        None => request.levels,
    };
    Ok((parse_chunk(text.as_deref())?, walked, nodes))
}

/// Runs one chunk in a direct SQLite session.
fn chunk_direct(
    session: &Session,
    request: &ChunkRequest,
    params: &WalkParams,
) -> Result<Vec<(u32, WalkedEdge)>> {
    let frontier = json_ids(&request.frontier);
    if request.levels == 1 {
        let sql = chunk_sql(DbBackend::Sqlite, request.direction, params, 0);
        return Ok(session.query_rows(&sql, [frontier], |row| {
            Ok((
                1,
                WalkedEdge {
                    id: row.get(0)?,
                    source_id: row.get(1)?,
                    target_id: row.get(2)?,
                    kind: row.get(3)?,
                    create_time: row.get(4)?,
                    node_kind: row.get(5)?,
                    node_create_time: row.get(6)?,
                    properties: row.get(7)?,
                },
            ))
        })?);
    }
    let sql = chunk_sql(DbBackend::Sqlite, request.direction, params, request.levels);
    let (levels, exclude) = (i64::from(request.levels), json_ids(&request.exclude));
    let text = session.query_text(&sql, (frontier, levels, exclude))?;
    parse_chunk(text.as_deref())
}

/// One frontier step: every edge touching the frontier on the walked side (a one-level
/// chunk), with the far node's kind and creation time when a filter needs them.
pub(crate) async fn step<C: ConnectionTrait>(
    conn: &C,
    frontier: &[i64],
    direction: Direction,
    params: &WalkParams,
) -> Result<Vec<WalkedEdge>> {
    let request = ChunkRequest {
        frontier: frontier.to_vec(),
        direction,
        levels: 1,
        exclude: Vec::new(),
    };
    Ok(chunk(conn, &request, params, false)
        .await?
        .0
        .into_iter()
        .map(|(_, edge)| edge)
        .collect())
}

/// What a walk asks the database next.
struct ChunkRequest {
    frontier: Vec<i64>,
    direction: Direction,
    levels: u32,
    exclude: Vec<i64>,
}

/// Walks every group of start nodes separately, with shared statements per level.
/// Returns one result per group, in order. Start nodes must exist (callers check).
pub async fn walk_groups<C: ConnectionTrait>(
    conn: &C,
    groups: &[Vec<i64>],
    params: &WalkParams,
    start_times: &HashMap<i64, i64>,
) -> Result<Vec<WalkResult>> {
    Ok(walk_groups_with(conn, groups, params, start_times, false)
        .await?
        .0)
}

/// As [`walk_groups`], and on PostgreSQL the summaries of the nodes reached, read by the
/// walk's own statements (JSON arrays, one per statement); none on SQLite.
pub async fn walk_groups_summarised<C: ConnectionTrait>(
    conn: &C,
    groups: &[Vec<i64>],
    params: &WalkParams,
    start_times: &HashMap<i64, i64>,
) -> Result<(Vec<WalkResult>, Vec<String>)> {
    walk_groups_with(conn, groups, params, start_times, true).await
}

async fn walk_groups_with<C: ConnectionTrait>(
    conn: &C,
    groups: &[Vec<i64>],
    params: &WalkParams,
    start_times: &HashMap<i64, i64>,
    summarise: bool,
) -> Result<(Vec<WalkResult>, Vec<String>)> {
    let route = match conn.get_database_backend() {
        DbBackend::Postgres => Route::Postgres,
        DbBackend::MySql => Route::Mysql,
        _ => Route::Sqlx,
    };
    let mut walk = Walk::new(groups, params, start_times, route);
    let mut summaries = Vec::new();
    while let Some(request) = walk.next_request() {
        let (rows, levels, nodes) = chunk(conn, &request, params, summarise).await?;
        walk.accept(&request, &rows, levels);
        summaries.extend(nodes);
    }
    Ok((walk.finish(), summaries))
}

/// As [`walk_groups`], in a direct SQLite session.
pub fn walk_groups_direct(
    session: &Session,
    groups: &[Vec<i64>],
    params: &WalkParams,
    start_times: &HashMap<i64, i64>,
) -> Result<Vec<WalkResult>> {
    let mut walk = Walk::new(groups, params, start_times, Route::Direct);
    while let Some(request) = walk.next_request() {
        let rows = chunk_direct(session, &request, params)?;
        walk.accept(&request, &rows, request.levels);
    }
    Ok(walk.finish())
}

/// A walk's progress, apart from the database: it says which chunk to run next and takes
/// in what that chunk found, so one walk runs through sea-orm or a direct session alike.
struct Walk<'a> {
    params: &'a WalkParams,
    groups: &'a [Vec<i64>],
    start_times: &'a HashMap<i64, i64>,
    route: Route,
    results: Vec<WalkResult>,
    /// Index into `params.directions` of the direction being walked.
    direction: usize,
    walkers: Vec<Walker>,
    /// Depth reached so far in this direction.
    base: u32,
}

impl<'a> Walk<'a> {
    fn new(
        groups: &'a [Vec<i64>],
        params: &'a WalkParams,
        start_times: &'a HashMap<i64, i64>,
        route: Route,
    ) -> Self {
        let mut walk = Self {
            params,
            groups,
            start_times,
            route,
            results: groups
                .iter()
                .map(|g| WalkResult {
                    starts: g.clone(),
                    ..Default::default()
                })
                .collect(),
            direction: 0,
            walkers: Vec::new(),
            base: 0,
        };
        walk.start_direction();
        walk
    }

    /// Fresh walkers from the start nodes for the current direction.
    fn start_direction(&mut self) {
        let (params, start_times) = (self.params, self.start_times);
        self.base = 0;
        self.walkers = self
            .groups
            .iter()
            .map(|g| {
                // a start created after asOf did not exist then: it walks nowhere
                let starts: Vec<i64> = g
                    .iter()
                    .copied()
                    .filter(|id| {
                        params
                            .as_of
                            .is_none_or(|t| start_times.get(id).is_some_and(|c| *c <= t))
                    })
                    .collect();
                let mut visited = foldhash::HashMap::with_capacity(64);
                visited.extend(starts.iter().map(|id| (*id, 0)));
                Walker {
                    visited,
                    frontier: starts,
                    reached: Vec::new(),
                    edges: Vec::new(),
                    listed: 0,
                    done: false,
                }
            })
            .collect();
    }

    /// The next chunk to run, or None when every direction is walked.
    fn next_request(&mut self) -> Option<ChunkRequest> {
        loop {
            let direction = *self.params.directions.get(self.direction)?;
            let active: Vec<&Walker> = self.walkers.iter().filter(|w| !w.done).collect();
            let mut frontier: Vec<i64> = active
                .iter()
                .flat_map(|w| w.frontier.iter().copied())
                .collect();
            if self.base >= self.params.max_depth || frontier.is_empty() {
                for (result, w) in self.results.iter_mut().zip(self.walkers.drain(..)) {
                    result.entries.extend(w.reached);
                    result.edges.extend(w.edges);
                }
                self.direction += 1;
                self.start_direction();
                continue;
            }
            frontier.sort_unstable();
            frontier.dedup();
            let levels = levels_for(
                frontier.len(),
                self.route,
                self.params.max_depth - self.base,
            );
            // what every walk has seen already need not be expanded again for any of them
            // (a one-level chunk expands only the frontier)
            let exclude: Vec<i64> = match active.iter().min_by_key(|w| w.visited.len()) {
                Some(smallest) if levels > 1 => smallest
                    .visited
                    .keys()
                    .copied()
                    .filter(|id| active.iter().all(|w| w.visited.contains_key(id)))
                    .collect(),
                _ => Vec::new(),
            };
            return Some(ChunkRequest {
                frontier,
                direction,
                levels,
                exclude,
            });
        }
    }

    /// Takes in the edges a chunk found over `levels` levels. A chunk expands every node
    /// it reaches above its last level (at the first level it reaches it, or at each
    /// one), so each walker finds a node's edges by the node alone, whichever level the
    /// chunk found them at: walkers sharing a chunk reach a node at different depths.
    fn accept(&mut self, request: &ChunkRequest, rows: &[(u32, WalkedEdge)], levels: u32) {
        let direction = request.direction;
        let node_kinds = &self.params.node_kinds;
        let listed =
            |kind: &str| node_kinds.is_empty() || node_kinds.iter().any(|k| k.as_str() == kind);
        type End = fn(&WalkedEdge) -> i64;
        let (near, far): (End, End) = match direction {
            Direction::Upstream => (|e| e.target_id, |e| e.source_id),
            Direction::Downstream => (|e| e.source_id, |e| e.target_id),
        };
        // the rows by near end, far end and edge, each once (a chunk without a visited
        // set returns a node's edges at every level it reached the node), so each
        // frontier node finds its edges by binary search
        let mut order: Vec<(i64, i64, i64, usize)> = rows
            .iter()
            .enumerate()
            .map(|(i, (_, row))| (near(row), far(row), row.id, i))
            .collect();
        order.sort_unstable();
        order.dedup_by_key(|&mut (n, f, id, _)| (n, f, id));
        for w in self.walkers.iter_mut().filter(|w| !w.done) {
            let mut current = std::mem::take(&mut w.frontier);
            for level in 1..=levels {
                let depth = self.base + level;
                let mut next = Vec::new();
                for id in current {
                    let from = order.partition_point(|&(n, ..)| n < id);
                    let here = order[from..].iter().take_while(|&&(n, ..)| n == id);
                    for &(.., i) in here {
                        let row = &rows[i].1;
                        if self.params.edges {
                            w.edges.push(row.clone());
                        }
                        let far = far(row);
                        match w.visited.entry(far) {
                            Slot::Occupied(_) => continue,
                            Slot::Vacant(slot) => slot.insert(depth),
                        };
                        next.push(far);
                        if listed(&row.node_kind) {
                            w.listed += 1;
                            w.reached.push(Entry {
                                id: far,
                                depth,
                                direction,
                            });
                        }
                    }
                }
                current = next;
                // once more nodes are listed than asked for, deeper levels cannot matter
                if w.listed > self.params.first {
                    w.done = true;
                    break;
                }
            }
            w.frontier = current;
        }
        self.base += levels;
    }

    fn finish(mut self) -> Vec<WalkResult> {
        let first = self.params.first;
        for result in &mut self.results {
            // nodes by ascending depth; BOTH interleaves the two directions by depth
            result.entries.sort_by_key(|e| (e.depth, e.direction, e.id));
            if result.entries.len() > first {
                result.entries.truncate(first);
                result.truncated = true;
            }
            if result.edges.is_empty() {
                continue;
            }
            let keep: HashSet<i64> = result.node_ids().collect();
            let mut seen = HashSet::new();
            result.edges.retain(|e| {
                keep.contains(&e.source_id) && keep.contains(&e.target_id) && seen.insert(e.id)
            });
        }
        self.results
    }
}
