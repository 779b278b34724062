//! Writing an OpenLineage event through the registry, in one transaction: job ->
//! experiment, run -> experiment run (runId as externalId), datasets by namespace and name
//! with INPUT / OUTPUT edges, facets kept. Replays change nothing; events may come in any
//! order.
use entity::node;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use serde_json::{Map, Value};

use super::event::{DatasetRef, Event, JobRef, RunEvent};
use crate::lineage::edges::{EdgeKind, NewEdge, insert_edges};
use crate::registry::filter::{Filter, StringMatch};
use crate::registry::page::{Direction, Order, OrderField, PageArgs, PageLimits};
use crate::registry::read::{find_by_external_id, find_by_name, kind_of, list};
use crate::registry::write::{begin_write, create_in, update_from};
use crate::registry::{NodeFields, NodeKind, RegistryError, Result};

/// Applies one event; retried when a concurrent writer created the same node first.
pub async fn ingest(db: &DatabaseConnection, event: &Event) -> Result<()> {
    let mut attempt = 0;
    loop {
        let (_writer, txn) = begin_write(db).await?;
        match apply(&txn, event).await {
            Ok(()) => {
                txn.commit().await?;
                return Ok(());
            }
            Err(RegistryError::AlreadyExists(_)) if attempt < 3 => {
                txn.rollback().await?;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

async fn apply(txn: &DatabaseTransaction, event: &Event) -> Result<()> {
    match event {
        Event::Run(run) => apply_run(txn, run).await,
        Event::Dataset { dataset, .. } => upsert_dataset(txn, dataset).await.map(|_| ()),
        Event::Job {
            job,
            inputs,
            outputs,
            ..
        } => {
            upsert_job(txn, job).await?;
            for d in inputs.iter().chain(outputs) {
                upsert_dataset(txn, d).await?;
            }
            Ok(())
        }
    }
}

fn facets_of(n: &node::Model) -> Map<String, Value> {
    n.facets
        .as_deref()
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// Facets an event carries replace those of the same name; others stay.
fn merged(n: &node::Model, new: &Map<String, Value>) -> Option<String> {
    let mut all = facets_of(n);
    let before = all.clone();
    for (k, v) in new {
        all.insert(k.clone(), v.clone());
    }
    (all != before).then(|| Value::Object(all).to_string())
}

async fn upsert_job<C: ConnectionTrait>(txn: &C, job: &JobRef) -> Result<node::Model> {
    match find_by_name(txn, NodeKind::Experiment, 0, &job.namespace, &job.name).await? {
        Some(found) => match merged(&found, &job.facets) {
            Some(facets) => {
                let fields = NodeFields {
                    facets: Some(facets),
                    ..Default::default()
                };
                update_from(txn, NodeKind::Experiment, &found, fields, None).await
            }
            None => Ok(found),
        },
        None => {
            let fields = NodeFields {
                name: Some(job.name.clone()),
                namespace: Some(job.namespace.clone()),
                facets: (!job.facets.is_empty())
                    .then(|| Value::Object(job.facets.clone()).to_string()),
                ..Default::default()
            };
            create_in(txn, NodeKind::Experiment, fields).await
        }
    }
}

fn dataset_uri(namespace: &str, name: &str) -> String {
    if name.starts_with('/') || namespace.ends_with('/') {
        format!("{namespace}{name}")
    } else {
        format!("{namespace}/{name}")
    }
}

async fn find_or_create_dataset<C: ConnectionTrait>(
    txn: &C,
    namespace: &str,
    name: &str,
    facets: &Map<String, Value>,
) -> Result<(node::Model, bool)> {
    match find_by_name(txn, NodeKind::Dataset, 0, namespace, name).await? {
        Some(found) => match merged(&found, facets) {
            Some(f) => {
                let fields = NodeFields {
                    facets: Some(f),
                    ..Default::default()
                };
                Ok((
                    update_from(txn, NodeKind::Dataset, &found, fields, None).await?,
                    false,
                ))
            }
            None => Ok((found, false)),
        },
        None => {
            let fields = NodeFields {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                uri: Some(dataset_uri(namespace, name)),
                facets: (!facets.is_empty()).then(|| Value::Object(facets.clone()).to_string()),
                ..Default::default()
            };
            Ok((create_in(txn, NodeKind::Dataset, fields).await?, true))
        }
    }
}

/// The dataset (by namespace and name); with a version facet, also that version's node,
/// DERIVED_FROM the previous version (the first from the dataset itself).
async fn upsert_dataset<C: ConnectionTrait>(txn: &C, d: &DatasetRef) -> Result<node::Model> {
    let (dataset, _) = find_or_create_dataset(txn, &d.namespace, &d.name, &d.facets).await?;
    let version = d
        .facets
        .get("version")
        .and_then(|v| v.get("datasetVersion"))
        .and_then(Value::as_str);
    if let Some(version) = version {
        let version_name = format!("{}@{version}", d.name);
        if find_by_name(txn, NodeKind::Dataset, 0, &d.namespace, &version_name)
            .await?
            .is_none()
        {
            let previous = previous_version(txn, d)
                .await?
                .unwrap_or_else(|| dataset.clone());
            let (node, _) =
                find_or_create_dataset(txn, &d.namespace, &version_name, &d.facets).await?;
            insert_edges(
                txn,
                &[NewEdge {
                    source: previous.id,
                    target: node.id,
                    kind: EdgeKind::DerivedFrom,
                    properties: None,
                }],
            )
            .await?;
        }
    }
    Ok(dataset)
}

async fn previous_version<C: ConnectionTrait>(
    txn: &C,
    d: &DatasetRef,
) -> Result<Option<node::Model>> {
    let filter = Filter {
        namespace: Some(d.namespace.clone()),
        name: Some(StringMatch {
            contains: Some(format!("{}@", d.name)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let order = Order {
        field: OrderField::Id,
        direction: Direction::Desc,
    };
    let page = PageArgs {
        first: Some(50),
        ..Default::default()
    };
    let found = list(
        txn,
        &[NodeKind::Dataset],
        &filter,
        order,
        &page,
        PageLimits::default(),
    )
    .await?;
    let prefix = format!("{}@", d.name);
    Ok(found
        .items
        .into_iter()
        .find(|n| n.name.starts_with(&prefix)))
}

fn status_of(event_type: Option<&str>) -> Option<&'static str> {
    match event_type? {
        "START" | "RUNNING" => Some("RUNNING"),
        "COMPLETE" => Some("FINISHED"),
        "FAIL" => Some("FAILED"),
        "ABORT" => Some("KILLED"),
        _ => None,
    }
}

fn terminal(status: Option<&str>) -> bool {
    matches!(status, Some("FINISHED" | "FAILED" | "KILLED"))
}

async fn upsert_run<C: ConnectionTrait>(
    txn: &C,
    run_id: &str,
    job: JobOrExperiment<'_>,
    event: Option<&RunEvent>,
    parent: Option<i64>,
) -> Result<node::Model> {
    let status = event.and_then(|e| status_of(e.event_type.as_deref()));
    let starts =
        event.is_some_and(|e| matches!(e.event_type.as_deref(), Some("START" | "RUNNING")));
    let time = event.map(|e| e.event_time);
    let facets = event.map(|e| e.run_facets.clone()).unwrap_or_default();
    match find_by_external_id(txn, run_id).await? {
        Some(found) => {
            if kind_of(&found)? != NodeKind::ExperimentRun {
                return Err(RegistryError::invalid(
                    "run.runId",
                    format!("{run_id} is the externalId of a {}", found.kind),
                ));
            }
            let mut fields = NodeFields::default();
            // a finished run stays finished when a late START or RUNNING arrives
            let keep = terminal(found.status.as_deref()) && status == Some("RUNNING");
            if let Some(s) = status.filter(|s| !keep && found.status.as_deref() != Some(*s)) {
                fields.status = Some(s.to_owned());
            }
            if starts && let Some(t) = time.filter(|t| found.start_time.is_none_or(|s| *t < s)) {
                fields.start_time = Some(t);
            }
            if terminal(status)
                && let Some(t) = time.filter(|t| found.end_time != Some(*t))
            {
                fields.end_time = Some(t);
            }
            fields.facets = merged(&found, &facets);
            if let Some(p) = parent.filter(|p| found.parent_run_id != Some(*p)) {
                fields.parent_run_id = Some(p);
            }
            let changed = fields.status.is_some()
                || fields.start_time.is_some()
                || fields.end_time.is_some()
                || fields.facets.is_some()
                || fields.parent_run_id.is_some();
            if changed {
                update_from(txn, NodeKind::ExperimentRun, &found, fields, None).await
            } else {
                Ok(found)
            }
        }
        None => {
            let experiment = match job {
                JobOrExperiment::Job(job) => upsert_job(txn, job).await?,
                JobOrExperiment::Experiment(e) => e.clone(),
            };
            let fields = NodeFields {
                name: Some(run_id.to_owned()),
                external_id: Some(run_id.to_owned()),
                parent_id: Some(experiment.id),
                status: Some(status.unwrap_or("RUNNING").to_owned()),
                start_time: if starts { time } else { None },
                end_time: if terminal(status) { time } else { None },
                facets: (!facets.is_empty()).then(|| Value::Object(facets).to_string()),
                parent_run_id: parent,
                ..Default::default()
            };
            create_in(txn, NodeKind::ExperimentRun, fields).await
        }
    }
}

/// The job a run belongs to: by name, or already looked up.
enum JobOrExperiment<'a> {
    Job(&'a JobRef),
    Experiment(&'a node::Model),
}

async fn apply_run(txn: &DatabaseTransaction, e: &RunEvent) -> Result<()> {
    let experiment = upsert_job(txn, &e.job).await?;
    let parent = match &e.parent {
        Some(p) => Some(
            upsert_run(txn, &p.run_id, JobOrExperiment::Job(&p.job), None, None)
                .await?
                .id,
        ),
        None => None,
    };
    let run = upsert_run(
        txn,
        &e.run_id,
        JobOrExperiment::Experiment(&experiment),
        Some(e),
        parent,
    )
    .await?;
    let mut edges = Vec::with_capacity(e.inputs.len() + e.outputs.len());
    for d in &e.inputs {
        let ds = upsert_dataset(txn, d).await?;
        edges.push(NewEdge {
            source: ds.id,
            target: run.id,
            kind: EdgeKind::Input,
            properties: io_properties(d, "inputFacets"),
        });
    }
    for d in &e.outputs {
        let ds = upsert_dataset(txn, d).await?;
        edges.push(NewEdge {
            source: run.id,
            target: ds.id,
            kind: EdgeKind::Output,
            properties: io_properties(d, "outputFacets"),
        });
    }
    insert_edges(txn, &edges).await
}

fn io_properties(d: &DatasetRef, key: &str) -> Option<Value> {
    (!d.io_facets.is_empty()).then(|| {
        let mut m = Map::new();
        m.insert(key.to_owned(), Value::Object(d.io_facets.clone()));
        Value::Object(m)
    })
}
