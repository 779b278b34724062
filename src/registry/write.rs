//! Creating and updating nodes: parent checks, uniqueness, revisions, property index.
use entity::{node, node_property};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{OnConflict, Query, ReturningClause};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, IntoActiveModel,
    QueryFilter, QueryTrait, Statement, TryIntoModel, Value,
};
use sea_orm::{IdenStatic, Iterable, ModelTrait};

use super::edges::{EdgeKind, NewEdge, implied_edges, insert_edges};
use super::error::{RegistryError, Result};
use super::fields::NodeFields;
use super::history::{self, Actor, Write, transact};
use super::kind::NodeKind;
use super::props::property_rows;
use super::read::{Served, find_node, kind_of, served, served_version};
use super::time::now_ms;
use crate::db::exec::{Exec, first, rows_per_statement, run};

/// `RETURNING` every node column by name, as sea-orm's own inserts and updates do (sqlx's
/// SQLite driver mis-describes `RETURNING *` of an UPDATE it has cached).
fn all_columns() -> ReturningClause {
    Query::returning().columns(node::Column::iter())
}

/// Creates a node in its own transaction.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    kind: NodeKind,
    fields: NodeFields,
) -> Result<node::Model> {
    transact!(db, actor, |txn| {
        let model = create_in(txn, kind, fields.clone()).await?;
        Ok(model)
    })
}

/// Creates a node inside the caller's transaction.
pub async fn create_in<E: Write>(
    txn: &E,
    kind: NodeKind,
    fields: NodeFields,
) -> Result<node::Model> {
    fields.validate(kind)?;
    let parent = check_parent(txn, kind, fields.parent_id).await?;
    create_checked(txn, kind, fields, parent).await
}

/// Creates a node under `parent`, already read in this transaction: saves reading it again.
pub async fn create_under<E: Write>(
    txn: &E,
    kind: NodeKind,
    mut fields: NodeFields,
    parent: &node::Model,
) -> Result<node::Model> {
    fields.parent_id = Some(parent.id);
    fields.validate(kind)?;
    check_parent_kind(kind, parent)?;
    create_checked(txn, kind, fields, Some(parent.clone())).await
}

/// Creates a node whose fields are valid and whose parent has been checked.
async fn create_checked<E: Write>(
    txn: &E,
    kind: NodeKind,
    mut fields: NodeFields,
    parent: Option<node::Model>,
) -> Result<node::Model> {
    check_references(txn, kind, &fields, parent.as_ref()).await?;
    let name = match fields.name.take() {
        Some(name) if kind == NodeKind::ModelVersion => {
            note_version_name(txn, fields.parent_id.unwrap_or_default(), &name).await?;
            name
        }
        Some(name) => name,
        None if kind == NodeKind::ModelVersion => {
            next_version_name(txn, fields.parent_id.unwrap_or_default()).await?
        }
        // Kubeflow lets these go unnamed; a generated name keeps names unique and non-empty
        None if kind.is_artifact()
            || matches!(kind, NodeKind::ExperimentRun | NodeKind::ServeModel) =>
        {
            uuid::Uuid::new_v4().to_string()
        }
        None => return Err(RegistryError::invalid("name", "is required")),
    };
    let row = new_row(kind, &fields, name, parent.as_ref(), now_ms());
    let mut insert = node::Entity::insert(row);
    insert.query().returning(all_columns());
    let model: node::Model = first(txn, &insert)
        .await?
        .ok_or_else(|| RegistryError::Internal("an insert returned no row".into()))?;
    txn.record(history::created(&model));
    if let Some(props) = &fields.custom_properties {
        write_properties(txn, model.id, props, false).await?;
    }
    let mut edges = implied_edges(&model);
    if kind == NodeKind::InferenceService
        && let Served::LatestOf(_) = served(&model)
        && let Some(version) = served_version(txn, &model).await?
    {
        edges.push(NewEdge {
            source: version.id,
            target: model.id,
            kind: EdgeKind::DeployedAs,
            properties: None,
            source_kind: Some(NodeKind::ModelVersion),
        });
    }
    insert_edges(txn, &edges).await?;
    Ok(model)
}

