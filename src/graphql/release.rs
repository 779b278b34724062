//! The release workflow over GraphQL: aliases, protected aliases, release requests and
//! their decisions.
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{model_alias, node, release_decision, release_request};

use super::ContextExt;
use super::access::RoleGuard;
use super::errors::GqlResult;
use super::nodes::ModelVersion;
use super::types::{datetime, millis, opt_id, parse_id, to_id};
use crate::auth;
use crate::registry::release::{self as rel, PastAlias, State};
use crate::registry::{NodeKind, RegistryError, read};

/// Where a release request stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "State")]
pub enum ReleaseState {
    Pending,
    Approved,
    Rejected,
    Cancelled,
}

/// A name for one version of a model.
pub struct ModelAlias {
    alias: String,
    /// None while a protected alias waits for its first release.
    version_id: Option<i64>,
    set_by: String,
    set_at: i64,
    protected: bool,
    required_approvals: i32,
}

impl ModelAlias {
    fn of(row: model_alias::Model) -> Option<Self> {
        Some(Self {
            version_id: row.version_id,
            alias: row.alias,
            set_by: row.set_by,
            set_at: row.set_at,
            protected: row.protected,
            required_approvals: row.required_approvals,
        })
    }
}

/// A name for one version of a model (`champion`, `production`): 1-63 characters
/// `[a-z][a-z0-9_-]*`, unique within the model. A protected alias moves only through an
/// approved release request.
#[Object]
impl ModelAlias {
    async fn alias(&self) -> &str {
        &self.alias
    }
    /// The version it names (null for a protected alias not released yet).
    async fn version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ModelVersion>> {
        let Some(id) = self.version_id else {
            return Ok(None);
        };
        Ok(ctx.loaders().node(id).await.gql()?.map(ModelVersion::new))
    }
    async fn version_id(&self) -> Option<ID> {
        self.version_id.map(to_id)
    }
    /// Who last moved it.
    async fn set_by(&self) -> &str {
        &self.set_by
    }
    async fn set_at(&self) -> DateTime<Utc> {
        datetime(self.set_at)
    }
    /// Moves only through an approved release request.
    async fn protected(&self) -> bool {
        self.protected
    }
    /// Distinct approvals a release request for it needs.
    async fn required_approvals(&self) -> i32 {
        self.required_approvals
    }
}

/// One person's decision on a release request.
pub struct ReleaseDecision(release_decision::Model);

