//! The release workflow: aliases naming one version of a model (`champion`,
//! `production`), protected aliases that move only through approved release requests,
//! and the four-eyes rules on those requests. Every step is a change in the log.
use entity::{change, model_alias, node, release_decision, release_request};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use serde_json::{Map, Value};

use super::error::{RegistryError, Result};
use super::history::{Actor, NewChange, Operation, Write, WriteTx, transact};
use super::kind::NodeKind;
use super::read::find_node;
use super::time::now_ms;
use crate::db::exec::{Exec, all, first, run};

/// Release requests listed at once, at most.
pub const MAX_LISTED: u64 = 1000;

/// 1-63 characters: a lowercase letter, then lowercase letters, digits, `_` and `-`.
pub fn validate_alias(alias: &str) -> Result<()> {
    let mut chars = alias.chars();
    let ok = alias.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(RegistryError::invalid(
            "alias",
            format!("{alias:?} is not an alias: 1-63 characters, [a-z][a-z0-9_-]*"),
        ))
    }
}

/// The states of a release request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Approved,
    Rejected,
    Cancelled,
}

impl State {
    pub const ALL: [State; 4] = [
        State::Pending,
        State::Approved,
        State::Rejected,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| RegistryError::Internal(format!("stored request state {text:?}")))
    }
}

/// The model, its row locked on PostgreSQL and MySQL/MariaDB until the transaction ends: alias changes of
/// one model take turns, so each records the alias as the one before it left it.
async fn model_of<E: Write>(txn: &E, model_id: i64) -> Result<node::Model> {
    let mut query = node::Entity::find_by_id(model_id);
    if txn.backend() != sea_orm::DbBackend::Sqlite {
        query = query.lock_exclusive();
    }
    let found: Option<node::Model> = first(txn, &query).await?;
    found
        .filter(|n| n.kind == NodeKind::RegisteredModel.as_str())
        .ok_or_else(|| RegistryError::not_found(format!("registered model {model_id}")))
}

async fn version_of<E: Write>(txn: &E, version_id: i64, field: &str) -> Result<node::Model> {
    find_node(txn, version_id)
        .await?
        .filter(|n| n.kind == NodeKind::ModelVersion.as_str())
        .ok_or_else(|| RegistryError::not_found(format!("{field}: model version {version_id}")))
}

async fn alias_row<E: Write>(
    txn: &E,
    model_id: i64,
    alias: &str,
) -> Result<Option<model_alias::Model>> {
    let query = model_alias::Entity::find()
        .filter(model_alias::Column::ModelId.eq(model_id))
        .filter(model_alias::Column::Alias.eq(alias));
    Ok(first(txn, &query).await?)
}

/// Points `alias` of `model` at `version` (in the caller's transaction) and records it.
async fn move_alias<E: Write>(
    txn: &E,
    model: &node::Model,
    alias: &str,
    version: &node::Model,
    by: &str,
) -> Result<()> {
    let before = alias_row(txn, model.id, alias).await?;
    let row = model_alias::ActiveModel {
        model_id: Set(model.id),
        alias: Set(alias.to_owned()),
        version_id: Set(Some(version.id)),
        set_by: Set(by.to_owned()),
        set_at: Set(now_ms()),
        protected: Set(false),
        required_approvals: Set(1),
    };
    let upsert = model_alias::Entity::insert(row).on_conflict(
        OnConflict::columns([model_alias::Column::ModelId, model_alias::Column::Alias])
            .update_columns([
                model_alias::Column::VersionId,
                model_alias::Column::SetBy,
                model_alias::Column::SetAt,
            ])
            .to_owned(),
    );
    run(txn, &upsert).await?;
    txn.record(alias_change(
        Operation::AliasSet,
        model,
        alias,
        before.and_then(|b| b.version_id),
        Some(version.id),
    ));
    Ok(())
}

