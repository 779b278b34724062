//! The change log over GraphQL: `Change`, a node's `history`, the root `changes`.
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};
use entity::change;
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::nodes::{Node, node_of};
use super::types::{NodeKind, datetime, millis, parse_ids, to_id};
use crate::registry::RegistryError;
use crate::registry::history::{self as log, ChangeFilter as RegChangeFilter};

/// The door a change came through.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "log::Via")]
pub enum ChangeVia {
    Graphql,
    Rest,
    #[graphql(name = "OPENLINEAGE")]
    OpenLineage,
    Cli,
}

/// What a change did.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "log::Operation")]
pub enum ChangeOperation {
    Create,
    Update,
    /// An update that moved the node to ARCHIVED.
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

/// One committed change.
pub struct Change(pub change::Model);

/// One committed change from the change log, through any door: a node created, updated
/// or archived, an edge added or removed, or a release step. `before` and `after` hold
/// only the fields that changed; `sequence` is gap-free, in commit order.
#[Object]
impl Change {
    /// The change's sequence, as an id.
    async fn id(&self) -> ID {
        to_id(self.0.sequence)
    }

    /// Gap-free, strictly increasing commit order.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }

    /// When it was committed.
    async fn at(&self) -> DateTime<Utc> {
        datetime(self.0.at)
    }

    /// Who made it: a token's subject, a JWT's `sub`, a proxy header's user, the CLI's
    /// user, or `anonymous`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    async fn via(&self) -> async_graphql::Result<ChangeVia> {
        log::Via::ALL
            .into_iter()
            .find(|v| v.as_str() == self.0.via)
            .map(ChangeVia::from)
            .ok_or_else(|| RegistryError::Internal(format!("stored via {:?}", self.0.via)))
            .gql()
    }

    async fn operation(&self) -> async_graphql::Result<ChangeOperation> {
        stored_operation(&self.0.operation)
            .map(ChangeOperation::from)
            .gql()
    }

    /// The node changed (for an edge: its source).
    async fn node(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        let Some(id) = self.0.node_id else {
            return Ok(None);
        };
        let found = ctx.loaders().node(id).await.gql()?;
        found.map(node_of).transpose().gql()
    }

    async fn node_id(&self) -> Option<ID> {
        self.0.node_id.map(to_id)
    }

    /// For an edge change, the edge's target.
    async fn other_node_id(&self) -> Option<ID> {
        self.0.other_node_id.map(to_id)
    }

    /// The fields that changed, as they were (null for a creation).
    async fn before(&self) -> Option<Json<Value>> {
        self.0.before.as_deref().map(|t| Json(log::api_fields(t)))
    }

    /// The fields that changed, as they became (null for a removal).
    async fn after(&self) -> Option<Json<Value>> {
        self.0.after.as_deref().map(|t| Json(log::api_fields(t)))
    }
}

fn stored_operation(text: &str) -> crate::registry::Result<log::Operation> {
    log::Operation::ALL
        .into_iter()
        .find(|o| o.as_str() == text)
        .ok_or_else(|| RegistryError::Internal(format!("stored operation {text:?}")))
}

/// Which changes to list; every condition given must hold.
#[derive(InputObject, Default)]
pub struct ChangeFilter {
    /// Changes to these nodes (edges count for both ends).
    pub node_ids: Option<Vec<ID>>,
    pub kinds: Option<Vec<NodeKind>>,
    pub actors: Option<Vec<String>>,
    pub operations: Option<Vec<ChangeOperation>>,
    /// Committed at or after.
    pub since: Option<DateTime<Utc>>,
    /// Committed at or before.
    pub until: Option<DateTime<Utc>>,
    /// Only changes with a greater sequence.
    pub after_sequence: Option<i64>,
}

impl ChangeFilter {
    pub(crate) fn registry(&self) -> crate::registry::Result<RegChangeFilter> {
        Ok(RegChangeFilter {
            node_ids: self
                .node_ids
                .as_deref()
                .map(|ids| parse_ids(ids, "filter.nodeIds"))
                .transpose()?,
            kinds: self
                .kinds
                .as_ref()
                .map(|kinds| kinds.iter().map(|k| k.as_db().to_owned()).collect()),
            actors: self.actors.clone(),
            operations: self
                .operations
                .as_ref()
                .map(|ops| ops.iter().map(|o| log::Operation::from(*o)).collect()),
            since: self.since.as_ref().map(millis),
            until: self.until.as_ref().map(millis),
            after_sequence: self.after_sequence,
        })
    }
}

pub type ChangePage = Connection<String, Change>;

/// A page of changes, newest first, after the cursor `after` (a sequence).
pub async fn page(
    ctx: &Context<'_>,
    filter: RegChangeFilter,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ChangePage> {
    let (first, before) = super::pagination::descending_window(ctx, first, after)?;
    let rows = log::changes(&ctx.state().db, &filter, before, first + 1)
        .await
        .gql()?;
    Ok(super::pagination::descending_page(
        rows,
        first,
        before,
        |c| c.sequence,
        Change,
    ))
}

/// One node's changes, newest first.
pub async fn node_history(
    ctx: &Context<'_>,
    id: i64,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ChangePage> {
    let filter = RegChangeFilter {
        node_ids: Some(vec![id]),
        ..Default::default()
    };
    page(ctx, filter, first, after).await
}

#[derive(Default)]
pub struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// Every committed change, newest first, filtered.
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, None)"
    )]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<ChangeFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ChangePage> {
        let filter = filter.unwrap_or_default().registry().gql()?;
        page(ctx, filter, first, after).await
    }
}
