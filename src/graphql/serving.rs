//! Serving environments, inference services and serve-model records.
use async_graphql::{Context, ID, InputObject, Json, Object};
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::filters::{InferenceServiceFilter, ServingEnvironmentFilter};
use super::mutation::{create_node, list_filter, update_node};
use super::nodes::{InferenceService, ServeModel, ServingEnvironment};
use super::pagination::{Conn, list, page_args};
use super::types::*;
use crate::registry::{NodeFields, NodeKind as RegKind, RegistryError, Result, read};

/// Fields of a serving environment that can change (`createServingEnvironment` takes them
/// too).
#[derive(InputObject, Default)]
pub struct UpdateServingEnvironmentInput {
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub state: Option<ServingEnvironmentState>,
    pub custom_properties: Option<Json<Value>>,
}

impl UpdateServingEnvironmentInput {
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

/// A new serving environment (`production`, `staging`): a name unique among serving
/// environments, and any of the fields `updateServingEnvironment` takes.
#[derive(InputObject)]
pub struct CreateServingEnvironmentInput {
    /// Unique among serving environments.
    pub name: String,
    #[graphql(flatten)]
    pub fields: UpdateServingEnvironmentInput,
}

/// Fields of an inference service that can change (`createInferenceService` takes them
/// too). A `modelVersionId` must be a version of the service's registered model.
#[derive(InputObject, Default)]
pub struct UpdateInferenceServiceInput {
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub desired_state: Option<InferenceServiceState>,
    /// The version to serve; the model's latest when never set.
    pub model_version_id: Option<ID>,
    pub runtime: Option<String>,
    pub custom_properties: Option<Json<Value>>,
}

impl UpdateInferenceServiceInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            custom_properties: props(&self.custom_properties)?,
            model_version_id: opt_id(&self.model_version_id, "modelVersionId")?,
            external_id: self.external_id,
            description: self.description,
            state: self.desired_state.map(|s| s.as_db().to_owned()),
            runtime: self.runtime,
            ..Default::default()
        })
    }
}

/// A new inference service in the serving environment `servingEnvironmentId`, serving the
/// registered model `registeredModelId`: the version `modelVersionId` (one of that
/// model's), or the model's latest version that is not archived when left out. Its name
/// is unique within the environment.
#[derive(InputObject)]
pub struct CreateInferenceServiceInput {
    pub serving_environment_id: ID,
    pub registered_model_id: ID,
    /// Unique within the serving environment.
    pub name: String,
    #[graphql(flatten)]
    pub fields: UpdateInferenceServiceInput,
}

/// Fields of a serve-model record that can change (`createServeModel` takes them too).
#[derive(InputObject, Default)]
pub struct UpdateServeModelInput {
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub last_known_state: Option<ExecutionState>,
    pub custom_properties: Option<Json<Value>>,
}

impl UpdateServeModelInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            custom_properties: props(&self.custom_properties)?,
            external_id: self.external_id,
            description: self.description,
            state: self.last_known_state.map(|s| s.as_db().to_owned()),
            ..Default::default()
        })
    }
}

/// A new serve-model record: the inference service `inferenceServiceId` serves the model
/// version `modelVersionId`. Its name is unique within the service and generated when
/// left out.
#[derive(InputObject)]
pub struct CreateServeModelInput {
    pub inference_service_id: ID,
    pub model_version_id: ID,
    /// Unique within the inference service; generated when left out.
    pub name: Option<String>,
    #[graphql(flatten)]
    pub fields: UpdateServeModelInput,
}

#[derive(Default)]
pub struct ServingQuery;

#[Object]
impl ServingQuery {
    /// A serving environment by id or by name.
    async fn serving_environment(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        name: Option<String>,
    ) -> async_graphql::Result<Option<ServingEnvironment>> {
        let db = &ctx.state().db;
        let found = match (opt_id(&id, "id").gql()?, name) {
            (Some(id), _) => read::find_node(db, id).await.gql()?,
            (None, Some(name)) => read::find_by_name(db, RegKind::ServingEnvironment, 0, "", &name)
                .await
                .gql()?,
            (None, None) => return Err(RegistryError::invalid("id", "pass id or name")).gql(),
        };
        Ok(found
            .filter(|n| n.kind == RegKind::ServingEnvironment.as_str())
            .map(ServingEnvironment::new))
    }

    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, last)"
    )]
    async fn serving_environments(
        &self,
        ctx: &Context<'_>,
        filter: Option<ServingEnvironmentFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<ServingEnvironment>> {
        let kinds = [RegKind::ServingEnvironment];
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        list(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            |n| Ok(ServingEnvironment::new(n)),
        )
        .await
    }

    /// An inference service by `id`, or by `name` in the serving environment named
    /// `environmentName`.
    async fn inference_service(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        environment_name: Option<String>,
        name: Option<String>,
    ) -> async_graphql::Result<Option<InferenceService>> {
        let db = &ctx.state().db;
        let found = match (opt_id(&id, "id").gql()?, environment_name, name) {
            (Some(id), None, None) => read::find_node(db, id).await.gql()?,
            (None, Some(environment), Some(name)) => {
                match read::find_by_name(db, RegKind::ServingEnvironment, 0, "", &environment)
                    .await
                    .gql()?
                {
                    Some(env) => {
                        read::find_by_name(db, RegKind::InferenceService, env.id, "", &name)
                            .await
                            .gql()?
                    }
                    None => None,
                }
            }
            _ => {
                return Err(RegistryError::invalid(
                    "id",
                    "pass id, or environmentName with name",
                ))
                .gql();
            }
        };
        Ok(found
            .filter(|n| n.kind == RegKind::InferenceService.as_str())
            .map(InferenceService::new))
    }

    /// Inference services everywhere, or in one environment (`filter.servingEnvironmentId`).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, last)"
    )]
    async fn inference_services(
        &self,
        ctx: &Context<'_>,
        filter: Option<InferenceServiceFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<InferenceService>> {
        let kinds = [RegKind::InferenceService];
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        list(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            |n| Ok(InferenceService::new(n)),
        )
        .await
    }
}

