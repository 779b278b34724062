//! Lineage over GraphQL: the `LineageNode` interface, walks, paths, edge mutations and
//! `recordRun`.
use std::sync::Arc;

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Enum, ID, InputObject, InputType, Json, Name, Object, OutputType,
    Positioned, ScalarType, ServerResult, SimpleObject, Value as GqlValue,
};
use chrono::{DateTime, Utc};
use entity::node;
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::loaders::WalkOf;
use super::nodes::{ExperimentRun, LineageNode, lineage_node_of};
use super::types::*;
use crate::lineage::walk::{Direction, WalkResult, WalkedEdge, check_bounds};
use crate::lineage::{WalkParams, Walked, path, walk_with};
use crate::registry::edges::{self, EdgeKind as RegEdgeKind, NewEdge};
use crate::registry::kind::NodeKind as RegKind;
use crate::registry::props::PropValue;
use crate::registry::run::{RecordRun, RunModelVersion, RunOutput, record_run};
use crate::registry::{NodeFields, RegistryError, Result};

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineageDirection {
    Upstream,
    Downstream,
    Both,
}

impl LineageDirection {
    fn of(d: Direction) -> Self {
        match d {
            Direction::Upstream => Self::Upstream,
            Direction::Downstream => Self::Downstream,
        }
    }

    fn directions(self) -> Vec<Direction> {
        match self {
            Self::Upstream => vec![Direction::Upstream],
            Self::Downstream => vec![Direction::Downstream],
            Self::Both => vec![Direction::Upstream, Direction::Downstream],
        }
    }
}

/// Edge kinds, pointing the way data flows.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
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
    pub fn registry(self) -> RegEdgeKind {
        match self {
            Self::Input => RegEdgeKind::Input,
            Self::Output => RegEdgeKind::Output,
            Self::PartOf => RegEdgeKind::PartOf,
            Self::DerivedFrom => RegEdgeKind::DerivedFrom,
            Self::DeployedAs => RegEdgeKind::DeployedAs,
        }
    }

    fn of(s: &str) -> Self {
        match s {
            "INPUT" => Self::Input,
            "OUTPUT" => Self::Output,
            "PART_OF" => Self::PartOf,
            "DERIVED_FROM" => Self::DerivedFrom,
            _ => Self::DeployedAs,
        }
    }
}

/// A node a walk reached, at its least depth.
#[derive(SimpleObject, Clone)]
pub struct LineageEntry {
    pub node: LineageNode,
    /// Edges from the nearest start node.
    pub depth: i32,
    pub direction: LineageDirection,
}

/// An edge of the lineage graph.
/// Nodes a walk or a path mentions, shared by its entries and edges.
type NodeMap = Arc<foldhash::HashMap<i64, Arc<node::Model>>>;

/// An edge of the lineage graph; its ends are looked up only when asked for.
#[derive(Clone)]
pub struct LineageEdge {
    edge: WalkedEdge,
    properties: Option<String>,
    nodes: NodeMap,
}

impl LineageEdge {
    fn end(&self, id: i64) -> async_graphql::Result<LineageNode> {
        self.nodes
            .get(&id)
            .map(|n| lineage_node_of(node::Model::clone(n)))
            .ok_or_else(|| async_graphql::Error::new(format!("node {id} vanished")))
    }
}

#[Object]
impl LineageEdge {
    async fn id(&self) -> ID {
        to_id(self.edge.id)
    }
    async fn kind(&self) -> EdgeKind {
        EdgeKind::of(&self.edge.kind)
    }
    async fn source(&self) -> async_graphql::Result<LineageNode> {
        self.end(self.edge.source_id)
    }
    async fn target(&self) -> async_graphql::Result<LineageNode> {
        self.end(self.edge.target_id)
    }
    async fn create_time(&self) -> DateTime<Utc> {
        datetime(self.edge.create_time)
    }
    /// Free-form properties given when the edge was added.
    async fn properties(&self) -> Option<Json<Value>> {
        self.properties
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .map(Json)
    }
}

