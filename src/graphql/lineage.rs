//! Lineage roots: `lineage` and `lineagePath` walks, and the edge mutations. The types
//! they answer with (and `upstream` / `downstream` on every node) are in `nodes::graph`.
use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::nodes::{
    EdgeKind, LineageDirection, LineageEdge, LineageGraph, LineagePath, lineage_node_of,
    walk_params,
};
use super::types::*;
use crate::lineage::path::path_between;
use crate::lineage::walk::check_bounds;
use crate::lineage::{WalkedEdge, walk_nodes};
use crate::registry::edges::{self, NewEdge};
use crate::registry::read::find_nodes;
use crate::registry::{RegistryError, Result};

/// An edge to add.
#[derive(InputObject)]
pub struct LineageEdgeInput {
    pub source: ID,
    pub target: ID,
    pub kind: EdgeKind,
    pub properties: Option<Json<Value>>,
}

#[derive(Default)]
pub struct LineageQuery;

#[Object]
impl LineageQuery {
    /// Walks the graph from `start` (the start nodes walk together).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::pagination::walk_complexity(child_complexity, first)")]
    async fn lineage(
        &self,
        ctx: &Context<'_>,
        start: Vec<ID>,
        #[graphql(default_with = "Some(LineageDirection::Both)")] direction: Option<
            LineageDirection,
        >,
        #[graphql(default = 3)] max_depth: Option<i32>,
        node_kinds: Option<Vec<NodeKind>>,
        edge_kinds: Option<Vec<EdgeKind>>,
        as_of: Option<DateTime<Utc>>,
        #[graphql(default = 500)] first: Option<i32>,
    ) -> async_graphql::Result<LineageGraph> {
        let direction = direction.unwrap_or(LineageDirection::Both);
        let params = walk_params(
            ctx, direction, max_depth, node_kinds, edge_kinds, as_of, first,
        )
        .gql()?;
        let starts = parse_ids(&start, "start").gql()?;
        if starts.is_empty() {
            return Err(RegistryError::invalid(
                "start",
                "needs at least one node id",
            ))
            .gql();
        }
        let state = ctx.state();
        let walked = walk_nodes(&state.db, &state.readers, &[starts], &params, "start")
            .await
            .gql()?;
        Ok(LineageGraph(walked.graphs().pop().unwrap_or_default()))
    }

    /// One shortest path from `from` to `to` (following edges downstream, else upstream),
    /// or null.
    async fn lineage_path(
        &self,
        ctx: &Context<'_>,
        from: ID,
        to: ID,
        #[graphql(default = 20)] max_depth: Option<i32>,
    ) -> async_graphql::Result<Option<LineagePath>> {
        let limits = &ctx.state().limits;
        let (max_depth, _) = check_bounds(
            i64::from(max_depth.unwrap_or(20)),
            0,
            limits.max_lineage_depth,
            0,
        )
        .gql()?;
        let db = &ctx.state().db;
        let (from, to) = (parse_id(&from, "from").gql()?, parse_id(&to, "to").gql()?);
        let Some(path) = path_between(db, from, to, max_depth).await.gql()? else {
            return Ok(None);
        };
        let mut rows = find_nodes(db, &path.nodes).await.gql()?;
        // in path order
        rows.sort_by_key(|n| path.nodes.iter().position(|id| *id == n.id));
        Ok(Some(LineagePath {
            nodes: rows
                .into_iter()
                .map(lineage_node_of)
                .collect::<Result<_>>()
                .gql()?,
            edges: path.edges.into_iter().map(LineageEdge).collect(),
        }))
    }
}

#[derive(Default)]
pub struct LineageMutation;

#[Object]
impl LineageMutation {
    /// Adds edges, all or none; an edge that exists already is returned unchanged.
    async fn add_lineage_edges(
        &self,
        ctx: &Context<'_>,
        edges: Vec<LineageEdgeInput>,
    ) -> async_graphql::Result<Vec<LineageEdge>> {
        let new = edges
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Ok(NewEdge {
                    source: parse_id(&e.source, &format!("edges[{i}].source"))?,
                    target: parse_id(&e.target, &format!("edges[{i}].target"))?,
                    kind: e.kind.into(),
                    properties: e.properties.as_ref().map(|p| p.0.clone()),
                    source_kind: None,
                })
            })
            .collect::<Result<Vec<_>>>()
            .gql()?;
        let rows = edges::add_edges(&ctx.state().db, &ctx.actor(), new)
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|r| {
                LineageEdge(WalkedEdge {
                    id: r.id,
                    source_id: r.source_id,
                    target_id: r.target_id,
                    kind: r.kind,
                    create_time: r.create_time,
                    node_kind: String::new(),
                    node_create_time: 0,
                    properties: r.properties,
                })
            })
            .collect())
    }

    /// Removes edges by id, all or none; returns how many were removed.
    async fn remove_lineage_edges(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<u64> {
        let ids = parse_ids(&ids, "ids").gql()?;
        edges::remove_edges(&ctx.state().db, &ctx.actor(), ids)
            .await
            .gql()
    }
}
