//! Registered models and their versions: queries, inputs, mutations.
use async_graphql::{Context, ID, InputObject, Json, Object};
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::filters::{ModelVersionFilter, RegisteredModelFilter};
use super::mutation::{create_node, list_filter, update_node};
use super::nodes::{ModelVersion, Plain, RegisteredModel};
use super::pagination::{Conn, list, list_reading_ahead, page_args};
use super::types::*;
use crate::registry::registered_model::{RegisterModel, register_model};
use crate::registry::{NodeFields, NodeKind as RegKind, RegistryError, Result, read};

/// Fields of a registered model that can change.
#[derive(InputObject, Default)]
pub struct UpdateRegisteredModelInput {
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub state: Option<RegisteredModelState>,
    pub custom_properties: Option<Json<Value>>,
    pub readme: Option<String>,
    pub maturity: Option<String>,
    pub language: Option<Vec<String>>,
    pub tasks: Option<Vec<String>>,
    pub provider: Option<String>,
    pub logo: Option<String>,
    pub license: Option<String>,
    pub license_link: Option<String>,
    pub library_name: Option<String>,
}

impl UpdateRegisteredModelInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            custom_properties: props(&self.custom_properties)?,
            external_id: self.external_id,
            description: self.description,
            owner: self.owner,
            state: self.state.map(|s| s.as_db().to_owned()),
            readme: self.readme,
            maturity: self.maturity,
            language: self.language,
            tasks: self.tasks,
            provider: self.provider,
            logo: self.logo,
            license: self.license,
            license_link: self.license_link,
            library_name: self.library_name,
            ..Default::default()
        })
    }
}

/// A new registered model: a name unique among registered models, and any of the fields
/// `updateRegisteredModel` takes.
#[derive(InputObject)]
pub struct CreateRegisteredModelInput {
    /// Unique among registered models.
    pub name: String,
    #[graphql(flatten)]
    pub fields: UpdateRegisteredModelInput,
}

/// Fields of a model version that can change.
#[derive(InputObject, Default)]
pub struct UpdateModelVersionInput {
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub state: Option<ModelVersionState>,
    pub custom_properties: Option<Json<Value>>,
}

impl UpdateModelVersionInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            custom_properties: props(&self.custom_properties)?,
            external_id: self.external_id,
            description: self.description,
            owner: self.author,
            state: self.state.map(|s| s.as_db().to_owned()),
            ..Default::default()
        })
    }
}

/// A new version of the registered model `registeredModelId`: its name is unique within
/// the model, and a version created without one gets the next integer ("1", "2", ...).
#[derive(InputObject)]
pub struct CreateModelVersionInput {
    pub registered_model_id: ID,
    /// Unique within the model; the next integer ("1", "2", ...) when left out.
    pub name: Option<String>,
    #[graphql(flatten)]
    pub fields: UpdateModelVersionInput,
}

/// A model, version and model artifact registered at once.
#[derive(InputObject)]
pub struct RegisterModelInput {
    /// The registered model's name; an existing model of that name is reused.
    pub name: String,
    /// The version's name; the next integer when left out.
    pub version: Option<String>,
    /// Where the model file lives.
    pub uri: String,
    pub model_format_name: Option<String>,
    pub model_format_version: Option<String>,
    /// Author of the version (and owner of a new model).
    pub author: Option<String>,
    /// Owner of a new model, when it differs from the author.
    pub owner: Option<String>,
    /// Description of a new model.
    pub description: Option<String>,
    pub version_description: Option<String>,
    /// Custom properties of the version.
    pub custom_properties: Option<Json<Value>>,
    pub storage_key: Option<String>,
    pub storage_path: Option<String>,
    pub service_account_name: Option<String>,
    /// The run that produced this version (an OUTPUT edge from it).
    pub produced_by_run: Option<ID>,
    /// The version(s) this one was derived from, e.g. a fine-tune's base (DERIVED_FROM).
    pub derived_from: Option<Vec<ID>>,
}

#[derive(Default)]
pub struct ModelQuery;

