//! Experiments and their runs.
use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ContextExt;
use super::errors::GqlResult;
use super::filters::{ExperimentFilter, ExperimentRunFilter};
use super::mutation::{create_node, list_filter, update_node};
use super::nodes::{Experiment, ExperimentRun};
use super::pagination::{Conn, list, list_by_value, page_args};
use super::types::*;
use crate::registry::props::PropValue;
use crate::registry::run::{RecordRun, RunModelVersion, RunOutput, record_run};
use crate::registry::{NodeFields, NodeKind as RegKind, RegistryError, Result, read};

/// Fields of an experiment that can change (`createExperiment` takes them too).
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

/// A new experiment: a name unique among experiments, and any of the fields
/// `updateExperiment` takes.
#[derive(InputObject)]
pub struct CreateExperimentInput {
    /// Unique among experiments.
    pub name: String,
    #[graphql(flatten)]
    pub fields: UpdateExperimentInput,
}

/// Fields of an experiment run that can change (`createExperimentRun` takes them too).
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

/// A new run of the experiment `experimentId`: its name is unique within the experiment
/// and generated when left out; its `status` is RUNNING unless given.
#[derive(InputObject)]
pub struct CreateExperimentRunInput {
    pub experiment_id: ID,
    /// Unique within the experiment; generated when left out.
    pub name: Option<String>,
    #[graphql(flatten)]
    pub fields: UpdateExperimentRunInput,
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
            .map(Experiment::new))
    }

    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, last)"
    )]
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
            |n| Ok(Experiment::new(n)),
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
            .map(ExperimentRun::new))
    }

    /// Runs of every experiment, or of one (`filter.experimentId`); sorted by `orderBy`,
    /// or by the value of a metric or a parameter (`orderByValue`, not both).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, last)"
    )]
    async fn experiment_runs(
        &self,
        ctx: &Context<'_>,
        filter: Option<ExperimentRunFilter>,
        filter_query: Option<String>,
        order_by: Option<OrderBy>,
        order_by_value: Option<ValueOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<ExperimentRun>> {
        let kinds = [RegKind::ExperimentRun];
        let filter = list_filter(&filter, &kinds, &filter_query)?;
        if let Some(by_value) = order_by_value {
            if order_by.is_some() {
                return Err(RegistryError::invalid(
                    "orderByValue",
                    "give orderBy or orderByValue, not both",
                ))
                .gql();
            }
            let order = by_value.order().gql()?;
            return list_by_value(
                ctx,
                &kinds,
                filter,
                &order,
                page_args(first, after, last, before),
                |n| Ok(ExperimentRun::new(n)),
            )
            .await;
        }
        list(
            ctx,
            &kinds,
            filter,
            OrderBy::order(order_by),
            page_args(first, after, last, before),
            |n| Ok(ExperimentRun::new(n)),
        )
        .await
    }
}

#[derive(Default)]
pub struct ExperimentMutation;

#[Object]
impl ExperimentMutation {
    /// Creates an experiment; its name must be unique among experiments.
    async fn create_experiment(
        &self,
        ctx: &Context<'_>,
        input: CreateExperimentInput,
    ) -> async_graphql::Result<Experiment> {
        let mut fields = input.fields.fields().gql()?;
        fields.name = Some(input.name);
        create_node(ctx, RegKind::Experiment, fields)
            .await
            .map(Experiment::new)
    }

    /// Updates an experiment: only the fields given change (`customProperties`, when given,
    /// replaces them all). Pass the `revision` you read as `expectedRevision` to get
    /// CONFLICT instead of overwriting a concurrent change; `state: ARCHIVED` archives it
    /// (nothing is deleted).
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
        .map(Experiment::new)
    }

    /// Creates a run of the experiment `experimentId`. Its name is unique within the
    /// experiment and generated when left out; its `status` is RUNNING unless given.
    /// `recordRun` records a run with its inputs, outputs, metrics and parameters at once.
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
            .map(ExperimentRun::new)
    }

    /// Updates a run: only the fields given change (`customProperties`, when given,
    /// replaces them all). Pass the `revision` you read as `expectedRevision` to get
    /// CONFLICT instead of overwriting a concurrent change; `state: ARCHIVED` archives it
    /// (nothing is deleted), while `status` says where its work stands.
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
        .map(ExperimentRun::new)
    }

    /// Creates (or adds to) a run with its inputs, new outputs, model versions, metrics
    /// and parameters, in one transaction.
    async fn record_run(
        &self,
        ctx: &Context<'_>,
        input: RecordRunInput,
    ) -> async_graphql::Result<ExperimentRun> {
        let request = input.into_request().gql()?;
        record_run(&ctx.state().db, &ctx.actor(), request)
            .await
            .gql()
            .map(ExperimentRun::new)
    }
}
