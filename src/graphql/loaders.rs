//! Batched loads for nested fields: one statement per field per nesting level, whatever
//! the number of parents.
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::hash::{Hash, Hasher};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use crate::registry::columns::NodeColumns;
use async_graphql::dataloader::{DataLoader, Loader};
use entity::{model_alias, node, release_decision};
use foldhash::HashMapExt;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use sea_orm::DatabaseConnection;

use crate::db::direct::{Readers, read_on};
use crate::lineage::walk::{Direction, step};
use crate::lineage::{WalkGraph, WalkParams, walk_nodes};
use crate::registry::children::ChildList;
use crate::registry::edges::EdgeKind;
use crate::registry::page::{Page, PagePlan};
use crate::registry::read::find_nodes;
use crate::registry::release;
use crate::registry::{Filter, NodeKind, Order, RegistryError};

/// One request's loaders.
///
/// Batches run beside the operation, in one thread: as local tasks of an operation
/// thread, or within the request's own task for reads without walks ([`inline`]; see
/// `graphql::execute`). They start only once the resolvers stopped asking for keys: a
/// batch waits, yielding to the resolvers, until the count of keys asked for holds still
/// across two turns. So one nested field costs one statement per nesting level however
/// slowly resolvers run, where a timer would split batches in a debug build or on a busy
/// machine.
pub struct Loaders {
    loader: DataLoader<RegistryLoader>,
    asked: Arc<AtomicUsize>,
    /// Latest versions lists read ahead for the models on their pages (`prime_latest`),
    /// with the columns each read: each is taken by the first `latest_version` of its
    /// model that reads no other column, before any batch.
    /// foldhash: model ids are the store's, not chosen by a caller.
    primed_latest: std::sync::Mutex<foldhash::HashMap<i64, Vec<Primed>>>,
}

/// A latest version read ahead (or its absence), and the columns read of it.
type Primed = (NodeColumns, Option<Box<node::Model>>);

/// Loaders for an operation on an operation thread: batches are local tasks there.
pub fn loaders(db: DatabaseConnection, readers: Readers) -> Loaders {
    quiet_loaders(db, readers, |batch| {
        tokio::task::spawn_local(batch);
    })
}

/// Batches an operation answered on its request's own task runs beside it ([`inline`]).
pub type Inbox = Arc<std::sync::Mutex<Vec<BoxFuture<'static, ()>>>>;

/// Loaders for an operation run by [`inline`]: their batches go into `inbox`.
pub fn inline_loaders(db: DatabaseConnection, readers: Readers, inbox: Inbox) -> Loaders {
    quiet_loaders(db, readers, move |batch| {
        inbox.lock().unwrap_or_else(|p| p.into_inner()).push(batch);
    })
}