/// What a walk found; entries and edges are built only when selected.
#[derive(Clone, Default)]
pub struct LineageGraph {
    result: Arc<WalkResult>,
    nodes: NodeMap,
}

#[Object]
impl LineageGraph {
    /// Nodes reached, by ascending depth (start nodes are not listed).
    async fn nodes(&self) -> LineageEntries {
        LineageEntries(self.clone())
    }

    /// Edges walked whose two ends are start nodes or listed nodes.
    async fn edges(&self) -> Vec<LineageEdge> {
        self.result
            .edges
            .iter()
            .filter(|e| {
                self.nodes.contains_key(&e.source_id) && self.nodes.contains_key(&e.target_id)
            })
            .map(|e| LineageEdge {
                edge: e.clone(),
                properties: e.properties.clone(),
                nodes: self.nodes.clone(),
            })
            .collect()
    }

    /// More nodes were reached than `first` allowed.
    async fn truncated(&self) -> bool {
        self.result.truncated
    }
}

/// A walk's `[LineageEntry!]!`. Walks list up to thousands of entries, and resolving
/// each field of each one as a future of its own cost more than the walk: when the
/// selection asks only for plain fields (depth, direction, and the node's id, kind, name,
/// createTime, __typename: no arguments, directives or fragments) the values are built
/// directly; anything else goes through async-graphql's resolvers.
pub struct LineageEntries(LineageGraph);

impl LineageEntries {
    fn entries(&self) -> Vec<LineageEntry> {
        let graph = &self.0;
        graph
            .result
            .entries
            .iter()
            .filter_map(|e| {
                Some(LineageEntry {
                    node: lineage_node_of(node::Model::clone(graph.nodes.get(&e.id)?)),
                    depth: e.depth as i32,
                    direction: LineageDirection::of(e.direction),
                })
            })
            .collect()
    }

    /// The entries as plain values, following `plan`. Each object starts as a copy of a
    /// template holding its keys (so no key is hashed again), and enum values and type
    /// names are made once and shared (a value's name is reference-counted).
    fn plain(&self, plan: &[(Name, EntryField)]) -> GqlValue {
        let graph = &self.0;
        let template = |keys: &mut dyn Iterator<Item = &Name>| -> IndexMap<Name, GqlValue> {
            keys.map(|k| (k.clone(), GqlValue::Null)).collect()
        };
        let entry_template = template(&mut plan.iter().map(|(k, _)| k));
        let node_plan: &[(Name, NodeField)] = plan
            .iter()
            .find_map(|(_, f)| match f {
                EntryField::Node(fields) => Some(fields.as_slice()),
                _ => None,
            })
            .unwrap_or_default();
        let node_template = template(&mut node_plan.iter().map(|(k, _)| k));
        let mut kinds = KindValues::default();
        let entry_type = GqlValue::String("LineageEntry".to_owned());
        let directions = [Direction::Upstream, Direction::Downstream]
            .map(|d| LineageDirection::of(d).to_value());
        let mut list = Vec::with_capacity(graph.result.entries.len());
        let mut id = itoa::Buffer::new();
        for e in &graph.result.entries {
            let Some(node) = graph.nodes.get(&e.id) else {
                continue;
            };
            let mut entry = entry_template.clone();
            for (slot, (_, field)) in entry.values_mut().zip(plan) {
                *slot = match field {
                    EntryField::Depth => GqlValue::from(e.depth as i32),
                    EntryField::Direction => match e.direction {
                        Direction::Upstream => directions[0].clone(),
                        Direction::Downstream => directions[1].clone(),
                    },
                    EntryField::Typename => entry_type.clone(),
                    EntryField::Node(_) => {
                        let mut out = node_template.clone();
                        for (slot, (_, field)) in out.values_mut().zip(node_plan) {
                            *slot = match field {
                                NodeField::Id => GqlValue::String(id.format(node.id).to_owned()),
                                NodeField::Kind => kinds.of(node).0.clone(),
                                NodeField::Name => GqlValue::String(node.name.clone()),
                                NodeField::CreateTime => {
                                    ScalarType::to_value(&datetime(node.create_time))
                                }
                                NodeField::Typename => kinds.of(node).1.clone(),
                            };
                        }
                        GqlValue::Object(out)
                    }
                };
            }
            list.push(GqlValue::Object(entry));
        }
        GqlValue::List(list)
    }
}