fn alias_change(
    operation: Operation,
    model: &node::Model,
    alias: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> NewChange {
    let fields = |version: Option<i64>| {
        let mut m = Map::new();
        m.insert("alias".into(), alias.into());
        m.insert(
            "version_id".into(),
            version.map_or(Value::Null, |v| v.to_string().into()),
        );
        m
    };
    NewChange {
        operation,
        node_id: model.id,
        node_kind: model.kind.clone(),
        other_node_id: to.or(from),
        before: Some(fields(from)),
        after: Some(fields(to)),
    }
}

/// `setModelAlias`: points an alias at a version of the same model; one statement, so
/// two moves at once both land, in some order, and the log shows both. A protected
/// alias moves only through a release request, whoever asks.
pub async fn set_alias(
    db: &DatabaseConnection,
    actor: &Actor,
    model_id: i64,
    alias: &str,
    version_id: i64,
) -> Result<model_alias::Model> {
    validate_alias(alias)?;
    transact!(db, actor, |txn| {
        let model = model_of(txn, model_id).await?;
        let version = version_of(txn, version_id, "versionId").await?;
        if version.parent_id != Some(model.id) {
            return Err(RegistryError::invalid(
                "versionId",
                format!(
                    "model version {version_id} is not a version of registered model {model_id}"
                ),
            ));
        }
        if alias_row(txn, model.id, alias)
            .await?
            .is_some_and(|row| row.protected)
        {
            return Err(RegistryError::Forbidden(format!(
                "alias {alias:?} is protected: it moves only through an approved release request \
                 (requestRelease)"
            )));
        }
        move_alias(txn, &model, alias, &version, &actor.subject).await?;
        let row = alias_row(txn, model.id, alias).await?;
        row.ok_or_else(|| RegistryError::Internal("an alias just set is missing".into()))
    })
}

/// `removeModelAlias`: whether the alias named a version. A protected alias is not
/// removed this way.
pub async fn remove_alias(
    db: &DatabaseConnection,
    actor: &Actor,
    model_id: i64,
    alias: &str,
) -> Result<bool> {
    validate_alias(alias)?;
    transact!(db, actor, |txn| {
        let model = model_of(txn, model_id).await?;
        let Some(row) = alias_row(txn, model.id, alias).await? else {
            return Ok(false);
        };
        if row.protected {
            return Err(RegistryError::Forbidden(format!(
                "alias {alias:?} is protected: it is not removed by hand"
            )));
        }
        let delete = model_alias::Entity::delete_many()
            .filter(model_alias::Column::ModelId.eq(model.id))
            .filter(model_alias::Column::Alias.eq(alias));
        run(txn, &delete).await?;
        txn.record(alias_change(
            Operation::AliasRemove,
            &model,
            alias,
            row.version_id,
            None,
        ));
        Ok(true)
    })
}

/// `protectAlias` (ADMIN): from now on the alias moves only through release requests
/// approved by `required_approvals` distinct people.
pub async fn protect_alias(
    db: &DatabaseConnection,
    actor: &Actor,
    model_id: i64,
    alias: &str,
    required_approvals: i32,
) -> Result<model_alias::Model> {
    validate_alias(alias)?;
    if !(1..=10).contains(&required_approvals) {
        return Err(RegistryError::invalid(
            "requiredApprovals",
            "must be between 1 and 10",
        ));
    }
    transact!(db, actor, |txn| {
        let model = model_of(txn, model_id).await?;
        let before = alias_row(txn, model.id, alias).await?;
        let row = model_alias::ActiveModel {
            model_id: Set(model.id),
            alias: Set(alias.to_owned()),
            version_id: Set(before.as_ref().and_then(|b| b.version_id)),
            set_by: Set(before
                .as_ref()
                .map_or_else(|| actor.subject.clone(), |b| b.set_by.clone())),
            set_at: Set(before.as_ref().map_or_else(now_ms, |b| b.set_at)),
            protected: Set(true),
            required_approvals: Set(required_approvals),
        };
        let upsert = model_alias::Entity::insert(row).on_conflict(
            OnConflict::columns([model_alias::Column::ModelId, model_alias::Column::Alias])
                .update_columns([
                    model_alias::Column::Protected,
                    model_alias::Column::RequiredApprovals,
                ])
                .to_owned(),
        );
        run(txn, &upsert).await?;
        let mut after = Map::new();
        after.insert("alias".into(), alias.into());
        after.insert("protected".into(), true.into());
        after.insert("required_approvals".into(), required_approvals.into());
        txn.record(NewChange {
            operation: Operation::Update,
            node_id: model.id,
            node_kind: model.kind.clone(),
            other_node_id: None,
            before: None,
            after: Some(after),
        });
        let row = alias_row(txn, model.id, alias).await?;
        row.ok_or_else(|| RegistryError::Internal("a protected alias is missing".into()))
    })
}

/// The aliases of many models at once, and of many versions (for `ModelVersion.aliases`).
pub async fn aliases_of(
    db: &DatabaseConnection,
    model_ids: &[i64],
    version_ids: &[i64],
) -> Result<Vec<model_alias::Model>> {
    let mut any = Condition::any();
    if !model_ids.is_empty() {
        any = any.add(model_alias::Column::ModelId.is_in(model_ids.iter().copied()));
    }
    if !version_ids.is_empty() {
        any = any.add(model_alias::Column::VersionId.is_in(version_ids.iter().copied()));
    }
    if model_ids.is_empty() && version_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(model_alias::Entity::find()
        .filter(any)
        .filter(model_alias::Column::VersionId.is_not_null())
        .order_by_asc(model_alias::Column::Alias)
        .all(db)
        .await?)
}

/// One alias as it stood at a time: its version, who set it and when.
#[derive(Clone, Debug, PartialEq)]
pub struct PastAlias {
    pub alias: String,
    pub version_id: i64,
    pub set_by: String,
    pub set_at: i64,
}

/// A model's aliases as they were at `as_of` (ms), replayed from the change log:
/// "which version was `production` at time T".
pub async fn aliases_as_of(
    db: &DatabaseConnection,
    model_id: i64,
    as_of: i64,
) -> Result<Vec<PastAlias>> {
    let moves = change::Entity::find()
        .filter(change::Column::NodeId.eq(model_id))
        .filter(change::Column::At.lte(as_of))
        .filter(change::Column::Operation.is_in([
            Operation::AliasSet.as_str(),
            Operation::AliasRemove.as_str(),
        ]))
        .order_by_asc(change::Column::Sequence)
        .limit(100_000)
        .all(db)
        .await?;
    let mut current: std::collections::BTreeMap<String, PastAlias> = Default::default();
    for c in moves {
        let after: Map<String, Value> = c
            .after
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let Some(alias) = after.get("alias").and_then(Value::as_str) else {
            continue;
        };
        let version = after
            .get("version_id")
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<i64>().ok());
        match version {
            Some(version_id) => {
                current.insert(
                    alias.to_owned(),
                    PastAlias {
                        alias: alias.to_owned(),
                        version_id,
                        set_by: c.actor.clone(),
                        set_at: c.at,
                    },
                );
            }
            None => {
                current.remove(alias);
            }
        }
    }
    Ok(current.into_values().collect())
}

