//! What walks answer in GraphQL: `LineageGraph`, its entries and edges, paths, and the
//! walk arguments. Walks list node summaries; an entry's or edge's node is loaded (one
//! batch for the response) only when a selection asks for it through the resolvers.
use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::plain::LineageEntries;
use super::{LineageNode, lineage_node_of, load};
use crate::graphql::ContextExt;
use crate::graphql::errors::GqlResult;
use crate::graphql::loaders::WalkOf;
use crate::graphql::types::{NodeKind, datetime, millis, to_id};
use crate::lineage::walk::check_bounds;
use crate::lineage::{Direction, WalkGraph, WalkParams, WalkedEdge};
use crate::registry::edges::EdgeKind as RegEdgeKind;
use crate::registry::{RegistryError, Result};

/// Which way a lineage walk goes.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineageDirection {
    /// Against the edges: what a node came from.
    Upstream,
    /// Along the edges: what a node fed into.
    Downstream,
    /// Both ways; each node is listed once per direction.
    Both,
}

impl LineageDirection {
    pub fn of(d: Direction) -> Self {
        match d {
            Direction::Upstream => Self::Upstream,
            Direction::Downstream => Self::Downstream,
        }
    }

    pub fn directions(self) -> Vec<Direction> {
        match self {
            Self::Upstream => vec![Direction::Upstream],
            Self::Downstream => vec![Direction::Downstream],
            Self::Both => vec![Direction::Upstream, Direction::Downstream],
        }
    }
}

/// Edge kinds, pointing the way data flows.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "RegEdgeKind")]
pub enum EdgeKind {
    /// artifact / dataset / model version -> the run that consumed it
    Input,
    /// run -> the artifact / dataset / model version it produced
    Output,
    /// artifact -> the model version that packages it
    PartOf,
    /// source -> derived thing of the same family (base model -> fine-tune)
    DerivedFrom,
    /// model version -> the inference service serving it
    DeployedAs,
}

impl EdgeKind {
    /// A stored edge kind; anything else is an internal error (the store holds only
    /// the kinds the registry writes).
    fn stored(kind: &str) -> Result<Self> {
        kind.parse::<RegEdgeKind>()
            .map(Self::from)
            .map_err(|_| RegistryError::Internal(format!("an edge has an unknown kind {kind:?}")))
    }
}

/// A node a walk reached: its node is loaded when selected.
#[derive(Clone)]
pub struct LineageEntry {
    pub id: i64,
    pub depth: i32,
    pub direction: LineageDirection,
}

/// A node a walk reached, at its least depth.
#[Object]
impl LineageEntry {
    async fn node(&self, ctx: &Context<'_>) -> async_graphql::Result<LineageNode> {
        lineage_node_of(load(ctx, self.id).await?).gql()
    }
    /// Edges from the nearest start node.
    async fn depth(&self) -> i32 {
        self.depth
    }
    async fn direction(&self) -> LineageDirection {
        self.direction
    }
}

/// An edge of the lineage graph; its ends are loaded only when asked for.
#[derive(Clone)]
pub struct LineageEdge(pub WalkedEdge);

/// An edge of the lineage graph, pointing the way data flows (`source` to `target`); its
/// ends are loaded only when selected.
#[Object]
impl LineageEdge {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn kind(&self) -> async_graphql::Result<EdgeKind> {
        EdgeKind::stored(&self.0.kind).gql()
    }
    async fn source(&self, ctx: &Context<'_>) -> async_graphql::Result<LineageNode> {
        lineage_node_of(load(ctx, self.0.source_id).await?).gql()
    }
    async fn target(&self, ctx: &Context<'_>) -> async_graphql::Result<LineageNode> {
        lineage_node_of(load(ctx, self.0.target_id).await?).gql()
    }
    async fn create_time(&self) -> DateTime<Utc> {
        datetime(self.0.create_time)
    }
    /// Free-form properties given when the edge was added.
    async fn properties(&self) -> Option<Json<Value>> {
        self.0
            .properties
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .map(Json)
    }
}

/// What a walk found; entries and edges are built only when selected.
#[derive(Clone, Default)]
pub struct LineageGraph(pub WalkGraph);

/// What a lineage walk found: the nodes reached, each once per direction at its least
/// depth (start nodes are not listed), and the edges walked between them.
#[Object]
impl LineageGraph {
    /// Nodes reached, by ascending depth (start nodes are not listed).
    async fn nodes(&self) -> LineageEntries {
        LineageEntries(self.0.clone())
    }

    /// Edges walked whose two ends are start nodes or listed nodes.
    async fn edges(&self) -> Vec<LineageEdge> {
        let nodes = &self.0.nodes;
        self.0
            .result
            .edges
            .iter()
            .filter(|e| nodes.contains_key(&e.source_id) && nodes.contains_key(&e.target_id))
            .cloned()
            .map(LineageEdge)
            .collect()
    }

    /// More nodes were reached than `first` allowed.
    async fn truncated(&self) -> bool {
        self.0.result.truncated
    }
}

/// A path in order from `from` to `to`.
#[derive(SimpleObject, Clone)]
pub struct LineagePath {
    pub nodes: Vec<LineageNode>,
    pub edges: Vec<LineageEdge>,
}

/// Walk arguments, checked against the configured bounds.
#[allow(clippy::too_many_arguments)]
pub fn walk_params(
    ctx: &Context<'_>,
    direction: LineageDirection,
    max_depth: Option<i32>,
    node_kinds: Option<Vec<NodeKind>>,
    edge_kinds: Option<Vec<EdgeKind>>,
    as_of: Option<DateTime<Utc>>,
    first: Option<i32>,
) -> Result<WalkParams> {
    let limits = &ctx.state().limits;
    // an explicit null means the default, as when the argument is left out
    let (max_depth, first) = (max_depth.unwrap_or(3), first.unwrap_or(500));
    let (max_depth, first) = check_bounds(
        i64::from(max_depth),
        i64::from(first),
        limits.max_lineage_depth,
        limits.max_lineage_nodes,
    )?;
    let mut node_kinds: Vec<_> = node_kinds
        .unwrap_or_default()
        .iter()
        .map(|k| k.registry())
        .collect();
    node_kinds.sort();
    node_kinds.dedup();
    let mut edge_kinds: Vec<RegEdgeKind> = edge_kinds
        .unwrap_or_default()
        .iter()
        .map(|k| RegEdgeKind::from(*k))
        .collect();
    edge_kinds.sort();
    edge_kinds.dedup();
    let edges = ctx.look_ahead().field("edges");
    Ok(WalkParams {
        directions: direction.directions(),
        max_depth,
        node_kinds,
        edge_kinds,
        as_of: as_of.as_ref().map(millis),
        first,
        edge_properties: edges.field("properties").exists(),
        edges: edges.exists(),
    })
}

/// `upstream` / `downstream` of one node: batched with the same field on other nodes.
#[allow(clippy::too_many_arguments)]
pub async fn node_walk(
    ctx: &Context<'_>,
    id: i64,
    direction: LineageDirection,
    max_depth: Option<i32>,
    node_kinds: Option<Vec<NodeKind>>,
    edge_kinds: Option<Vec<EdgeKind>>,
    first: Option<i32>,
) -> async_graphql::Result<LineageGraph> {
    let params = walk_params(
        ctx, direction, max_depth, node_kinds, edge_kinds, None, first,
    )
    .gql()?;
    let graph = ctx
        .loaders()
        .walk(WalkOf::new(id, params))
        .await
        .gql()?
        .unwrap_or_default();
    Ok(LineageGraph(graph))
}
