//! Artifacts attached to a model version or a run: Kubeflow's upsert (by id or by name),
//! the lineage edge that attaching implies, and a run's metric history.
use entity::{metric_history, node};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::edges::{EdgeKind, NewEdge, insert_edges};
use super::error::{RegistryError, Result};
use super::fields::NodeFields;
use super::history::{Actor, transact};
use super::kind::NodeKind;
use super::read::{find_by_name, find_node, kind_of};
use super::time::now_ms;
use super::write::{create_in, expect_kind, update_in};
use crate::db::exec::{self, Exec};

/// Creates or updates an artifact of `owner` (a model version or run). With `existing`,
/// that artifact is updated and attached (PART_OF a version, INPUT of a run); otherwise
/// an artifact of the same type and name under the owner is updated, else one is created.
/// Returns the artifact and whether it was created.
pub async fn upsert_artifact(
    db: &DatabaseConnection,
    actor: &Actor,
    owner_kind: NodeKind,
    owner: i64,
    kind: NodeKind,
    fields: NodeFields,
    existing: Option<i64>,
) -> Result<(node::Model, bool)> {
    transact!(db, actor, |txn| {
        let mut fields = fields.clone();
        let field = if owner_kind == NodeKind::ModelVersion {
            "modelversionId"
        } else {
            "experimentrunId"
        };
        expect_kind(txn, owner, owner_kind, field).await?;
        let target = match existing {
            Some(id) => {
                let found = find_node(txn, id)
                    .await?
                    .ok_or_else(|| RegistryError::not_found(format!("artifact {id}")))?;
                let found_kind = kind_of(&found)?;
                if !found_kind.is_artifact() {
                    return Err(RegistryError::not_found(format!("artifact {id}")));
                }
                if found_kind != kind {
                    return Err(RegistryError::invalid(
                        "artifactType",
                        format!("artifact {id} is a {found_kind}, not a {kind}"),
                    ));
                }
                Some(found)
            }
            None => match &fields.name {
                Some(name) => find_by_name(txn, kind, owner, "", name).await?,
                None => None,
            },
        };
        let (artifact, created) = match target {
            Some(found) => {
                fields.name = None;
                let updated = update_in(txn, kind, found.id, fields, None).await?;
                if updated.parent_id != Some(owner) {
                    let edge = if owner_kind == NodeKind::ModelVersion {
                        NewEdge {
                            source: updated.id,
                            target: owner,
                            kind: EdgeKind::PartOf,
                            properties: None,
                            source_kind: Some(kind),
                        }
                    } else {
                        NewEdge {
                            source: updated.id,
                            target: owner,
                            kind: EdgeKind::Input,
                            properties: None,
                            source_kind: Some(kind),
                        }
                    };
                    insert_edges(txn, &[edge]).await?;
                }
                (updated, false)
            }
            None => {
                fields.parent_id = Some(owner);
                (create_in(txn, kind, fields).await?, true)
            }
        };
        if kind == NodeKind::Metric && owner_kind == NodeKind::ExperimentRun {
            record_metric(txn, owner, &artifact).await?;
        }
        Ok((artifact, created))
    })
}

/// Appends a metric's current value to its run's history.
pub async fn record_metric<E: Exec>(conn: &E, run: i64, metric: &node::Model) -> Result<()> {
    let row = metric_history::ActiveModel {
        run_id: Set(run),
        metric_id: Set(metric.id),
        name: Set(metric.name.clone()),
        value: Set(metric.metric_value),
        step: Set(metric.metric_step),
        timestamp: Set(metric.metric_timestamp.or(Some(metric.last_update_time))),
        create_time: Set(now_ms()),
        ..Default::default()
    };
    exec::run(conn, &metric_history::Entity::insert(row)).await?;
    Ok(())
}

/// A page of metric history, oldest first (or newest first with `descending`).
pub async fn metric_history(
    db: &DatabaseConnection,
    run: Option<i64>,
    name: Option<&str>,
    steps: Option<&[i64]>,
    after_id: Option<i64>,
    descending: bool,
    limit: u64,
) -> Result<Vec<metric_history::Model>> {
    use metric_history::Column as H;
    let mut q = metric_history::Entity::find();
    if let Some(run) = run {
        q = q.filter(H::RunId.eq(run));
    }
    if let Some(name) = name {
        q = q.filter(H::Name.eq(name));
    }
    if let Some(steps) = steps {
        q = q.filter(H::Step.is_in(steps.to_vec()));
    }
    if let Some(after) = after_id {
        q = q.filter(if descending {
            H::Id.lt(after)
        } else {
            H::Id.gt(after)
        });
    }
    q = if descending {
        q.order_by_desc(H::Id)
    } else {
        q.order_by_asc(H::Id)
    };
    Ok(q.limit(limit).all(db).await?)
}