/// The row a new node of `kind` is inserted as.
fn new_row(
    kind: NodeKind,
    fields: &NodeFields,
    name: String,
    parent: Option<&node::Model>,
    now: i64,
) -> node::ActiveModel {
    let mut row = node::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        name: Set(name),
        namespace: Set(fields.namespace.clone().unwrap_or_default()),
        parent_id: Set(fields.parent_id),
        parent_kind: Set(parent.map(|p| p.kind.clone())),
        scope_id: Set(fields.parent_id.unwrap_or(0)),
        state: Set(kind.default_state().to_owned()),
        custom_properties: Set("{}".to_owned()),
        create_time: Set(now),
        last_update_time: Set(now),
        revision: Set(1),
        ..Default::default()
    };
    if kind == NodeKind::ExperimentRun && fields.status.is_none() {
        row.status = Set(Some("RUNNING".to_owned()));
    }
    if kind == NodeKind::Parameter && fields.parameter_type.is_none() {
        row.parameter_type = Set(Some("string".to_owned()));
    }
    fields.apply(&mut row);
    row
}

/// Rows per multi-row insert: well under every store's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

/// Creates many nodes of `kind`, each under its parent (already read in this
/// transaction), in one statement per [`INSERT_CHUNK`] rows: an OpenLineage event naming
/// thousands of datasets, or a round of events starting new runs. Each is validated as
/// [`create_under`] would; all or none, with the caller's transaction. Only kinds whose
/// creation writes nothing but the node itself (no references, implied edges,
/// properties or generated version names) are created in bulk. The nodes come back in no
/// particular order.
pub async fn create_many_in<E: Write>(
    txn: &E,
    kind: NodeKind,
    many: Vec<(NodeFields, Option<&node::Model>)>,
    taken: OnTaken,
) -> Result<Vec<node::Model>> {
    if !matches!(kind, NodeKind::Dataset | NodeKind::ExperimentRun) {
        return Err(RegistryError::Internal(format!(
            "{}s are not created in bulk",
            kind.label()
        )));
    }
    let now = now_ms();
    let mut rows = Vec::with_capacity(many.len());
    for (mut fields, parent) in many {
        fields.parent_id = parent.map(|p| p.id);
        fields.validate(kind)?;
        match parent {
            Some(parent) => check_parent_kind(kind, parent)?,
            None if kind.parent_rule().1 => {
                return Err(RegistryError::invalid(kind.parent_field(), "is required"));
            }
            None => {}
        }
        if fields.custom_properties.is_some() {
            return Err(RegistryError::Internal(
                "nodes are created in bulk without properties".into(),
            ));
        }
        let name = fields
            .name
            .clone()
            .ok_or_else(|| RegistryError::invalid("name", "is required"))?;
        rows.push(new_row(kind, &fields, name, parent, now));
    }
    let mut created = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        let mut insert = node::Entity::insert_many(chunk);
        if taken == OnTaken::Skip && txn.backend() != DbBackend::MySql {
            insert.query().on_conflict(
                OnConflict::column(node::Column::ExternalId)
                    .do_nothing()
                    .to_owned(),
            );
        }
        insert.query().returning(all_columns());
        let models: Vec<node::Model> = crate::db::exec::all(txn, &insert).await?;
        for model in &models {
            txn.record(history::created(model));
        }
        created.extend(models);
    }
    Ok(created)
}

/// What [`create_many_in`] does with a row whose externalId is taken.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnTaken {
    /// The statement fails, as a single create does ([`RegistryError::AlreadyExists`]).
    Fail,
    /// The row is left out of what is created and returned, so the caller can read the
    /// node that has it: with two servers writing, another transaction may create the
    /// same run at the same moment, and PostgreSQL waits for it to commit rather than
    /// failing the whole statement. MySQL/MariaDB fail as with `Fail` (their `INSERT
    /// IGNORE` would also pass over other errors).
    Skip,
}

/// Updates a node of `kind`; a stale `expected_revision` is a conflict.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    kind: NodeKind,
    id: i64,
    fields: NodeFields,
    expected_revision: Option<i64>,
) -> Result<node::Model> {
    transact!(db, actor, |txn| {
        let model = update_in(txn, kind, id, fields.clone(), expected_revision).await?;
        Ok(model)
    })
}

