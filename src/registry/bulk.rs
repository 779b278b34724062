//! The bulk path: loading a whole graph (nodes.csv, edges.csv as `modelgraph gen-graph`
//! writes them) in large batched transactions, for benchmarks and migrations.
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use entity::node;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};

use super::edges::{EdgeKind, NewEdge, insert_edges};
use super::error::{RegistryError, Result};
use super::fields::{NodeFields, validate_name};
use super::history::{Actor, NewChange, Operation, Write, begin};
use super::kind::NodeKind;
use super::read::find_by_name;
use super::time::now_ms;
use super::write::{create_in, note_version_number, version_number};

const BATCH: usize = 1000;
/// Parents of imported nodes that need one (versions, runs, services).
const CONTAINER: &str = "imported-graph";

#[derive(Debug, Default)]
pub struct ImportStats {
    pub nodes: usize,
    pub edges: usize,
    pub seconds: f64,
}

struct CsvNode {
    id: i64,
    kind: NodeKind,
    name: String,
}

fn read_csv(path: &Path, columns: usize) -> Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RegistryError::invalid(path.display().to_string(), e.to_string()))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<String> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_owned())
            .collect();
        if cells.len() != columns {
            return Err(RegistryError::invalid(
                format!("{}:{}", path.display(), i + 1),
                format!("expected {columns} columns, found {}", cells.len()),
            ));
        }
        rows.push(cells);
    }
    Ok(rows)
}

async fn container(
    db: &DatabaseConnection,
    kind: NodeKind,
    extra: NodeFields,
) -> Result<node::Model> {
    if let Some(found) = find_by_name(db, kind, 0, "", CONTAINER).await? {
        return Ok(found);
    }
    let txn = begin(db, &Actor::cli()).await?;
    let created = create_in(
        &txn,
        kind,
        NodeFields {
            name: Some(CONTAINER.to_owned()),
            ..extra
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// Loads a graph; `progress(stage, done, total)` is called after every batch.
pub async fn import_graph(
    db: &DatabaseConnection,
    nodes_csv: &Path,
    edges_csv: &Path,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<ImportStats> {
    let started = Instant::now();
    let nodes: Vec<CsvNode> = read_csv(nodes_csv, 3)?
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let at = format!("{}:{}", nodes_csv.display(), i + 2);
            let id = row[0]
                .parse()
                .map_err(|_| RegistryError::invalid(&at, "id is not an integer"))?;
            let kind: NodeKind = row[1]
                .parse()
                .map_err(|_| RegistryError::invalid(&at, format!("unknown kind {:?}", row[1])))?;
            validate_name(&at, &row[2])?;
            Ok(CsvNode {
                id,
                kind,
                name: row[2].clone(),
            })
        })
        .collect::<Result<_>>()?;
    let edges = read_csv(edges_csv, 3)?;
    let model = container(db, NodeKind::RegisteredModel, NodeFields::default()).await?;
    let experiment = container(db, NodeKind::Experiment, NodeFields::default()).await?;
    let environment = container(db, NodeKind::ServingEnvironment, NodeFields::default()).await?;

    // creation times follow the CSV order (ids are a topological order), ending now
    let base = now_ms() - nodes.len() as i64;
    let mut ids: HashMap<i64, (i64, NodeKind)> = HashMap::with_capacity(nodes.len());
    for (b, batch) in nodes.chunks(BATCH * 10).enumerate() {
        let txn = begin(db, &Actor::cli()).await?;
        for (c, chunk) in batch.chunks(BATCH).enumerate() {
            let rows = chunk.iter().enumerate().map(|(i, n)| {
                let t = base + (b * BATCH * 10 + c * BATCH + i) as i64;
                let parent = match n.kind {
                    NodeKind::ModelVersion => Some(&model),
                    NodeKind::ExperimentRun => Some(&experiment),
                    NodeKind::InferenceService => Some(&environment),
                    _ => None,
                };
                node::ActiveModel {
                    kind: Set(n.kind.as_str().to_owned()),
                    name: Set(n.name.clone()),
                    namespace: Set(String::new()),
                    parent_id: Set(parent.map(|p| p.id)),
                    parent_kind: Set(parent.map(|p| p.kind.clone())),
                    scope_id: Set(parent.map_or(0, |p| p.id)),
                    state: Set(n.kind.default_state().to_owned()),
                    custom_properties: Set("{}".to_owned()),
                    create_time: Set(t),
                    last_update_time: Set(t),
                    revision: Set(1),
                    registered_model_id: Set(
                        (n.kind == NodeKind::InferenceService).then_some(model.id)
                    ),
                    ..Default::default()
                }
            });
            let keys = node::Entity::insert_many(rows)
                .exec_with_returning_keys(txn.conn())
                .await?;
            for (n, key) in chunk.iter().zip(keys) {
                ids.insert(n.id, (key, n.kind));
                let mut after = serde_json::Map::new();
                after.insert("name".into(), n.name.clone().into());
                txn.record(NewChange {
                    operation: Operation::Create,
                    node_id: key,
                    node_kind: n.kind.as_str().to_owned(),
                    other_node_id: None,
                    before: None,
                    after: Some(after),
                });
            }
        }
        txn.commit().await?;
        progress(
            "nodes",
            (b * BATCH * 10 + batch.len()).min(nodes.len()),
            nodes.len(),
        );
    }
    // versions named with numbers: the next unnamed one comes after the highest
    let highest = nodes
        .iter()
        .filter(|n| n.kind == NodeKind::ModelVersion)
        .filter_map(|n| version_number(&n.name))
        .max();
    if let Some(number) = highest {
        let txn = begin(db, &Actor::cli()).await?;
        note_version_number(&txn, model.id, number).await?;
        txn.commit().await?;
    }
    let mut new_edges = Vec::with_capacity(edges.len());
    for (i, row) in edges.iter().enumerate() {
        let at = format!("{}:{}", edges_csv.display(), i + 2);
        let end = |cell: &str| -> Result<(i64, NodeKind)> {
            let csv_id: i64 = cell
                .parse()
                .map_err(|_| RegistryError::invalid(&at, "node id is not an integer"))?;
            ids.get(&csv_id).copied().ok_or_else(|| {
                RegistryError::invalid(&at, format!("node {csv_id} is not in the nodes file"))
            })
        };
        let (source, source_kind) = end(&row[0])?;
        let (target, target_kind) = end(&row[1])?;
        let kind: EdgeKind = row[2]
            .parse()
            .map_err(|_| RegistryError::invalid(&at, format!("unknown edge kind {:?}", row[2])))?;
        if !kind.allows(source_kind, target_kind) || source == target {
            return Err(RegistryError::invalid(
                &at,
                format!("{kind} cannot join a {source_kind} to a {target_kind}"),
            ));
        }
        new_edges.push(NewEdge {
            source,
            target,
            kind,
            properties: None,
        });
    }
    for (b, batch) in new_edges.chunks(BATCH * 20).enumerate() {
        let txn = begin(db, &Actor::cli()).await?;
        insert_edges(&txn, batch).await?;
        txn.commit().await?;
        progress(
            "edges",
            (b * BATCH * 20 + batch.len()).min(new_edges.len()),
            new_edges.len(),
        );
    }
    // fresh statistics, so the planner knows the tables' new sizes
    let analyze = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "ANALYZE node; ANALYZE lineage_edge; ANALYZE node_property",
        _ => "ANALYZE",
    };
    db.execute_unprepared(analyze).await?;
    Ok(ImportStats {
        nodes: nodes.len(),
        edges: new_edges.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
