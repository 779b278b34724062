//! Edge kinds, which node kinds each may join, and writing edges (validated,
//! all-or-nothing, idempotent).
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use entity::{lineage_edge, node};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, Iterable, QueryFilter, QueryTrait,
};

use super::error::{RegistryError, Result};
use super::history::{Actor, NewChange, Operation, Write, transact};
use super::kind::NodeKind;
use super::read::{find_nodes, kind_of};
use super::time::now_ms;
use crate::db::exec::{Exec, all, build, rows_per_statement};

/// Edge kinds point the way data flows (downstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// artifact / dataset / model version -> the run that consumed it
    Input,
    /// run -> the artifact / dataset / model version it produced
    Output,
    /// artifact -> the model version that packages it
    PartOf,
    /// source -> derived thing of the same family, with no recorded run
    DerivedFrom,
    /// model version -> the inference service serving it
    DeployedAs,
}

impl EdgeKind {
    pub const ALL: [EdgeKind; 5] = [
        EdgeKind::Input,
        EdgeKind::Output,
        EdgeKind::PartOf,
        EdgeKind::DerivedFrom,
        EdgeKind::DeployedAs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "INPUT",
            Self::Output => "OUTPUT",
            Self::PartOf => "PART_OF",
            Self::DerivedFrom => "DERIVED_FROM",
            Self::DeployedAs => "DEPLOYED_AS",
        }
    }

    /// Whether an edge of this kind may run from a `source` node to a `target` node.
    pub fn allows(self, source: NodeKind, target: NodeKind) -> bool {
        let data = |k: NodeKind| k.is_artifact() || k == NodeKind::ModelVersion;
        match self {
            Self::Input => data(source) && target == NodeKind::ExperimentRun,
            Self::Output => source == NodeKind::ExperimentRun && data(target),
            Self::PartOf => source.is_artifact() && target == NodeKind::ModelVersion,
            Self::DerivedFrom => source == target && data(source),
            Self::DeployedAs => {
                source == NodeKind::ModelVersion && target == NodeKind::InferenceService
            }
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Self::Input => "an artifact, dataset or model version to an experiment run",
            Self::Output => "an experiment run to an artifact, dataset or model version",
            Self::PartOf => "an artifact to a model version",
            Self::DerivedFrom => {
                "an artifact, dataset or model version to another of the same kind"
            }
            Self::DeployedAs => "a model version to an inference service",
        }
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EdgeKind {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| RegistryError::invalid("kind", format!("unknown edge kind {s:?}")))
    }
}

/// An edge to record.
#[derive(Clone, Debug)]
pub struct NewEdge {
    pub source: i64,
    pub target: i64,
    pub kind: EdgeKind,
    pub properties: Option<serde_json::Value>,
    /// The source's kind, when the caller knows it: the edge's change is filed under it,
    /// and an edge without it costs the commit a lookup (`history::fill_kinds`).
    pub source_kind: Option<NodeKind>,
}

/// Checks one edge against the kinds of its ends; `at` names the input in errors.
pub fn check_edge(edge: &NewEdge, source: NodeKind, target: NodeKind, at: &str) -> Result<()> {
    if edge.source == edge.target {
        return Err(RegistryError::invalid(
            at,
            format!("an edge may not join node {} to itself", edge.source),
        ));
    }
    if !edge.kind.allows(source, target) {
        return Err(RegistryError::invalid(
            at,
            format!(
                "a {} edge cannot run from a {} ({}) to a {} ({}): it joins {}",
                edge.kind,
                source,
                edge.source,
                target,
                edge.target,
                edge.kind.rule()
            ),
        ));
    }
    if let Some(props) = &edge.properties
        && !props.is_object()
    {
        return Err(RegistryError::invalid(
            format!("{at}.properties"),
            "must be a JSON object",
        ));
    }
    Ok(())
}