pub async fn update_in<E: Write>(
    txn: &E,
    kind: NodeKind,
    id: i64,
    fields: NodeFields,
    expected_revision: Option<i64>,
) -> Result<node::Model> {
    fields.validate(kind)?;
    let current = find_node(txn, id)
        .await?
        .filter(|n| n.kind == kind.as_str())
        .ok_or_else(|| RegistryError::not_found(format!("{} {id}", kind.label())))?;
    update_from(txn, kind, &current, fields, expected_revision).await
}

/// Updates a node already read in this transaction (`current`), saving the re-read.
pub async fn update_from<E: Write>(
    txn: &E,
    kind: NodeKind,
    current: &node::Model,
    fields: NodeFields,
    expected_revision: Option<i64>,
) -> Result<node::Model> {
    let id = current.id;
    if let Some(expected) = expected_revision
        && expected != current.revision
    {
        return Err(RegistryError::Conflict(format!(
            "{} {id} is at revision {}, not {expected}: reload it and retry",
            kind.label(),
            current.revision
        )));
    }
    let mut checked = fields.clone();
    if checked.registered_model_id.is_none() {
        // a new version for a service must belong to the service's model
        checked.registered_model_id = current.registered_model_id;
    }
    check_references(txn, kind, &checked, None).await?;
    if kind == NodeKind::ModelVersion
        && let (Some(name), Some(model_id)) = (&fields.name, current.parent_id)
    {
        note_version_name(txn, model_id, name).await?;
    }
    let mut row = node::ActiveModel {
        last_update_time: Set(now_ms().max(current.last_update_time)),
        revision: Set(current.revision + 1),
        ..Default::default()
    };
    fields.apply(&mut row);
    let mut update = node::Entity::update_many()
        .set(row)
        .filter(node::Column::Id.eq(id))
        .filter(node::Column::Revision.eq(current.revision));
    let updated = if txn.backend() == sea_orm::DbBackend::MySql {
        // MariaDB has no UPDATE ... RETURNING: the row is read back in this transaction
        match run(txn, &update).await? {
            0 => None,
            _ => find_node(txn, id).await?,
        }
    } else {
        // RETURNING gives the updated row in the same statement
        QueryTrait::query(&mut update).returning(all_columns());
        first(txn, &update).await?
    };
    // another transaction updated the row between this one's read and its write: the
    // whole transaction runs again (`history::transact!`) and reads it afresh, where an
    // expected revision then conflicts and an update without one applies
    let updated = updated.ok_or_else(|| {
        RegistryError::Contention(format!(
            "{} {id} was changed by another writer: reload it and retry",
            kind.label()
        ))
    })?;
    if let Some(props) = &fields.custom_properties {
        write_properties(txn, id, props, true).await?;
    }
    if let Some(change) = history::updated(current, &updated) {
        txn.record(change);
    }
    if fields.model_version_id.is_some() {
        // a service now serving another version: that version is DEPLOYED_AS it too
        insert_edges(txn, &implied_edges(&updated)).await?;
    }
    Ok(updated)
}

/// Updates of runs written together: each is applied to its node in memory and noted in
/// the change log at once, as [`update_from`] would, and [`Self::write`] then writes them
/// all, one statement per chunk, each row guarded by the revision it was read at. A round
/// of OpenLineage events finishing runs costs one UPDATE, not one per run. Only a run's
/// status, times, facets and parent run are updated this way.
#[derive(Default)]
pub struct RunUpdates {
    /// By node id (so rows are written, and locked, in id order): the revision the node
    /// was read at, and the node as updated since.
    nodes: std::collections::BTreeMap<i64, (i64, node::Model)>,
}

/// The columns [`RunUpdates`] writes, with their PostgreSQL types.
const RUN_WRITES: [(node::Column, &str); 7] = [
    (node::Column::Status, "text"),
    (node::Column::StartTime, "bigint"),
    (node::Column::EndTime, "bigint"),
    (node::Column::Facets, "text"),
    (node::Column::ParentRunId, "bigint"),
    (node::Column::LastUpdateTime, "bigint"),
    (node::Column::Revision, "bigint"),
];