/// Each node kind's `NodeKind` value and GraphQL type name, made once per kind (a
/// handful of kinds: a list beats hashing).
#[derive(Default)]
struct KindValues(Vec<(String, GqlValue, GqlValue)>);

impl KindValues {
    fn of(&mut self, node: &node::Model) -> (&GqlValue, &GqlValue) {
        let at = match self.0.iter().position(|(k, _, _)| *k == node.kind) {
            Some(at) => at,
            None => {
                let kind = NodeKind::from_db(&node.kind)
                    .unwrap_or(NodeKind::RegisteredModel)
                    .to_value();
                let typed = lineage_node_of(node::Model::clone(node));
                let type_name = GqlValue::String(typed.introspection_type_name().into_owned());
                self.0.push((node.kind.clone(), kind, type_name));
                self.0.len() - 1
            }
        };
        let (_, kind, type_name) = &self.0[at];
        (kind, type_name)
    }
}

enum EntryField {
    Depth,
    Direction,
    Typename,
    Node(Vec<(Name, NodeField)>),
}

enum NodeField {
    Id,
    Kind,
    Name,
    CreateTime,
    Typename,
}

/// The plain fields `selection` asks for, by response key; None when it asks for more,
/// or names a response key twice (GraphQL merges those; the resolvers do that).
fn plain_fields<T>(
    selection: &SelectionSet,
    mut field_of: impl FnMut(&Field) -> Option<T>,
) -> Option<Vec<(Name, T)>> {
    let mut out = Vec::with_capacity(selection.items.len());
    for item in &selection.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        if !field.directives.is_empty() || !field.arguments.is_empty() {
            return None;
        }
        let key = field.alias.as_ref().unwrap_or(&field.name).node.clone();
        if out.iter().any(|(seen, _)| *seen == key) {
            return None;
        }
        out.push((key, field_of(field)?));
    }
    Some(out)
}

/// How to build the entries of `selection` plainly, if it asks only for plain fields
/// (and for the node once).
fn entry_plan(selection: &SelectionSet) -> Option<Vec<(Name, EntryField)>> {
    let plan = plain_fields(selection, |field| match field.name.node.as_str() {
        "depth" => Some(EntryField::Depth),
        "direction" => Some(EntryField::Direction),
        "__typename" => Some(EntryField::Typename),
        "node" => {
            let fields = plain_fields(&field.selection_set.node, |f| match f.name.node.as_str() {
                "id" => Some(NodeField::Id),
                "kind" => Some(NodeField::Kind),
                "name" => Some(NodeField::Name),
                "createTime" => Some(NodeField::CreateTime),
                "__typename" => Some(NodeField::Typename),
                _ => None,
            })?;
            Some(EntryField::Node(fields))
        }
        _ => None,
    })?;
    let nodes = plan
        .iter()
        .filter(|(_, f)| matches!(f, EntryField::Node(_)))
        .count();
    (nodes <= 1).then_some(plan)
}

impl OutputType for LineageEntries {
    fn type_name() -> Cow<'static, str> {
        <Vec<LineageEntry> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<LineageEntry> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<LineageEntry> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<GqlValue> {
        match entry_plan(&ctx.item.node) {
            Some(plan) => Ok(self.plain(&plan)),
            None => self.entries().resolve(ctx, field).await,
        }
    }
}

/// A path in order from `from` to `to`.
#[derive(SimpleObject, Clone)]
pub struct LineagePath {
    pub nodes: Vec<LineageNode>,
    pub edges: Vec<LineageEdge>,
}

fn edge_of(e: &WalkedEdge, properties: Option<String>, nodes: &NodeMap) -> Option<LineageEdge> {
    (nodes.contains_key(&e.source_id) && nodes.contains_key(&e.target_id)).then(|| LineageEdge {
        edge: e.clone(),
        properties,
        nodes: nodes.clone(),
    })
}

