//! Recording a run at once: the run (new or existing), what it consumed, what it
//! produced, its metrics and parameters, in one transaction.
use entity::node;
use sea_orm::DatabaseConnection;

use super::edges::{EdgeKind, NewEdge, add_edges_in};
use super::error::{RegistryError, Result};
use super::fields::NodeFields;
use super::history::{Actor, transact};
use super::kind::NodeKind;
use super::read::find_by_name;
use super::write::{create_in, expect_kind, update_in};

#[derive(Clone, Debug)]
pub struct RunOutput {
    pub kind: NodeKind,
    pub fields: NodeFields,
}

#[derive(Clone, Debug)]
pub struct RunModelVersion {
    pub registered_model_id: Option<i64>,
    pub registered_model_name: Option<String>,
    pub fields: NodeFields,
    /// The version's model file, created under it when given.
    pub artifact: Option<NodeFields>,
}

#[derive(Clone, Debug, Default)]
pub struct RecordRun {
    pub run_id: Option<i64>,
    pub experiment_id: Option<i64>,
    pub experiment_name: Option<String>,
    pub run: NodeFields,
    pub inputs: Vec<i64>,
    pub outputs: Vec<RunOutput>,
    pub output_model_versions: Vec<RunModelVersion>,
    pub metrics: Vec<NodeFields>,
    pub parameters: Vec<NodeFields>,
}

pub async fn record_run(
    db: &DatabaseConnection,
    actor: &Actor,
    req: RecordRun,
) -> Result<node::Model> {
    transact!(db, actor, |txn| {
        let run = match req.run_id {
            Some(id) => {
                let mut fields = req.run.clone();
                fields.name = None;
                update_in(txn, NodeKind::ExperimentRun, id, fields, None).await?
            }
            None => {
                let experiment = match (req.experiment_id, &req.experiment_name) {
                    (Some(id), _) => {
                        expect_kind(txn, id, NodeKind::Experiment, "experimentId").await?
                    }
                    (None, Some(name)) => {
                        match find_by_name(txn, NodeKind::Experiment, 0, "", name).await? {
                            Some(e) => e,
                            None => {
                                let fields = NodeFields {
                                    name: Some(name.clone()),
                                    owner: req.run.owner.clone(),
                                    ..Default::default()
                                };
                                create_in(txn, NodeKind::Experiment, fields).await?
                            }
                        }
                    }
                    (None, None) => {
                        return Err(RegistryError::invalid(
                            "experimentId",
                            "give experimentId or experimentName (or id to add to a run)",
                        ));
                    }
                };
                let mut fields = req.run.clone();
                fields.parent_id = Some(experiment.id);
                create_in(txn, NodeKind::ExperimentRun, fields).await?
            }
        };
        for output in &req.outputs {
            let mut fields = output.fields.clone();
            fields.parent_id = Some(run.id);
            create_in(txn, output.kind, fields).await?;
        }
        let mut edges: Vec<NewEdge> = req
            .inputs
            .iter()
            .map(|id| NewEdge {
                source: *id,
                target: run.id,
                kind: EdgeKind::Input,
                properties: None,
                source_kind: None,
            })
            .collect();
        for v in &req.output_model_versions {
            let model = match (v.registered_model_id, &v.registered_model_name) {
                (Some(id), _) => {
                    expect_kind(txn, id, NodeKind::RegisteredModel, "registeredModelId").await?
                }
                (None, Some(name)) => {
                    match find_by_name(txn, NodeKind::RegisteredModel, 0, "", name).await? {
                        Some(m) => m,
                        None => {
                            let fields = NodeFields {
                                name: Some(name.clone()),
                                owner: v.fields.owner.clone(),
                                ..Default::default()
                            };
                            create_in(txn, NodeKind::RegisteredModel, fields).await?
                        }
                    }
                }
                (None, None) => {
                    return Err(RegistryError::invalid(
                        "outputModelVersions.registeredModelId",
                        "give registeredModelId or registeredModelName",
                    ));
                }
            };
            let mut fields = v.fields.clone();
            fields.parent_id = Some(model.id);
            let version = create_in(txn, NodeKind::ModelVersion, fields).await?;
            if let Some(artifact) = &v.artifact {
                let mut fields = artifact.clone();
                fields.parent_id = Some(version.id);
                fields.name.get_or_insert_with(|| model.name.clone());
                create_in(txn, NodeKind::ModelArtifact, fields).await?;
            }
            edges.push(NewEdge {
                source: run.id,
                target: version.id,
                kind: EdgeKind::Output,
                properties: None,
                source_kind: Some(NodeKind::ExperimentRun),
            });
        }
        for (kind, list) in [
            (NodeKind::Metric, &req.metrics),
            (NodeKind::Parameter, &req.parameters),
        ] {
            for fields in list {
                let mut fields = fields.clone();
                fields.parent_id = Some(run.id);
                create_in(txn, kind, fields).await?;
            }
        }
        add_edges_in(txn, &mut edges, "inputs").await?;
        Ok(run)
    })
}
