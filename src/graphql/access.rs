//! Who the caller is (`viewer`), and the ADMIN's tools: API tokens and role grants.
use async_graphql::{Context, Enum, Guard, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{api_token, role_grant};

use super::ContextExt;
use super::errors::GqlResult;
use super::types::{datetime, parse_id, to_id};
use crate::auth::{self, grants, tokens};
use crate::registry::RegistryError;

/// Roles, each including the ones before it.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "auth::Role")]
pub enum Role {
    /// Reads everything.
    Reader,
    /// Creates, updates, archives, links, ingests, requests releases.
    Editor,
    /// Approves or rejects release requests.
    Approver,
    /// Tokens, role grants, protected aliases, webhooks.
    Admin,
}

/// Lets a field run only for callers holding `role`.
pub struct RoleGuard(pub auth::Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        ctx.principal().require(self.0).gql()
    }
}

/// Who the caller is.
#[derive(SimpleObject)]
pub struct Viewer {
    /// The token's subject, the JWT's `sub`, the proxy header's user, or `anonymous`.
    pub subject: String,
    /// Every role held, lowest first.
    pub roles: Vec<Role>,
    /// Whether a credential said who this is.
    pub authenticated: bool,
}

/// An API token (never its secret).
pub struct ApiToken(pub api_token::Model);

/// An API token: the subject it speaks for and its role, never its secret (only a SHA-256
/// of it is kept). Revoked and expired tokens stay listed, with `revokedAt` or `expiresAt`.
#[Object]
impl ApiToken {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn role(&self) -> async_graphql::Result<Role> {
        stored_role(&self.0.role)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.map(datetime)
    }
    /// Noted at most once a minute.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(datetime)
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(datetime)
    }
}

fn stored_role(text: &str) -> async_graphql::Result<Role> {
    text.parse::<auth::Role>()
        .map(Role::from)
        .map_err(|_| RegistryError::Internal(format!("stored role {text:?}")))
        .gql()
}

/// A new token: `token` is shown this once and never again.
#[derive(SimpleObject)]
pub struct CreatedApiToken {
    pub token: String,
    pub api_token: ApiToken,
}

/// A role given to a subject named by the trusted proxy header.
pub struct RoleGrant(pub role_grant::Model);

/// A role given by `grantRole` to a subject named by the trusted proxy header
/// (`--trusted-proxy-header`).
#[Object]
impl RoleGrant {
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn role(&self) -> async_graphql::Result<Role> {
        stored_role(&self.0.role)
    }
    async fn granted_at(&self) -> DateTime<Utc> {
        datetime(self.0.granted_at)
    }
    async fn granted_by(&self) -> &str {
        &self.0.granted_by
    }
}

#[derive(Default)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// Who the caller is and what it may do.
    async fn viewer(&self, ctx: &Context<'_>) -> Viewer {
        let principal = ctx.principal();
        Viewer {
            subject: principal.subject.clone(),
            roles: principal.roles().into_iter().map(Role::from).collect(),
            authenticated: principal.authenticated,
        }
    }

    /// API tokens, newest first (ADMIN).
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn api_tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiToken>> {
        let rows = tokens::list(&ctx.state().db).await.gql()?;
        Ok(rows.into_iter().map(ApiToken).collect())
    }

    /// Roles granted to proxy-header subjects (ADMIN).
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn role_grants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RoleGrant>> {
        let rows = grants::list(&ctx.state().db).await.gql()?;
        Ok(rows.into_iter().map(RoleGrant).collect())
    }
}

#[derive(Default)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Makes an API token for `subject` (ADMIN). `expiresIn` reads like `30d`, `12h`.
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        subject: String,
        role: Role,
        expires_in: Option<String>,
    ) -> async_graphql::Result<CreatedApiToken> {
        let expires_in = expires_in
            .map(|text| {
                humantime::parse_duration(&text).map_err(|e| {
                    RegistryError::invalid("expiresIn", format!("{text:?} is not a duration: {e}"))
                })
            })
            .transpose()
            .gql()?;
        let created = tokens::create(&ctx.state().db, &subject, role.into(), expires_in)
            .await
            .gql()?;
        ctx.state().auth.token_made();
        Ok(CreatedApiToken {
            token: created.token,
            api_token: ApiToken(created.row),
        })
    }

    /// Revokes a token (ADMIN); at once, on every server sharing the database.
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiToken> {
        let id = parse_id(&id, "id").gql()?;
        let row = tokens::revoke(&ctx.state().db, id).await.gql()?;
        Ok(ApiToken(row))
    }

    /// Gives `role` to a subject named by the trusted proxy header (ADMIN).
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn grant_role(
        &self,
        ctx: &Context<'_>,
        subject: String,
        role: Role,
    ) -> async_graphql::Result<RoleGrant> {
        let by = ctx.principal().subject.clone();
        let row = grants::grant(&ctx.state().db, &subject, role.into(), &by)
            .await
            .gql()?;
        Ok(RoleGrant(row))
    }

    /// Takes `role` from `subject` (ADMIN); whether it had it.
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn revoke_role(
        &self,
        ctx: &Context<'_>,
        subject: String,
        role: Role,
    ) -> async_graphql::Result<bool> {
        grants::revoke(&ctx.state().db, &subject, role.into())
            .await
            .gql()
    }
}