/// One person's decision on a release request: an approval or a rejection, once per
/// person, never by the requester.
#[Object]
impl ReleaseDecision {
    async fn by(&self) -> &str {
        &self.0.decided_by
    }
    async fn at(&self) -> DateTime<Utc> {
        datetime(self.0.at)
    }
    async fn approve(&self) -> bool {
        self.0.approve
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}

/// A request to point an alias at a version.
pub struct ReleaseRequest(pub release_request::Model);

/// A request to point an alias at a version. It stays PENDING until the approval that
/// reaches the alias's `requiredApprovals` distinct approvers moves the alias (APPROVED),
/// a rejection (REJECTED) or its requester's cancel (CANCELLED).
#[Object]
impl ReleaseRequest {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ModelVersion>> {
        Ok(ctx
            .loaders()
            .node(self.0.version_id)
            .await
            .gql()?
            .map(ModelVersion::new))
    }
    async fn version_id(&self) -> ID {
        to_id(self.0.version_id)
    }
    async fn registered_model_id(&self) -> ID {
        to_id(self.0.model_id)
    }
    async fn alias(&self) -> &str {
        &self.0.alias
    }
    async fn state(&self) -> async_graphql::Result<ReleaseState> {
        State::parse(&self.0.state).map(ReleaseState::from).gql()
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn requested_by(&self) -> &str {
        &self.0.requested_by
    }
    async fn requested_at(&self) -> DateTime<Utc> {
        datetime(self.0.requested_at)
    }
    /// When it was approved, rejected or cancelled.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at.map(datetime)
    }
    /// The decisions so far, oldest first.
    async fn decisions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ReleaseDecision>> {
        let rows = ctx.loaders().decisions(self.0.id).await.gql()?;
        Ok(rows.iter().cloned().map(ReleaseDecision).collect())
    }
}

/// `RegisteredModel.aliases(asOf:)`.
pub async fn model_aliases(
    ctx: &Context<'_>,
    model: &node::Model,
    as_of: Option<DateTime<Utc>>,
) -> async_graphql::Result<Vec<ModelAlias>> {
    let db = &ctx.state().db;
    match as_of {
        None => {
            let rows = ctx.loaders().aliases_of_model(model.id).await.gql()?;
            Ok(rows.iter().cloned().filter_map(ModelAlias::of).collect())
        }
        Some(t) => {
            let protected: std::collections::HashMap<String, (bool, i32)> =
                rel::aliases_of(db, &[model.id], &[])
                    .await
                    .gql()?
                    .into_iter()
                    .map(|r| (r.alias, (r.protected, r.required_approvals)))
                    .collect();
            let past = rel::aliases_as_of(db, model.id, millis(&t)).await.gql()?;
            Ok(past
                .into_iter()
                .map(|p: PastAlias| {
                    let (protected, required) =
                        protected.get(&p.alias).copied().unwrap_or((false, 1));
                    ModelAlias {
                        alias: p.alias,
                        version_id: Some(p.version_id),
                        set_by: p.set_by,
                        set_at: p.set_at,
                        protected,
                        required_approvals: required,
                    }
                })
                .collect())
        }
    }
}

/// `ModelVersion.aliases`: the aliases naming this version.
pub async fn version_aliases(
    ctx: &Context<'_>,
    version: i64,
) -> async_graphql::Result<Vec<String>> {
    let rows = ctx.loaders().aliases_of_version(version).await.gql()?;
    Ok(rows.iter().map(|r| r.alias.clone()).collect())
}

/// A version of `model` by alias or by name (exactly one of them).
pub async fn model_version(
    ctx: &Context<'_>,
    model: i64,
    alias: Option<String>,
    name: Option<String>,
) -> async_graphql::Result<Option<node::Model>> {
    let db = &ctx.state().db;
    let found = match (alias, name) {
        (Some(alias), None) => rel::version_by_alias(db, model, &alias).await.gql()?,
        (None, Some(name)) => read::find_by_name(db, NodeKind::ModelVersion, model, "", &name)
            .await
            .gql()?,
        _ => {
            return Err(RegistryError::invalid(
                "alias",
                "pass alias or name, not both",
            ))
            .gql();
        }
    };
    Ok(found.filter(|n| n.kind == NodeKind::ModelVersion.as_str()))
}

/// Which release requests to list.
#[derive(InputObject, Default)]
pub struct ReleaseRequestFilter {
    pub state: Option<ReleaseState>,
    pub model_id: Option<ID>,
}

#[derive(Default)]
pub struct ReleaseQuery;

#[Object]
impl ReleaseQuery {
    /// Release requests, newest first.
    #[graphql(
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, None)"
    )]
    async fn release_requests(
        &self,
        ctx: &Context<'_>,
        filter: Option<ReleaseRequestFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ReleaseRequest>> {
        let filter = filter.unwrap_or_default();
        let model = opt_id(&filter.model_id, "filter.modelId").gql()?;
        let (first, before) = super::pagination::descending_window(ctx, first, after)?;
        let state = filter.state.map(State::from);
        let rows = rel::requests(&ctx.state().db, state, model, before, first + 1)
            .await
            .gql()?;
        Ok(super::pagination::descending_page(
            rows,
            first,
            before,
            |r| r.id,
            ReleaseRequest,
        ))
    }

    /// One release request.
    async fn release_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ReleaseRequest>> {
        let id = parse_id(&id, "id").gql()?;
        Ok(rel::request(&ctx.state().db, id)
            .await
            .gql()?
            .map(ReleaseRequest))
    }
}

