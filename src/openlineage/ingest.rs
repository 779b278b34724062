//! Writing OpenLineage events through the registry: job -> experiment, run -> experiment
//! run (runId as externalId), datasets by namespace and name with INPUT / OUTPUT edges,
//! facets kept. Replays change nothing; events may come in any order.
//!
//! Events are written in batches, one transaction per batch (see `writer.rs`), and the
//! nodes they name are remembered in a [`NodeCache`] so that a job, dataset or run seen
//! before costs no lookup.
use std::collections::{HashMap, HashSet};

use entity::node;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use serde_json::{Map, Value};

use super::event::{DatasetRef, Event, JobRef, RunEvent};
use crate::db::direct::Session;
use crate::db::exec::{Exec, all, now};
use crate::registry::edges::{EdgeKind, NewEdge, insert_edges};
use crate::registry::filter::like_escape;
use crate::registry::history::{Actor, Operation, Write, WriteTx, begin, on_session};
use crate::registry::read::{find_by_external_id, find_by_name, kind_of};
use crate::registry::write::{
    OnTaken, RunUpdates, create_in, create_many_in, create_under, update_from,
};
use crate::registry::{NodeFields, NodeKind, RegistryError, Result};

/// How a node is named in OpenLineage events.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// A job (namespace, name): an experiment.
    Job(String, String),
    /// A dataset or dataset version (namespace, name).
    Dataset(String, String),
    /// A run by runId: an experiment run.
    Run(String),
}

/// Nodes named by events, as this writer last wrote or read them. Each batch first asks
/// the database whether anyone else has committed since the writer's last batch
/// ([`write_mark`]), since a run's externalId, status or facets may have changed through
/// the API or another server; if so it forgets the nodes the change log shows changed
/// (PostgreSQL, MySQL/MariaDB), or starts over (SQLite).
///
/// Within a batch, a row changed by someone else makes the revision-guarded update fail
/// with a conflict, and the batch is retried with the cache cleared. Bounded: it starts
/// over when full.
#[derive(Default)]
pub struct NodeCache {
    nodes: HashMap<Key, node::Model>,
    /// The key each cached node is held under, by id: to evict the nodes others changed.
    keys: HashMap<i64, Key>,
    /// Where others' writes stood after the writer's last batch ([`write_mark`]).
    write_mark: Option<i64>,
    /// The mark read at the start of the writer's last batch: on PostgreSQL and
    /// MySQL/MariaDB, changes numbered after it may not show in the cache.
    since: Option<i64>,
}

/// The most changes by others a batch looks through to evict only the nodes they
/// changed; past it (a bulk import elsewhere, say) the cache starts over.
const EVICT_MOST: i64 = 10_000;

const CACHE_CAPACITY: usize = 100_000;

/// Datasets looked up per statement (two bound parameters each).
const PREFETCH_CHUNK: usize = 500;

impl NodeCache {
    fn absorb(&mut self, staged: Staged) {
        if self.nodes.len() + staged.nodes.len() > CACHE_CAPACITY {
            self.clear();
        }
        for (key, node) in staged.nodes {
            self.keys.insert(node.id, key.clone());
            self.nodes.insert(key, node);
        }
        self.write_mark = staged.write_mark;
        self.since = staged.read_mark;
    }

    fn clear(&mut self) {
        self.nodes.clear();
        self.keys.clear();
    }

    /// Forgets the nodes of these ids.
    fn evict(&mut self, ids: impl IntoIterator<Item = i64>) {
        for id in ids {
            if let Some(key) = self.keys.remove(&id) {
                self.nodes.remove(&key);
            }
        }
    }
}

/// Writes `events` in one sea-orm transaction (PostgreSQL, or SQLite without a writer
/// connection of its own); retried from the database, cache cleared, when a concurrent
/// writer created the same node first or changed a cached one.
pub async fn write_batch(
    db: &DatabaseConnection,
    cache: &mut NodeCache,
    events: &[(&Event, &Actor)],
) -> Result<()> {
    let Some((_, first)) = events.first() else {
        return Ok(());
    };
    let mut attempt = 0;
    loop {
        let mut batch = OpenBatch::begin(db, cache, first).await?;
        match batch.apply(events).await {
            Ok(()) => return batch.commit().await,
            Err(err) if retryable(&err) && attempt < 3 => {
                batch.rollback(&err).await?;
                attempt += 1;
            }
            Err(err) => {
                // the event's error is the answer, even if the rollback fails too
                let _ = batch.rollback(&err).await;
                return Err(err);
            }
        }
    }
}

/// A batch's transaction while it is written: events are applied to it, in as many
/// rounds as the caller likes, until it commits. The writer takes in the events that
/// queue up while a batch is written before committing it, so a batch's fixed costs (its
/// `BEGIN`, the write mark, the change log's rows and the `COMMIT`) are shared by more
/// events than had queued when it began.
pub struct OpenBatch<'c> {
    txn: WriteTx,
    cache: &'c mut NodeCache,
    pending: Pending,
    /// The write mark read at `BEGIN`.
    mark: Option<i64>,
}

