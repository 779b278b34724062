//! Live changes over WebSocket (`graphql-transport-ws` at `/graphql/ws`): `changes`
//! and `lineageChanged`. Each subscription reads the change log from its own cursor
//! when the feed (`events::Feed`) says something committed, so it gets every matching
//! change once, in sequence order, and a client that reconnects with the last sequence
//! it saw misses nothing and sees nothing twice.
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::futures_util::Stream;
use async_graphql::{Context, ID, Subscription};

use super::ContextExt;
use super::errors::GqlResult;
use super::history::{Change, ChangeFilter};
use super::nodes::LineageDirection;
use super::types::parse_id;
use crate::auth::Role;
use crate::events::{self, BATCH};
use crate::registry::RegistryError;
use crate::registry::history::ChangeFilter as RegChangeFilter;

/// Subscriptions open on one WebSocket connection (set per connection).
#[derive(Clone, Default)]
pub struct OpenSubscriptions(pub Arc<AtomicUsize>);

/// Counts a subscription while its stream lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn take_slot(ctx: &Context<'_>) -> async_graphql::Result<Option<Slot>> {
    let Some(open) = ctx.data_opt::<OpenSubscriptions>() else {
        return Ok(None);
    };
    let cap = ctx.state().limits.max_subscriptions_per_connection;
    let now = open.0.fetch_add(1, Ordering::SeqCst) + 1;
    let slot = Slot(open.0.clone());
    if now > cap {
        return Err(RegistryError::LimitExceeded(format!(
            "at most {cap} subscriptions per connection (--max-subscriptions-per-connection)"
        )))
        .gql();
    }
    Ok(Some(slot))
}

#[derive(Default)]
pub struct SubscriptionRoot;

/// Live changes over `graphql-transport-ws` at `/graphql/ws`, the credential in
/// `connection_init`'s payload (READER). Each subscription delivers every matching change
/// once, in sequence order.
#[Subscription]
impl SubscriptionRoot {
    /// Every committed change matching `filter`, in sequence order, once; from
    /// `afterSequence` (replayed from the log, then live), or from now.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<ChangeFilter>,
        after_sequence: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Change>> + use<>> {
        ctx.principal().require(Role::Reader).gql()?;
        let slot = take_slot(ctx)?;
        let filter = filter.unwrap_or_default().registry().gql()?;
        let state = ctx.state().clone();
        let start = match after_sequence {
            Some(seq) => seq,
            None => events::highest(&state.db).await.gql()?,
        };
        let mut wake = state.feed.subscribe();
        Ok(async_stream::stream! {
            let _slot = slot;
            let mut cursor = start;
            loop {
                let batch = match events::after(&state.db, &filter, cursor, BATCH).await {
                    Ok(batch) => batch,
                    Err(err) => {
                        yield Err(async_graphql::Error::from(err.public_message()));
                        break;
                    }
                };
                let full = batch.len() as u64 == BATCH;
                for change in batch {
                    cursor = change.sequence;
                    yield Ok(Change(change));
                }
                if full {
                    continue;
                }
                if wake.changed().await.is_err() {
                    break;
                }
            }
        })
    }

    /// Changes to any node or edge within the walk from `start` (walked again as the
    /// graph changes, so an edge added later brings its nodes in), from now on.
    async fn lineage_changed(
        &self,
        ctx: &Context<'_>,
        start: ID,
        #[graphql(default_with = "LineageDirection::Upstream")] direction: LineageDirection,
        #[graphql(default = 10)] max_depth: i32,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Change>> + use<>> {
        ctx.principal().require(Role::Reader).gql()?;
        let slot = take_slot(ctx)?;
        let start = parse_id(&start, "start").gql()?;
        let state = ctx.state().clone();
        let limits = state.limits.clone();
        let max_depth = u32::try_from(max_depth)
            .ok()
            .filter(|d| *d <= limits.max_lineage_depth)
            .ok_or_else(|| {
                RegistryError::LimitExceeded(format!(
                    "maxDepth must be 0..={} (--max-lineage-depth)",
                    limits.max_lineage_depth
                ))
            })
            .gql()?;
        let directions = direction.directions();
        let mut cursor = events::highest(&state.db).await.gql()?;
        let mut wake = state.feed.subscribe();
        Ok(async_stream::stream! {
            let _slot = slot;
            loop {
                let batch = match events::after(&state.db, &RegChangeFilter::default(), cursor, BATCH).await {
                    Ok(batch) => batch,
                    Err(err) => {
                        yield Err(async_graphql::Error::from(err.public_message()));
                        break;
                    }
                };
                let full = batch.len() as u64 == BATCH;
                if !batch.is_empty() {
                    // the walk as it stands after these changes
                    let reach = match crate::lineage::reach(
                        &state.db, start, &directions, max_depth, limits.max_lineage_nodes,
                    ).await {
                        Ok(ids) => ids,
                        Err(err) => {
                            yield Err(async_graphql::Error::from(err.public_message()));
                            break;
                        }
                    };
                    let reach: HashSet<i64> = reach.into_iter().chain([start]).collect();
                    for change in batch {
                        cursor = change.sequence;
                        let touches = change.node_id.is_some_and(|id| reach.contains(&id))
                            || change.other_node_id.is_some_and(|id| reach.contains(&id));
                        if touches {
                            yield Ok(Change(change));
                        }
                    }
                }
                if full {
                    continue;
                }
                if wake.changed().await.is_err() {
                    break;
                }
            }
        })
    }
}
