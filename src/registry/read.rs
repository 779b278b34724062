//! Reading nodes: by id, by name, and keyset-paged lists.
use entity::node;
use sea_orm::sea_query::{Expr, Order as SqlOrder};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::columns::NodeColumns;
use super::error::{RegistryError, Result};
use super::filter::Filter;
use super::kind::NodeKind;
use super::page::{Direction, Order, Page, PageArgs, PageLimits};
use crate::db::exec::{Exec, all, all_up_to, first};
use crate::db::ids::{in_ids, json_ids};

pub async fn find_node<E: Exec>(conn: &E, id: i64) -> Result<Option<node::Model>> {
    Ok(first(conn, &node::Entity::find_by_id(id).limit(1)).await?)
}

/// `column IN (ids)` with the ids as one JSON parameter (`db::ids`). `column` is a
/// quoted, qualified column.
pub fn id_in(backend: DbBackend, column: &str, ids: &[i64]) -> Expr {
    // sea-query's own placeholder, which it numbers within the statement it joins
    let placeholder = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    Expr::cust_with_values(in_ids(backend, column, placeholder), [json_ids(ids)])
}

/// Nodes by id, in one statement; missing ids are simply absent.
pub async fn find_nodes<E: Exec>(conn: &E, ids: &[i64]) -> Result<Vec<node::Model>> {
    find_nodes_reading(conn, ids, NodeColumns::ALL).await
}

/// `find_nodes`, reading `columns` of each node only (`registry::columns`).
pub async fn find_nodes_reading<E: Exec>(
    conn: &E,
    ids: &[i64],
    columns: NodeColumns,
) -> Result<Vec<node::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query =
        columns
            .select(node::Entity::find())
            .filter(id_in(conn.backend(), r#""node"."id""#, ids));
    Ok(all(conn, &query).await?)
}

/// What an inference service serves: the version it names, else its model's latest
/// (Kubeflow's rule). Doors that batch their loads follow it with their own loaders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    Version(i64),
    LatestOf(i64),
    Nothing,
}

pub fn served(service: &node::Model) -> Served {
    match (service.model_version_id, service.registered_model_id) {
        (Some(version), _) => Served::Version(version),
        (None, Some(model)) => Served::LatestOf(model),
        (None, None) => Served::Nothing,
    }
}

/// The model version an inference service serves, if any.
pub async fn served_version<E: Exec>(
    conn: &E,
    service: &node::Model,
) -> Result<Option<node::Model>> {
    match served(service) {
        Served::Version(id) => find_node(conn, id).await,
        Served::LatestOf(model) => latest_version(conn, model).await,
        Served::Nothing => Ok(None),
    }
}

/// A model's newest version that is not archived (by creation, then id).
pub async fn latest_version<E: Exec>(conn: &E, model: i64) -> Result<Option<node::Model>> {
    let query = node::Entity::find()
        .filter(node::Column::Kind.eq(NodeKind::ModelVersion.as_str()))
        .filter(node::Column::ParentId.eq(model))
        .filter(node::Column::State.ne("ARCHIVED"))
        .order_by_desc(node::Column::CreateTime)
        .order_by_desc(node::Column::Id)
        .limit(1);
    Ok(first(conn, &query).await?)
}

/// The latest version that is not archived of each model in `models` (by creation,
/// then id), in one statement: each model's is the first entry of its range of the
/// (parent, kind, creation, id) index, so a model costs one index probe however many
/// versions it has, and only the rows returned are read whole. PostgreSQL joins each
/// model to its probe (`LATERAL`): given SQLite's form, it scanned and hashed the whole
/// node table. SQLite and MariaDB have no `LATERAL`; they look each probe's row up by id.
pub async fn latest_versions<E: Exec>(conn: &E, models: &[i64]) -> Result<Vec<node::Model>> {
    latest_versions_of(conn, models, NodeColumns::ALL).await
}

/// `latest_versions`, reading `columns` of each version only (`registry::columns`).
pub async fn latest_versions_of<E: Exec>(
    conn: &E,
    models: &[i64],
    columns: NodeColumns,
) -> Result<Vec<node::Model>> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let statement = latest_versions_statement(conn.backend(), models, columns);
    Ok(conn.fetch_up_to(statement, models.len()).await?)
}