/// The version `alias` names in `model_id`, if any.
pub async fn version_by_alias(
    db: &DatabaseConnection,
    model_id: i64,
    alias: &str,
) -> Result<Option<node::Model>> {
    let row = model_alias::Entity::find()
        .filter(model_alias::Column::ModelId.eq(model_id))
        .filter(model_alias::Column::Alias.eq(alias))
        .one(db)
        .await?;
    match row.and_then(|r| r.version_id) {
        Some(id) => find_node(db, id).await,
        None => Ok(None),
    }
}

fn archived(version: &node::Model) -> bool {
    version.state == "ARCHIVED"
}

/// `requestRelease` (EDITOR): asks for `alias` to point at `version_id`.
pub async fn request_release(
    db: &DatabaseConnection,
    actor: &Actor,
    version_id: i64,
    alias: &str,
    note: Option<String>,
) -> Result<release_request::Model> {
    validate_alias(alias)?;
    super::fields::check_len("note", &note, 64 * 1024)?;
    transact!(db, actor, |txn| {
        let version = version_of(txn, version_id, "versionId").await?;
        if archived(&version) {
            return Err(RegistryError::invalid(
                "versionId",
                format!("model version {version_id} is ARCHIVED: it can't be released"),
            ));
        }
        let model_id = version
            .parent_id
            .ok_or_else(|| RegistryError::Internal("a version without a model".into()))?;
        let model = model_of(txn, model_id).await?;
        let row = release_request::ActiveModel {
            model_id: Set(model.id),
            version_id: Set(version.id),
            alias: Set(alias.to_owned()),
            state: Set(State::Pending.as_str().to_owned()),
            note: Set(note.clone()),
            requested_by: Set(actor.subject.clone()),
            requested_at: Set(now_ms()),
            decided_at: Set(None),
            ..Default::default()
        };
        let mut insert = release_request::Entity::insert(row);
        insert.query().returning_all();
        let request: release_request::Model = first(txn, &insert)
            .await?
            .ok_or_else(|| RegistryError::Internal("an insert returned no row".into()))?;
        txn.record(request_change(
            Operation::ReleaseRequest,
            &model,
            &request,
            note.clone(),
        ));
        Ok(request)
    })
}