/// Runs `operation` and the batches its loaders put in `inbox`, all within this one
/// future: as with local tasks, a batch's turns come between the resolvers' turns, so it
/// still waits for them to stop asking for keys.
pub async fn inline<F: Future>(operation: F, inbox: Inbox) -> F::Output {
    let mut operation = pin!(operation);
    let mut batches = FuturesUnordered::new();
    poll_fn(move |cx| {
        loop {
            if let Poll::Ready(out) = operation.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            batches.extend(std::mem::take(
                &mut *inbox.lock().unwrap_or_else(|p| p.into_inner()),
            ));
            while let Poll::Ready(Some(())) = batches.poll_next_unpin(cx) {}
            // a batch that finished may have queued the next level's batch
            if inbox.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// Loaders whose batches `spawn` runs: each batch yields until the keys asked for hold
/// still across two turns, then loads them all.
fn quiet_loaders(
    db: DatabaseConnection,
    readers: Readers,
    spawn: impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static,
) -> Loaders {
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    let loader = DataLoader::new(RegistryLoader { db, readers }, move |batch| {
        let seen = seen.clone();
        spawn(Box::pin(async move {
            let mut last = seen.load(Ordering::SeqCst);
            let mut quiet = 0;
            while quiet < 2 {
                tokio::task::yield_now().await;
                let now = seen.load(Ordering::SeqCst);
                quiet = if now == last { quiet + 1 } else { 0 };
                last = now;
            }
            batch.await;
        }));
    })
    .delay(Duration::ZERO);
    Loaders {
        loader,
        asked,
        primed_latest: Default::default(),
    }
}

/// Loaders for a subscription's events, which run as ordinary tasks outside any
/// request's thread: a batch is a spawned task that gathers keys for a millisecond.
pub fn spawned_loaders(db: DatabaseConnection, readers: Readers) -> Loaders {
    let loader = DataLoader::new(RegistryLoader { db, readers }, tokio::spawn)
        .delay(Duration::from_millis(1));
    Loaders {
        loader,
        asked: Arc::default(),
        primed_latest: Default::default(),
    }
}

impl Loaders {
    pub async fn node(&self, id: i64) -> Result<Option<node::Model>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.loader.load_one(NodeId(id)).await
    }

    pub async fn walk(&self, key: WalkOf) -> Result<Option<WalkGraph>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.loader.load_one(key).await
    }

    pub async fn hop(&self, key: Hop) -> Result<Option<Arc<Vec<node::Model>>>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.loader.load_one(key).await
    }

    /// A model's latest version that is not archived, if any, whole.
    pub async fn latest_version(
        &self,
        model: i64,
    ) -> Result<Option<Box<node::Model>>, Arc<RegistryError>> {
        self.latest_version_reading(model, NodeColumns::ALL).await
    }

    /// A model's latest version that is not archived, if any, for a caller that reads
    /// `columns` of it only.
    pub async fn latest_version_reading(
        &self,
        model: i64,
        columns: NodeColumns,
    ) -> Result<Option<Box<node::Model>>, Arc<RegistryError>> {
        let primed = {
            let mut primed = self.primed_latest.lock().unwrap_or_else(|p| p.into_inner());
            primed.get_mut(&model).and_then(|rows| {
                let at = rows.iter().position(|(read, _)| read.covers(columns))?;
                Some(rows.swap_remove(at).1)
            })
        };
        if let Some(latest) = primed {
            return Ok(latest);
        }
        self.asked.fetch_add(1, Ordering::SeqCst);
        // boxed: a `latestVersion` resolver's future is then small (`graphql::nodes::boxed`)
        Box::pin(self.loader.load_one(LatestVersionOf(model))).await
    }

    /// Reads the latest versions of `models` now, `columns` of each, in one statement,
    /// for their `latestVersion` fields to take: each takes its own row, once, instead
    /// of a copy out of a batch's answer.
    pub async fn prime_latest(
        &self,
        models: &[i64],
        columns: NodeColumns,
    ) -> Result<(), RegistryError> {
        let loader = self.loader.loader();
        let mut found = latest_versions(&loader.db, &loader.readers, models, columns).await?;
        let mut primed = self.primed_latest.lock().unwrap_or_else(|p| p.into_inner());
        primed.reserve(models.len());
        for model in models {
            primed
                .entry(*model)
                .or_default()
                .push((columns, found.remove(model)));
        }
        Ok(())
    }

    /// A model's current aliases, a version's aliases, a release request's decisions:
    /// empty when there are none.
    pub async fn aliases_of_model(
        &self,
        model: i64,
    ) -> Result<Arc<Vec<model_alias::Model>>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .loader
            .load_one(AliasesOfModel(model))
            .await?
            .unwrap_or_default())
    }

    pub async fn aliases_of_version(
        &self,
        version: i64,
    ) -> Result<Arc<Vec<model_alias::Model>>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .loader
            .load_one(AliasesOfVersion(version))
            .await?
            .unwrap_or_default())
    }

    pub async fn decisions(
        &self,
        request: i64,
    ) -> Result<Arc<Vec<release_decision::Model>>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .loader
            .load_one(DecisionsOf(request))
            .await?
            .unwrap_or_default())
    }

    pub async fn children(&self, key: ChildrenOf) -> Result<Option<Arc<Page>>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.loader.load_one(key).await
    }

    /// How many children the key's parent has, whatever the page.
    pub async fn child_count(&self, key: ChildrenOf) -> Result<u64, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .loader
            .load_one(ChildCount(key))
            .await?
            .unwrap_or_default())
    }
}

pub struct RegistryLoader {
    db: DatabaseConnection,
    readers: Readers,
}

/// A node by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId(pub i64);

impl Loader<NodeId> for RegistryLoader {
    type Value = node::Model;
    type Error = Arc<RegistryError>;