/// The columns of a [`RunUpdates`] row (name, PostgreSQL type): the two that find it
/// (its id, and the revision it was read at), then [`RUN_WRITES`].
fn run_update_columns() -> [(&'static str, &'static str); RUN_WRITES.len() + 2] {
    std::array::from_fn(|i| match i {
        0 => ("id", "bigint"),
        1 => ("read_revision", "bigint"),
        _ => (RUN_WRITES[i - 2].0.as_str(), RUN_WRITES[i - 2].1),
    })
}

/// Whether [`RunUpdates`] writes `column`.
fn run_writes(column: node::Column) -> bool {
    RUN_WRITES
        .iter()
        .any(|(c, _)| c.as_str() == column.as_str())
}

impl RunUpdates {
    /// `current` (a run read or written in this transaction) with `fields` applied, noted
    /// in the change log; written by [`Self::write`].
    pub fn update<E: Write>(
        &mut self,
        txn: &E,
        current: &node::Model,
        fields: NodeFields,
    ) -> Result<node::Model> {
        let kind = NodeKind::ExperimentRun;
        if kind_of(current)? != kind {
            return Err(RegistryError::Internal(format!(
                "node {} is not a run: only runs are updated together",
                current.id
            )));
        }
        fields.validate(kind)?;
        let mut row = current.clone().into_active_model();
        row.last_update_time = Set(now_ms().max(current.last_update_time));
        row.revision = Set(current.revision + 1);
        fields.apply(&mut row);
        let updated = row
            .try_into_model()
            .map_err(|err| RegistryError::Internal(err.to_string()))?;
        let unwritten =
            node::Column::iter().find(|c| !run_writes(*c) && updated.get(*c) != current.get(*c));
        if let Some(column) = unwritten {
            return Err(RegistryError::Internal(format!(
                "{} is not updated together: only a run's status, times, facets and parent are",
                column.as_str()
            )));
        }
        if let Some(change) = history::updated(current, &updated) {
            txn.record(change);
        }
        self.nodes
            .entry(current.id)
            .and_modify(|(_, node)| *node = updated.clone())
            .or_insert_with(|| (current.revision, updated.clone()));
        Ok(updated)
    }

    /// Writes the updates noted so far. A row another writer changed since it was read
    /// is contention: the transaction is to be run again.
    pub async fn write<E: Exec>(&mut self, txn: &E) -> Result<()> {
        let rows: Vec<(i64, (i64, node::Model))> =
            std::mem::take(&mut self.nodes).into_iter().collect();
        let per = match txn.backend() {
            DbBackend::Postgres => crate::db::recordset::ROWS_PER_STATEMENT,
            _ => rows_per_statement(txn, RUN_WRITES.len() + 2, INSERT_CHUNK),
        };
        for chunk in rows.chunks(per) {
            let changed = txn.run(update_runs(txn.backend(), chunk)).await?;
            if changed != chunk.len() as u64 {
                return Err(RegistryError::Contention(
                    "a run was changed by another writer: reload it and retry".into(),
                ));
            }
        }
        Ok(())
    }
}

