//! The GraphQL object types: thin wrappers over node rows, with the `Node` and `Artifact`
//! interfaces.
use async_graphql::{Context, ID, Interface, Json, Object};
use chrono::{DateTime, Utc};
use entity::node;
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::facets;
use super::filters::{
    ArtifactFilter, ExperimentRunFilter, InferenceServiceFilter, ModelVersionFilter,
    ServeModelFilter,
};
use super::loaders::Hop;
use super::mutation::list_filter;
use super::pagination::{Conn, attached_children, build, children, children_page, page_args};
use super::types::*;
use crate::lineage::walk::Direction;
use crate::registry::edges::EdgeKind as RegEdgeKind;
use crate::registry::kind::NodeKind as RegKind;
use crate::registry::props::StoredJson;
use crate::registry::read::{Served, served};
use crate::registry::{RegistryError, Result};

mod graph;
mod plain;
mod plain_nodes;

pub use graph::{
    EdgeKind, LineageDirection, LineageEdge, LineageEntry, LineageGraph, LineagePath, node_walk,
    walk_params,
};
pub use plain_nodes::{Plain, PlainPlans};

/// Awaits `work` from the heap. A node type resolves each selected field with one
/// future as large as its largest resolver's (a nested list's or a walk's: 2-3 KB),
/// copied into a box for every field of every listed row (about 700 for a page of 100
/// models with their latest versions): resolvers that do much keep that work in its own
/// box, so that `id` or `name` costs a small copy. A resolver with locals boxes its whole
/// body (the nested lists): a local moved into the awaited call still takes room in the
/// resolver's future until its scope ends.
macro_rules! boxed {
    ($work:expr) => {{
        let work = Box::pin($work);
        work.await
    }};
}

