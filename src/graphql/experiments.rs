//! Experiments and their runs.
use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::filters::{ExperimentFilter, ExperimentRunFilter};
use super::mutation::{create_node, list_filter, update_node};
use super::nodes::{Experiment, ExperimentRun};
use super::pagination::{Conn, list, page_args};
use super::types::*;
use crate::registry::{NodeFields, NodeKind as RegKind, RegistryError, Result, read};

#[derive(InputObject, Default)]
pub struct UpdateExperimentInput {
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub state: Option<ExperimentState>,
    pub custom_properties: Option<Json<Value>>,
}

impl UpdateExperimentInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            custom_properties: props(&self.custom_properties)?,
            external_id: self.external_id,
            description: self.description,
            owner: self.owner,
            state: self.state.map(|s| s.as_db().to_owned()),
            ..Default::default()
        })
    }
}

#[derive(InputObject)]
pub struct CreateExperimentInput {
    /// Unique among experiments.
    pub name: String,
    #[graphql(flatten)]
    pub fields: UpdateExperimentInput,
}

#[derive(InputObject, Default)]
pub struct UpdateExperimentRunInput {
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub state: Option<ExperimentRunState>,
    pub status: Option<ExperimentRunStatus>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub custom_properties: Option<Json<Value>>,
}

impl UpdateExperimentRunInput {
    fn fields(self) -> Result<NodeFields> {
        Ok(NodeFields {
            custom_properties: props(&self.custom_properties)?,
            external_id: self.external_id,
            description: self.description,
            owner: self.owner,
            state: self.state.map(|s| s.as_db().to_owned()),
            status: self.status.map(|s| s.as_db().to_owned()),
            start_time: self.start_time.as_ref().map(millis),
            end_time: self.end_time.as_ref().map(millis),
            ..Default::default()
        })
    }
}

#[derive(InputObject)]
pub struct CreateExperimentRunInput {
    pub experiment_id: ID,
    /// Unique within the experiment; generated when left out.
    pub name: Option<String>,
    #[graphql(flatten)]
    pub fields: UpdateExperimentRunInput,
}

#[derive(Default)]
pub struct ExperimentQuery;

#[Object]
impl ExperimentQuery {
    /// An experiment by id, or by name (and, for OpenLineage jobs, namespace; without a
    /// namespace, a registry experiment of that name comes first, then any job of it).
    async fn experiment(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        name: Option<String>,
        namespace: Option<String>,
    ) -> async_graphql::Result<Option<Experiment>> {
        let db = &ctx.state().db;
        let found = match (opt_id(&id, "id").gql()?, name) {
            (Some(id), _) => read::find_node(db, id).await.gql()?,
            (None, Some(name)) => match namespace {
                Some(ns) => read::find_by_name(db, RegKind::Experiment, 0, &ns, &name)
                    .await
                    .gql()?,
                None => match read::find_by_name(db, RegKind::Experiment, 0, "", &name)
                    .await
                    .gql()?
                {
                    Some(found) => Some(found),
                    None => {
                        let filter = crate::registry::Filter {
                            name: Some(crate::registry::filter::StringMatch {
                                eq: Some(name),
                                ..Default::default()
                            }),
                            ..Default::default()
                        };
                        let page = crate::registry::PageArgs {
                            first: Some(1),
                            ..Default::default()
                        };
                        let order = crate::registry::Order {
                            field: crate::registry::page::OrderField::Id,
                            direction: crate::registry::page::Direction::Asc,
                        };
                        read::list(
                            db,
                            &[RegKind::Experiment],
                            &filter,
                            order,
                            &page,
                            ctx.state().limits.page(),
                        )
                        .await
                        .gql()?
                        .items
                        .into_iter()
                        .next()
                    }
                },
            },
            (None, None) => return Err(RegistryError::invalid("id", "pass id or name")).gql(),
        };
        Ok(found
            .filter(|n| n.kind == RegKind::Experiment.as_str())
            .map(Experiment))
    }

    #[allow(clippy::too_many_arguments)]
    async fn experiments(
        &self,
        ctx: &Context<'_>,
        filter: Option<ExperimentFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Experiment>> {
        let kinds = [RegKind::Experiment];
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        list(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            Experiment,
        )
        .await
    }

    async fn experiment_run(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ExperimentRun>> {
        let id = parse_id(&id, "id").gql()?;
        let found = read::find_node(&ctx.state().db, id).await.gql()?;
        Ok(found
            .filter(|n| n.kind == RegKind::ExperimentRun.as_str())
            .map(ExperimentRun))
    }

    /// Runs of every experiment, or of one (`filter.experimentId`).
    #[allow(clippy::too_many_arguments)]
    async fn experiment_runs(
        &self,
        ctx: &Context<'_>,
        filter: Option<ExperimentRunFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<ExperimentRun>> {
        let kinds = [RegKind::ExperimentRun];
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        list(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            ExperimentRun,
        )
        .await
    }
}

#[derive(Default)]
pub struct ExperimentMutation;

#[Object]
impl ExperimentMutation {
    async fn create_experiment(
        &self,
        ctx: &Context<'_>,
        input: CreateExperimentInput,
    ) -> async_graphql::Result<Experiment> {
        let mut fields = input.fields.fields().gql()?;
        fields.name = Some(input.name);
        create_node(ctx, RegKind::Experiment, fields)
            .await
            .map(Experiment)
    }

    async fn update_experiment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateExperimentInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<Experiment> {
        update_node(
            ctx,
            RegKind::Experiment,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(Experiment)
    }

    async fn create_experiment_run(
        &self,
        ctx: &Context<'_>,
        input: CreateExperimentRunInput,
    ) -> async_graphql::Result<ExperimentRun> {
        let mut fields = input.fields.fields().gql()?;
        fields.name = input.name;
        fields.parent_id = Some(parse_id(&input.experiment_id, "experimentId").gql()?);
        create_node(ctx, RegKind::ExperimentRun, fields)
            .await
            .map(ExperimentRun)
    }

    async fn update_experiment_run(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateExperimentRunInput,
        expected_revision: Option<i64>,
    ) -> async_graphql::Result<ExperimentRun> {
        update_node(
            ctx,
            RegKind::ExperimentRun,
            &id,
            input.fields().gql()?,
            expected_revision,
        )
        .await
        .map(ExperimentRun)
    }
}