/// Builds the GraphQL graphs of a walk, one per group.
pub fn graphs(walked: Walked) -> Vec<LineageGraph> {
    let nodes: NodeMap = Arc::new(walked.nodes);
    walked
        .results
        .into_iter()
        .map(|r| LineageGraph {
            result: Arc::new(r),
            nodes: nodes.clone(),
        })
        .collect()
}

/// Whether a `lineage` selection reads only id, kind, name and createTime of the nodes it
/// lists (then the walk loads only those).
fn lean_selection(ctx: &Context<'_>) -> bool {
    const LEAN: [&str; 5] = ["id", "kind", "name", "createTime", "__typename"];
    let only_lean =
        |f: async_graphql::SelectionField<'_>| f.selection_set().all(|g| LEAN.contains(&g.name()));
    ctx.field().selection_set().all(|f| match f.name() {
        "nodes" => f
            .selection_set()
            .all(|g| g.name() != "node" || only_lean(g)),
        "edges" => f
            .selection_set()
            .all(|g| !matches!(g.name(), "source" | "target") || only_lean(g)),
        _ => true,
    })
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
    let mut node_kinds: Vec<RegKind> = node_kinds
        .unwrap_or_default()
        .iter()
        .map(|k| k.registry())
        .collect();
    node_kinds.sort();
    node_kinds.dedup();
    let mut edge_kinds: Vec<RegEdgeKind> = edge_kinds
        .unwrap_or_default()
        .iter()
        .map(|k| k.registry())
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
        .map(|g| (*g).clone())
        .unwrap_or_default();
    Ok(graph)
}

/// An edge to add.
#[derive(InputObject)]
pub struct LineageEdgeInput {
    pub source: ID,
    pub target: ID,
    pub kind: EdgeKind,
    pub properties: Option<Json<Value>>,
}

/// A new artifact a run produced.
#[derive(InputObject)]
pub struct RunOutputInput {
    pub artifact_type: ArtifactType,
    /// Unique within the run; generated when left out.
    pub name: Option<String>,
    pub uri: Option<String>,
    pub description: Option<String>,
    pub external_id: Option<String>,
    pub custom_properties: Option<Json<Value>>,
    pub model_format_name: Option<String>,
    pub model_format_version: Option<String>,
}

/// A new model version a run produced (with its model file when `uri` is given).
#[derive(InputObject)]
pub struct RunModelVersionInput {
    pub registered_model_id: Option<ID>,
    /// The model by name, created when it does not exist.
    pub registered_model_name: Option<String>,
    /// The next integer when left out.
    pub name: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub custom_properties: Option<Json<Value>>,
    pub uri: Option<String>,
    pub model_format_name: Option<String>,
    pub model_format_version: Option<String>,
}