    async fn load(&self, keys: &[NodeId]) -> Result<HashMap<NodeId, node::Model>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = read_on!(&self.db, &self.readers, |conn| find_nodes(conn, &ids)).await?;
        Ok(rows.into_iter().map(|n| (NodeId(n.id), n)).collect())
    }
}

/// What a nested list asks of each parent's children, which page of them, and which of
/// their columns its items show. Queries that differ in their columns only are read
/// together, with the columns of all (`by_query`).
///
/// Each parent's resolver makes its own (a hundred models listing their versions make a
/// hundred equal queries), so queries compare field by field, and hash only their
/// integers: cheap beside the rows they read (they were once compared by their `Debug`
/// text, a formatted string per parent that cost more than the parent's rows).
#[derive(Debug, PartialEq)]
pub struct ChildQuery {
    pub kinds: Vec<NodeKind>,
    pub filter: Filter,
    pub order: Order,
    /// Also children attached by an edge of this kind into the parent (artifacts PART_OF
    /// a version, or INPUT of a run), as Kubeflow's artifact lists have them.
    pub attached_by: Option<EdgeKind>,
    pub plan: PagePlan,
    pub columns: NodeColumns,
}

impl ChildQuery {
    pub fn new(
        kinds: Vec<NodeKind>,
        filter: Filter,
        order: Order,
        attached_by: Option<EdgeKind>,
        plan: PagePlan,
        columns: NodeColumns,
    ) -> Arc<Self> {
        Arc::new(Self {
            kinds,
            filter,
            order,
            attached_by,
            plan,
            columns,
        })
    }

    fn list(&self, columns: NodeColumns) -> ChildList<'_> {
        ChildList {
            kinds: &self.kinds,
            filter: &self.filter,
            order: self.order,
            attached_by: self.attached_by,
            columns,
        }
    }

    /// Whether the two read the same rows, whatever columns each shows: one statement
    /// serves both.
    fn same_rows(self: &Arc<Self>, other: &Arc<Self>) -> bool {
        Arc::ptr_eq(self, other)
            || (self.kinds == other.kinds
                && self.order == other.order
                && self.attached_by == other.attached_by
                && self.plan == other.plan
                && self.filter == other.filter)
    }

    /// Hashes what `same_rows` compares that is quick to hash; queries that differ only
    /// in the rest share a hash and are told apart by `same_rows`.
    fn hash_rows<H: Hasher>(&self, state: &mut H) {
        self.kinds.hash(state);
        self.order.hash(state);
        self.attached_by.hash(state);
        self.plan.size.hash(state);
        self.plan.backward.hash(state);
    }
}

/// One parent's page of the children a query asks for; paging happens per parent, in
/// the database (`registry::children`).
#[derive(Clone, Debug)]
pub struct ChildrenOf {
    pub parent: i64,
    pub query: Arc<ChildQuery>,
}

impl PartialEq for ChildrenOf {
    fn eq(&self, other: &Self) -> bool {
        // the same query (one `Arc`) also equals itself when a filter holds a float
        // that does not (NaN): a key always finds its own page
        self.parent == other.parent
            && self.query.columns == other.query.columns
            && self.query.same_rows(&other.query)
    }
}
impl Eq for ChildrenOf {}
impl Hash for ChildrenOf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.query.hash_rows(state);
        self.query.columns.hash(state);
    }
}

/// How many children of a parent a query matches, whatever the page.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChildCount(pub ChildrenOf);

/// The keys grouped by query, whatever columns each reads: one statement per group,
/// reading every column any of its keys reads.
struct QueryGroup<'k> {
    query: Arc<ChildQuery>,
    columns: NodeColumns,
    keys: Vec<&'k ChildrenOf>,
}

impl QueryGroup<'_> {
    /// The parents asked for, each once.
    fn parents(&self) -> Vec<i64> {
        let mut parents: Vec<i64> = self.keys.iter().map(|k| k.parent).collect();
        parents.sort_unstable();
        parents.dedup();
        parents
    }
}

