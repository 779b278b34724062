//! Roles of subjects named by a trusted proxy header, granted by an ADMIN.
use entity::role_grant;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Role;
use crate::registry::fields::validate_name;
use crate::registry::time::now_ms;
use crate::registry::{RegistryError, Result};

/// At most this many grants are listed at once.
pub const MAX_LISTED: u64 = 1000;

/// The highest role granted to `subject`, if any.
pub async fn role_of(db: &DatabaseConnection, subject: &str) -> Result<Option<Role>> {
    let rows = role_grant::Entity::find()
        .filter(role_grant::Column::Subject.eq(subject))
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.role.parse::<Role>().ok())
        .max())
}

/// Grants `role` to `subject`; granting it again changes nothing.
pub async fn grant(
    db: &DatabaseConnection,
    subject: &str,
    role: Role,
    by: &str,
) -> Result<role_grant::Model> {
    validate_name("subject", subject)?;
    let row = role_grant::ActiveModel {
        subject: Set(subject.to_owned()),
        role: Set(role.as_str().to_owned()),
        granted_at: Set(now_ms()),
        granted_by: Set(by.to_owned()),
    };
    role_grant::Entity::insert(row)
        .on_conflict_do_nothing_on([role_grant::Column::Subject, role_grant::Column::Role])
        .exec(db)
        .await?;
    role_grant::Entity::find_by_id((subject.to_owned(), role.as_str().to_owned()))
        .one(db)
        .await?
        .ok_or_else(|| RegistryError::Internal("a granted role was not found".into()))
}

/// Takes `role` from `subject`; whether it had it.
pub async fn revoke(db: &DatabaseConnection, subject: &str, role: Role) -> Result<bool> {
    let done = role_grant::Entity::delete_many()
        .filter(role_grant::Column::Subject.eq(subject))
        .filter(role_grant::Column::Role.eq(role.as_str()))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Every grant, by subject.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<role_grant::Model>> {
    Ok(role_grant::Entity::find()
        .order_by_asc(role_grant::Column::Subject)
        .order_by_asc(role_grant::Column::Role)
        .limit(MAX_LISTED)
        .all(db)
        .await?)
}
