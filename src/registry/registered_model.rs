//! Registering a model: model (created or reused), version and model artifact at once,
//! as the Kubeflow Python client's `register_model` does.
use entity::node;
use sea_orm::DatabaseConnection;

use super::edges::{EdgeKind, NewEdge, add_edges_in};
use super::error::{RegistryError, Result};
use super::fields::{NodeFields, validate_name};
use super::history::{Actor, transact};
use super::kind::NodeKind;
use super::props::Props;
use super::read::find_by_name;
use super::write::{create_in, expect_kind};

#[derive(Clone, Debug, Default)]
pub struct RegisterModel {
    pub name: String,
    pub version: Option<String>,
    pub uri: String,
    pub model_format_name: Option<String>,
    pub model_format_version: Option<String>,
    pub author: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub version_description: Option<String>,
    pub custom_properties: Option<Props>,
    pub storage_key: Option<String>,
    pub storage_path: Option<String>,
    pub service_account_name: Option<String>,
    /// The run that trained this version: an OUTPUT edge from it.
    pub produced_by_run: Option<i64>,
    /// Versions this one was derived from (a fine-tune's base): DERIVED_FROM edges.
    pub derived_from: Vec<i64>,
}

/// Returns the new version; the model is reused when one of that name exists. A
/// concurrent writer that creates the same model (or takes the next version number)
/// first makes this try again.
pub async fn register_model(
    db: &DatabaseConnection,
    actor: &Actor,
    input: RegisterModel,
) -> Result<node::Model> {
    validate_name("name", &input.name)?;
    if input.uri.is_empty() {
        return Err(RegistryError::invalid("uri", "is required"));
    }
    let mut attempt = 0;
    loop {
        match register_once(db, actor, &input).await {
            Err(RegistryError::AlreadyExists(_)) if attempt < 3 => attempt += 1,
            other => return other,
        }
    }
}

async fn register_once(
    db: &DatabaseConnection,
    actor: &Actor,
    input: &RegisterModel,
) -> Result<node::Model> {
    transact!(db, actor, |txn| {
        let model = match find_by_name(txn, NodeKind::RegisteredModel, 0, "", &input.name).await? {
            Some(model) => model,
            None => {
                let fields = NodeFields {
                    name: Some(input.name.clone()),
                    owner: input.owner.clone().or_else(|| input.author.clone()),
                    description: input.description.clone(),
                    ..Default::default()
                };
                create_in(txn, NodeKind::RegisteredModel, fields).await?
            }
        };
        if let Some(version) = &input.version
            && find_by_name(txn, NodeKind::ModelVersion, model.id, "", version)
                .await?
                .is_some()
        {
            return Err(RegistryError::AlreadyExists(format!(
                "registered model {:?} already has a version {version:?}",
                input.name
            )));
        }
        let version = create_in(
            txn,
            NodeKind::ModelVersion,
            NodeFields {
                name: input.version.clone(),
                parent_id: Some(model.id),
                owner: input.author.clone(),
                description: input.version_description.clone(),
                custom_properties: input.custom_properties.clone(),
                ..Default::default()
            },
        )
        .await?;
        create_in(
            txn,
            NodeKind::ModelArtifact,
            NodeFields {
                name: Some(input.name.clone()),
                parent_id: Some(version.id),
                uri: Some(input.uri.clone()),
                model_format_name: input.model_format_name.clone(),
                model_format_version: input.model_format_version.clone(),
                storage_key: input.storage_key.clone(),
                storage_path: input.storage_path.clone(),
                service_account_name: input.service_account_name.clone(),
                ..Default::default()
            },
        )
        .await?;
        let mut edges: Vec<NewEdge> = input
            .derived_from
            .iter()
            .map(|base| NewEdge {
                source: *base,
                target: version.id,
                kind: EdgeKind::DerivedFrom,
                properties: None,
                source_kind: None,
            })
            .collect();
        if let Some(run) = input.produced_by_run {
            expect_kind(txn, run, NodeKind::ExperimentRun, "producedByRun").await?;
            edges.push(NewEdge {
                source: run,
                target: version.id,
                kind: EdgeKind::Output,
                properties: None,
                source_kind: Some(NodeKind::ExperimentRun),
            });
        }
        add_edges_in(txn, &mut edges, "derivedFrom").await?;
        Ok(version)
    })
}