/// One UPDATE of `rows` (id, the revision read, the run as updated), from a table of
/// them joined on id and revision: on PostgreSQL column arrays (`db::recordset`), on
/// SQLite a `WITH` of `VALUES`, on MySQL/MariaDB a join with a `UNION ALL` of rows.
fn update_runs(backend: DbBackend, rows: &[(i64, (i64, node::Model))]) -> Statement {
    let columns = run_update_columns();
    let rows: Vec<[Value; RUN_WRITES.len() + 2]> = rows
        .iter()
        .map(|(id, (read, run))| {
            std::array::from_fn(|i| match i {
                0 => Value::from(*id),
                1 => Value::from(*read),
                _ => run.get(RUN_WRITES[i - 2].0),
            })
        })
        .collect();
    let written = &columns[2..];
    let joined = r#""node"."id" = "v"."id" AND "node"."revision" = "v"."read_revision""#;
    let set = |target: &str| -> String {
        let set: Vec<String> = written
            .iter()
            .map(|(c, _)| format!(r#"{target}"{c}" = "v"."{c}""#))
            .collect();
        set.join(", ")
    };
    match backend {
        DbBackend::Postgres => {
            use crate::db::recordset::{column_arrays, unnest};
            let sql = format!(
                r#"UPDATE "node" SET {} FROM {} WHERE {joined}"#,
                set(""),
                unnest(1, r#""v""#, &columns)
            );
            Statement::from_sql_and_values(backend, sql, column_arrays(&columns, &rows))
        }
        DbBackend::MySql => {
            let first: Vec<String> = columns
                .iter()
                .map(|(c, _)| format!(r#"? AS "{c}""#))
                .collect();
            let other = vec!["?"; columns.len()].join(", ");
            let mut selects = vec![format!("SELECT {}", first.join(", "))];
            selects.resize(rows.len(), format!("SELECT {other}"));
            let sql = format!(
                r#"UPDATE "node" JOIN ({}) AS "v" ON {joined} SET {}"#,
                selects.join(" UNION ALL "),
                set(r#""node"."#)
            );
            Statement::from_sql_and_values(backend, sql, rows.into_iter().flatten())
        }
        _ => {
            let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
            let sql = format!(
                r#"WITH "v"({}) AS (VALUES {}) UPDATE "node" SET {} FROM "v" WHERE {joined}"#,
                crate::db::recordset::names("", &columns),
                vec![tuple; rows.len()].join(", "),
                set("")
            );
            Statement::from_sql_and_values(backend, sql, rows.into_iter().flatten())
        }
    }
}

async fn write_properties<E: Exec>(
    txn: &E,
    id: i64,
    props: &super::props::Props,
    replace: bool,
) -> Result<()> {
    if replace {
        let delete =
            node_property::Entity::delete_many().filter(node_property::Column::NodeId.eq(id));
        run(txn, &delete).await?;
    }
    let rows = property_rows(id, props);
    if !rows.is_empty() {
        run(txn, &node_property::Entity::insert_many(rows)).await?;
    }
    Ok(())
}

/// Loads the parent and checks that it may parent `kind`.
async fn check_parent<E: Exec>(
    txn: &E,
    kind: NodeKind,
    parent_id: Option<i64>,
) -> Result<Option<node::Model>> {
    let (allowed, required) = kind.parent_rule();
    let field = kind.parent_field();
    let Some(pid) = parent_id else {
        return if required {
            Err(RegistryError::invalid(field, "is required"))
        } else {
            Ok(None)
        };
    };
    if allowed.is_empty() {
        return Err(RegistryError::invalid(
            field,
            format!("a {} has no parent", kind.label()),
        ));
    }
    let parent = find_node(txn, pid)
        .await?
        .ok_or_else(|| RegistryError::not_found(format!("{field}: node {pid}")))?;
    check_parent_kind(kind, &parent)?;
    Ok(Some(parent))
}

/// Checks that `parent` may parent a node of `kind`.
fn check_parent_kind(kind: NodeKind, parent: &node::Model) -> Result<()> {
    let (allowed, _) = kind.parent_rule();
    let field = kind.parent_field();
    let pid = parent.id;
    let parent_kind = kind_of(parent)?;
    if !allowed.contains(&parent_kind) {
        let names: Vec<_> = allowed.iter().map(|k| k.label()).collect();
        return Err(RegistryError::invalid(
            field,
            format!(
                "{pid} is a {}, but a {}'s parent must be a {}",
                parent_kind.label(),
                kind.label(),
                names.join(" or ")
            ),
        ));
    }
    Ok(())
}

/// Checks the model and version that inference services and serve-models point at.
async fn check_references<E: Exec>(
    txn: &E,
    kind: NodeKind,
    fields: &NodeFields,
    parent: Option<&node::Model>,
) -> Result<()> {
    let creating = parent.is_some();
    if kind == NodeKind::InferenceService {
        if creating && fields.registered_model_id.is_none() {
            return Err(RegistryError::invalid("registeredModelId", "is required"));
        }
        if let Some(id) = fields.registered_model_id {
            expect_kind(txn, id, NodeKind::RegisteredModel, "registeredModelId").await?;
        }
    }
    if kind == NodeKind::ServeModel && creating && fields.model_version_id.is_none() {
        return Err(RegistryError::invalid("modelVersionId", "is required"));
    }
    if let Some(id) = fields.model_version_id {
        let version = expect_kind(txn, id, NodeKind::ModelVersion, "modelVersionId").await?;
        if let Some(model_id) = fields.registered_model_id
            && version.parent_id != Some(model_id)
        {
            return Err(RegistryError::invalid(
                "modelVersionId",
                format!("model version {id} does not belong to registered model {model_id}"),
            ));
        }
    }
    Ok(())
}

pub(crate) async fn expect_kind<E: Exec>(
    txn: &E,
    id: i64,
    kind: NodeKind,
    field: &str,
) -> Result<node::Model> {
    let node = find_node(txn, id)
        .await?
        .ok_or_else(|| RegistryError::not_found(format!("{field}: node {id}")))?;
    if node.kind != kind.as_str() {
        return Err(RegistryError::invalid(
            field,
            format!(
                "{id} is a {}, not a {}",
                kind_of(&node)?.label(),
                kind.label()
            ),
        ));
    }
    Ok(node)
}

/// The next number of `model_id`'s versions ("1", "2", ...), from its counter row, bumped
/// in the caller's transaction: one statement however many versions the model has, and
/// on PostgreSQL and MySQL/MariaDB the row's lock orders writers numbering the same model
/// at once (SQLite's writers take turns already).
async fn next_version_name<E: Exec>(txn: &E, model_id: i64) -> Result<String> {
    let sql = match txn.backend() {
        sea_orm::DbBackend::MySql => {
            r#"INSERT INTO "version_counter" ("model_id", "last_number") VALUES (P1, 1)
            ON DUPLICATE KEY UPDATE "last_number" = "last_number" + 1
            RETURNING "last_number""#
        }
        _ => {
            r#"INSERT INTO "version_counter" ("model_id", "last_number") VALUES (P1, 1)
            ON CONFLICT ("model_id") DO UPDATE SET "last_number" = "version_counter"."last_number" + 1
            RETURNING "last_number""#
        }
    };
    let rows: Vec<LastNumber> = txn
        .fetch(counter_statement(txn, sql, vec![model_id.into()]))
        .await?;
    let number = rows
        .first()
        .ok_or_else(|| RegistryError::Internal("the version counter returned no row".into()))?
        .last_number;
    Ok(number.to_string())
}

/// A version named with a number moves its model's counter past it, so numbering never
/// hands that number out again.
async fn note_version_name<E: Exec>(txn: &E, model_id: i64, name: &str) -> Result<()> {
    match version_number(name) {
        Some(number) => note_version_number(txn, model_id, number).await,
        None => Ok(()),
    }
}

/// Moves `model_id`'s version counter to `number` unless it is already past it.
pub(super) async fn note_version_number<E: Exec>(
    txn: &E,
    model_id: i64,
    number: i64,
) -> Result<()> {
    let sql = match txn.backend() {
        sea_orm::DbBackend::MySql => {
            r#"INSERT INTO "version_counter" ("model_id", "last_number") VALUES (P1, P2)
            ON DUPLICATE KEY UPDATE "last_number" = GREATEST("last_number", VALUES("last_number"))"#
        }
        _ => {
            r#"INSERT INTO "version_counter" ("model_id", "last_number") VALUES (P1, P2)
            ON CONFLICT ("model_id") DO UPDATE SET "last_number" = CASE
                WHEN "excluded"."last_number" > "version_counter"."last_number"
                THEN "excluded"."last_number" ELSE "version_counter"."last_number" END"#
        }
    };
    let values = vec![model_id.into(), number.into()];
    txn.run(counter_statement(txn, sql, values)).await?;
    Ok(())
}

/// A name of 1-18 digits is a version number (19 could overflow).
pub(super) fn version_number(name: &str) -> Option<i64> {
    if name.is_empty() || name.len() > 18 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

#[derive(FromQueryResult, serde::Deserialize)]
struct LastNumber {
    last_number: i64,
}

/// `sql` with its `P<n>` placeholders in the backend's spelling.
fn counter_statement<E: Exec>(txn: &E, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let backend = txn.backend();
    let sql = sql
        .replace("P1", &crate::db::param(backend, 1))
        .replace("P2", &crate::db::param(backend, 2));
    Statement::from_sql_and_values(backend, sql, values)
}