#[Object]
impl ModelQuery {
    /// A registered model by id or by name.
    async fn registered_model(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        name: Option<String>,
    ) -> async_graphql::Result<Option<RegisteredModel>> {
        let db = &ctx.state().db;
        let found = match (opt_id(&id, "id").gql()?, name) {
            (Some(id), _) => read::find_node(db, id).await.gql()?,
            (None, Some(name)) => read::find_by_name(db, RegKind::RegisteredModel, 0, "", &name)
                .await
                .gql()?,
            (None, None) => {
                return Err(RegistryError::invalid("id", "pass id or name")).gql();
            }
        };
        Ok(found
            .filter(|n| n.kind == RegKind::RegisteredModel.as_str())
            .map(RegisteredModel::new))
    }

    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, last)"
    )]
    async fn registered_models(
        &self,
        ctx: &Context<'_>,
        filter: Option<RegisteredModelFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Plain<RegisteredModel>>> {
        let kinds = [RegKind::RegisteredModel];
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        // dashboards list models with their latest versions: read those with the page
        let ahead = async |models: &[entity::node::Model]| {
            if let Some(columns) = super::columns::item_child_read(ctx, "latestVersion") {
                let ids: Vec<i64> = models.iter().map(|m| m.id).collect();
                ctx.loaders().prime_latest(&ids, columns).await.gql()?;
            }
            Ok(())
        };
        list_reading_ahead(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            ahead,
            |n| Ok(Plain(RegisteredModel::new(n))),
        )
        .await
    }

    /// A model version by id, or by name within a registered model.
    async fn model_version(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        registered_model_id: Option<ID>,
        model_name: Option<String>,
        name: Option<String>,
        alias: Option<String>,
    ) -> async_graphql::Result<Option<ModelVersion>> {
        let db = &ctx.state().db;
        let model = match (
            opt_id(&registered_model_id, "registeredModelId").gql()?,
            &model_name,
        ) {
            (Some(model), _) => Some(model),
            (None, Some(model_name)) => {
                match read::find_by_name(db, RegKind::RegisteredModel, 0, "", model_name)
                    .await
                    .gql()?
                {
                    Some(model) => Some(model.id),
                    None => return Ok(None),
                }
            }
            (None, None) => None,
        };
        let found = match (opt_id(&id, "id").gql()?, model) {
            (Some(id), _) => read::find_node(db, id).await.gql()?,
            (None, Some(model)) if name.is_some() || alias.is_some() => {
                crate::graphql::release::model_version(ctx, model, alias, name).await?
            }
            _ => {
                return Err(RegistryError::invalid(
                    "id",
                    "pass id, or registeredModelId or modelName with name or alias",
                ))
                .gql();
            }
        };
        Ok(found
            .filter(|n| n.kind == RegKind::ModelVersion.as_str())
            .map(ModelVersion::new))
    }

    /// Versions of every model, or of one (`filter.registeredModelId`).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, last)"
    )]
    async fn model_versions(
        &self,
        ctx: &Context<'_>,
        filter: Option<ModelVersionFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Plain<ModelVersion>>> {
        let kinds = [RegKind::ModelVersion];
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        list(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            |n| Ok(Plain(ModelVersion::new(n))),
        )
        .await
    }
}

#[derive(Default)]
pub struct ModelMutation;

#[Object]
impl ModelMutation {
    /// Creates a registered model; its name must be unique among registered models.
    /// `registerModel` creates a model, a version and its model artifact at once.
    async fn create_registered_model(
        &self,
        ctx: &Context<'_>,
        input: CreateRegisteredModelInput,
    ) -> async_graphql::Result<RegisteredModel> {
        let mut fields = input.fields.fields().gql()?;
        fields.name = Some(input.name);
        create_node(ctx, RegKind::RegisteredModel, fields)
            .await
            .map(RegisteredModel::new)
    }

    /// Updates a registered model: only the fields given change (`customProperties`, when
    /// given, replaces them all). Pass the `revision` you read as `expectedRevision` to get
    /// CONFLICT instead of overwriting a concurrent change; `state: ARCHIVED` archives it
    /// (nothing is deleted).
    async fn update_registered_model(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateRegisteredModelInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<RegisteredModel> {
        let fields = input.fields().gql()?;
        update_node(
            ctx,
            RegKind::RegisteredModel,
            &id,
            fields,
            expected_revision,
        )
        .await
        .map(RegisteredModel::new)
    }

    /// Creates a version of the registered model `registeredModelId`. Its name is unique
    /// within the model; one created without a name gets the next integer ("1", "2", ...).
    async fn create_model_version(
        &self,
        ctx: &Context<'_>,
        input: CreateModelVersionInput,
    ) -> async_graphql::Result<ModelVersion> {
        let mut fields = input.fields.fields().gql()?;
        fields.name = input.name;
        fields.parent_id = Some(parse_id(&input.registered_model_id, "registeredModelId").gql()?);
        create_node(ctx, RegKind::ModelVersion, fields)
            .await
            .map(ModelVersion::new)
    }

    /// Updates a model version: only the fields given change (`customProperties`, when
    /// given, replaces them all). Pass the `revision` you read as `expectedRevision` to get
    /// CONFLICT instead of overwriting a concurrent change; `state: ARCHIVED` archives it
    /// (nothing is deleted; `latestVersion` then skips it).
    async fn update_model_version(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateModelVersionInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<ModelVersion> {
        let fields = input.fields().gql()?;
        update_node(ctx, RegKind::ModelVersion, &id, fields, expected_revision)
            .await
            .map(ModelVersion::new)
    }

    /// Creates (or reuses) the model, then a version and its model artifact, atomically.
    async fn register_model(
        &self,
        ctx: &Context<'_>,
        input: RegisterModelInput,
    ) -> async_graphql::Result<ModelVersion> {
        let request = RegisterModel {
            custom_properties: props(&input.custom_properties).gql()?,
            produced_by_run: opt_id(&input.produced_by_run, "producedByRun").gql()?,
            derived_from: parse_ids(
                input.derived_from.as_deref().unwrap_or_default(),
                "derivedFrom",
            )
            .gql()?,
            name: input.name,
            version: input.version,
            uri: input.uri,
            model_format_name: input.model_format_name,
            model_format_version: input.model_format_version,
            author: input.author,
            owner: input.owner,
            description: input.description,
            version_description: input.version_description,
            storage_key: input.storage_key,
            storage_path: input.storage_path,
            service_account_name: input.service_account_name,
        };
        register_model(&ctx.state().db, &ctx.actor(), request)
            .await
            .gql()
            .map(ModelVersion::new)
    }
}