fn by_query<'k>(keys: impl Iterator<Item = &'k ChildrenOf>) -> Vec<QueryGroup<'k>> {
    // a request's nested lists make a handful of queries: a list beats hashing them
    let mut groups: Vec<QueryGroup<'k>> = Vec::new();
    for key in keys {
        let at = match groups.iter().position(|g| g.query.same_rows(&key.query)) {
            Some(at) => at,
            None => {
                groups.push(QueryGroup {
                    query: key.query.clone(),
                    columns: key.query.columns,
                    keys: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[at];
        group.columns = group.columns.union(key.query.columns);
        group.keys.push(key);
    }
    groups
}

impl Loader<ChildrenOf> for RegistryLoader {
    type Value = Arc<Page>;
    type Error = Arc<RegistryError>;

    async fn load(
        &self,
        keys: &[ChildrenOf],
    ) -> Result<HashMap<ChildrenOf, Self::Value>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for group in by_query(keys.iter()) {
            let list = group.query.list(group.columns);
            let parents = group.parents();
            let pages = read_on!(&self.db, &self.readers, |conn| {
                list.pages(conn, &parents, &group.query.plan)
            })
            .await?;
            let pages: HashMap<i64, Arc<Page>> = pages
                .into_iter()
                .map(|(p, page)| (p, Arc::new(page)))
                .collect();
            for key in group.keys {
                if let Some(page) = pages.get(&key.parent) {
                    out.insert(key.clone(), page.clone());
                }
            }
        }
        Ok(out)
    }
}

impl Loader<ChildCount> for RegistryLoader {
    type Value = u64;
    type Error = Arc<RegistryError>;

    async fn load(
        &self,
        keys: &[ChildCount],
    ) -> Result<HashMap<ChildCount, Self::Value>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for group in by_query(keys.iter().map(|k| &k.0)) {
            let list = group.query.list(group.columns);
            let parents = group.parents();
            let counts = read_on!(&self.db, &self.readers, |conn| {
                list.counts(conn, &parents)
            })
            .await?;
            for key in group.keys {
                let count = counts.get(&key.parent).copied().unwrap_or(0);
                out.insert(ChildCount(key.clone()), count);
            }
        }
        Ok(out)
    }
}

/// One node's walk (a nested `upstream` / `downstream` field); nodes asking with the same
/// parameters walk together, one statement per level for all of them.
#[derive(Clone, Debug)]
pub struct WalkOf {
    pub start: i64,
    pub params: Arc<WalkParams>,
    ident: Arc<str>,
}

impl WalkOf {
    pub fn new(start: i64, params: WalkParams) -> Self {
        let ident = format!("{params:?}").into();
        Self {
            start,
            params: Arc::new(params),
            ident,
        }
    }
}

impl PartialEq for WalkOf {
    fn eq(&self, other: &Self) -> bool {
        self.start == other.start && self.ident == other.ident
    }
}
impl Eq for WalkOf {}
impl Hash for WalkOf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.start.hash(state);
        self.ident.hash(state);
    }
}

impl Loader<WalkOf> for RegistryLoader {
    type Value = WalkGraph;
    type Error = Arc<RegistryError>;

    async fn load(&self, keys: &[WalkOf]) -> Result<HashMap<WalkOf, Self::Value>, Self::Error> {
        let mut groups: HashMap<&str, Vec<&WalkOf>> = HashMap::new();
        for key in keys {
            groups.entry(&key.ident).or_default().push(key);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for group in groups.into_values() {
            let starts: Vec<Vec<i64>> = group.iter().map(|k| vec![k.start]).collect();
            let walked =
                walk_nodes(&self.db, &self.readers, &starts, &group[0].params, "id").await?;
            for (key, graph) in group.into_iter().zip(walked.graphs()) {
                out.insert(key.clone(), graph);
            }
        }
        Ok(out)
    }
}

/// One hop along edges of one kind: a run's inputs, an artifact's producers, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hop {
    pub node: i64,
    pub direction: Direction,
    pub kind: EdgeKind,
}

impl Loader<Hop> for RegistryLoader {
    type Value = Arc<Vec<node::Model>>;
    type Error = Arc<RegistryError>;

