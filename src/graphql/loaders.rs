//! Batched loads for nested fields: one statement per field per nesting level, whatever
//! the number of parents.
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::node;
use sea_orm::DatabaseConnection;

use crate::registry::page::sort_rows;
use crate::registry::read::{find_nodes, list_all};
use crate::registry::{Filter, NodeKind, Order, RegistryError};

/// One request's loaders.
///
/// Batches run as local tasks of the request's own thread (see `graphql::execute`) and
/// start only once the resolvers stopped asking for keys: a batch waits, yielding to the
/// resolvers, until the count of keys asked for holds still across two turns. So one
/// nested field costs one statement per nesting level however slowly resolvers run,
/// where a timer would split batches in a debug build or on a busy machine.
pub struct Loaders {
    loader: DataLoader<RegistryLoader>,
    asked: Arc<AtomicUsize>,
}

pub fn loaders(db: DatabaseConnection) -> Loaders {
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    let loader = DataLoader::new(RegistryLoader { db }, move |batch| {
        let seen = seen.clone();
        tokio::task::spawn_local(async move {
            let mut last = seen.load(Ordering::SeqCst);
            let mut quiet = 0;
            while quiet < 2 {
                tokio::task::yield_now().await;
                let now = seen.load(Ordering::SeqCst);
                quiet = if now == last { quiet + 1 } else { 0 };
                last = now;
            }
            batch.await;
        });
    })
    .delay(Duration::ZERO);
    Loaders { loader, asked }
}

impl Loaders {
    pub async fn node(&self, id: i64) -> Result<Option<node::Model>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.loader.load_one(NodeId(id)).await
    }

    pub async fn children(
        &self,
        key: ChildrenOf,
    ) -> Result<Option<Arc<Vec<node::Model>>>, Arc<RegistryError>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.loader.load_one(key).await
    }
}

pub struct RegistryLoader {
    db: DatabaseConnection,
}

/// A node by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId(pub i64);

impl Loader<NodeId> for RegistryLoader {
    type Value = node::Model;
    type Error = Arc<RegistryError>;

    async fn load(&self, keys: &[NodeId]) -> Result<HashMap<NodeId, node::Model>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = find_nodes(&self.db, &ids).await?;
        Ok(rows.into_iter().map(|n| (NodeId(n.id), n)).collect())
    }
}

/// What a nested list asks of each parent's children.
#[derive(Debug)]
pub struct ChildQuery {
    pub kinds: Vec<NodeKind>,
    pub filter: Filter,
    pub order: Order,
    ident: String,
}

impl ChildQuery {
    pub fn new(kinds: Vec<NodeKind>, filter: Filter, order: Order) -> Arc<Self> {
        let ident = format!("{kinds:?}|{filter:?}|{order:?}");
        Arc::new(Self {
            kinds,
            filter,
            order,
            ident,
        })
    }
}

/// Every child of one parent that matches a query, sorted; paging happens per parent.
#[derive(Clone, Debug)]
pub struct ChildrenOf {
    pub parent: i64,
    pub query: Arc<ChildQuery>,
}

impl PartialEq for ChildrenOf {
    fn eq(&self, other: &Self) -> bool {
        self.parent == other.parent && self.query.ident == other.query.ident
    }
}
impl Eq for ChildrenOf {}
impl Hash for ChildrenOf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.query.ident.hash(state);
    }
}

impl Loader<ChildrenOf> for RegistryLoader {
    type Value = Arc<Vec<node::Model>>;
    type Error = Arc<RegistryError>;

    async fn load(
        &self,
        keys: &[ChildrenOf],
    ) -> Result<HashMap<ChildrenOf, Self::Value>, Self::Error> {
        let mut groups: HashMap<&str, (Arc<ChildQuery>, Vec<i64>)> = HashMap::new();
        for key in keys {
            groups
                .entry(key.query.ident.as_str())
                .or_insert_with(|| (key.query.clone(), Vec::new()))
                .1
                .push(key.parent);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (query, parents) in groups.into_values() {
            let mut filter = query.filter.clone();
            filter.parent_ids = Some(parents.clone());
            let rows = list_all(&self.db, &query.kinds, &filter, query.order).await?;
            let mut by_parent: HashMap<i64, Vec<node::Model>> = HashMap::new();
            for row in rows {
                if let Some(p) = row.parent_id {
                    by_parent.entry(p).or_default().push(row);
                }
            }
            for parent in parents {
                let mut children = by_parent.remove(&parent).unwrap_or_default();
                sort_rows(query.order, &mut children);
                out.insert(
                    ChildrenOf {
                        parent,
                        query: query.clone(),
                    },
                    Arc::new(children),
                );
            }
        }
        Ok(out)
    }
}