/// A metric the run logged.
#[derive(InputObject)]
pub struct RunMetricInput {
    pub name: String,
    pub value: f64,
    pub step: Option<i64>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// A parameter the run used.
#[derive(InputObject)]
pub struct RunParameterInput {
    pub name: String,
    /// The value; numbers and booleans are kept as their text.
    pub value: Json<Value>,
    pub parameter_type: Option<ParameterType>,
}

/// A run with what it consumed and produced, recorded at once.
#[derive(InputObject)]
pub struct RecordRunInput {
    /// An existing run to add to; a new run is created when left out.
    pub id: Option<ID>,
    pub experiment_id: Option<ID>,
    /// The experiment by name, created when it does not exist.
    pub experiment_name: Option<String>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub status: Option<ExperimentRunStatus>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub custom_properties: Option<Json<Value>>,
    /// Existing artifacts, datasets or model versions the run consumed.
    pub inputs: Option<Vec<ID>>,
    pub outputs: Option<Vec<RunOutputInput>>,
    pub output_model_versions: Option<Vec<RunModelVersionInput>>,
    pub metrics: Option<Vec<RunMetricInput>>,
    pub parameters: Option<Vec<RunParameterInput>>,
}

impl RecordRunInput {
    fn into_request(self) -> Result<RecordRun> {
        let outputs = self
            .outputs
            .unwrap_or_default()
            .into_iter()
            .map(|o| {
                Ok(RunOutput {
                    kind: o.artifact_type.registry(),
                    fields: NodeFields {
                        custom_properties: props(&o.custom_properties)?,
                        name: o.name,
                        uri: o.uri,
                        description: o.description,
                        external_id: o.external_id,
                        model_format_name: o.model_format_name,
                        model_format_version: o.model_format_version,
                        ..Default::default()
                    },
                })
            })
            .collect::<Result<_>>()?;
        let versions = self
            .output_model_versions
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                Ok(RunModelVersion {
                    registered_model_id: opt_id(&v.registered_model_id, "registeredModelId")?,
                    registered_model_name: v.registered_model_name,
                    fields: NodeFields {
                        custom_properties: props(&v.custom_properties)?,
                        name: v.name,
                        description: v.description,
                        owner: v.author,
                        ..Default::default()
                    },
                    artifact: v.uri.map(|uri| NodeFields {
                        uri: Some(uri),
                        model_format_name: v.model_format_name,
                        model_format_version: v.model_format_version,
                        ..Default::default()
                    }),
                })
            })
            .collect::<Result<_>>()?;
        let metrics = self
            .metrics
            .unwrap_or_default()
            .into_iter()
            .map(|m| NodeFields {
                name: Some(m.name),
                metric_value: Some(m.value),
                metric_step: m.step,
                metric_timestamp: m.timestamp.as_ref().map(millis),
                ..Default::default()
            })
            .collect();
        let parameters = self
            .parameters
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let value = PropValue::from_json(&p.value.0, &format!("parameters.{}", p.name))?;
                let (text, inferred) = match value {
                    PropValue::String(s) => (s, "string"),
                    PropValue::Int(i) => (i.to_string(), "number"),
                    PropValue::Double(d) => (d.to_string(), "number"),
                    PropValue::Bool(b) => (b.to_string(), "boolean"),
                    PropValue::Struct(m) => (Value::Object(m).to_string(), "object"),
                };
                Ok(NodeFields {
                    name: Some(p.name),
                    parameter_value: Some(text),
                    parameter_type: Some(
                        p.parameter_type.map_or(inferred, |t| t.as_db()).to_owned(),
                    ),
                    ..Default::default()
                })
            })
            .collect::<Result<_>>()?;
        Ok(RecordRun {
            run_id: opt_id(&self.id, "id")?,
            experiment_id: opt_id(&self.experiment_id, "experimentId")?,
            experiment_name: self.experiment_name,
            run: NodeFields {
                custom_properties: props(&self.custom_properties)?,
                name: self.name,
                external_id: self.external_id,
                description: self.description,
                owner: self.owner,
                status: self.status.map(|s| s.as_db().to_owned()),
                start_time: self.start_time.as_ref().map(millis),
                end_time: self.end_time.as_ref().map(millis),
                ..Default::default()
            },
            inputs: self
                .inputs
                .unwrap_or_default()
                .iter()
                .map(|id| parse_id(id, "inputs"))
                .collect::<Result<_>>()?,
            outputs,
            output_model_versions: versions,
            metrics,
            parameters,
        })
    }
}

#[derive(Default)]
pub struct LineageQuery;