fn request_change(
    operation: Operation,
    model: &node::Model,
    request: &release_request::Model,
    note: Option<String>,
) -> NewChange {
    let mut after = Map::new();
    after.insert("release_request_id".into(), request.id.to_string().into());
    after.insert("alias".into(), request.alias.clone().into());
    after.insert("version_id".into(), request.version_id.to_string().into());
    after.insert("state".into(), request.state.clone().into());
    if let Some(note) = note {
        after.insert("note".into(), note.into());
    }
    NewChange {
        operation,
        node_id: model.id,
        node_kind: model.kind.clone(),
        other_node_id: Some(request.version_id),
        before: None,
        after: Some(after),
    }
}

/// A pending request, locked for this decision (PostgreSQL, MySQL/MariaDB: other decisions on it wait).
async fn pending(txn: &WriteTx, id: i64) -> Result<release_request::Model> {
    let mut query = release_request::Entity::find_by_id(id);
    if txn.backend() != sea_orm::DbBackend::Sqlite {
        query = query.lock_exclusive();
    }
    let request: release_request::Model = first(txn, &query)
        .await?
        .ok_or_else(|| RegistryError::not_found(format!("release request {id}")))?;
    if request.state != State::Pending.as_str() {
        return Err(RegistryError::Conflict(format!(
            "release request {id} is {}, not PENDING",
            request.state
        )));
    }
    Ok(request)
}

/// Who decided what on a request, in order.
pub async fn decisions(
    db: &DatabaseConnection,
    request_ids: &[i64],
) -> Result<Vec<release_decision::Model>> {
    if request_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(release_decision::Entity::find()
        .filter(release_decision::Column::RequestId.is_in(request_ids.iter().copied()))
        .order_by_asc(release_decision::Column::At)
        .all(db)
        .await?)
}

