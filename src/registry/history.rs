//! The change log: every committed write appends its changes, in the same transaction,
//! with who made it and through which door. Writes go through a [`Tx`], which collects
//! the changes as they are made and writes them at commit, numbered from one counter row
//! whose lock (held until the commit) makes `sequence` gap-free and in commit order.
//! Functions that write take `E: Write`, so no write can skip the log.
use std::sync::{Arc, Mutex};

use entity::{change, node};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use serde_json::{Map, Value};

use super::error::{RegistryError, Result};
use super::time::now_ms;
use crate::db::direct::Session;
use crate::db::exec::{Exec, On, Row, rows_per_statement};
use crate::db::writer::WriterTurn;

/// The door a write came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    Graphql,
    Rest,
    OpenLineage,
    Cli,
}

impl Via {
    pub const ALL: [Via; 4] = [Via::Graphql, Via::Rest, Via::OpenLineage, Via::Cli];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Graphql => "GRAPHQL",
            Self::Rest => "REST",
            Self::OpenLineage => "OPENLINEAGE",
            Self::Cli => "CLI",
        }
    }
}

/// What a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operation {
    Create,
    Update,
    Archive,
    EdgeAdd,
    EdgeRemove,
    AliasSet,
    AliasRemove,
    ReleaseRequest,
    ReleaseApprove,
    ReleaseReject,
    ReleaseCancel,
}

impl Operation {
    pub const ALL: [Operation; 11] = [
        Operation::Create,
        Operation::Update,
        Operation::Archive,
        Operation::EdgeAdd,
        Operation::EdgeRemove,
        Operation::AliasSet,
        Operation::AliasRemove,
        Operation::ReleaseRequest,
        Operation::ReleaseApprove,
        Operation::ReleaseReject,
        Operation::ReleaseCancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Archive => "ARCHIVE",
            Self::EdgeAdd => "EDGE_ADD",
            Self::EdgeRemove => "EDGE_REMOVE",
            Self::AliasSet => "ALIAS_SET",
            Self::AliasRemove => "ALIAS_REMOVE",
            Self::ReleaseRequest => "RELEASE_REQUEST",
            Self::ReleaseApprove => "RELEASE_APPROVE",
            Self::ReleaseReject => "RELEASE_REJECT",
            Self::ReleaseCancel => "RELEASE_CANCEL",
        }
    }
}

/// Who writes, and through which door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub subject: String,
    pub via: Via,
}

impl Actor {
    /// The person running a CLI command that writes (`$USER`, else `cli`).
    pub fn cli() -> Self {
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "cli".to_owned());
        Self::new(user, Via::Cli)
    }

    pub fn new(subject: impl Into<String>, via: Via) -> Self {
        Self {
            subject: subject.into(),
            via,
        }
    }
}

/// A change made in a transaction, numbered when it commits.
#[derive(Clone, Debug, PartialEq)]
pub struct NewChange {
    pub operation: Operation,
    pub node_id: i64,
    pub node_kind: String,
    /// The other end of an edge.
    pub other_node_id: Option<i64>,
    pub before: Option<Map<String, Value>>,
    pub after: Option<Map<String, Value>>,
}

/// The changes of one transaction, each with who made it.
pub struct Journal {
    /// Who makes the changes noted from now on.
    actor: Mutex<Arc<Actor>>,
    changes: Mutex<Vec<(Arc<Actor>, NewChange)>>,
}

impl Journal {
    pub fn new(actor: Actor) -> Self {
        Self {
            actor: Mutex::new(Arc::new(actor)),
            changes: Mutex::default(),
        }
    }

    /// Changes noted from now on are `actor`'s (a batch of OpenLineage events from
    /// several callers shares one transaction).
    pub fn act_as(&self, actor: &Actor) {
        let mut current = self.actor.lock().unwrap_or_else(|e| e.into_inner());
        if **current != *actor {
            *current = Arc::new(actor.clone());
        }
    }