/// Common resolvers of every node type, plus the type's own.
macro_rules! node_type {
    ($(#[$meta:meta])* $ty:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct $ty(pub Box<node::Model>);

        impl $ty {
            /// Wraps a row, boxed: the page, the read-ahead maps and every resolver's
            /// future then move a pointer instead of the whole row (about 1.2 KB).
            pub fn new(row: impl Into<Box<node::Model>>) -> Self {
                Self(row.into())
            }
        }

        // the doc comment again: the GraphQL type's description comes from the impl
        $(#[$meta])*
        #[Object]
        impl $ty {
            /// Global id, unique across kinds; the same in GraphQL and REST.
            async fn id(&self) -> ID {
                to_id(self.0.id)
            }
            async fn kind(&self) -> NodeKind {
                NodeKind::$ty
            }
            async fn name(&self) -> String {
                self.0.name.clone()
            }
            /// Unique across the registry when set.
            async fn external_id(&self) -> Option<String> {
                self.0.external_id.clone()
            }
            async fn description(&self) -> Option<String> {
                self.0.description.clone()
            }
            /// Typed user properties: int, double, string, bool or object.
            async fn custom_properties(&self) -> Json<StoredJson<'_>> {
                Json(StoredJson(&self.0.custom_properties))
            }
            async fn create_time(&self) -> DateTime<Utc> {
                datetime(self.0.create_time)
            }
            async fn last_update_time(&self) -> DateTime<Utc> {
                datetime(self.0.last_update_time)
            }
            /// Bumped by every update; pass it as `expectedRevision` to update safely.
            async fn revision(&self) -> i64 {
                self.0.revision
            }
            /// What this node came from, walking edges against their direction.
            #[graphql(complexity = "crate::graphql::pagination::walk_complexity(child_complexity, first)")]
            async fn upstream(
                &self,
                ctx: &Context<'_>,
                #[graphql(default = 3)] max_depth: Option<i32>,
                node_kinds: Option<Vec<NodeKind>>,
                edge_kinds: Option<Vec<EdgeKind>>,
                #[graphql(default = 500)] first: Option<i32>,
            ) -> async_graphql::Result<LineageGraph> {
                boxed!(node_walk(ctx, self.0.id, LineageDirection::Upstream, max_depth, node_kinds, edge_kinds, first))
            }
            /// What this node fed into, walking edges along their direction.
            #[graphql(complexity = "crate::graphql::pagination::walk_complexity(child_complexity, first)")]
            async fn downstream(
                &self,
                ctx: &Context<'_>,
                #[graphql(default = 3)] max_depth: Option<i32>,
                node_kinds: Option<Vec<NodeKind>>,
                edge_kinds: Option<Vec<EdgeKind>>,
                #[graphql(default = 500)] first: Option<i32>,
            ) -> async_graphql::Result<LineageGraph> {
                boxed!(node_walk(ctx, self.0.id, LineageDirection::Downstream, max_depth, node_kinds, edge_kinds, first))
            }
            /// This node's changes (and those of edges touching it), newest first.
            #[graphql(complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, None)")]
            async fn history(
                &self,
                ctx: &Context<'_>,
                first: Option<i32>,
                after: Option<String>,
            ) -> async_graphql::Result<crate::graphql::history::ChangePage> {
                boxed!(crate::graphql::history::node_history(ctx, self.0.id, first, after))
            }
            $($body)*
        }
    };
}

/// Resolvers of every artifact type.
macro_rules! artifact_type {
    ($(#[$meta:meta])* $ty:ident, $artifact:expr, { $($body:tt)* }) => {
        node_type!($(#[$meta])* $ty {
            async fn artifact_type(&self) -> ArtifactType {
                $artifact
            }
            async fn state(&self) -> async_graphql::Result<ArtifactState> {
                ArtifactState::stored(&self.0.state)
            }
            /// Where the artifact's content lives, if it has a place.
            async fn uri(&self) -> Option<String> {
                self.0.uri.clone()
            }
            /// The model version this artifact was created under, if any.
            async fn model_version_id(&self) -> Option<ID> {
                parent_of(&self.0, RegKind::ModelVersion).map(to_id)
            }
            async fn model_version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ModelVersion>> {
                load_opt(ctx, parent_of(&self.0, RegKind::ModelVersion)).await.map(|n| n.map(ModelVersion::new))
            }
            /// The experiment run this artifact was logged in, if any.
            async fn experiment_run_id(&self) -> Option<ID> {
                parent_of(&self.0, RegKind::ExperimentRun).map(to_id)
            }
            async fn experiment_run(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ExperimentRun>> {
                load_opt(ctx, parent_of(&self.0, RegKind::ExperimentRun)).await.map(|n| n.map(ExperimentRun::new))
            }
            /// Runs that produced this artifact (OUTPUT edges in).
            async fn produced_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ExperimentRun>> {
                hop(ctx, self.0.id, Direction::Upstream, RegEdgeKind::Output).await.map(|v| v.into_iter().map(ExperimentRun::new).collect())
            }
            /// Runs that consumed this artifact (INPUT edges out).
            async fn consumed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ExperimentRun>> {
                hop(ctx, self.0.id, Direction::Downstream, RegEdgeKind::Input).await.map(|v| v.into_iter().map(ExperimentRun::new).collect())
            }
            $($body)*
        });
    };
}

/// The parent id when the node was created under a parent of `kind`.
fn parent_of(n: &node::Model, kind: RegKind) -> Option<i64> {
    n.parent_id
        .filter(|_| n.parent_kind.as_deref() == Some(kind.as_str()))
}

/// One hop along edges of one kind, batched across the response.
async fn hop(
    ctx: &Context<'_>,
    id: i64,
    direction: Direction,
    kind: RegEdgeKind,
) -> async_graphql::Result<Vec<node::Model>> {
    let found = boxed!(ctx.loaders().hop(Hop {
        node: id,
        direction,
        kind,
    }))
    .gql()?;
    Ok(found.map(|v| (*v).clone()).unwrap_or_default())
}

/// A node that must exist (one a walk or an edge names: nodes are never deleted).
pub(crate) async fn load(ctx: &Context<'_>, id: i64) -> async_graphql::Result<node::Model> {
    boxed!(ctx.loaders().node(id))
        .gql()?
        .ok_or_else(|| RegistryError::Internal(format!("node {id} vanished")))
        .gql()
}

pub(crate) async fn load_opt(
    ctx: &Context<'_>,
    id: Option<i64>,
) -> async_graphql::Result<Option<node::Model>> {
    match id {
        Some(id) => Ok(boxed!(ctx.loaders().node(id)).gql()?),
        None => Ok(None),
    }
}

pub(crate) fn artifact_kinds(types: &Option<Vec<ArtifactType>>) -> Vec<RegKind> {
    match types {
        Some(types) if !types.is_empty() => types.iter().map(|t| t.registry()).collect(),
        _ => RegKind::ARTIFACTS.to_vec(),
    }
}

node_type!(
    /// A model under registry: its versions are the things you ship.
    RegisteredModel {
        async fn owner(&self) -> Option<String> {
            self.0.owner.clone()
        }
        async fn state(&self) -> async_graphql::Result<RegisteredModelState> {
            RegisteredModelState::stored(&self.0.state)
        }
        /// Model documentation in Markdown.
        async fn readme(&self) -> Option<String> {
            self.0.readme.clone()
        }
        async fn maturity(&self) -> Option<String> {
            self.0.maturity.clone()
        }
        async fn language(&self) -> Vec<String> {
            crate::registry::fields::stored_list(self.0.language.as_deref())
        }
        async fn tasks(&self) -> Vec<String> {
            crate::registry::fields::stored_list(self.0.tasks.as_deref())
        }
        async fn provider(&self) -> Option<String> {
            self.0.provider.clone()
        }
        async fn logo(&self) -> Option<String> {
            self.0.logo.clone()
        }
        async fn license(&self) -> Option<String> {
            self.0.license.clone()
        }
        async fn license_link(&self) -> Option<String> {
            self.0.license_link.clone()
        }
        async fn library_name(&self) -> Option<String> {
            self.0.library_name.clone()
        }
        #[allow(clippy::too_many_arguments)]
        // (macro hygiene hides `child_complexity` from fields written in a node type's body:
        // a nested connection counts the items it asks for, whatever their selection)
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn versions(
            &self,
            ctx: &Context<'_>,
            filter: Option<Box<ModelVersionFilter>>,
            filter_query: Option<String>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<Plain<ModelVersion>>> {
            boxed!(async move {
                let args = VersionArgs { filter, filter_query, order_by, first, after, last, before };
                let (page, total, order) = model_versions(ctx, self.0.id, args).await?;
                build(page, order, total, |n| Ok(Plain(ModelVersion::new(n))))
            })
        }
        /// The most recently created version that is not archived.
        async fn latest_version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ModelVersion>> {
            // the row the list read ahead, if it read what this selection reads
            let columns = crate::graphql::columns::read_by(ctx.field().selection_set());
            ctx.loaders()
                .latest_version_reading(self.0.id, columns)
                .await
                .gql()
                .map(|v| v.map(ModelVersion::new))
        }
        /// Its aliases, by name; with `asOf`, as they stood then (from the change log):
        /// which version was `production` at time T.
        async fn aliases(
            &self,
            ctx: &Context<'_>,
            as_of: Option<DateTime<Utc>>,
        ) -> async_graphql::Result<Vec<crate::graphql::release::ModelAlias>> {
            boxed!(crate::graphql::release::model_aliases(ctx, &self.0, as_of))
        }
        /// One of its versions, by alias or by name.
        async fn version(
            &self,
            ctx: &Context<'_>,
            alias: Option<String>,
            name: Option<String>,
        ) -> async_graphql::Result<Option<ModelVersion>> {
            boxed!(crate::graphql::release::model_version(ctx, self.0.id, alias, name))
                .map(|v| v.map(ModelVersion::new))
        }
    }
);

/// `RegisteredModel.versions`' arguments: as its resolver is given them, or read off the
/// field by the plain path (`plain_nodes`), which lists versions without the resolver.
struct VersionArgs {
    filter: Option<Box<ModelVersionFilter>>,
    filter_query: Option<String>,
    order_by: Option<OrderBy>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
}

impl VersionArgs {
    /// The arguments of the `versions` field `ctx` resolves, its variables applied.
    fn of(ctx: &Context<'_>) -> async_graphql::ServerResult<Self> {
        Ok(Self {
            filter: ctx.param_value("filter", None)?.1,
            filter_query: ctx.param_value("filterQuery", None)?.1,
            order_by: ctx.param_value("orderBy", None)?.1,
            first: ctx.param_value("first", None)?.1,
            after: ctx.param_value("after", None)?.1,
            last: ctx.param_value("last", None)?.1,
            before: ctx.param_value("before", None)?.1,
        })
    }
}

/// A page of model `model`'s versions, their total if `totalCount` is selected, and the
/// order they are in: batched across every model in the response.
async fn model_versions(
    ctx: &Context<'_>,
    model: i64,
    args: VersionArgs,
) -> async_graphql::Result<(crate::registry::Page, u64, crate::registry::Order)> {
    let kinds = vec![RegKind::ModelVersion];
    let filter = list_filter(&args.filter, &kinds, &args.filter_query)?;
    let order = OrderBy::order(args.order_by);
    let page = page_args(args.first, args.after, args.last, args.before);
    let (rows, total) = children_page(ctx, model, kinds, filter, order, None, page).await?;
    Ok((rows, total, order))
}

pub(crate) async fn latest_version(
    ctx: &Context<'_>,
    model_id: i64,
) -> async_graphql::Result<Option<Box<node::Model>>> {
    // batched: one statement for every model in the response, one row per model
    ctx.loaders().latest_version(model_id).await.gql()
}

node_type!(
    /// One version of a registered model.
    ModelVersion {
        async fn author(&self) -> Option<String> {
            self.0.owner.clone()
        }
        /// The aliases naming this version.
        async fn aliases(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
            boxed!(crate::graphql::release::version_aliases(ctx, self.0.id))
        }
        async fn state(&self) -> async_graphql::Result<ModelVersionState> {
            ModelVersionState::stored(&self.0.state)
        }
        async fn registered_model_id(&self) -> ID {
            to_id(self.0.parent_id.unwrap_or_default())
        }
        async fn registered_model(&self, ctx: &Context<'_>) -> async_graphql::Result<RegisteredModel> {
            load(ctx, self.0.parent_id.unwrap_or_default()).await.map(RegisteredModel::new)
        }
        /// Runs that produced this version (OUTPUT edges in).
        async fn produced_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ExperimentRun>> {
            hop(ctx, self.0.id, Direction::Upstream, RegEdgeKind::Output).await.map(|v| v.into_iter().map(ExperimentRun::new).collect())
        }
        /// Runs that consumed this version, e.g. to fine-tune it (INPUT edges out).
        async fn consumed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ExperimentRun>> {
            hop(ctx, self.0.id, Direction::Downstream, RegEdgeKind::Input).await.map(|v| v.into_iter().map(ExperimentRun::new).collect())
        }
        /// Versions this one was derived from (DERIVED_FROM edges in).
        async fn derived_from(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ModelVersion>> {
            hop(ctx, self.0.id, Direction::Upstream, RegEdgeKind::DerivedFrom).await.map(|v| v.into_iter().map(ModelVersion::new).collect())
        }
        /// Versions derived from this one (DERIVED_FROM edges out).
        async fn derivatives(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ModelVersion>> {
            hop(ctx, self.0.id, Direction::Downstream, RegEdgeKind::DerivedFrom).await.map(|v| v.into_iter().map(ModelVersion::new).collect())
        }
        /// Inference services this version is deployed as (DEPLOYED_AS edges out).
        async fn deployments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InferenceService>> {
            hop(ctx, self.0.id, Direction::Downstream, RegEdgeKind::DeployedAs).await.map(|v| v.into_iter().map(InferenceService::new).collect())
        }
        /// Artifacts of this version: created under it, or PART_OF it.
        #[allow(clippy::too_many_arguments)]
        // (macro hygiene hides `child_complexity` from fields written in a node type's body:
        // a nested connection counts the items it asks for, whatever their selection)
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn artifacts(
            &self,
            ctx: &Context<'_>,
            artifact_types: Option<Vec<ArtifactType>>,
            filter: Option<Box<ArtifactFilter>>,
            filter_query: Option<String>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<Artifact>> {
            boxed!(async move {
                let kinds = artifact_kinds(&artifact_types);
                let filter = list_filter(&filter, &kinds, &filter_query)?;
                attached_children(ctx, self.0.id, RegEdgeKind::PartOf, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), artifact_of).await
            })
        }
        /// This version's metrics (typed, without fragments); `filter: {name: {in: ["auc"]}}`
        /// picks them by name.
        #[allow(clippy::too_many_arguments)]
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn metrics(
            &self,
            ctx: &Context<'_>,
            filter: Option<Box<ArtifactFilter>>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<Metric>> {
            boxed!(async move {
                let kinds = vec![RegKind::Metric];
                let filter = list_filter(&filter, &kinds, &None)?;
                attached_children(ctx, self.0.id, RegEdgeKind::PartOf, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), |n| Ok(Metric::new(n))).await
            })
        }
        /// This version's parameters (typed, without fragments); `filter: {name: {in: [...]}}`
        /// picks them by name.
        #[allow(clippy::too_many_arguments)]
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn parameters(
            &self,
            ctx: &Context<'_>,
            filter: Option<Box<ArtifactFilter>>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<Parameter>> {
            boxed!(async move {
                let kinds = vec![RegKind::Parameter];
                let filter = list_filter(&filter, &kinds, &None)?;
                attached_children(ctx, self.0.id, RegEdgeKind::PartOf, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), |n| Ok(Parameter::new(n))).await
            })
        }
    }
);

artifact_type!(
    /// A model file: what a serving runtime loads.
    ModelArtifact, ArtifactType::ModelArtifact, {
        async fn model_format_name(&self) -> Option<String> { self.0.model_format_name.clone() }
        async fn model_format_version(&self) -> Option<String> { self.0.model_format_version.clone() }
        async fn storage_key(&self) -> Option<String> { self.0.storage_key.clone() }
        async fn storage_path(&self) -> Option<String> { self.0.storage_path.clone() }
        async fn service_account_name(&self) -> Option<String> { self.0.service_account_name.clone() }
        async fn model_source_kind(&self) -> Option<String> { self.0.model_source_kind.clone() }
        async fn model_source_class(&self) -> Option<String> { self.0.model_source_class.clone() }
        async fn model_source_group(&self) -> Option<String> { self.0.model_source_group.clone() }
        async fn model_source_id(&self) -> Option<String> { self.0.model_source_id.clone() }
        async fn model_source_name(&self) -> Option<String> { self.0.model_source_name.clone() }
    }
);

artifact_type!(
    /// A document about a model (model card, report).
    DocArtifact, ArtifactType::DocArtifact, {
    }
);

artifact_type!(
    /// Training, evaluation or any other data.
    Dataset, ArtifactType::Dataset, {
        /// The namespace a dataset was named in (OpenLineage datasets have one).
        async fn namespace(&self) -> Option<String> {
            Some(self.0.namespace.clone()).filter(|n| !n.is_empty())
        }
        async fn digest(&self) -> Option<String> { self.0.digest.clone() }
        async fn source_type(&self) -> Option<String> { self.0.source_type.clone() }
        async fn source(&self) -> Option<String> { self.0.source.clone() }
        /// Kubeflow's free-text schema field.
        async fn schema(&self) -> Option<String> { self.0.dataset_schema.clone() }
        async fn profile(&self) -> Option<String> { self.0.profile.clone() }
        /// Columns from OpenLineage's schema facet.
        async fn schema_fields(&self) -> Vec<facets::SchemaField> { facets::schema(&self.0) }
        /// Which input columns feed each column (OpenLineage's column lineage facet).
        async fn column_lineage(&self) -> Vec<facets::ColumnLineage> { facets::column_lineage(&self.0) }
        /// Every OpenLineage facet received for this dataset, by facet name.
        async fn facets(&self) -> Option<Json<Value>> { facets::facets(&self.0).map(Json) }
    }
);

artifact_type!(
    /// A measured number, from training or evaluation.
    Metric, ArtifactType::Metric, {
        /// The number, as `MetadataValue` (a JSON number), so that one selection can
        /// read `value` from metrics and parameters alike; `numberValue` is the same, typed.
        async fn value(&self) -> Option<MetadataValue> { self.0.metric_value.map(MetadataValue::Number) }
        async fn number_value(&self) -> Option<f64> { self.0.metric_value }
        async fn timestamp(&self) -> Option<DateTime<Utc>> { self.0.metric_timestamp.map(datetime) }
        async fn step(&self) -> Option<i64> { self.0.metric_step }
    }
);

artifact_type!(
    /// A configuration value a run used.
    Parameter, ArtifactType::Parameter, {
        /// The value, as `MetadataValue` (a JSON string), so that one selection can read
        /// `value` from metrics and parameters alike; `stringValue` is the same, typed.
        async fn value(&self) -> Option<MetadataValue> { self.0.parameter_value.clone().map(MetadataValue::Text) }
        async fn string_value(&self) -> Option<String> { self.0.parameter_value.clone() }
        async fn parameter_type(&self) -> async_graphql::Result<Option<ParameterType>> {
            self.0.parameter_type.as_deref().map(ParameterType::stored).transpose()
        }
    }
);

node_type!(
    /// A line of work whose runs train and evaluate models.
    Experiment {
        async fn owner(&self) -> Option<String> { self.0.owner.clone() }
        async fn state(&self) -> async_graphql::Result<ExperimentState> {
            ExperimentState::stored(&self.0.state)
        }
        /// The namespace of the OpenLineage job this experiment stands for, if any.
        async fn namespace(&self) -> Option<String> {
            Some(self.0.namespace.clone()).filter(|n| !n.is_empty())
        }
        /// OpenLineage job facets, by facet name.
        async fn facets(&self) -> Option<Json<Value>> { facets::facets(&self.0).map(Json) }
        #[allow(clippy::too_many_arguments)]
        // (macro hygiene hides `child_complexity` from fields written in a node type's body:
        // a nested connection counts the items it asks for, whatever their selection)
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn runs(
            &self,
            ctx: &Context<'_>,
            filter: Option<Box<ExperimentRunFilter>>,
            filter_query: Option<String>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<ExperimentRun>> {
            boxed!(async move {
                let kinds = vec![RegKind::ExperimentRun];
                let filter = list_filter(&filter, &kinds, &filter_query)?;
                children(ctx, self.0.id, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), ExperimentRun::new).await
            })
        }
    }
);

node_type!(
    /// One execution of an experiment.
    ExperimentRun {
        async fn owner(&self) -> Option<String> { self.0.owner.clone() }
        async fn state(&self) -> async_graphql::Result<ExperimentRunState> {
            ExperimentRunState::stored(&self.0.state)
        }
        /// RUNNING until a status is recorded.
        async fn status(&self) -> async_graphql::Result<ExperimentRunStatus> {
            self.0.status.as_deref().map_or(Ok(ExperimentRunStatus::Running), ExperimentRunStatus::stored)
        }
        async fn start_time(&self) -> Option<DateTime<Utc>> { self.0.start_time.map(datetime) }
        /// OpenLineage run facets, by facet name.
        async fn facets(&self) -> Option<Json<Value>> { facets::facets(&self.0).map(Json) }
        /// The run that spawned this one (OpenLineage's parent run facet).
        async fn parent_run(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ExperimentRun>> {
            load_opt(ctx, self.0.parent_run_id).await.map(|n| n.map(ExperimentRun::new))
        }
        async fn end_time(&self) -> Option<DateTime<Utc>> { self.0.end_time.map(datetime) }
        async fn experiment_id(&self) -> ID { to_id(self.0.parent_id.unwrap_or_default()) }
        async fn experiment(&self, ctx: &Context<'_>) -> async_graphql::Result<Experiment> {
            load(ctx, self.0.parent_id.unwrap_or_default()).await.map(Experiment::new)
        }
        /// What the run consumed (INPUT edges in).
        async fn inputs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<LineageNode>> {
            hop(ctx, self.0.id, Direction::Upstream, RegEdgeKind::Input).await?.into_iter().map(|n| lineage_node_of(n).gql()).collect()
        }
        /// What the run produced (OUTPUT edges out).
        async fn outputs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<LineageNode>> {
            hop(ctx, self.0.id, Direction::Downstream, RegEdgeKind::Output).await?.into_iter().map(|n| lineage_node_of(n).gql()).collect()
        }
        /// Artifacts of this run: logged in it (metrics, parameters, outputs) or attached
        /// to it as inputs.
        #[allow(clippy::too_many_arguments)]
        // (macro hygiene hides `child_complexity` from fields written in a node type's body:
        // a nested connection counts the items it asks for, whatever their selection)
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn artifacts(
            &self,
            ctx: &Context<'_>,
            artifact_types: Option<Vec<ArtifactType>>,
            filter: Option<Box<ArtifactFilter>>,
            filter_query: Option<String>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<Artifact>> {
            boxed!(async move {
                let kinds = artifact_kinds(&artifact_types);
                let filter = list_filter(&filter, &kinds, &filter_query)?;
                attached_children(ctx, self.0.id, RegEdgeKind::Input, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), artifact_of).await
            })
        }
        /// This run's metrics (typed, without fragments); `filter: {name: {in: ["auc"]}}`
        /// picks them by name.
        #[allow(clippy::too_many_arguments)]
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn metrics(
            &self,
            ctx: &Context<'_>,
            filter: Option<Box<ArtifactFilter>>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<Metric>> {
            boxed!(async move {
                let kinds = vec![RegKind::Metric];
                let filter = list_filter(&filter, &kinds, &None)?;
                attached_children(ctx, self.0.id, RegEdgeKind::Input, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), |n| Ok(Metric::new(n))).await
            })
        }
        /// This run's parameters (typed, without fragments); `filter: {name: {in: [...]}}`
        /// picks them by name.
        #[allow(clippy::too_many_arguments)]
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn parameters(
            &self,
            ctx: &Context<'_>,
            filter: Option<Box<ArtifactFilter>>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<Parameter>> {
            boxed!(async move {
                let kinds = vec![RegKind::Parameter];
                let filter = list_filter(&filter, &kinds, &None)?;
                attached_children(ctx, self.0.id, RegEdgeKind::Input, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), |n| Ok(Parameter::new(n))).await
            })
        }
    }
);

node_type!(
    /// Where models are served (a cluster, a namespace).
    ServingEnvironment {
        async fn state(&self) -> async_graphql::Result<ServingEnvironmentState> {
            ServingEnvironmentState::stored(&self.0.state)
        }
        #[allow(clippy::too_many_arguments)]
        // (macro hygiene hides `child_complexity` from fields written in a node type's body:
        // a nested connection counts the items it asks for, whatever their selection)
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn inference_services(
            &self,
            ctx: &Context<'_>,
            filter: Option<Box<InferenceServiceFilter>>,
            filter_query: Option<String>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<InferenceService>> {
            boxed!(async move {
                let kinds = vec![RegKind::InferenceService];
                let filter = list_filter(&filter, &kinds, &filter_query)?;
                children(ctx, self.0.id, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), InferenceService::new).await
            })
        }
    }
);

node_type!(
    /// A deployed model version in a serving environment.
    InferenceService {
        /// The desired state (same as `desiredState`).
        async fn state(&self) -> async_graphql::Result<InferenceServiceState> {
            InferenceServiceState::stored(&self.0.state)
        }
        async fn desired_state(&self) -> async_graphql::Result<InferenceServiceState> {
            InferenceServiceState::stored(&self.0.state)
        }
        async fn runtime(&self) -> Option<String> { self.0.runtime.clone() }
        async fn serving_environment_id(&self) -> ID { to_id(self.0.parent_id.unwrap_or_default()) }
        async fn serving_environment(&self, ctx: &Context<'_>) -> async_graphql::Result<ServingEnvironment> {
            load(ctx, self.0.parent_id.unwrap_or_default()).await.map(ServingEnvironment::new)
        }
        async fn registered_model_id(&self) -> Option<ID> { self.0.registered_model_id.map(to_id) }
        async fn registered_model(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RegisteredModel>> {
            load_opt(ctx, self.0.registered_model_id).await.map(|n| n.map(RegisteredModel::new))
        }
        /// The version set on the service, if one was.
        async fn model_version_id(&self) -> Option<ID> { self.0.model_version_id.map(to_id) }
        /// The version served: the one set, else the model's latest.
        async fn model_version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ModelVersion>> {
            let version = match served(&self.0) {
                Served::Version(id) => load_opt(ctx, Some(id)).await?.map(Box::new),
                Served::LatestOf(model) => latest_version(ctx, model).await?,
                Served::Nothing => None,
            };
            Ok(version.map(ModelVersion::new))
        }
        #[allow(clippy::too_many_arguments)]
        // (macro hygiene hides `child_complexity` from fields written in a node type's body:
        // a nested connection counts the items it asks for, whatever their selection)
        #[graphql(complexity = "crate::graphql::pagination::list_complexity(1, first, last)")]
        async fn serves(
            &self,
            ctx: &Context<'_>,
            filter: Option<Box<ServeModelFilter>>,
            filter_query: Option<String>,
            order_by: Option<OrderBy>,
            first: Option<i32>,
            after: Option<String>,
            last: Option<i32>,
            before: Option<String>,
        ) -> async_graphql::Result<Conn<ServeModel>> {
            boxed!(async move {
                let kinds = vec![RegKind::ServeModel];
                let filter = list_filter(&filter, &kinds, &filter_query)?;
                children(ctx, self.0.id, kinds, filter, OrderBy::order(order_by), page_args(first, after, last, before), ServeModel::new).await
            })
        }
    }
);

node_type!(
    /// A record that an inference service served a model version.
    ServeModel {
        async fn last_known_state(&self) -> async_graphql::Result<ExecutionState> {
            ExecutionState::stored(&self.0.state)
        }
        async fn state(&self) -> async_graphql::Result<ExecutionState> {
            ExecutionState::stored(&self.0.state)
        }
        async fn inference_service_id(&self) -> ID { to_id(self.0.parent_id.unwrap_or_default()) }
        async fn inference_service(&self, ctx: &Context<'_>) -> async_graphql::Result<InferenceService> {
            load(ctx, self.0.parent_id.unwrap_or_default()).await.map(InferenceService::new)
        }
        async fn model_version_id(&self) -> Option<ID> { self.0.model_version_id.map(to_id) }
        async fn model_version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ModelVersion>> {
            load_opt(ctx, self.0.model_version_id).await.map(|n| n.map(ModelVersion::new))
        }
    }
);

/// Anything in the registry, by global id.
#[allow(clippy::duplicated_attributes)] // one `field(...)` per interface field, by design
#[derive(Interface, Clone, Debug)]
#[graphql(
    field(name = "id", ty = "ID"),
    field(name = "kind", ty = "NodeKind"),
    field(name = "name", ty = "String"),
    field(name = "external_id", ty = "Option<String>"),
    field(name = "description", ty = "Option<String>"),
    field(name = "custom_properties", ty = "Json<StoredJson<'_>>"),
    field(name = "create_time", ty = "DateTime<Utc>"),
    field(name = "last_update_time", ty = "DateTime<Utc>"),
    field(name = "revision", ty = "i64"),
    field(
        name = "history",
        ty = "crate::graphql::history::ChangePage",
        arg(name = "first", ty = "Option<i32>"),
        arg(name = "after", ty = "Option<String>")
    )
)]
pub enum Node {
    RegisteredModel(RegisteredModel),
    ModelVersion(ModelVersion),
    ModelArtifact(ModelArtifact),
    DocArtifact(DocArtifact),
    Dataset(Dataset),
    Metric(Metric),
    Parameter(Parameter),
    Experiment(Experiment),
    ExperimentRun(ExperimentRun),
    ServingEnvironment(ServingEnvironment),
    InferenceService(InferenceService),
    ServeModel(ServeModel),
}

/// Anything lineage can reach; walk from it with `upstream` / `downstream`.
#[allow(clippy::duplicated_attributes)]
#[derive(Interface, Clone, Debug)]
#[graphql(
    field(name = "id", ty = "ID"),
    field(name = "name", ty = "String"),
    field(name = "kind", ty = "NodeKind"),
    field(name = "create_time", ty = "DateTime<Utc>"),
    field(
        name = "upstream",
        ty = "LineageGraph",
        arg(name = "max_depth", ty = "Option<i32>", default = 3),
        arg(name = "node_kinds", ty = "Option<Vec<NodeKind>>"),
        arg(name = "edge_kinds", ty = "Option<Vec<EdgeKind>>"),
        arg(name = "first", ty = "Option<i32>", default = 500)
    ),
    field(
        name = "downstream",
        ty = "LineageGraph",
        arg(name = "max_depth", ty = "Option<i32>", default = 3),
        arg(name = "node_kinds", ty = "Option<Vec<NodeKind>>"),
        arg(name = "edge_kinds", ty = "Option<Vec<EdgeKind>>"),
        arg(name = "first", ty = "Option<i32>", default = 500)
    )
)]
pub enum LineageNode {
    RegisteredModel(RegisteredModel),
    ModelVersion(ModelVersion),
    ModelArtifact(ModelArtifact),
    DocArtifact(DocArtifact),
    Dataset(Dataset),
    Metric(Metric),
    Parameter(Parameter),
    Experiment(Experiment),
    ExperimentRun(ExperimentRun),
    ServingEnvironment(ServingEnvironment),
    InferenceService(InferenceService),
    ServeModel(ServeModel),
}

pub fn lineage_node_of(n: node::Model) -> Result<LineageNode> {
    Ok(match node_of(n)? {
        Node::RegisteredModel(x) => LineageNode::RegisteredModel(x),
        Node::ModelVersion(x) => LineageNode::ModelVersion(x),
        Node::ModelArtifact(x) => LineageNode::ModelArtifact(x),
        Node::DocArtifact(x) => LineageNode::DocArtifact(x),
        Node::Dataset(x) => LineageNode::Dataset(x),
        Node::Metric(x) => LineageNode::Metric(x),
        Node::Parameter(x) => LineageNode::Parameter(x),
        Node::Experiment(x) => LineageNode::Experiment(x),
        Node::ExperimentRun(x) => LineageNode::ExperimentRun(x),
        Node::ServingEnvironment(x) => LineageNode::ServingEnvironment(x),
        Node::InferenceService(x) => LineageNode::InferenceService(x),
        Node::ServeModel(x) => LineageNode::ServeModel(x),
    })
}

/// Model files, docs, datasets, metrics and parameters.
#[allow(clippy::duplicated_attributes)]
#[derive(Interface, Clone, Debug)]
#[graphql(
    field(name = "id", ty = "ID"),
    field(name = "kind", ty = "NodeKind"),
    field(name = "name", ty = "String"),
    field(name = "artifact_type", ty = "ArtifactType"),
    field(name = "external_id", ty = "Option<String>"),
    field(name = "description", ty = "Option<String>"),
    field(name = "state", ty = "ArtifactState"),
    field(name = "uri", ty = "Option<String>"),
    field(name = "custom_properties", ty = "Json<StoredJson<'_>>"),
    field(name = "create_time", ty = "DateTime<Utc>"),
    field(name = "last_update_time", ty = "DateTime<Utc>"),
    field(name = "revision", ty = "i64"),
    field(name = "model_version_id", ty = "Option<ID>"),
    field(name = "model_version", ty = "Option<ModelVersion>"),
    field(name = "experiment_run_id", ty = "Option<ID>"),
    field(name = "experiment_run", ty = "Option<ExperimentRun>")
)]
pub enum Artifact {
    ModelArtifact(ModelArtifact),
    DocArtifact(DocArtifact),
    Dataset(Dataset),
    Metric(Metric),
    Parameter(Parameter),
}

/// A row's kind; anything the registry never writes is an internal error.
fn stored_kind(n: &node::Model) -> Result<RegKind> {
    n.kind.parse().map_err(|_| {
        RegistryError::Internal(format!("node {} has an unknown kind {:?}", n.id, n.kind))
    })
}

pub fn node_of(n: node::Model) -> Result<Node> {
    Ok(match stored_kind(&n)? {
        RegKind::RegisteredModel => Node::RegisteredModel(RegisteredModel::new(n)),
        RegKind::ModelVersion => Node::ModelVersion(ModelVersion::new(n)),
        RegKind::ModelArtifact => Node::ModelArtifact(ModelArtifact::new(n)),
        RegKind::DocArtifact => Node::DocArtifact(DocArtifact::new(n)),
        RegKind::Dataset => Node::Dataset(Dataset::new(n)),
        RegKind::Metric => Node::Metric(Metric::new(n)),
        RegKind::Parameter => Node::Parameter(Parameter::new(n)),
        RegKind::Experiment => Node::Experiment(Experiment::new(n)),
        RegKind::ExperimentRun => Node::ExperimentRun(ExperimentRun::new(n)),
        RegKind::ServingEnvironment => Node::ServingEnvironment(ServingEnvironment::new(n)),
        RegKind::InferenceService => Node::InferenceService(InferenceService::new(n)),
        RegKind::ServeModel => Node::ServeModel(ServeModel::new(n)),
    })
}

/// Wraps an artifact row; a row of another kind is an internal error.
pub fn artifact_of(n: node::Model) -> Result<Artifact> {
    Ok(match stored_kind(&n)? {
        RegKind::ModelArtifact => Artifact::ModelArtifact(ModelArtifact::new(n)),
        RegKind::DocArtifact => Artifact::DocArtifact(DocArtifact::new(n)),
        RegKind::Dataset => Artifact::Dataset(Dataset::new(n)),
        RegKind::Metric => Artifact::Metric(Metric::new(n)),
        RegKind::Parameter => Artifact::Parameter(Parameter::new(n)),
        other => {
            return Err(RegistryError::Internal(format!(
                "node {} is a {other}, not an artifact",
                n.id
            )));
        }
    })
}

/// The GraphQL type of each kind's nodes.
pub fn type_name(kind: RegKind) -> &'static str {
    match kind {
        RegKind::RegisteredModel => "RegisteredModel",
        RegKind::ModelVersion => "ModelVersion",
        RegKind::ModelArtifact => "ModelArtifact",
        RegKind::DocArtifact => "DocArtifact",
        RegKind::Dataset => "Dataset",
        RegKind::Metric => "Metric",
        RegKind::Parameter => "Parameter",
        RegKind::Experiment => "Experiment",
        RegKind::ExperimentRun => "ExperimentRun",
        RegKind::ServingEnvironment => "ServingEnvironment",
        RegKind::InferenceService => "InferenceService",
        RegKind::ServeModel => "ServeModel",
    }
}

pub fn is_artifact(n: &node::Model) -> bool {
    n.kind.parse::<RegKind>().is_ok_and(RegKind::is_artifact)
}