    async fn load(&self, keys: &[Hop]) -> Result<HashMap<Hop, Self::Value>, Self::Error> {
        let mut groups: HashMap<(Direction, EdgeKind), Vec<i64>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.direction, key.kind))
                .or_default()
                .push(key.node);
        }
        let mut neighbours: HashMap<Hop, Vec<i64>> = HashMap::new();
        for ((direction, kind), nodes) in groups {
            let params = WalkParams {
                directions: vec![direction],
                max_depth: 1,
                edge_kinds: vec![kind],
                ..Default::default()
            };
            for edge in step(&self.db, &nodes, direction, &params).await? {
                let (near, far) = match direction {
                    Direction::Upstream => (edge.target_id, edge.source_id),
                    Direction::Downstream => (edge.source_id, edge.target_id),
                };
                neighbours
                    .entry(Hop {
                        node: near,
                        direction,
                        kind,
                    })
                    .or_default()
                    .push(far);
            }
        }
        let mut ids: Vec<i64> = neighbours.values().flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        let rows: HashMap<i64, node::Model> = find_nodes(&self.db, &ids)
            .await?
            .into_iter()
            .map(|n| (n.id, n))
            .collect();
        Ok(keys
            .iter()
            .map(|key| {
                let mut found: Vec<node::Model> = neighbours
                    .get(key)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| rows.get(id).cloned())
                    .collect();
                found.sort_by_key(|n| n.id);
                found.dedup_by_key(|n| n.id);
                (*key, Arc::new(found))
            })
            .collect())
    }
}

/// A model's current aliases (those naming a version).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AliasesOfModel(pub i64);

impl Loader<AliasesOfModel> for RegistryLoader {
    type Value = Arc<Vec<model_alias::Model>>;
    type Error = Arc<RegistryError>;

    async fn load(
        &self,
        keys: &[AliasesOfModel],
    ) -> Result<HashMap<AliasesOfModel, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = release::aliases_of(&self.db, &ids, &[]).await?;
        Ok(grouped(rows, |r| AliasesOfModel(r.model_id)))
    }
}

/// A model's latest version that is not archived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LatestVersionOf(pub i64);

impl Loader<LatestVersionOf> for RegistryLoader {
    type Value = Box<node::Model>;
    type Error = Arc<RegistryError>;

    async fn load(
        &self,
        keys: &[LatestVersionOf],
    ) -> Result<HashMap<LatestVersionOf, Self::Value>, Self::Error> {
        let models: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = latest_versions(&self.db, &self.readers, &models, NodeColumns::ALL).await?;
        Ok(found
            .into_iter()
            .map(|(model, v)| (LatestVersionOf(model), v))
            .collect())
    }
}

/// The latest version that is not archived of each of `models` that has one, by model.
async fn latest_versions(
    db: &DatabaseConnection,
    readers: &Readers,
    models: &[i64],
    columns: NodeColumns,
) -> Result<foldhash::HashMap<i64, Box<node::Model>>, RegistryError> {
    let rows = read_on!(db, readers, |conn| {
        crate::registry::read::latest_versions_of(conn, models, columns)
    })
    .await?;
    let mut found = foldhash::HashMap::with_capacity(rows.len());
    found.extend(
        rows.into_iter()
            .filter_map(|v| Some((v.parent_id?, Box::new(v)))),
    );
    Ok(found)
}

/// The aliases naming a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AliasesOfVersion(pub i64);

impl Loader<AliasesOfVersion> for RegistryLoader {
    type Value = Arc<Vec<model_alias::Model>>;
    type Error = Arc<RegistryError>;

    async fn load(
        &self,
        keys: &[AliasesOfVersion],
    ) -> Result<HashMap<AliasesOfVersion, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        // by version id only: every row has one (aliases_of keeps only rows with a version)
        let rows = release::aliases_of(&self.db, &[], &ids).await?;
        Ok(grouped(rows, |r| {
            AliasesOfVersion(r.version_id.unwrap_or_default())
        }))
    }
}

/// A release request's decisions, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecisionsOf(pub i64);

impl Loader<DecisionsOf> for RegistryLoader {
    type Value = Arc<Vec<release_decision::Model>>;
    type Error = Arc<RegistryError>;

    async fn load(
        &self,
        keys: &[DecisionsOf],
    ) -> Result<HashMap<DecisionsOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = release::decisions(&self.db, &ids).await?;
        Ok(grouped(rows, |r| DecisionsOf(r.request_id)))
    }
}

/// Rows grouped under their keys, keeping the rows' order within each key.
fn grouped<K: Hash + Eq, T>(
    rows: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> HashMap<K, Arc<Vec<T>>> {
    let mut groups: HashMap<K, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}
