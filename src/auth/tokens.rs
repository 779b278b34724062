//! API tokens: `mg_<key id>_<secret>`, 256 random bits of secret. The database keeps the
//! key id (to find the token) and a SHA-256 of the secret (compared in constant time);
//! the token itself is shown once, when it is made.
use std::time::Duration;

use base64::Engine;
use entity::api_token;
use rand::RngCore;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Principal, Role};
use crate::registry::fields::validate_name;
use crate::registry::time::now_ms;
use crate::registry::{RegistryError, Result};

const PREFIX: &str = "mg_";

/// At most this many tokens are listed at once.
pub const MAX_LISTED: u64 = 1000;

/// A new token: the secret to hand over, and the row kept.
pub struct Created {
    pub token: String,
    pub row: api_token::Model,
}

pub fn looks_like_token(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    hex::encode(digest)
}

/// Makes a token for `subject` with `role`, valid for `expires_in` (forever without).
/// The first token of a store must be an ADMIN's: it is the one that makes the others.
pub async fn create(
    db: &DatabaseConnection,
    subject: &str,
    role: Role,
    expires_in: Option<Duration>,
) -> Result<Created> {
    validate_name("subject", subject)?;
    if role != Role::Admin && api_token::Entity::find().count(db).await? == 0 {
        return Err(RegistryError::invalid(
            "role",
            "the first token must be an ADMIN's: it turns authentication on, and only an \
             ADMIN can make the others",
        ));
    }
    let mut key = [0u8; 8];
    let mut secret = [0u8; 32];
    {
        let mut rng = rand::rng();
        rng.fill_bytes(&mut key);
        rng.fill_bytes(&mut secret);
    }
    let key_id = hex::encode(key);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let now = now_ms();
    let expires_at = match expires_in {
        Some(d) => {
            let ms = i64::try_from(d.as_millis())
                .ok()
                .filter(|ms| *ms > 0 && ms.checked_add(now).is_some())
                .ok_or_else(|| RegistryError::invalid("expiresIn", "is out of range"))?;
            Some(now + ms)
        }
        None => None,
    };
    let row = api_token::ActiveModel {
        key_id: Set(key_id.clone()),
        secret_hash: Set(hash(&secret)),
        subject: Set(subject.to_owned()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Created {
        token: format!("{PREFIX}{key_id}_{secret}"),
        row,
    })
}

/// Tokens, newest first (never their secrets).
pub async fn list(db: &DatabaseConnection) -> Result<Vec<api_token::Model>> {
    Ok(api_token::Entity::find()
        .order_by_desc(api_token::Column::Id)
        .limit(MAX_LISTED)
        .all(db)
        .await?)
}

/// Revokes a token; revoking one already revoked changes nothing.
pub async fn revoke(db: &DatabaseConnection, id: i64) -> Result<api_token::Model> {
    let row = api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| RegistryError::not_found(format!("token {id}")))?;
    if row.revoked_at.is_some() {
        return Ok(row);
    }
    let mut active: api_token::ActiveModel = row.into();
    active.revoked_at = Set(Some(now_ms()));
    Ok(active.update(db).await?)
}

/// The principal a token stands for. Unknown, malformed, revoked and expired tokens
/// all get the same answer.
pub async fn verify(db: &DatabaseConnection, token: &str) -> Result<Principal> {
    let invalid = || RegistryError::Unauthenticated("the credential is not valid".into());
    let (key_id, secret) = token
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .filter(|(key, secret)| key.len() == 16 && !secret.is_empty() && secret.len() <= 64)
        .ok_or_else(invalid)?;
    let row = api_token::Entity::find()
        .filter(api_token::Column::KeyId.eq(key_id))
        .one(db)
        .await?;
    // hash and compare even when no row matched, so timing tells nothing either
    let stored = row.as_ref().map_or("", |r| r.secret_hash.as_str());
    let matches: bool = hash(secret).as_bytes().ct_eq(stored.as_bytes()).into();
    let row = row.filter(|_| matches).ok_or_else(invalid)?;
    let now = now_ms();
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|at| at <= now) {
        return Err(invalid());
    }
    let role: Role = row.role.parse().map_err(|_| invalid())?;
    if row
        .last_used_at
        .is_none_or(|at| now - at > LAST_USE_RESOLUTION_MS)
    {
        let db = db.clone();
        let id = row.id;
        // a read must not wait for a write: noted in the background
        tokio::spawn(async move {
            let update = api_token::Entity::update_many()
                .col_expr(api_token::Column::LastUsedAt, now.into())
                .filter(api_token::Column::Id.eq(id));
            if let Err(err) = update.exec(&db).await {
                tracing::debug!(error = %err, "noting a token's last use failed");
            }
        });
    }
    Ok(Principal {
        subject: row.subject,
        role: Some(role),
        authenticated: true,
    })
}

/// A token's last use is noted at most once a minute.
const LAST_USE_RESOLUTION_MS: i64 = 60_000;