/// `approveRelease` / `rejectRelease` (APPROVER, never the requester, once per person).
/// The approval that reaches the alias's required count moves the alias, in the same
/// transaction.
pub async fn decide(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    approve: bool,
    note: Option<String>,
) -> Result<release_request::Model> {
    super::fields::check_len("note", &note, 64 * 1024)?;
    transact!(db, actor, |txn| {
        let mut request = pending(txn, id).await?;
        if request.requested_by == actor.subject {
            return Err(RegistryError::Forbidden(format!(
                "release request {id} is yours: another person must decide it"
            )));
        }
        let earlier: Vec<release_decision::Model> = all(
            txn,
            &release_decision::Entity::find().filter(release_decision::Column::RequestId.eq(id)),
        )
        .await?;
        if earlier.iter().any(|d| d.decided_by == actor.subject) {
            return Err(RegistryError::Conflict(format!(
                "{} has already decided release request {id}",
                actor.subject
            )));
        }
        let version = version_of(txn, request.version_id, "versionId").await?;
        if approve && archived(&version) {
            return Err(RegistryError::invalid(
                "id",
                format!(
                    "model version {} is ARCHIVED: it can't be released",
                    version.id
                ),
            ));
        }
        let model = model_of(txn, request.model_id).await?;
        let now = now_ms();
        let decision = release_decision::ActiveModel {
            request_id: Set(id),
            decided_by: Set(actor.subject.clone()),
            at: Set(now),
            approve: Set(approve),
            note: Set(note.clone()),
        };
        run(txn, &release_decision::Entity::insert(decision)).await?;
        let approvals = earlier.iter().filter(|d| d.approve).count() + usize::from(approve);
        let required = alias_row(txn, model.id, &request.alias)
            .await?
            .map_or(1, |row| row.required_approvals.max(1)) as usize;
        let new_state = if !approve {
            Some(State::Rejected)
        } else if approvals >= required {
            Some(State::Approved)
        } else {
            None
        };
        if let Some(state) = new_state {
            let update = release_request::Entity::update_many()
                .col_expr(release_request::Column::State, state.as_str().into())
                .col_expr(release_request::Column::DecidedAt, now.into())
                .filter(release_request::Column::Id.eq(id));
            run(txn, &update).await?;
            request.state = state.as_str().to_owned();
            request.decided_at = Some(now);
        }
        let operation = if approve {
            Operation::ReleaseApprove
        } else {
            Operation::ReleaseReject
        };
        txn.record(request_change(operation, &model, &request, note.clone()));
        if new_state == Some(State::Approved) {
            // (a protected alias stays protected: the upsert moves only the version)
            move_alias(txn, &model, &request.alias, &version, &actor.subject).await?;
        }
        Ok(request)
    })
}

/// `cancelRelease`: only the requester, only while pending.
pub async fn cancel(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Result<release_request::Model> {
    transact!(db, actor, |txn| {
        let mut request = pending(txn, id).await?;
        if request.requested_by != actor.subject {
            return Err(RegistryError::Forbidden(format!(
                "only {} may cancel release request {id}",
                request.requested_by
            )));
        }
        let model = model_of(txn, request.model_id).await?;
        let now = now_ms();
        let update = release_request::Entity::update_many()
            .col_expr(
                release_request::Column::State,
                State::Cancelled.as_str().into(),
            )
            .col_expr(release_request::Column::DecidedAt, now.into())
            .filter(release_request::Column::Id.eq(id));
        run(txn, &update).await?;
        request.state = State::Cancelled.as_str().to_owned();
        request.decided_at = Some(now);
        txn.record(request_change(
            Operation::ReleaseCancel,
            &model,
            &request,
            None,
        ));
        Ok(request)
    })
}

/// Release requests, newest first, below the id `before` when given.
pub async fn requests(
    db: &DatabaseConnection,
    state: Option<State>,
    model_id: Option<i64>,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<release_request::Model>> {
    let mut query = release_request::Entity::find();
    if let Some(state) = state {
        query = query.filter(release_request::Column::State.eq(state.as_str()));
    }
    if let Some(model) = model_id {
        query = query.filter(release_request::Column::ModelId.eq(model));
    }
    if let Some(before) = before {
        query = query.filter(release_request::Column::Id.lt(before));
    }
    Ok(query
        .order_by_desc(release_request::Column::Id)
        .limit(limit.min(MAX_LISTED))
        .all(db)
        .await?)
}

/// One release request by id.
pub async fn request(db: &DatabaseConnection, id: i64) -> Result<Option<release_request::Model>> {
    Ok(release_request::Entity::find_by_id(id).one(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_the_rule() {
        for ok in ["champion", "prod-2", "a", "x_y", &"a".repeat(63)] {
            assert!(validate_alias(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Champion", "1st", "-a", "a b", "é", &"a".repeat(64)] {
            assert!(validate_alias(bad).is_err(), "{bad}");
        }
    }
}