/// Writes edges whose ends are known to be valid; an edge that exists is left as it is.
pub async fn insert_edges<E: Write>(conn: &E, edges: &[NewEdge]) -> Result<()> {
    if edges.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    if conn.backend() == DbBackend::Postgres {
        return insert_edges_postgres(conn, edges, now).await;
    }
    if let Some(session) = conn.session() {
        return insert_edges_each(conn, session, edges, now);
    }
    // source, target, kind, properties, creation time
    for chunk in edges.chunks(rows_per_statement(conn, 5, 2000)) {
        let rows = chunk.iter().map(|e| lineage_edge::ActiveModel {
            source_id: Set(e.source),
            target_id: Set(e.target),
            kind: Set(e.kind.as_str().to_owned()),
            properties: Set(e.properties.as_ref().map(|p| p.to_string())),
            create_time: Set(now),
            ..Default::default()
        });
        let mut insert = lineage_edge::Entity::insert_many(rows);
        let mysql = conn.backend() == DbBackend::MySql;
        if !mysql {
            insert.query().on_conflict(
                OnConflict::columns([
                    lineage_edge::Column::SourceId,
                    lineage_edge::Column::TargetId,
                    lineage_edge::Column::Kind,
                ])
                .do_nothing()
                .to_owned(),
            );
        }
        insert
            .query()
            .returning(Query::returning().columns(lineage_edge::Column::iter()));
        let mut statement = build(conn.backend(), &insert);
        if mysql {
            // MariaDB returns the rows an ON DUPLICATE KEY UPDATE kept too; INSERT IGNORE
            // returns only the new ones (it would also skip an edge to a missing node, but
            // nodes are never deleted and these ends were checked)
            statement.sql = statement.sql.replacen("INSERT ", "INSERT IGNORE ", 1);
        }
        // only the edges new to the store come back: a known edge is no change
        let added: Vec<lineage_edge::Model> = conn.fetch(statement).await?;
        record_added(conn, chunk, &added);
    }
    Ok(())
}

/// Notes the change of each edge of `added`, which `inserted` (in any order) added:
/// under its source's kind where `inserted` gives it.
fn record_added<E: Write>(conn: &E, inserted: &[NewEdge], added: &[lineage_edge::Model]) {
    let kinds: HashMap<i64, NodeKind> = inserted
        .iter()
        .filter_map(|e| Some((e.source, e.source_kind?)))
        .collect();
    for edge in added {
        let kind = kinds.get(&edge.source_id).map(|k| k.as_str());
        conn.record(edge_change(Operation::EdgeAdd, edge, kind));
    }
}

/// `insert_edges` on a direct SQLite session: one single-row insert, prepared once and
/// stepped per edge; an edge the store already has inserts nothing and is no change.
fn insert_edges_each<E: Write>(
    conn: &E,
    session: &crate::db::direct::Session,
    edges: &[NewEdge],
    now: i64,
) -> Result<()> {
    let sql = format!(
        r#"INSERT INTO "lineage_edge" ({columns}) VALUES ({marks})
           ON CONFLICT ("source_id", "target_id", "kind") DO NOTHING"#,
        columns = crate::db::recordset::names("", &EDGE_COLUMNS),
        marks = crate::db::direct::positional_marks(EDGE_COLUMNS.len()),
    );
    let properties: Vec<Option<String>> = edges
        .iter()
        .map(|e| e.properties.as_ref().map(|p| p.to_string()))
        .collect();
    let rows = edges.iter().zip(&properties).map(|(e, properties)| {
        (
            e.source,
            e.target,
            e.kind.as_str(),
            properties.as_deref(),
            now,
        )
    });
    let added = session.insert_each(&sql, rows)?;
    for ((e, properties), id) in edges.iter().zip(properties).zip(added) {
        let Some(id) = id else { continue };
        let edge = lineage_edge::Model {
            id,
            source_id: e.source,
            target_id: e.target,
            kind: e.kind.as_str().to_owned(),
            properties,
            create_time: now,
        };
        let kind = e.source_kind.map(NodeKind::as_str);
        conn.record(edge_change(Operation::EdgeAdd, &edge, kind));
    }
    Ok(())
}

/// The columns an edge is written with, and their PostgreSQL types.
const EDGE_COLUMNS: [(&str, &str); 5] = [
    ("source_id", "bigint"),
    ("target_id", "bigint"),
    ("kind", "text"),
    ("properties", "text"),
    ("create_time", "bigint"),
];