#[derive(Default)]
pub struct ReleaseMutation;

#[Object]
impl ReleaseMutation {
    /// Points an alias (`[a-z][a-z0-9_-]*`, 1-63 characters) at a version of the model;
    /// a protected alias is FORBIDDEN here (it moves through requestRelease).
    async fn set_model_alias(
        &self,
        ctx: &Context<'_>,
        model_id: ID,
        alias: String,
        version_id: ID,
    ) -> async_graphql::Result<Option<ModelAlias>> {
        let model = parse_id(&model_id, "modelId").gql()?;
        let version = parse_id(&version_id, "versionId").gql()?;
        let row = rel::set_alias(&ctx.state().db, &ctx.actor(), model, &alias, version)
            .await
            .gql()?;
        Ok(ModelAlias::of(row))
    }

    /// Removes an alias; whether it existed.
    async fn remove_model_alias(
        &self,
        ctx: &Context<'_>,
        model_id: ID,
        alias: String,
    ) -> async_graphql::Result<bool> {
        let model = parse_id(&model_id, "modelId").gql()?;
        rel::remove_alias(&ctx.state().db, &ctx.actor(), model, &alias)
            .await
            .gql()
    }

    /// Protects an alias (ADMIN): from now on it moves only through release requests
    /// approved by `requiredApprovals` people other than the requester.
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn protect_alias(
        &self,
        ctx: &Context<'_>,
        model_id: ID,
        alias: String,
        #[graphql(default = 1)] required_approvals: i32,
    ) -> async_graphql::Result<Option<ModelAlias>> {
        let model = parse_id(&model_id, "modelId").gql()?;
        let row = rel::protect_alias(
            &ctx.state().db,
            &ctx.actor(),
            model,
            &alias,
            required_approvals,
        )
        .await
        .gql()?;
        Ok(ModelAlias::of(row))
    }

    /// Asks for `alias` to point at a version (not an archived one).
    async fn request_release(
        &self,
        ctx: &Context<'_>,
        version_id: ID,
        alias: String,
        note: Option<String>,
    ) -> async_graphql::Result<ReleaseRequest> {
        let version = parse_id(&version_id, "versionId").gql()?;
        let row = rel::request_release(&ctx.state().db, &ctx.actor(), version, &alias, note)
            .await
            .gql()?;
        Ok(ReleaseRequest(row))
    }

    /// Approves a request (APPROVER, not its requester, once per person); the approval
    /// that reaches the alias's required count moves it.
    #[graphql(guard = "RoleGuard(auth::Role::Approver)")]
    async fn approve_release(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> async_graphql::Result<ReleaseRequest> {
        decide(ctx, &id, true, note).await
    }

    /// Rejects a request (APPROVER, not its requester); it ends there.
    #[graphql(guard = "RoleGuard(auth::Role::Approver)")]
    async fn reject_release(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> async_graphql::Result<ReleaseRequest> {
        decide(ctx, &id, false, note).await
    }

    /// Cancels a pending request (its requester only).
    async fn cancel_release(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ReleaseRequest> {
        let id = parse_id(&id, "id").gql()?;
        let row = rel::cancel(&ctx.state().db, &ctx.actor(), id).await.gql()?;
        Ok(ReleaseRequest(row))
    }
}

/// `approveRelease` / `rejectRelease`.
async fn decide(
    ctx: &Context<'_>,
    id: &ID,
    approve: bool,
    note: Option<String>,
) -> async_graphql::Result<ReleaseRequest> {
    let id = parse_id(id, "id").gql()?;
    let row = rel::decide(&ctx.state().db, &ctx.actor(), id, approve, note)
        .await
        .gql()?;
    Ok(ReleaseRequest(row))
}