impl<'c> OpenBatch<'c> {
    /// Begins a transaction as `actor` (the first event's caller) and reads the write
    /// mark, clearing `cache` if someone else wrote since its last batch.
    pub async fn begin(
        db: &DatabaseConnection,
        cache: &'c mut NodeCache,
        actor: &Actor,
    ) -> Result<Self> {
        let txn = begin(db, actor).await?;
        let mark = match open(&txn, cache).await {
            Ok(mark) => mark,
            Err(err) => {
                let _ = txn.rollback().await;
                return Err(err);
            }
        };
        Ok(Self {
            txn,
            cache,
            pending: Pending::default(),
            mark,
        })
    }

    /// Applies `events` (after those applied before), their edges last.
    pub async fn apply(&mut self, events: &[(&Event, &Actor)]) -> Result<()> {
        apply(&self.txn, self.cache, &mut self.pending, events).await
    }

    /// Whether no one else had written since the writer's last batch when this one
    /// began. While others write the same store a batch should not grow: it would hold
    /// its locks longer, and when it meets another writer's it is written again whole.
    pub fn alone(&self) -> bool {
        // the cache's mark is still the one from the writer's last batch until `commit`
        self.mark.is_some() && self.mark == self.cache.write_mark
    }

    /// Commits, and keeps what the batch wrote or read in the cache.
    pub async fn commit(self) -> Result<()> {
        let mark = close(&self.txn, self.mark);
        self.txn.commit().await?;
        self.cache.absorb(Staged {
            nodes: self.pending.nodes,
            read_mark: self.mark,
            write_mark: mark,
        });
        Ok(())
    }

    /// Rolls back after `err`; clears the cache when what it held may be why (another
    /// writer created or changed a node it holds).
    pub async fn rollback(self, err: &RegistryError) -> Result<()> {
        if retryable(err) {
            self.cache.clear();
        }
        self.txn.rollback().await
    }
}