    pub fn push(&self, change: NewChange) {
        let actor = self.actor.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.lock().push((actor, change));
    }

    /// How many changes are noted (and not yet written).
    pub fn noted(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<Actor>, NewChange)>> {
        self.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the changes collected so far, numbered after the last committed one; call
    /// it last, just before the commit, so the counter's lock is held briefly.
    pub async fn flush<E: Exec>(&self, exec: &E) -> Result<()> {
        let mut changes = std::mem::take(&mut *self.lock());
        if changes.is_empty() {
            return Ok(());
        }
        fill_kinds(exec, changes.iter_mut().map(|(_, c)| c)).await?;
        let at = now_ms();
        let rows: Vec<ChangeRow> = changes
            .into_iter()
            .map(|(actor, c)| {
                [
                    at.into(),
                    actor.subject.clone().into(),
                    actor.via.as_str().to_owned().into(),
                    c.operation.as_str().to_owned().into(),
                    Some(c.node_id).into(),
                    Some(c.node_kind).into(),
                    c.other_node_id.into(),
                    c.before.map(|m| Value::Object(m).to_string()).into(),
                    c.after.map(|m| Value::Object(m).to_string()).into(),
                ]
            })
            .collect();
        if let Some(session) = exec.session() {
            return insert_changes_each(session, &rows);
        }
        let per_statement = match exec.backend() {
            // a parameter a column however many rows (`db::recordset`)
            DbBackend::Postgres => crate::db::recordset::ROWS_PER_STATEMENT,
            _ => rows_per_statement(exec, CHANGE_COLUMNS.len(), 500),
        };
        for chunk in rows.chunks(per_statement) {
            for statement in insert_changes(exec.backend(), chunk) {
                exec.run(statement).await?;
            }
        }
        Ok(())
    }
}

/// The columns of a change row after its sequence, and their PostgreSQL types.
const CHANGE_COLUMNS: [(&str, &str); 9] = [
    ("at", "bigint"),
    ("actor", "text"),
    ("via", "text"),
    ("operation", "text"),
    ("node_id", "bigint"),
    ("node_kind", "text"),
    ("other_node_id", "bigint"),
    ("before", "text"),
    ("after", "text"),
];

/// A change row's values after its sequence, in [`CHANGE_COLUMNS`] order.
type ChangeRow = [sea_orm::Value; CHANGE_COLUMNS.len()];

/// The PostgreSQL channel a commit with changes notifies (delivered at commit, so
/// listeners on every server learn of it at once; `events::Feed`). The channel is
/// database-wide, shared by stores in other schemas, so a notification is only a
/// wake-up: its payload (the sequence in the sender's schema) is not ours to trust.
pub const CHANNEL: &str = "modelgraph_changes";

/// The statements that number and insert `rows`, numbered after the last change:
/// on SQLite from the highest sequence (writers hold the file's write lock in turn, so
/// no two transactions number at once); on PostgreSQL from the counter row, bumped in the
/// same statement, whose lock (held until commit) orders concurrent writers, and a
/// NOTIFY on [`CHANNEL`] goes out with the commit. MySQL/MariaDB bumps the counter row
/// in a statement of its own, keeping the new value as the connection's
/// `LAST_INSERT_ID()`, which the insert then numbers from.
fn insert_changes(backend: DbBackend, rows: &[ChangeRow]) -> Vec<Statement> {
    match backend {
        DbBackend::MySql => insert_changes_mysql(rows),
        DbBackend::Postgres => vec![insert_changes_postgres(rows)],
        _ => vec![insert_changes_sqlite(rows)],
    }
}

/// PostgreSQL: the rows as column arrays (`db::recordset`), each with its place `k`,
/// numbered after the counter row bumped by their count in the same statement.
fn insert_changes_postgres(rows: &[ChangeRow]) -> Statement {
    use crate::db::recordset::{column_arrays, names, unnest_numbered};
    let mut values = vec![sea_orm::Value::from(rows.len() as i64)];
    values.extend(column_arrays(&CHANGE_COLUMNS, rows));
    let sql = format!(
        r#"WITH c AS (UPDATE "change_counter" SET "last_sequence" = "last_sequence" + $1::bigint
             WHERE "id" = 1 RETURNING "last_sequence"),
           n AS (SELECT pg_notify('{CHANNEL}', c."last_sequence"::text) FROM c)
           INSERT INTO "change" ("sequence", {columns})
           SELECT c."last_sequence" - $1::bigint + v."k", {picked}
           FROM c, n, {rows}"#,
        columns = names("", &CHANGE_COLUMNS),
        picked = names("v", &CHANGE_COLUMNS),
        rows = unnest_numbered(2, "v", &CHANGE_COLUMNS, "k"),
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// SQLite: a `VALUES` list, numbered after the highest sequence.
fn insert_changes_sqlite(rows: &[ChangeRow]) -> Statement {
    let mut values = Vec::with_capacity(rows.len() * CHANGE_COLUMNS.len());
    let mut next = 0usize;
    let tuples: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut cells = vec![format!("{}", i + 1)];
            for value in row {
                next += 1;
                cells.push(format!("?{next}"));
                values.push(value.clone());
            }
            format!("({})", cells.join(", "))
        })
        .collect();
    let picked: Vec<String> = (2..=CHANGE_COLUMNS.len() + 1)
        .map(|n| format!("v.column{n}"))
        .collect();
    let sql = format!(
        r#"INSERT INTO "change" ("sequence", {columns})
           SELECT (SELECT COALESCE(MAX("sequence"), 0) FROM "change") + v.column1, {picked}
           FROM (VALUES {tuples}) AS v"#,
        columns = crate::db::recordset::names("", &CHANGE_COLUMNS),
        picked = picked.join(", "),
        tuples = tuples.join(", "),
    );
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

/// On a direct SQLite session: one single-row insert, prepared once and stepped per row,
/// numbered after the highest sequence (the session holds the file's write lock).
fn insert_changes_each(session: &crate::db::direct::Session, rows: &[ChangeRow]) -> Result<()> {
    use crate::db::exec::Bind;
    let last = session
        .query_rows(
            r#"SELECT COALESCE(MAX("sequence"), 0) FROM "change""#,
            [],
            |row| row.get::<_, i64>(0),
        )?
        .first()
        .copied()
        .unwrap_or(0);
    let sql = format!(
        r#"INSERT INTO "change" ("sequence", {columns}) VALUES ({marks})"#,
        columns = crate::db::recordset::names("", &CHANGE_COLUMNS),
        marks = crate::db::direct::positional_marks(CHANGE_COLUMNS.len() + 1),
    );
    let numbered = rows.iter().zip(last + 1..).map(|(row, sequence)| {
        let sequence = sea_orm::Value::BigInt(Some(sequence));
        rusqlite::params_from_iter(
            std::iter::once(Bind(std::borrow::Cow::Owned(sequence)))
                .chain(row.iter().map(|v| Bind(std::borrow::Cow::Borrowed(v)))),
        )
    });
    session.insert_each(&sql, numbered)?;
    Ok(())
}

fn insert_changes_mysql(rows: &[ChangeRow]) -> Vec<Statement> {
    let backend = DbBackend::MySql;
    let count = rows.len() as i64;
    let bump = Statement::from_sql_and_values(
        backend,
        r#"UPDATE "change_counter" SET "last_sequence" = LAST_INSERT_ID("last_sequence" + ?)
           WHERE "id" = 1"#,
        [count.into()],
    );
    let marks = vec!["?"; CHANGE_COLUMNS.len()].join(", ");
    let tuples: Vec<String> = (1..=count)
        .map(|k| format!("(LAST_INSERT_ID() - {count} + {k}, {marks})"))
        .collect();
    let columns: Vec<String> = CHANGE_COLUMNS
        .iter()
        .map(|(c, _)| format!(r#""{c}""#))
        .collect();
    let insert = Statement::from_sql_and_values(
        backend,
        format!(
            r#"INSERT INTO "change" ("sequence", {}) VALUES {}"#,
            columns.join(", "),
            tuples.join(", ")
        ),
        rows.iter().flatten().cloned(),
    );
    vec![bump, insert]
}

#[derive(FromQueryResult, serde::Deserialize)]
struct IdKind {
    id: i64,
    kind: String,
}

/// Edge changes are noted without their source's kind: looked up here, once per commit.
async fn fill_kinds<'a, E: Exec>(
    exec: &E,
    changes: impl Iterator<Item = &'a mut NewChange>,
) -> Result<()> {
    let mut changes: Vec<&mut NewChange> = changes.collect();
    let mut ids: Vec<i64> = changes
        .iter()
        .filter(|c| c.node_kind.is_empty())
        .map(|c| c.node_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    let mut kinds = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let query = node::Entity::find()
            .select_only()
            .column(node::Column::Id)
            .column(node::Column::Kind)
            .filter(node::Column::Id.is_in(chunk.iter().copied()));
        let rows: Vec<IdKind> = crate::db::exec::all(exec, &query).await?;
        kinds.extend(rows.into_iter().map(|r| (r.id, r.kind)));
    }
    for change in changes.iter_mut().filter(|c| c.node_kind.is_empty()) {
        if let Some(kind) = kinds.get(&change.node_id) {
            change.node_kind = kind.clone();
        }
    }
    Ok(())
}

/// A statement runner whose writes are logged: every function that writes takes one.
pub trait Write: Exec {
    fn journal(&self) -> &Journal;

    /// Notes a change, written when the transaction commits.
    fn record(&self, change: NewChange) {
        self.journal().push(change);
    }
}

/// Any statement runner with a journal: the OpenLineage writer's own SQLite connection
/// goes through one of these.
pub struct Tx<E> {
    exec: E,
    journal: Journal,
}

impl<E: Exec> Tx<E> {
    pub fn new(exec: E, actor: Actor) -> Self {
        Self {
            exec,
            journal: Journal::new(actor),
        }
    }

    /// Writes the collected changes; the caller commits next.
    pub async fn flush(&self) -> Result<()> {
        self.journal.flush(&self.exec).await
    }
}

impl<E: Exec> Exec for Tx<E> {
    fn backend(&self) -> DbBackend {
        self.exec.backend()
    }

    fn bind_budget(&self) -> usize {
        self.exec.bind_budget()
    }

    fn session(&self) -> Option<&crate::db::direct::Session> {
        self.exec.session()
    }

    async fn fetch<M: Row>(&self, stmt: Statement) -> crate::db::error::Result<Vec<M>> {
        self.exec.fetch(stmt).await
    }

    async fn fetch_up_to<M: Row>(
        &self,
        stmt: Statement,
        most: usize,
    ) -> crate::db::error::Result<Vec<M>> {
        self.exec.fetch_up_to(stmt, most).await
    }

    async fn run(&self, stmt: Statement) -> crate::db::error::Result<u64> {
        self.exec.run(stmt).await
    }
}

impl<E: Exec> Write for Tx<E> {
    fn journal(&self) -> &Journal {
        &self.journal
    }
}

/// A write transaction on a pool connection: the SQLite write turn, the transaction
/// and its journal. `commit` writes the changes and commits; dropping it rolls back.
pub struct WriteTx {
    _turn: WriterTurn,
    tx: Tx<DatabaseTransaction>,
}

impl WriteTx {
    pub(super) fn new(turn: WriterTurn, txn: DatabaseTransaction, actor: Actor) -> Self {
        Self {
            _turn: turn,
            tx: Tx::new(txn, actor),
        }
    }

    /// The transaction, for reads through sea-orm.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.tx.exec
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.flush().await?;
        self.tx.exec.commit().await?;
        committed().notify_waiters();
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        self.tx.exec.rollback().await?;
        Ok(())
    }
}

impl Exec for WriteTx {
    fn backend(&self) -> DbBackend {
        self.tx.backend()
    }

