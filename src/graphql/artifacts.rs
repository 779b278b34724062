//! Artifacts of every type (model files, docs, datasets, metrics, parameters).
use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::filters::{ArtifactFilter, DatasetFilter};
use super::mutation::{create_node, list_filter, update_node};
use super::nodes::{
    Artifact, Dataset, DocArtifact, Metric, ModelArtifact, Parameter, artifact_kinds, artifact_of,
    is_artifact,
};
use super::pagination::{Conn, list, page_args};
use super::types::*;
use crate::registry::{NodeFields, NodeKind as RegKind, RegistryError, Result, read};

/// Fields every artifact has that can change.
#[derive(InputObject, Default)]
pub struct ArtifactFields {
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub state: Option<ArtifactState>,
    pub custom_properties: Option<Json<Value>>,
}

impl ArtifactFields {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            custom_properties: props(&self.custom_properties)?,
            external_id: self.external_id,
            description: self.description,
            state: self.state.map(|s| s.as_db().to_owned()),
            ..Default::default()
        })
    }
}

/// Where a new artifact is created: under a model version, a run, or on its own.
#[derive(InputObject, Default)]
pub struct ArtifactParent {
    /// Unique within its parent (and among standalone artifacts of its type); generated
    /// when left out.
    pub name: Option<String>,
    pub model_version_id: Option<ID>,
    pub experiment_run_id: Option<ID>,
}

impl ArtifactParent {
    fn apply(self, fields: &mut NodeFields) -> Result<()> {
        fields.name = self.name;
        fields.parent_id = match (
            opt_id(&self.model_version_id, "modelVersionId")?,
            opt_id(&self.experiment_run_id, "experimentRunId")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(RegistryError::invalid(
                    "modelVersionId",
                    "give modelVersionId or experimentRunId, not both",
                ));
            }
            (a, b) => a.or(b),
        };
        Ok(())
    }
}

/// Fields of a model artifact that can change (`createModelArtifact` takes them too).
#[derive(InputObject, Default)]
pub struct UpdateModelArtifactInput {
    #[graphql(flatten)]
    pub common: ArtifactFields,
    pub uri: Option<String>,
    pub model_format_name: Option<String>,
    pub model_format_version: Option<String>,
    pub storage_key: Option<String>,
    pub storage_path: Option<String>,
    pub service_account_name: Option<String>,
    pub model_source_kind: Option<String>,
    pub model_source_class: Option<String>,
    pub model_source_group: Option<String>,
    pub model_source_id: Option<String>,
    pub model_source_name: Option<String>,
}

impl UpdateModelArtifactInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            uri: self.uri,
            model_format_name: self.model_format_name,
            model_format_version: self.model_format_version,
            storage_key: self.storage_key,
            storage_path: self.storage_path,
            service_account_name: self.service_account_name,
            model_source_kind: self.model_source_kind,
            model_source_class: self.model_source_class,
            model_source_group: self.model_source_group,
            model_source_id: self.model_source_id,
            model_source_name: self.model_source_name,
            ..self.common.fields()?
        })
    }
}

/// Fields of a doc artifact that can change (`createDocArtifact` takes them too).
#[derive(InputObject, Default)]
pub struct UpdateDocArtifactInput {
    #[graphql(flatten)]
    pub common: ArtifactFields,
    pub uri: Option<String>,
}

impl UpdateDocArtifactInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            uri: self.uri,
            ..self.common.fields()?
        })
    }
}

/// Fields of a dataset that can change (`createDataset` takes them too).
#[derive(InputObject, Default)]
pub struct UpdateDatasetInput {
    #[graphql(flatten)]
    pub common: ArtifactFields,
    pub uri: Option<String>,
    pub digest: Option<String>,
    pub source_type: Option<String>,
    pub source: Option<String>,
    /// Kubeflow's free-text schema description.
    pub schema: Option<String>,
    pub profile: Option<String>,
}

impl UpdateDatasetInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            uri: self.uri,
            digest: self.digest,
            source_type: self.source_type,
            source: self.source,
            dataset_schema: self.schema,
            profile: self.profile,
            ..self.common.fields()?
        })
    }
}

/// Fields of a metric that can change (`createMetric` takes them too).
#[derive(InputObject, Default)]
pub struct UpdateMetricInput {
    #[graphql(flatten)]
    pub common: ArtifactFields,
    pub value: Option<f64>,
    pub timestamp: Option<DateTime<Utc>>,
    pub step: Option<i64>,
}