#[Object]
impl LineageQuery {
    /// Walks the graph from `start` (the start nodes walk together).
    #[allow(clippy::too_many_arguments)]
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
        let walked = walk_with(
            &state.db,
            &state.readers,
            &[starts],
            &params,
            "start",
            lean_selection(ctx),
        )
        .await
        .gql()?;
        Ok(graphs(walked).pop().unwrap_or_default())
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
        let ends = crate::registry::read::find_nodes(db, &[from, to])
            .await
            .gql()?;
        for (id, field) in [(from, "from"), (to, "to")] {
            if !ends.iter().any(|n| n.id == id) {
                return Err(RegistryError::NotFound(format!(
                    "{field}: no node with id {id}"
                )))
                .gql();
            }
        }
        let Some(edges) = path::shortest_path(db, from, to, max_depth).await.gql()? else {
            return Ok(None);
        };
        let mut ids: Vec<i64> = vec![from];
        for e in &edges {
            let next = if *ids.last().unwrap_or(&from) == e.source_id {
                e.target_id
            } else {
                e.source_id
            };
            ids.push(next);
        }
        let nodes: NodeMap = Arc::new(
            crate::registry::read::find_nodes(db, &ids)
                .await
                .gql()?
                .into_iter()
                .map(|n| (n.id, Arc::new(n)))
                .collect(),
        );
        Ok(Some(LineagePath {
            nodes: ids
                .iter()
                .filter_map(|id| {
                    nodes
                        .get(id)
                        .map(|n| lineage_node_of(node::Model::clone(n)))
                })
                .collect(),
            edges: edges
                .iter()
                .filter_map(|e| edge_of(e, e.properties.clone(), &nodes))
                .collect(),
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
                    kind: e.kind.registry(),
                    properties: e.properties.as_ref().map(|p| p.0.clone()),
                })
            })
            .collect::<Result<Vec<_>>>()
            .gql()?;
        let db = &ctx.state().db;
        let rows = edges::add_edges(db, new).await.gql()?;
        let mut ids: Vec<i64> = rows
            .iter()
            .flat_map(|r| [r.source_id, r.target_id])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let nodes: NodeMap = Arc::new(
            crate::registry::read::find_nodes(db, &ids)
                .await
                .gql()?
                .into_iter()
                .map(|n| (n.id, Arc::new(n)))
                .collect(),
        );
        Ok(rows
            .iter()
            .filter_map(|r| {
                let walked = WalkedEdge {
                    id: r.id,
                    source_id: r.source_id,
                    target_id: r.target_id,
                    kind: r.kind.clone(),
                    create_time: r.create_time,
                    node_kind: String::new(),
                    node_create_time: 0,
                    properties: r.properties.clone(),
                };
                edge_of(&walked, r.properties.clone(), &nodes)
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
        edges::remove_edges(&ctx.state().db, ids).await.gql()
    }

    /// Creates (or adds to) a run with its inputs, new outputs, model versions, metrics
    /// and parameters, in one transaction.
    async fn record_run(
        &self,
        ctx: &Context<'_>,
        input: RecordRunInput,
    ) -> async_graphql::Result<ExperimentRun> {
        let request = input.into_request().gql()?;
        record_run(&ctx.state().db, request)
            .await
            .gql()
            .map(ExperimentRun)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::{DocumentOperations, Selection};

    use super::entry_plan;

    /// Whether the entries selected under `lineage { nodes { ... } }` get the plain path.
    fn plain(entries: &str) -> bool {
        let doc = parse_query(format!(
            "{{ lineage(start: [\"1\"]) {{ nodes {{ {entries} }} }} }}"
        ))
        .expect("a query");
        let DocumentOperations::Single(op) = doc.operations else {
            panic!("one operation");
        };
        let field = |set: &async_graphql::parser::types::SelectionSet| match &set.items[0].node {
            Selection::Field(f) => f.node.selection_set.node.clone(),
            _ => panic!("a field"),
        };
        let nodes = field(&field(&op.node.selection_set.node));
        entry_plan(&nodes).is_some()
    }

    #[test]
    fn only_plain_selections_skip_the_resolvers() {
        assert!(plain(
            "depth direction node { id kind name createTime __typename }"
        ));
        assert!(plain("__typename d: depth node { i: id }"));
        assert!(!plain("depth @include(if: true) node { id }"));
        assert!(!plain("node { id description }"));
        assert!(!plain("node { ... on Dataset { uri } }"));
        assert!(!plain("node { upstream(maxDepth: 1) { truncated } }"));
        // a response key named twice is merged by GraphQL; a second node has a selection
        // of its own: both go to the resolvers
        assert!(!plain("depth depth direction"));
        assert!(!plain("node { id id name }"));
        assert!(!plain("node { id } other: node { name }"));
    }
}
