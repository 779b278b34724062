//! Helpers shared by every domain's resolvers: create, update, list filters.
use async_graphql::{Context, ID};
use entity::node;

use super::ContextExt;
use super::errors::GqlResult;
use super::filters::{KindFilter, with_query};
use super::types::parse_id;
use crate::registry::{Filter, NodeFields, NodeKind, write};

pub async fn create_node(
    ctx: &Context<'_>,
    kind: NodeKind,
    fields: NodeFields,
) -> async_graphql::Result<node::Model> {
    write::create(&ctx.state().db, &ctx.actor(), kind, fields)
        .await
        .gql()
}

pub async fn update_node(
    ctx: &Context<'_>,
    kind: NodeKind,
    id: &ID,
    fields: NodeFields,
    expected_revision: Option<i64>,
) -> async_graphql::Result<node::Model> {
    let id = parse_id(id, "id").gql()?;
    write::update(
        &ctx.state().db,
        &ctx.actor(),
        kind,
        id,
        fields,
        expected_revision,
    )
    .await
    .gql()
}

/// A list's typed filter joined with its `filterQuery`.
pub fn list_filter<F: KindFilter>(
    filter: &F,
    kinds: &[NodeKind],
    query: &Option<String>,
) -> async_graphql::Result<Filter> {
    with_query(filter.to_filter().gql()?, kinds, query).gql()
}