    fn bind_budget(&self) -> usize {
        self.tx.bind_budget()
    }

    async fn fetch<M: Row>(&self, stmt: Statement) -> crate::db::error::Result<Vec<M>> {
        self.tx.fetch(stmt).await
    }

    async fn run(&self, stmt: Statement) -> crate::db::error::Result<u64> {
        self.tx.run(stmt).await
    }
}

impl Write for WriteTx {
    fn journal(&self) -> &Journal {
        &self.tx.journal
    }
}

/// Runs `work` as one write transaction on a direct SQLite session, whose statements run
/// on this thread (the caller holds the SQLite writer turn): `BEGIN IMMEDIATE`, the work
/// on a journaled transaction, its changes written, `COMMIT`, the change feed woken.
/// Anything failing rolls the transaction back.
pub async fn on_session<T>(
    session: &Session,
    actor: Actor,
    work: impl AsyncFnOnce(&Tx<On<'_, Session>>) -> Result<T>,
) -> Result<T> {
    session.execute("BEGIN IMMEDIATE", [])?;
    let tx = Tx::new(On(session), actor);
    let written = async {
        let out = work(&tx).await?;
        tx.flush().await?;
        session.execute("COMMIT", [])?;
        Ok(out)
    }
    .await;
    match written {
        Ok(out) => {
            committed().notify_waiters();
            Ok(out)
        }
        Err(err) => {
            if session.in_transaction().unwrap_or(true) {
                let _ = session.execute("ROLLBACK", []);
            }
            Err(err)
        }
    }
}

/// Woken after every commit through this process (the change feed listens).
pub fn committed() -> &'static tokio::sync::Notify {
    static COMMITTED: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
    COMMITTED.get_or_init(tokio::sync::Notify::new)
}

/// Columns that are bookkeeping, not content: never in a change.
const HIDDEN: [&str; 6] = [
    "id",
    "kind",
    "scope_id",
    "parent_kind",
    "create_time",
    "last_update_time",
];

/// Columns that hold JSON text, shown as JSON.
const JSON_TEXT: [&str; 2] = ["custom_properties", "facets"];

/// A node's content as a change shows it: every column but the bookkeeping, JSON text
/// as JSON.
fn content(model: &node::Model) -> Map<String, Value> {
    let Ok(Value::Object(mut map)) = serde_json::to_value(model) else {
        return Map::new();
    };
    for key in HIDDEN {
        map.remove(key);
    }
    for key in JSON_TEXT {
        if let Some(Value::String(text)) = map.get(key)
            && let Ok(parsed) = serde_json::from_str::<Value>(text)
        {
            map.insert(key.to_owned(), parsed);
        }
    }
    map
}

/// The change a new node makes: its content, nulls left out.
pub fn created(model: &node::Model) -> NewChange {
    let mut after = content(model);
    after.retain(|_, v| !v.is_null() && *v != Value::Object(Map::new()));
    NewChange {
        operation: Operation::Create,
        node_id: model.id,
        node_kind: model.kind.clone(),
        other_node_id: None,
        before: None,
        after: Some(after),
    }
}

/// The change an update makes: the fields that changed, as they were and became; None
/// when nothing did. A move to ARCHIVED is an ARCHIVE.
pub fn updated(before: &node::Model, after: &node::Model) -> Option<NewChange> {
    let (old, new) = (content(before), content(after));
    let mut was = Map::new();
    let mut is = Map::new();
    for (key, value) in &new {
        let previous = old.get(key).unwrap_or(&Value::Null);
        if previous != value && key != "revision" {
            was.insert(key.clone(), previous.clone());
            is.insert(key.clone(), value.clone());
        }
    }
    if is.is_empty() {
        return None;
    }
    was.insert("revision".into(), before.revision.into());
    is.insert("revision".into(), after.revision.into());
    let archived = before.state != after.state && after.state == "ARCHIVED";
    Some(NewChange {
        operation: if archived {
            Operation::Archive
        } else {
            Operation::Update
        },
        node_id: after.id,
        node_kind: after.kind.clone(),
        other_node_id: None,
        before: Some(was),
        after: Some(is),
    })
}

/// `model` as it was at `as_of` (milliseconds), rebuilt by undoing the changes made
/// since; None when it did not exist yet.
pub async fn as_of(
    db: &DatabaseConnection,
    model: node::Model,
    as_of: i64,
) -> Result<Option<node::Model>> {
    if model.create_time > as_of {
        return Ok(None);
    }
    let later = change::Entity::find()
        .filter(change::Column::NodeId.eq(model.id))
        .filter(change::Column::At.gt(as_of))
        .filter(
            change::Column::Operation
                .is_in([Operation::Update.as_str(), Operation::Archive.as_str()]),
        )
        .order_by_desc(change::Column::Sequence)
        .limit(MAX_UNDONE)
        .all(db)
        .await?;
    if later.is_empty() {
        return Ok(Some(model));
    }
    if later.len() as u64 == MAX_UNDONE {
        return Err(RegistryError::LimitExceeded(format!(
            "node {} changed more than {MAX_UNDONE} times since then",
            model.id
        )));
    }
    let Ok(Value::Object(mut fields)) = serde_json::to_value(&model) else {
        return Err(RegistryError::Internal("a node did not serialize".into()));
    };
    for change in &later {
        let before: Map<String, Value> = change
            .before
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        for (key, value) in before {
            let value = match value {
                v @ (Value::Object(_) | Value::Array(_)) if JSON_TEXT.contains(&key.as_str()) => {
                    Value::String(v.to_string())
                }
                other => other,
            };
            fields.insert(key, value);
        }
    }
    // last changed by the latest change at or before as_of
    let last = change::Entity::find()
        .filter(change::Column::NodeId.eq(model.id))
        .filter(change::Column::At.lte(as_of))
        .order_by_desc(change::Column::Sequence)
        .one(db)
        .await?
        .map_or(model.create_time, |c| c.at.max(model.create_time));
    fields.insert("last_update_time".into(), last.into());
    serde_json::from_value(Value::Object(fields))
        .map(Some)
        .map_err(|e| RegistryError::Internal(format!("rebuilding node {}: {e}", model.id)))
}

/// The most changes undone to rebuild one node.
const MAX_UNDONE: u64 = 10_000;

/// What to list of the change log (kept as JSON by webhooks).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ChangeFilter {
    pub node_ids: Option<Vec<i64>>,
    pub kinds: Option<Vec<String>>,
    pub actors: Option<Vec<String>>,
    pub operations: Option<Vec<Operation>>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub after_sequence: Option<i64>,
}