impl UpdateMetricInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            metric_value: self.value,
            metric_timestamp: self.timestamp.as_ref().map(millis),
            metric_step: self.step,
            ..self.common.fields()?
        })
    }
}

/// Fields of a parameter that can change (`createParameter` takes them too).
#[derive(InputObject, Default)]
pub struct UpdateParameterInput {
    #[graphql(flatten)]
    pub common: ArtifactFields,
    pub value: Option<String>,
    pub parameter_type: Option<ParameterType>,
}

impl UpdateParameterInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            parameter_value: self.value,
            parameter_type: self.parameter_type.map(|t| t.as_db().to_owned()),
            ..self.common.fields()?
        })
    }
}

macro_rules! create_input {
    ($(#[$meta:meta])* $name:ident, $update:ident) => {
        $(#[$meta])*
        #[derive(InputObject)]
        pub struct $name {
            #[graphql(flatten)]
            pub parent: ArtifactParent,
            #[graphql(flatten)]
            pub fields: $update,
        }

        impl $name {
            fn fields(self) -> Result<NodeFields> {
                let mut fields = self.fields.fields()?;
                self.parent.apply(&mut fields)?;
                Ok(fields)
            }
        }
    };
}

create_input!(
    /// A new model artifact: under a model version (`modelVersionId`), a run
    /// (`experimentRunId`) or neither, not both. Its name is unique within its parent (or
    /// among standalone model artifacts) and generated when left out.
    CreateModelArtifactInput,
    UpdateModelArtifactInput
);
create_input!(
    /// A new doc artifact: under a model version (`modelVersionId`), a run
    /// (`experimentRunId`) or neither, not both. Its name is unique within its parent (or
    /// among standalone doc artifacts) and generated when left out.
    CreateDocArtifactInput,
    UpdateDocArtifactInput
);
create_input!(
    /// A new dataset: under a model version (`modelVersionId`), a run (`experimentRunId`)
    /// or neither, not both. Its name is unique within its parent (or among standalone
    /// datasets) and generated when left out.
    CreateDatasetInput,
    UpdateDatasetInput
);
create_input!(
    /// A new metric: under a run (`experimentRunId`), a model version (`modelVersionId`)
    /// or neither, not both. Its name is unique within its parent (or among standalone
    /// metrics) and generated when left out.
    CreateMetricInput,
    UpdateMetricInput
);
create_input!(
    /// A new parameter: under a run (`experimentRunId`), a model version
    /// (`modelVersionId`) or neither, not both. Its name is unique within its parent (or
    /// among standalone parameters) and generated when left out; `parameterType` is
    /// `string` when left out.
    CreateParameterInput,
    UpdateParameterInput
);

#[derive(Default)]
pub struct ArtifactQuery;

#[Object]
impl ArtifactQuery {
    /// An artifact of any type by id.
    async fn artifact(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Artifact>> {
        let id = parse_id(&id, "id").gql()?;
        let found = read::find_node(&ctx.state().db, id).await.gql()?;
        found.filter(is_artifact).map(artifact_of).transpose().gql()
    }

    /// Artifacts of the given types (all types when left out).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, last)"
    )]
    async fn artifacts(
        &self,
        ctx: &Context<'_>,
        artifact_types: Option<Vec<ArtifactType>>,
        filter: Option<ArtifactFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Artifact>> {
        let kinds = artifact_kinds(&artifact_types);
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        list(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            artifact_of,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, last)"
    )]
    async fn datasets(
        &self,
        ctx: &Context<'_>,
        filter: Option<DatasetFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Dataset>> {
        let kinds = [RegKind::Dataset];
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        list(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            |n| Ok(Dataset::new(n)),
        )
        .await
    }
}

#[derive(Default)]
pub struct ArtifactMutation;

#[Object]
impl ArtifactMutation {
    /// Creates a model artifact, on its own or under a model version (PART_OF it) or a run
    /// (an OUTPUT of it); its name is unique within its parent and generated when left out.
    async fn create_model_artifact(
        &self,
        ctx: &Context<'_>,
        input: CreateModelArtifactInput,
    ) -> async_graphql::Result<ModelArtifact> {
        create_node(ctx, RegKind::ModelArtifact, input.fields().gql()?)
            .await
            .map(ModelArtifact::new)
    }

    /// Updates a model artifact: only the fields given change (`customProperties`, when given,
    /// replaces them all). Pass the `revision` you read as `expectedRevision` to get CONFLICT
    /// instead of overwriting a concurrent change. Artifacts have no ARCHIVED state: `state` is
    /// ml-metadata's artifact state, and nothing is deleted, even at DELETED.
    async fn update_model_artifact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateModelArtifactInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<ModelArtifact> {
        update_node(
            ctx,
            RegKind::ModelArtifact,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(ModelArtifact::new)
    }

    /// Creates a doc artifact (a model card, a report), on its own or under a model version
    /// (PART_OF it) or a run (an OUTPUT of it); its name is unique within its parent and
    /// generated when left out.
    async fn create_doc_artifact(
        &self,
        ctx: &Context<'_>,
        input: CreateDocArtifactInput,
    ) -> async_graphql::Result<DocArtifact> {
        create_node(ctx, RegKind::DocArtifact, input.fields().gql()?)
            .await
            .map(DocArtifact::new)
    }

    /// Updates a doc artifact: only the fields given change (`customProperties`, when given,
    /// replaces them all). Pass the `revision` you read as `expectedRevision` to get CONFLICT
    /// instead of overwriting a concurrent change. Artifacts have no ARCHIVED state: `state` is
    /// ml-metadata's artifact state, and nothing is deleted, even at DELETED.
    async fn update_doc_artifact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDocArtifactInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<DocArtifact> {
        update_node(
            ctx,
            RegKind::DocArtifact,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(DocArtifact::new)
    }

    /// Creates a dataset, on its own or under a model version (PART_OF it) or a run (an
    /// OUTPUT of it); its name is unique within its parent and generated when left out.
    async fn create_dataset(
        &self,
        ctx: &Context<'_>,
        input: CreateDatasetInput,
    ) -> async_graphql::Result<Dataset> {
        create_node(ctx, RegKind::Dataset, input.fields().gql()?)
            .await
            .map(Dataset::new)
    }

    /// Updates a dataset: only the fields given change (`customProperties`, when given,
    /// replaces them all). Pass the `revision` you read as `expectedRevision` to get CONFLICT
    /// instead of overwriting a concurrent change. Artifacts have no ARCHIVED state: `state` is
    /// ml-metadata's artifact state, and nothing is deleted, even at DELETED.
    async fn update_dataset(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDatasetInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<Dataset> {
        update_node(
            ctx,
            RegKind::Dataset,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(Dataset::new)
    }

    /// Logs a metric, under a run (an OUTPUT of it) or a model version (PART_OF it), or on
    /// its own; its name is unique within its parent and generated when left out.
    async fn create_metric(
        &self,
        ctx: &Context<'_>,
        input: CreateMetricInput,
    ) -> async_graphql::Result<Metric> {
        create_node(ctx, RegKind::Metric, input.fields().gql()?)
            .await
            .map(Metric::new)
    }

    /// Updates a metric: only the fields given change (`customProperties`, when given,
    /// replaces them all). Pass the `revision` you read as `expectedRevision` to get CONFLICT
    /// instead of overwriting a concurrent change. Artifacts have no ARCHIVED state: `state` is
    /// ml-metadata's artifact state, and nothing is deleted, even at DELETED.
    async fn update_metric(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateMetricInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<Metric> {
        update_node(
            ctx,
            RegKind::Metric,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(Metric::new)
    }

    /// Records a parameter, under a run (an OUTPUT of it) or a model version (PART_OF it),
    /// or on its own; its name is unique within its parent and generated when left out.
    async fn create_parameter(
        &self,
        ctx: &Context<'_>,
        input: CreateParameterInput,
    ) -> async_graphql::Result<Parameter> {
        create_node(ctx, RegKind::Parameter, input.fields().gql()?)
            .await
            .map(Parameter::new)
    }

    /// Updates a parameter: only the fields given change (`customProperties`, when given,
    /// replaces them all). Pass the `revision` you read as `expectedRevision` to get CONFLICT
    /// instead of overwriting a concurrent change. Artifacts have no ARCHIVED state: `state` is
    /// ml-metadata's artifact state, and nothing is deleted, even at DELETED.
    async fn update_parameter(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateParameterInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<Parameter> {
        update_node(
            ctx,
            RegKind::Parameter,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(Parameter::new)
    }
}