#[derive(Default)]
pub struct ServingMutation;

#[Object]
impl ServingMutation {
    /// Creates a serving environment; its name must be unique among serving environments.
    async fn create_serving_environment(
        &self,
        ctx: &Context<'_>,
        input: CreateServingEnvironmentInput,
    ) -> async_graphql::Result<ServingEnvironment> {
        let mut fields = input.fields.fields().gql()?;
        fields.name = Some(input.name);
        create_node(ctx, RegKind::ServingEnvironment, fields)
            .await
            .map(ServingEnvironment::new)
    }

    /// Updates a serving environment: only the fields given change (`customProperties`,
    /// when given, replaces them all). Pass the `revision` you read as `expectedRevision` to
    /// get CONFLICT instead of overwriting a concurrent change; `state: ARCHIVED` archives
    /// it (nothing is deleted).
    async fn update_serving_environment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateServingEnvironmentInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<ServingEnvironment> {
        update_node(
            ctx,
            RegKind::ServingEnvironment,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(ServingEnvironment::new)
    }

    /// Creates an inference service in the serving environment `servingEnvironmentId` for
    /// the registered model `registeredModelId`; its name is unique within the environment.
    /// The version it serves (`modelVersionId`, else the model's latest that is not
    /// archived) gets a DEPLOYED_AS edge to it.
    async fn create_inference_service(
        &self,
        ctx: &Context<'_>,
        input: CreateInferenceServiceInput,
    ) -> async_graphql::Result<InferenceService> {
        let mut fields = input.fields.fields().gql()?;
        fields.name = Some(input.name);
        fields.parent_id =
            Some(parse_id(&input.serving_environment_id, "servingEnvironmentId").gql()?);
        fields.registered_model_id =
            Some(parse_id(&input.registered_model_id, "registeredModelId").gql()?);
        create_node(ctx, RegKind::InferenceService, fields)
            .await
            .map(InferenceService::new)
    }

    /// Updates an inference service: only the fields given change (`customProperties`,
    /// when given, replaces them all). Pass the `revision` you read as `expectedRevision` to
    /// get CONFLICT instead of overwriting a concurrent change. Inference services have no
    /// ARCHIVED state: `desiredState: UNDEPLOYED` says it should not serve (nothing is
    /// deleted); a new `modelVersionId` (of the service's model) is DEPLOYED_AS it too.
    async fn update_inference_service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateInferenceServiceInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<InferenceService> {
        update_node(
            ctx,
            RegKind::InferenceService,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(InferenceService::new)
    }

    /// Records that the inference service `inferenceServiceId` serves the model version
    /// `modelVersionId` (a DEPLOYED_AS edge from the version to the service). Its name is
    /// unique within the service and generated when left out.
    async fn create_serve_model(
        &self,
        ctx: &Context<'_>,
        input: CreateServeModelInput,
    ) -> async_graphql::Result<ServeModel> {
        let mut fields = input.fields.fields().gql()?;
        fields.name = input.name;
        fields.parent_id = Some(parse_id(&input.inference_service_id, "inferenceServiceId").gql()?);
        fields.model_version_id = Some(parse_id(&input.model_version_id, "modelVersionId").gql()?);
        create_node(ctx, RegKind::ServeModel, fields)
            .await
            .map(ServeModel::new)
    }

    /// Updates a serve-model record: only the fields given change (`customProperties`, when
    /// given, replaces them all). Pass the `revision` you read as `expectedRevision` to get
    /// CONFLICT instead of overwriting a concurrent change. Serve-model records have no
    /// ARCHIVED state: `lastKnownState` is the execution's state, and nothing is deleted.
    async fn update_serve_model(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateServeModelInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<ServeModel> {
        update_node(
            ctx,
            RegKind::ServeModel,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(ServeModel::new)
    }
}