/// `query` narrowed to the changes `filter` lets through.
pub fn filtered(
    mut query: sea_orm::Select<change::Entity>,
    filter: &ChangeFilter,
) -> sea_orm::Select<change::Entity> {
    if let Some(ids) = &filter.node_ids {
        query = query.filter(
            sea_orm::Condition::any()
                .add(change::Column::NodeId.is_in(ids.clone()))
                .add(change::Column::OtherNodeId.is_in(ids.clone())),
        );
    }
    if let Some(kinds) = &filter.kinds {
        query = query.filter(change::Column::NodeKind.is_in(kinds.clone()));
    }
    if let Some(actors) = &filter.actors {
        query = query.filter(change::Column::Actor.is_in(actors.clone()));
    }
    if let Some(ops) = &filter.operations {
        query = query.filter(change::Column::Operation.is_in(ops.iter().map(|o| o.as_str())));
    }
    if let Some(since) = filter.since {
        query = query.filter(change::Column::At.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(change::Column::At.lte(until));
    }
    if let Some(after) = filter.after_sequence {
        query = query.filter(change::Column::Sequence.gt(after));
    }
    query
}

/// A page of the change log, newest first: `limit` changes with a sequence below
/// `before` (all, without it).
pub async fn changes(
    db: &DatabaseConnection,
    filter: &ChangeFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<change::Model>> {
    let mut query = filtered(change::Entity::find(), filter);
    if let Some(before) = before {
        query = query.filter(change::Column::Sequence.lt(before));
    }
    Ok(query
        .order_by_desc(change::Column::Sequence)
        .limit(limit)
        .all(db)
        .await?)
}

/// How many times [`transact!`] runs a transaction that keeps losing to concurrent ones.
const ATTEMPTS: u32 = 16;

/// Runs `$body` in a write transaction for `$actor` and commits it; when the transaction
/// loses to a concurrent one (a deadlock or serialization failure, or on a Galera
/// cluster a certification conflict, which a node reports at commit), runs it again
/// from the start, after a short pause that grows with each attempt, up to [`ATTEMPTS`]
/// times. The body is an async block's: it may use `?` and `return`, and must write only
/// through `$txn`, a `&WriteTx` (a macro, not a function taking a closure, so that the
/// body's future stays `Send` for the resolvers that await it).
macro_rules! transact {
    ($db:expr, $actor:expr, |$txn:ident| $body:block) => {{
        let mut attempt = 1;
        loop {
            let txn = $crate::registry::history::begin($db, $actor).await?;
            let outcome: $crate::registry::error::Result<_> = {
                let $txn = &txn;
                async { $body }.await
            };
            let outcome = $crate::registry::history::finish(txn, outcome).await;
            if !$crate::registry::history::again(&outcome, &mut attempt).await {
                break outcome;
            }
        }
    }};
}
pub(crate) use transact;

/// Commits `txn` after work that succeeded, rolls it back after work that failed (whose
/// error stays the answer, even if the rollback fails too).
pub async fn finish<T>(txn: WriteTx, outcome: Result<T>) -> Result<T> {
    match outcome {
        Ok(value) => txn.commit().await.map(|()| value),
        Err(err) => {
            let _ = txn.rollback().await;
            Err(err)
        }
    }
}

/// Whether a transaction that ended with `outcome` on attempt `attempt` runs again: it
/// lost to a concurrent one and attempts are left. Pauses first, and counts the attempt.
pub async fn again<T>(outcome: &Result<T>, attempt: &mut u32) -> bool {
    if !matches!(outcome, Err(RegistryError::Contention(_))) || *attempt >= ATTEMPTS {
        return false;
    }
    // 2 to 64 ms, and as much again at random, so that writers that collided spread out
    let step = 2u64.pow((*attempt).min(6));
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % step;
    tokio::time::sleep(std::time::Duration::from_millis(step + jitter)).await;
    *attempt += 1;
    true
}

/// Begins a write transaction for `actor` (on SQLite, with the write lock taken at
/// BEGIN, so a transaction that reads before writing never fails to upgrade it).
pub async fn begin(db: &DatabaseConnection, actor: &Actor) -> Result<WriteTx> {
    let turn = crate::db::writer::turn(db).await;
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTx::new(turn, txn, actor.clone()))
}

/// Stored fields (column names) as the API names them: `external_id` -> `externalId`.
pub fn api_fields(text: &str) -> Value {
    let stored: Map<String, Value> = serde_json::from_str(text).unwrap_or_default();
    Value::Object(stored.into_iter().map(|(k, v)| (camel(&k), v)).collect())
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn column_names_show_as_field_names() {
        assert_eq!(super::camel("external_id"), "externalId");
        assert_eq!(super::camel("custom_properties"), "customProperties");
        assert_eq!(super::camel("name"), "name");
    }
}