/// As [`write_batch`], on a direct SQLite session that writes on this thread: the
/// statements cost no hand-off to a driver thread. The caller holds the SQLite writer
/// turn.
pub fn write_batch_direct(
    session: &Session,
    cache: &mut NodeCache,
    events: &[(&Event, &Actor)],
) -> Result<()> {
    let Some((_, first)) = events.first() else {
        return Ok(());
    };
    let mut attempt = 0;
    loop {
        let written = now(on_session(session, (*first).clone(), async |tx| {
            stage(tx, cache, events).await
        }))
        .map_err(RegistryError::from)
        .and_then(|staged| staged);
        match written {
            Ok(staged) => {
                cache.absorb(staged);
                return Ok(());
            }
            Err(err) if retryable(&err) && attempt < 3 => {
                cache.clear();
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Whether writing again from the database may succeed: another writer created the same
/// node first or changed a cached one.
pub fn retryable(err: &RegistryError) -> bool {
    matches!(
        err,
        RegistryError::AlreadyExists(_) | RegistryError::Conflict(_) | RegistryError::Contention(_)
    )
}

/// What a batch wrote or read, kept in the cache once it commits.
struct Staged {
    nodes: HashMap<Key, node::Model>,
    /// The mark read at the batch's start.
    read_mark: Option<i64>,
    write_mark: Option<i64>,
}

/// Applies `events` inside the caller's transaction, edges last in one statement.
async fn stage<E: Write>(
    txn: &E,
    cache: &mut NodeCache,
    events: &[(&Event, &Actor)],
) -> Result<Staged> {
    let mark = open(txn, cache).await?;
    let mut pending = Pending::default();
    apply(txn, cache, &mut pending, events).await?;
    Ok(Staged {
        nodes: pending.nodes,
        read_mark: mark,
        write_mark: close(txn, mark),
    })
}

/// Reads the write mark at the start of a batch. When it shows that someone else wrote
/// since the writer's last batch, evicts from `cache` the nodes the change log shows
/// changed since that batch began (its own changes among them) on PostgreSQL and
/// MySQL/MariaDB, where the mark is the change log's counter; on SQLite, or past
/// [`EVICT_MOST`] changes, clears it. With two servers sharing a store, each then keeps
/// the jobs and datasets the other only reads or links.
async fn open<E: Write>(txn: &E, cache: &mut NodeCache) -> Result<Option<i64>> {
    let mark = write_mark(txn).await?;
    if mark.is_some() && mark == cache.write_mark {
        return Ok(mark);
    }
    match (mark, cache.since) {
        (Some(now), Some(since))
            if txn.backend() != DbBackend::Sqlite && (0..=EVICT_MOST).contains(&(now - since)) =>
        {
            cache.evict(changed_since(txn, since, now).await?);
        }
        _ => cache.clear(),
    }
    Ok(mark)
}

/// The nodes whose rows changes numbered after `since`, up to `until`, updated or
/// archived (creations name nodes no cache holds yet; edge changes leave their ends'
/// rows as they were).
async fn changed_since<E: Exec>(txn: &E, since: i64, until: i64) -> Result<Vec<i64>> {
    use entity::change;
    #[derive(FromQueryResult, serde::Deserialize)]
    struct Changed {
        node_id: Option<i64>,
    }
    let changing = [Operation::Update.as_str(), Operation::Archive.as_str()];
    let query = change::Entity::find()
        .select_only()
        .column(change::Column::NodeId)
        .filter(change::Column::Sequence.gt(since))
        .filter(change::Column::Sequence.lte(until))
        .filter(change::Column::Operation.is_in(changing));
    let rows: Vec<Changed> = all(txn, &query).await?;
    Ok(rows.into_iter().filter_map(|r| r.node_id).collect())
}

/// The write mark once the batch's transaction commits, from the one read at its start.
fn close<E: Write>(txn: &E, mark: Option<i64>) -> Option<i64> {
    match txn.backend() {
        // the writer's own commits leave its connection's data_version as it was
        DbBackend::Sqlite => mark,
        // the counter after this batch's own changes, if no one else's come between
        _ => mark.map(|v| v + txn.journal().noted() as i64),
    }
}

/// What a batch wrote or read so far, across its rounds.
#[derive(Default)]
struct Pending {
    nodes: HashMap<Key, node::Model>,
    /// Jobs and runs the batch looked for and did not find: created when first written.
    missing: HashSet<Key>,
}

/// One round of a batch: applies `events`, then writes their edges, one statement per
/// run of events by the same caller, so each edge's change is its own caller's.
async fn apply<E: Write>(
    txn: &E,
    cache: &NodeCache,
    pending: &mut Pending,
    events: &[(&Event, &Actor)],
) -> Result<()> {
    let mut batch = Batch {
        txn,
        cache,
        staged: std::mem::take(&mut pending.nodes),
        missing: std::mem::take(&mut pending.missing),
        updates: RunUpdates::default(),
        edges: Vec::new(),
    };
    let written = batch.apply_all(events).await;
    pending.nodes = batch.staged;
    pending.missing = batch.missing;
    let edges = batch.edges;
    let edges_from = written?;
    let mut start = 0;
    for (i, (_, actor)) in events.iter().enumerate() {
        let end = edges_from[i];
        let same_next = events.get(i + 1).is_some_and(|(_, next)| next == actor);
        if !same_next {
            txn.journal().act_as(actor);
            insert_edges(txn, &edges[start..end]).await?;
            start = end;
        }
    }
    Ok(())
}

/// What tells the writer whether anyone else committed since its last batch. On SQLite
/// the count of commits by other connections as this connection sees it (`PRAGMA
/// data_version`). On PostgreSQL and MySQL/MariaDB the change log's counter: every write of a node or an
/// edge bumps it by its changes, so if it stands where the writer's last batch left it
/// (what it read then plus the changes that batch wrote), no other writer, on this
/// server or another, has changed anything since; a change that lands during a batch
/// fails that batch's revision-guarded updates, or shows in the next batch's reading.
///
/// On PostgreSQL the same statement keeps the rest of the batch's plans to index probes
/// ([`INDEX_PLANS`]).
async fn write_mark<E: Exec>(txn: &E) -> Result<Option<i64>> {
    #[derive(FromQueryResult, serde::Deserialize)]
    struct Row {
        mark: i64,
    }
    let sql = match txn.backend() {
        DbBackend::Sqlite => "SELECT data_version AS mark FROM pragma_data_version",
        DbBackend::Postgres => INDEX_PLANS,
        DbBackend::MySql => {
            r#"SELECT "last_sequence" AS mark FROM "change_counter" WHERE "id" = 1"#
        }
        _ => return Ok(None),
    };
    let rows: Vec<Row> = txn
        .fetch(Statement::from_string(txn.backend(), sql))
        .await?;
    Ok(rows.first().map(|r| r.mark))
}

/// PostgreSQL's write mark, which also turns sequential scans off for the rest of the
/// batch's transaction, so every plan its statements get probes an index. After five
/// runs of a statement PostgreSQL may cache a generic plan, planned for the table as it
/// was then: on a new store an empty `node`, for which the run update's plan would be a
/// hash join over a sequential scan, kept (and reading every node each batch) until
/// autovacuum's first `ANALYZE`. Without sequential scans that plan is a nested loop of
/// primary-key probes, right for an empty table and a large one alike, so the cached
/// plans can be kept from the start rather than each statement planned at every batch.
/// No statement a batch runs wants a sequential scan of a table that grows; the setting
/// ends with the transaction. What was measured, and the settings tried and dropped:
/// docs/performance.md, "Index probes without planning every batch".
const INDEX_PLANS: &str = r#"SELECT "last_sequence" AS mark, set_config('enable_seqscan', 'off', true) AS scans FROM "change_counter" WHERE "id" = 1"#;

/// A (namespace, name) pair as [`read_named_postgres`] binds it.
const NAMED: [(&str, &str); 2] = [("namespace", "text"), ("name", "text")];

/// `read_named` on PostgreSQL: each pair looked up on its own in `ux_node_name`, by all
/// four of its columns. Matched as a list of pairs, `("namespace", "name") IN (...)`,
/// PostgreSQL planned an index scan of the kind's and namespace's rows with the pairs as
/// a filter whenever `node` had no statistics yet (a new store, before autovacuum's first
/// `ANALYZE`), so each lookup read every dataset of its namespace: 0.2 ms at the start of
/// a 20,000-event benchmark and 1.6 ms by its end. A subquery run for each pair can
/// only be planned as one probe of the index.
async fn read_named_postgres<E: Exec>(
    txn: &E,
    kind: NodeKind,
    pairs: &[(&str, &str)],
) -> Result<Vec<node::Model>> {
    use crate::db::recordset::{column_arrays, unnest};
    let rows: Vec<[sea_orm::Value; 2]> = pairs
        .iter()
        .map(|(namespace, name)| [(*namespace).into(), (*name).into()])
        .collect();
    let mut values = column_arrays(&NAMED, &rows);
    values.push(kind.as_str().into());
    let sql = format!(
        r#"SELECT * FROM "node" WHERE "id" = ANY(ARRAY(SELECT (SELECT n."id" FROM "node" n WHERE n."kind" = $3 AND n."scope_id" = 0 AND n."namespace" = v."namespace" AND n."name" = v."name") FROM {pairs}))"#,
        pairs = unnest(1, "v", &NAMED),
    );
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    Ok(txn.fetch(statement).await?)
}

/// `read_named` on SQLite and MySQL/MariaDB: the pairs as a list of row values,
/// `("namespace", "name") IN (...)`.
async fn read_named_pairs<E: Exec>(
    txn: &E,
    kind: NodeKind,
    pairs: &[(&str, &str)],
) -> Result<Vec<node::Model>> {
    let pairs = pairs
        .iter()
        .map(|(namespace, name)| ((*namespace).to_owned(), (*name).to_owned()));
    let query = node::Entity::find()
        .filter(node::Column::Kind.eq(kind.as_str()))
        .filter(node::Column::ScopeId.eq(0))
        .filter(
            Expr::tuple([
                Expr::col(node::Column::Namespace),
                Expr::col(node::Column::Name),
            ])
            .in_tuples(pairs),
        );
    Ok(all(txn, &query).await?)
}

/// One batch's transaction: nodes it wrote or read (kept only if it commits) and the
/// edges it will write at the end, in one statement.
struct Batch<'a, E> {
    txn: &'a E,
    cache: &'a NodeCache,
    staged: HashMap<Key, node::Model>,
    /// Jobs and runs the batch looked for and did not find: created when first written.
    missing: HashSet<Key>,
    /// Runs the round updated, written together once its events are applied.
    updates: RunUpdates,
    edges: Vec<NewEdge>,
}

impl<E: Write> Batch<'_, E> {
    /// Applies every event as its caller; returns where each event's edges end.
    async fn apply_all(&mut self, events: &[(&Event, &Actor)]) -> Result<Vec<usize>> {
        let only_events: Vec<&Event> = events.iter().map(|(e, _)| *e).collect();
        self.prefetch_jobs(&only_events).await?;
        self.prefetch_datasets(&only_events).await?;
        self.prefetch_runs(&only_events).await?;
        self.create_runs(events).await?;
        let mut edges_from = Vec::with_capacity(events.len());
        for (event, actor) in events {
            self.txn.journal().act_as(actor);
            self.apply(event).await?;
            edges_from.push(self.edges.len());
        }
        self.updates.write(self.txn).await?;
        Ok(edges_from)
    }

    fn cached(&self, key: &Key) -> Option<node::Model> {
        self.staged
            .get(key)
            .or_else(|| self.cache.nodes.get(key))
            .cloned()
    }

    fn remember(&mut self, key: Key, node: &node::Model) {
        self.staged.insert(key, node.clone());
    }

    async fn apply(&mut self, event: &Event) -> Result<()> {
        match event {
            Event::Run(run) => self.run_event(run).await,
            Event::Dataset { dataset, .. } => self.dataset(dataset).await.map(|_| ()),
            Event::Job {
                job,
                inputs,
                outputs,
                ..
            } => {
                self.job(job).await?;
                for d in inputs.iter().chain(outputs) {
                    self.dataset(d).await?;
                }
                Ok(())
            }
        }
    }

    /// Reads every dataset the events name in a few statements, and creates those that
    /// are new in a few more, so an event with thousands of inputs costs a handful of
    /// round trips instead of several per dataset. (Dataset versions, rarer, go one by
    /// one.)
    async fn prefetch_datasets(&mut self, events: &[&Event]) -> Result<()> {
        let mut wanted: Vec<(&str, &str, &Map<String, Value>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for d in events.iter().flat_map(|e| e.datasets()) {
            let key = Key::Dataset(d.namespace.clone(), d.name.clone());
            if self.cached(&key).is_none() && seen.insert(key) {
                wanted.push((&d.namespace, &d.name, &d.facets));
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let pairs: Vec<(&str, &str)> = wanted.iter().map(|(ns, name, _)| (*ns, *name)).collect();
        for n in self.read_named(NodeKind::Dataset, &pairs).await? {
            self.remember(Key::Dataset(n.namespace.clone(), n.name.clone()), &n);
        }
        let new: Vec<NodeFields> = wanted
            .iter()
            .filter(|(namespace, name, _)| {
                let key = Key::Dataset((*namespace).to_owned(), (*name).to_owned());
                !self.staged.contains_key(&key)
            })
            .map(|(namespace, name, facets)| NodeFields {
                name: Some((*name).to_owned()),
                namespace: Some((*namespace).to_owned()),
                uri: Some(dataset_uri(namespace, name)),
                facets: facets_text(facets),
                ..Default::default()
            })
            .collect();
        let new = new.into_iter().map(|fields| (fields, None)).collect();
        for n in create_many_in(self.txn, NodeKind::Dataset, new, OnTaken::Fail).await? {
            self.remember(Key::Dataset(n.namespace.clone(), n.name.clone()), &n);
        }
        Ok(())
    }

    /// The nodes of `kind` named by these (namespace, name) pairs, outside any scope, in
    /// one statement per [`PREFETCH_CHUNK`] pairs.
    async fn read_named(&self, kind: NodeKind, pairs: &[(&str, &str)]) -> Result<Vec<node::Model>> {
        let mut found = Vec::new();
        for chunk in pairs.chunks(PREFETCH_CHUNK) {
            found.extend(match self.txn.backend() {
                DbBackend::Postgres => read_named_postgres(self.txn, kind, chunk).await?,
                _ => read_named_pairs(self.txn, kind, chunk).await?,
            });
        }
        Ok(found)
    }

    /// Reads every job the events name (their own and their parents' runs') that is not
    /// cached, and notes those not found as new: after a restart, or once another writer
    /// has committed, a batch costs one read of its jobs, not one per job.
    async fn prefetch_jobs(&mut self, events: &[&Event]) -> Result<()> {
        let mut wanted: Vec<(&str, &str)> = events
            .iter()
            .flat_map(|e| {
                let (job, parent) = match e {
                    Event::Run(run) => (&run.job, run.parent.as_ref().map(|p| &p.job)),
                    Event::Job { job, .. } => (job, None),
                    Event::Dataset { .. } => return Vec::new(),
                };
                std::iter::once(job).chain(parent).collect()
            })
            .map(|j| (j.namespace.as_str(), j.name.as_str()))
            .filter(|(ns, name)| {
                self.cached(&Key::Job((*ns).to_owned(), (*name).to_owned()))
                    .is_none()
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        for n in self.read_named(NodeKind::Experiment, &wanted).await? {
            self.remember(Key::Job(n.namespace.clone(), n.name.clone()), &n);
        }
        for (ns, name) in wanted {
            let key = Key::Job(ns.to_owned(), name.to_owned());
            if !self.staged.contains_key(&key) {
                self.missing.insert(key);
            }
        }
        Ok(())
    }

    /// Reads every run the events name (theirs and their parents) that is not cached, in
    /// one statement per [`PREFETCH_CHUNK`] ids, and notes those not found as new: a run
    /// event costs no read of its own. Where a taken externalId can be skipped on insert
    /// (PostgreSQL, SQLite), the run of an event without a parent is not read at all:
    /// [`Self::create_runs`] inserts it, and reads it only if it was there already.
    async fn prefetch_runs(&mut self, events: &[&Event]) -> Result<()> {
        let insert_first = inserts_first(self.txn);
        let mut wanted: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Run(run) => Some(run),
                _ => None,
            })
            .flat_map(|run| {
                let own = (!insert_first || run.parent.is_some()).then_some(&run.run_id);
                [own, run.parent.as_ref().map(|p| &p.run_id)]
            })
            .flatten()
            .map(String::as_str)
            .filter(|id| self.cached(&Key::Run((*id).to_owned())).is_none())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        self.read_runs(&wanted).await?;
        for id in wanted {
            let key = Key::Run(id.to_owned());
            if !self.staged.contains_key(&key) {
                self.missing.insert(key);
            }
        }
        Ok(())
    }

    /// Creates the runs this round's events are the first to name, in one insert per
    /// run of events by the same caller, as applying the events one by one would have
    /// (their jobs first): a round of events starting runs costs one statement for them
    /// all, not one per run. Runs not read first ([`Self::prefetch_runs`]) are inserted
    /// too, and those found there already read. An event whose parent run is new too is
    /// left to [`Self::run_event`], since its run needs the parent's id, and so is every
    /// later event naming that event's run, so each run is still created from the first
    /// event naming it.
    async fn create_runs(&mut self, events: &[(&Event, &Actor)]) -> Result<()> {
        let mut claimed: HashSet<Key> = HashSet::new();
        let mut rows: Vec<(NodeFields, node::Model)> = Vec::new();
        let mut caller: Option<&Actor> = None;
        let insert_first = inserts_first(self.txn);
        for (event, actor) in events {
            let Event::Run(e) = event else { continue };
            let key = Key::Run(e.run_id.clone());
            let unread = insert_first && e.parent.is_none();
            let new = !claimed.contains(&key)
                && (unread || self.missing.contains(&key))
                && self.cached(&key).is_none();
            let parent = match &e.parent {
                None => Some(None),
                Some(p) => self.cached(&Key::Run(p.run_id.clone())).map(|n| Some(n.id)),
            };
            let Some(parent) = parent.filter(|_| new) else {
                claimed.insert(key);
                continue;
            };
            if caller.is_some_and(|c| c != *actor) {
                self.insert_runs(std::mem::take(&mut rows)).await?;
            }
            caller = Some(actor);
            self.txn.journal().act_as(actor);
            let experiment = self.job(&e.job).await?;
            rows.push((new_run(&e.run_id, Some(e), parent), experiment));
            claimed.insert(key);
        }
        self.insert_runs(rows).await
    }

    /// Inserts new runs as the caller the journal acts as, and keeps them as staged. A
    /// run another server created meanwhile is read instead, and the event applied to it
    /// as to any known run, rather than the whole batch failing and being written again.
    async fn insert_runs(&mut self, rows: Vec<(NodeFields, node::Model)>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut asked: HashSet<String> = rows
            .iter()
            .filter_map(|(fields, _)| fields.external_id.clone())
            .collect();
        let (fields, parents): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        let many = fields.into_iter().zip(parents.iter().map(Some)).collect();
        for n in create_many_in(self.txn, NodeKind::ExperimentRun, many, OnTaken::Skip).await? {
            if let Some(id) = n.external_id.clone() {
                asked.remove(&id);
                self.remember(Key::Run(id), &n);
            }
        }
        let skipped: Vec<&str> = asked.iter().map(String::as_str).collect();
        self.read_runs(&skipped).await
    }

    /// Reads the nodes of these externalIds (runs, or what has taken a runId), in one
    /// statement per [`PREFETCH_CHUNK`] ids, and keeps them as staged.
    async fn read_runs(&mut self, ids: &[&str]) -> Result<()> {
        for chunk in ids.chunks(PREFETCH_CHUNK) {
            let query =
                node::Entity::find().filter(node::Column::ExternalId.is_in(chunk.iter().copied()));
            let found: Vec<node::Model> = all(self.txn, &query).await?;
            for n in found {
                if let Some(id) = n.external_id.clone() {
                    self.remember(Key::Run(id), &n);
                }
            }
        }
        Ok(())
    }

    async fn job(&mut self, job: &JobRef) -> Result<node::Model> {
        let key = Key::Job(job.namespace.clone(), job.name.clone());
        let found = match self.cached(&key) {
            Some(n) => Some(n),
            None if self.missing.contains(&key) => None,
            None => {
                find_by_name(self.txn, NodeKind::Experiment, 0, &job.namespace, &job.name).await?
            }
        };
        let node = match found {
            Some(found) => {
                self.merge_facets(NodeKind::Experiment, found, &job.facets)
                    .await?
            }
            None => {
                let fields = NodeFields {
                    name: Some(job.name.clone()),
                    namespace: Some(job.namespace.clone()),
                    facets: facets_text(&job.facets),
                    ..Default::default()
                };
                create_in(self.txn, NodeKind::Experiment, fields).await?
            }
        };
        self.remember(key, &node);
        Ok(node)
    }

    /// `found` with the facets `new` carries: those of the same name are replaced, others
    /// stay; unchanged facets write nothing.
    async fn merge_facets(
        &self,
        kind: NodeKind,
        found: node::Model,
        new: &Map<String, Value>,
    ) -> Result<node::Model> {
        match merged(&found, new) {
            Some(facets) => {
                let fields = NodeFields {
                    facets: Some(facets),
                    ..Default::default()
                };
                update_from(self.txn, kind, &found, fields, None).await
            }
            None => Ok(found),
        }
    }

    /// A dataset (or dataset version) by namespace and name, created when new.
    async fn named_dataset(
        &mut self,
        namespace: &str,
        name: &str,
        facets: &Map<String, Value>,
    ) -> Result<node::Model> {
        let key = Key::Dataset(namespace.to_owned(), name.to_owned());
        let found = match self.cached(&key) {
            Some(n) => Some(n),
            None => find_by_name(self.txn, NodeKind::Dataset, 0, namespace, name).await?,
        };
        let node = match found {
            Some(found) => self.merge_facets(NodeKind::Dataset, found, facets).await?,
            None => {
                let fields = NodeFields {
                    name: Some(name.to_owned()),
                    namespace: Some(namespace.to_owned()),
                    uri: Some(dataset_uri(namespace, name)),
                    facets: facets_text(facets),
                    ..Default::default()
                };
                create_in(self.txn, NodeKind::Dataset, fields).await?
            }
        };
        self.remember(key, &node);
        Ok(node)
    }

    /// The dataset (by namespace and name); with a version facet, also that version's
    /// node, DERIVED_FROM the previous version (the first from the dataset itself).
    async fn dataset(&mut self, d: &DatasetRef) -> Result<node::Model> {
        let dataset = self.named_dataset(&d.namespace, &d.name, &d.facets).await?;
        let version = d
            .facets
            .get("version")
            .and_then(|v| v.get("datasetVersion"))
            .and_then(Value::as_str);
        if let Some(version) = version {
            let version_name = format!("{}@{version}", d.name);
            let key = Key::Dataset(d.namespace.clone(), version_name.clone());
            let known = match self.cached(&key) {
                Some(n) => Some(n),
                None => {
                    find_by_name(self.txn, NodeKind::Dataset, 0, &d.namespace, &version_name)
                        .await?
                }
            };
            match known {
                Some(node) => self.remember(key, &node),
                None => {
                    let previous = self
                        .previous_version(d)
                        .await?
                        .unwrap_or_else(|| dataset.clone());
                    let node = self
                        .named_dataset(&d.namespace, &version_name, &d.facets)
                        .await?;
                    self.edges.push(NewEdge {
                        source: previous.id,
                        target: node.id,
                        kind: EdgeKind::DerivedFrom,
                        properties: None,
                        source_kind: Some(NodeKind::Dataset),
                    });
                }
            }
        }
        Ok(dataset)
    }

    /// The latest version node of `d` written so far.
    async fn previous_version(&self, d: &DatasetRef) -> Result<Option<node::Model>> {
        let prefix = format!("{}@", d.name);
        let query = node::Entity::find()
            .filter(node::Column::Kind.eq(NodeKind::Dataset.as_str()))
            .filter(node::Column::Namespace.eq(d.namespace.as_str()))
            .filter(
                Expr::col(node::Column::Name)
                    .like(LikeExpr::new(format!("{}%", like_escape(&prefix))).escape('\\')),
            )
            .order_by_desc(node::Column::Id)
            .limit(50);
        // LIKE ignores ASCII case on SQLite: the prefix itself is compared here
        let found: Vec<node::Model> = all(self.txn, &query).await?;
        Ok(found.into_iter().find(|n| n.name.starts_with(&prefix)))
    }

    async fn run(
        &mut self,
        run_id: &str,
        job: &JobRef,
        event: Option<&RunEvent>,
        parent: Option<i64>,
    ) -> Result<node::Model> {
        let key = Key::Run(run_id.to_owned());
        let found = match self.cached(&key) {
            Some(n) => Some(n),
            None if self.missing.contains(&key) => None,
            None => find_by_external_id(self.txn, run_id).await?,
        };
        let node = match found {
            Some(found) => self.update_run(run_id, found, event, parent)?,
            None => {
                let experiment = self.job(job).await?;
                create_under(
                    self.txn,
                    NodeKind::ExperimentRun,
                    new_run(run_id, event, parent),
                    &experiment,
                )
                .await?
            }
        };
        self.remember(key, &node);
        Ok(node)
    }

    fn update_run(
        &mut self,
        run_id: &str,
        found: node::Model,
        event: Option<&RunEvent>,
        parent: Option<i64>,
    ) -> Result<node::Model> {
        if kind_of(&found)? != NodeKind::ExperimentRun {
            return Err(RegistryError::invalid(
                "run.runId",
                format!("{run_id} is the externalId of a {}", found.kind),
            ));
        }
        let status = event.and_then(|e| status_of(e.event_type.as_deref()));
        let time = event.map(|e| e.event_time);
        let mut fields = NodeFields::default();
        // a finished run stays finished when a late START or RUNNING arrives
        let keep = terminal(found.status.as_deref()) && status == Some("RUNNING");
        if let Some(s) = status.filter(|s| !keep && found.status.as_deref() != Some(*s)) {
            fields.status = Some(s.to_owned());
        }
        if event.is_some_and(starts)
            && let Some(t) = time.filter(|t| found.start_time.is_none_or(|s| *t < s))
        {
            fields.start_time = Some(t);
        }
        if terminal(status)
            && let Some(t) = time.filter(|t| found.end_time != Some(*t))
        {
            fields.end_time = Some(t);
        }
        if let Some(e) = event {
            fields.facets = merged(&found, &e.run_facets);
        }
        if let Some(p) = parent.filter(|p| found.parent_run_id != Some(*p)) {
            fields.parent_run_id = Some(p);
        }
        let changed = fields.status.is_some()
            || fields.start_time.is_some()
            || fields.end_time.is_some()
            || fields.facets.is_some()
            || fields.parent_run_id.is_some();
        if changed {
            self.updates.update(self.txn, &found, fields)
        } else {
            Ok(found)
        }
    }

    async fn run_event(&mut self, e: &RunEvent) -> Result<()> {
        let parent = match &e.parent {
            Some(p) => Some(self.run(&p.run_id, &p.job, None, None).await?.id),
            None => None,
        };
        // the job's facets are written whether or not the run is new
        self.job(&e.job).await?;
        let run = self.run(&e.run_id, &e.job, Some(e), parent).await?;
        for d in &e.inputs {
            let ds = self.dataset(d).await?;
            self.edges.push(NewEdge {
                source: ds.id,
                target: run.id,
                kind: EdgeKind::Input,
                properties: io_properties(d, "inputFacets"),
                source_kind: Some(NodeKind::Dataset),
            });
        }
        for d in &e.outputs {
            let ds = self.dataset(d).await?;
            self.edges.push(NewEdge {
                source: run.id,
                target: ds.id,
                kind: EdgeKind::Output,
                properties: io_properties(d, "outputFacets"),
                source_kind: Some(NodeKind::ExperimentRun),
            });
        }
        Ok(())
    }
}

/// Whether runs are inserted before they are looked for: where an insert can skip a
/// taken externalId ([`OnTaken::Skip`]), so a new run costs one statement, not a read
/// and an insert.
fn inserts_first<E: Exec>(txn: &E) -> bool {
    txn.backend() != DbBackend::MySql
}

fn new_run(run_id: &str, event: Option<&RunEvent>, parent: Option<i64>) -> NodeFields {
    let status = event.and_then(|e| status_of(e.event_type.as_deref()));
    let time = event.map(|e| e.event_time);
    let facets = event.and_then(|e| facets_text(&e.run_facets));
    NodeFields {
        name: Some(run_id.to_owned()),
        external_id: Some(run_id.to_owned()),
        status: Some(status.unwrap_or("RUNNING").to_owned()),
        start_time: if event.is_some_and(starts) {
            time
        } else {
            None
        },
        end_time: if terminal(status) { time } else { None },
        facets,
        parent_run_id: parent,
        ..Default::default()
    }
}

fn facets_text(facets: &Map<String, Value>) -> Option<String> {
    (!facets.is_empty()).then(|| Value::Object(facets.clone()).to_string())
}

fn facets_of(n: &node::Model) -> Map<String, Value> {
    n.facets
        .as_deref()
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// Facets an event carries replace those of the same name; others stay. None when that
/// changes nothing.
fn merged(n: &node::Model, new: &Map<String, Value>) -> Option<String> {
    if new.is_empty() {
        return None;
    }
    let mut all = facets_of(n);
    let before = all.clone();
    for (k, v) in new {
        all.insert(k.clone(), v.clone());
    }
    (all != before).then(|| Value::Object(all).to_string())
}

fn dataset_uri(namespace: &str, name: &str) -> String {
    if name.starts_with('/') || namespace.ends_with('/') {
        format!("{namespace}{name}")
    } else {
        format!("{namespace}/{name}")
    }
}

fn status_of(event_type: Option<&str>) -> Option<&'static str> {
    match event_type? {
        "START" | "RUNNING" => Some("RUNNING"),
        "COMPLETE" => Some("FINISHED"),
        "FAIL" => Some("FAILED"),
        "ABORT" => Some("KILLED"),
        _ => None,
    }
}

fn starts(e: &RunEvent) -> bool {
    matches!(e.event_type.as_deref(), Some("START" | "RUNNING"))
}

fn terminal(status: Option<&str>) -> bool {
    matches!(status, Some("FINISHED" | "FAILED" | "KILLED"))
}

fn io_properties(d: &DatasetRef, key: &str) -> Option<Value> {
    (!d.io_facets.is_empty()).then(|| {
        let mut m = Map::new();
        m.insert(key.to_owned(), Value::Object(d.io_facets.clone()));
        Value::Object(m)
    })
}