/// `insert_edges` on PostgreSQL: each chunk as column arrays (`db::recordset`).
async fn insert_edges_postgres<E: Write>(conn: &E, edges: &[NewEdge], now: i64) -> Result<()> {
    use crate::db::recordset::{ROWS_PER_STATEMENT, column_arrays, names, unnest};
    let sql = format!(
        r#"INSERT INTO "lineage_edge" ({columns}) SELECT {picked} FROM {rows}
           ON CONFLICT ("source_id", "target_id", "kind") DO NOTHING
           RETURNING "id", {columns}"#,
        columns = names("", &EDGE_COLUMNS),
        picked = names("v", &EDGE_COLUMNS),
        rows = unnest(1, "v", &EDGE_COLUMNS),
    );
    for chunk in edges.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<[sea_orm::Value; 5]> = chunk
            .iter()
            .map(|e| {
                [
                    e.source.into(),
                    e.target.into(),
                    e.kind.as_str().into(),
                    e.properties.as_ref().map(|p| p.to_string()).into(),
                    now.into(),
                ]
            })
            .collect();
        let arrays = column_arrays(&EDGE_COLUMNS, &rows);
        let statement = sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, &sql, arrays);
        // only the edges new to the store come back: a known edge is no change
        let added: Vec<lineage_edge::Model> = conn.fetch(statement).await?;
        record_added(conn, chunk, &added);
    }
    Ok(())
}

/// The change an edge makes, recorded on its source (and found from its target too).
fn edge_change(operation: Operation, edge: &lineage_edge::Model, kind: Option<&str>) -> NewChange {
    let mut fields = serde_json::Map::new();
    fields.insert("edge_id".into(), edge.id.into());
    fields.insert("kind".into(), edge.kind.clone().into());
    fields.insert("source_id".into(), edge.source_id.into());
    fields.insert("target_id".into(), edge.target_id.into());
    if let Some(props) = edge
        .properties
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
    {
        fields.insert("properties".into(), props);
    }
    let (before, after) = match operation {
        Operation::EdgeRemove => (Some(fields), None),
        _ => (None, Some(fields)),
    };
    NewChange {
        operation,
        node_id: edge.source_id,
        node_kind: kind.unwrap_or_default().to_owned(),
        other_node_id: Some(edge.target_id),
        before,
        after,
    }
}

/// Loads the edges matching (source, target, kind) triples, in input order.
async fn find_edges<E: Exec>(conn: &E, edges: &[NewEdge]) -> Result<Vec<lineage_edge::Model>> {
    let sources: Vec<i64> = edges.iter().map(|e| e.source).collect();
    let targets: Vec<i64> = edges.iter().map(|e| e.target).collect();
    let query = lineage_edge::Entity::find()
        .filter(lineage_edge::Column::SourceId.is_in(sources))
        .filter(lineage_edge::Column::TargetId.is_in(targets));
    let rows: Vec<lineage_edge::Model> = all(conn, &query).await?;
    let by_key: HashMap<(i64, i64, &str), &lineage_edge::Model> = rows
        .iter()
        .map(|r| ((r.source_id, r.target_id, r.kind.as_str()), r))
        .collect();
    Ok(edges
        .iter()
        .filter_map(|e| {
            by_key
                .get(&(e.source, e.target, e.kind.as_str()))
                .map(|r| (*r).clone())
        })
        .collect())
}

/// Validates every edge (ends exist, kinds fit), then writes them all in one transaction.
pub async fn add_edges(
    db: &DatabaseConnection,
    actor: &Actor,
    mut edges: Vec<NewEdge>,
) -> Result<Vec<lineage_edge::Model>> {
    transact!(db, actor, |txn| {
        let result = add_edges_in(txn, &mut edges, "edges").await?;
        Ok(result)
    })
}

/// Each edge's `source_kind` is set from the store's read, whatever the caller stated.
pub async fn add_edges_in<E: Write>(
    conn: &E,
    edges: &mut [NewEdge],
    field: &str,
) -> Result<Vec<lineage_edge::Model>> {
    let mut ids: Vec<i64> = edges.iter().flat_map(|e| [e.source, e.target]).collect();
    ids.sort_unstable();
    ids.dedup();
    let kinds: HashMap<i64, NodeKind> = find_nodes(conn, &ids)
        .await?
        .iter()
        .map(|n| Ok((n.id, kind_of(n)?)))
        .collect::<Result<_>>()?;
    for (i, edge) in edges.iter_mut().enumerate() {
        let at = format!("{field}[{i}]");
        let kind = |id: i64, end: &str| {
            kinds
                .get(&id)
                .copied()
                .ok_or_else(|| RegistryError::not_found(format!("{at}.{end}: node {id}")))
        };
        let source = kind(edge.source, "source")?;
        check_edge(edge, source, kind(edge.target, "target")?, &at)?;
        // the changes are filed under the kind just read, without a second lookup at commit
        edge.source_kind = Some(source);
    }
    insert_edges(conn, edges).await?;
    find_edges(conn, edges).await
}