/// The statement [`latest_versions_of`] runs.
pub fn latest_versions_statement(
    backend: DbBackend,
    models: &[i64],
    columns: NodeColumns,
) -> sea_orm::Statement {
    let kind = NodeKind::ModelVersion.as_str();
    let probe = |model: &str, columns: &str| {
        format!(
            r#"SELECT {columns} FROM "node" AS "v"
               WHERE "v"."parent_id" = {model} AND "v"."kind" = '{kind}'
                 AND "v"."state" <> 'ARCHIVED'
               ORDER BY "v"."create_time" DESC, "v"."id" DESC LIMIT 1"#
        )
    };
    let ids = crate::db::ids::ids_in(backend, "?");
    let sql = match backend {
        DbBackend::Postgres => format!(
            r#"SELECT {} FROM json_array_elements_text($1::json) AS "m"
               CROSS JOIN LATERAL ({}) AS "latest""#,
            columns.sql("latest"),
            probe(r#""m"."value"::bigint"#, r#""v".*"#)
        ),
        // each model's probe in a derived table that MariaDB keeps apart (its LIMIT, which
        // keeps every row, stops it merging the table into the join): merged, it ran each
        // probe twice, once to find the row by id and once more to check it
        DbBackend::MySql => format!(
            r#"SELECT {} FROM (SELECT ({}) AS "latest" FROM ({ids}) AS "m" LIMIT {})
                 AS "l" JOIN "node" ON "node"."id" = "l"."latest""#,
            columns.sql("node"),
            probe(r#""m"."value""#, r#""v"."id""#),
            models.len()
        ),
        _ => format!(
            r#"SELECT {} FROM "node" WHERE "node"."id" IN (
                 SELECT ({}) FROM ({ids}) AS "m")"#,
            columns.sql("node"),
            probe(r#""m"."value""#, r#""v"."id""#),
        ),
    };
    sea_orm::Statement::from_sql_and_values(backend, sql, [json_ids(models).into()])
}

pub fn kind_of(n: &node::Model) -> Result<NodeKind> {
    n.kind.parse()
}

/// A node of one kind by id, or NOT_FOUND naming the kind.
pub async fn get_kind<C: ConnectionTrait>(
    conn: &C,
    kind: NodeKind,
    id: i64,
) -> Result<node::Model> {
    find_node(conn, id)
        .await?
        .filter(|n| n.kind == kind.as_str())
        .ok_or_else(|| RegistryError::not_found(format!("{} {id}", kind.label())))
}

/// A node by its unique name within its parent (0 for top-level kinds).
pub async fn find_by_name<E: Exec>(
    conn: &E,
    kind: NodeKind,
    scope_id: i64,
    namespace: &str,
    name: &str,
) -> Result<Option<node::Model>> {
    let query = node::Entity::find()
        .filter(node::Column::Kind.eq(kind.as_str()))
        .filter(node::Column::ScopeId.eq(scope_id))
        .filter(node::Column::Namespace.eq(namespace))
        .filter(node::Column::Name.eq(name))
        .limit(1);
    Ok(first(conn, &query).await?)
}

pub async fn find_by_external_id<E: Exec>(
    conn: &E,
    external_id: &str,
) -> Result<Option<node::Model>> {
    let query = node::Entity::find()
        .filter(node::Column::ExternalId.eq(external_id))
        .limit(1);
    Ok(first(conn, &query).await?)
}

fn sql_dir(forward: bool, order: Order) -> SqlOrder {
    match (order.direction == Direction::Asc) == forward {
        true => SqlOrder::Asc,
        false => SqlOrder::Desc,
    }
}

/// One page of nodes of `kinds` matching `filter`.
pub async fn list<E: Exec>(
    conn: &E,
    kinds: &[NodeKind],
    filter: &Filter,
    order: Order,
    page: &PageArgs,
    limits: PageLimits,
) -> Result<Page> {
    list_of(conn, kinds, filter, order, page, limits, NodeColumns::ALL).await
}

/// `list`, reading `columns` of each node only (`registry::columns`).
pub async fn list_of<E: Exec>(
    conn: &E,
    kinds: &[NodeKind],
    filter: &Filter,
    order: Order,
    page: &PageArgs,
    limits: PageLimits,
    columns: NodeColumns,
) -> Result<Page> {
    super::filter_query::check_bare_properties(conn, kinds, &filter.query_properties).await?;
    let plan = page.plan(order, limits)?;
    if plan.size == 0 {
        return Ok(plan.finish(Vec::new()));
    }
    let forward = !plan.backward;
    let mut query = columns
        .select(node::Entity::find())
        .filter(filter.condition(kinds)?)
        .filter(plan.condition(order));
    if order.field != super::page::OrderField::Id {
        query = query.order_by(order.field.column(), sql_dir(forward, order));
    }
    let query = query
        .order_by(node::Column::Id, sql_dir(forward, order))
        .limit(plan.size + 1);
    let most = usize::try_from(plan.size + 1).unwrap_or(usize::MAX);
    Ok(plan.finish(all_up_to(conn, &query, most).await?))
}

/// How many nodes match, whatever the page. Lists count after reading their page, which
/// checked the filter's bare property names already (`list`), so this does not again.
pub async fn count<E: Exec>(conn: &E, kinds: &[NodeKind], filter: &Filter) -> Result<u64> {
    #[derive(FromQueryResult, serde::Deserialize)]
    struct Counted {
        matching: i64,
    }
    let query = node::Entity::find()
        .select_only()
        .expr_as(Expr::cust("COUNT(*)"), "matching")
        .filter(filter.condition(kinds)?);
    let counted: Option<Counted> = first(conn, &query).await?;
    Ok(counted.map_or(0, |c| c.matching.max(0) as u64))
}