/// Removes edges by id, all or none: an unknown id removes nothing.
pub async fn remove_edges(db: &DatabaseConnection, actor: &Actor, ids: Vec<i64>) -> Result<u64> {
    transact!(db, actor, |txn| {
        let mut wanted = ids.clone();
        wanted.sort_unstable();
        wanted.dedup();
        let found = lineage_edge::Entity::find()
            .filter(lineage_edge::Column::Id.is_in(wanted.clone()))
            .all(txn.conn())
            .await?;
        if found.len() != wanted.len() {
            let missing = wanted
                .iter()
                .find(|id| !found.iter().any(|e| e.id == **id))
                .copied()
                .unwrap_or_default();
            return Err(RegistryError::not_found(format!(
                "ids: lineage edge {missing}"
            )));
        }
        let result = lineage_edge::Entity::delete_many()
            .filter(lineage_edge::Column::Id.is_in(wanted))
            .exec(txn.conn())
            .await?;
        let ends: Vec<i64> = found.iter().map(|e| e.source_id).collect();
        let kinds: HashMap<i64, String> = find_nodes(txn, &ends)
            .await?
            .into_iter()
            .map(|n| (n.id, n.kind))
            .collect();
        for edge in &found {
            let kind = kinds.get(&edge.source_id).map(String::as_str);
            txn.record(edge_change(Operation::EdgeRemove, edge, kind));
        }
        Ok(result.rows_affected)
    })
}

/// The edge a new node implies by where it was created: an artifact under a version is
/// PART_OF it, under a run an OUTPUT of it; a service or serve-model naming a version is
/// that version DEPLOYED_AS the service.
pub fn implied_edges(created: &node::Model) -> Vec<NewEdge> {
    let Ok(kind) = kind_of(created) else {
        return Vec::new();
    };
    let mut edges = Vec::new();
    let edge = |source, source_kind, target, kind| NewEdge {
        source,
        target,
        kind,
        properties: None,
        source_kind: Some(source_kind),
    };
    if kind.is_artifact()
        && let Some(parent) = created.parent_id
    {
        match created.parent_kind.as_deref() {
            Some("MODEL_VERSION") => edges.push(edge(created.id, kind, parent, EdgeKind::PartOf)),
            Some("EXPERIMENT_RUN") => edges.push(edge(
                parent,
                NodeKind::ExperimentRun,
                created.id,
                EdgeKind::Output,
            )),
            _ => {}
        }
    }
    if let Some(version) = created.model_version_id {
        match kind {
            NodeKind::InferenceService => edges.push(edge(
                version,
                NodeKind::ModelVersion,
                created.id,
                EdgeKind::DeployedAs,
            )),
            NodeKind::ServeModel => {
                if let Some(service) = created.parent_id {
                    edges.push(edge(
                        version,
                        NodeKind::ModelVersion,
                        service,
                        EdgeKind::DeployedAs,
                    ))
                }
            }
            _ => {}
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_rules_follow_the_data_flow() {
        use NodeKind::*;
        assert!(EdgeKind::Input.allows(Dataset, ExperimentRun));
        assert!(EdgeKind::Input.allows(ModelVersion, ExperimentRun));
        assert!(!EdgeKind::Input.allows(ExperimentRun, Dataset));
        assert!(EdgeKind::Output.allows(ExperimentRun, ModelVersion));
        assert!(EdgeKind::PartOf.allows(ModelArtifact, ModelVersion));
        assert!(!EdgeKind::PartOf.allows(ModelVersion, ModelArtifact));
        assert!(EdgeKind::DerivedFrom.allows(Dataset, Dataset));
        assert!(!EdgeKind::DerivedFrom.allows(Dataset, ModelVersion));
        assert!(EdgeKind::DeployedAs.allows(ModelVersion, InferenceService));
        assert!(!EdgeKind::DeployedAs.allows(ModelArtifact, InferenceService));
    }
}
