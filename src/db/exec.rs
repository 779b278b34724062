//! Where the registry's write path runs its statements: any sea-orm connection or
//! transaction, or a direct SQLite [`Session`] (the OpenLineage writer's own connection,
//! which runs them on its thread instead of handing each to sqlx's worker thread).
//!
//! Statements are built once by sea-orm / sea-query for the connection's backend, so the
//! SQL is the same whichever way it runs.
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use sea_orm::sea_query::Value;
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, QueryTrait, Statement, StatementBuilder,
};
use serde::de::DeserializeOwned;

use super::direct::Session;
use super::error::{DbError, Result};

/// A row type both drivers can map: sea-orm's `FromQueryResult` for sqlx rows, serde
/// (by column name) for rusqlite rows.
pub trait Row: FromQueryResult + DeserializeOwned + Send {}

impl<T: FromQueryResult + DeserializeOwned + Send> Row for T {}

/// Runs built statements.
pub trait Exec: Sync {
    fn backend(&self) -> DbBackend;

    /// Every row `stmt` returns.
    fn fetch<M: Row>(&self, stmt: Statement) -> impl Future<Output = Result<Vec<M>>> + Send;

    /// Runs `stmt`; the number of rows it changed.
    fn run(&self, stmt: Statement) -> impl Future<Output = Result<u64>> + Send;

    /// `fetch` for a statement that returns at most `most` rows (its `LIMIT`, or one row
    /// per id asked for): a direct session makes room for them first, so rows as large as
    /// a node (about 1.2 KB) are not copied again each time the list grows.
    fn fetch_up_to<M: Row>(
        &self,
        stmt: Statement,
        _most: usize,
    ) -> impl Future<Output = Result<Vec<M>>> + Send {
        self.fetch(stmt)
    }

    /// The most values one statement should bind. sqlx's SQLite driver looks each
    /// parameter's name up as it binds it, and SQLite finds a name by walking the
    /// statement's list of parameters, so binding n values costs n²: a 1000-row insert of
    /// 13 columns spent more time there than in SQLite. Direct sessions bind by position.
    fn bind_budget(&self) -> usize {
        BINDS_PER_STATEMENT
    }

    /// The direct SQLite session the statements run on, if they run on one: bulk writers
    /// prepare one single-row statement there and step it per row
    /// ([`Session::insert_each`]) instead of building multi-row statements.
    fn session(&self) -> Option<&Session> {
        None
    }
}

/// What a statement may bind where binding is linear (SQLite allows 32,766 values,
/// PostgreSQL 65,535).
const BINDS_PER_STATEMENT: usize = 30_000;

/// Rows of `columns` values each for one multi-row statement on `exec`: as many as its
/// bind budget allows, at most `most`, at least one.
pub fn rows_per_statement(exec: &impl Exec, columns: usize, most: usize) -> usize {
    (exec.bind_budget() / columns.max(1)).clamp(1, most.max(1))
}

impl<C: ConnectionTrait> Exec for C {
    fn backend(&self) -> DbBackend {
        self.get_database_backend()
    }

    fn bind_budget(&self) -> usize {
        match self.get_database_backend() {
            // sqlx binds in quadratic time here (see the trait)
            DbBackend::Sqlite => 1_000,
            _ => BINDS_PER_STATEMENT,
        }
    }

    async fn fetch<M: Row>(&self, stmt: Statement) -> Result<Vec<M>> {
        let rows = self.query_all_raw(stmt).await?;
        // by place where it can: sea-orm maps by name, with an error built for each
        // NULL or absent column (`db::rows`)
        if let Some(read) = super::rows::by_place(&rows) {
            return read.map_err(|e| DbError::Other(format!("a row does not fit: {e}")));
        }
        rows.iter()
            .map(|row| M::from_query_result(row, "").map_err(DbError::from))
            .collect()
    }

    async fn run(&self, stmt: Statement) -> Result<u64> {
        Ok(self.execute_raw(stmt).await?.rows_affected())
    }
}

impl Exec for Session {
    fn backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    fn session(&self) -> Option<&Session> {
        Some(self)
    }

    async fn fetch<M: Row>(&self, stmt: Statement) -> Result<Vec<M>> {
        self.query_as(&stmt.sql, bind_values(&stmt))
    }

    async fn fetch_up_to<M: Row>(&self, stmt: Statement, most: usize) -> Result<Vec<M>> {
        self.query_as_up_to(&stmt.sql, bind_values(&stmt), most)
    }

    async fn run(&self, stmt: Statement) -> Result<u64> {
        self.execute(&stmt.sql, bind_values(&stmt))
    }
}

/// A runner by reference (a journaled transaction borrowing a direct session).
pub struct On<'a, E>(pub &'a E);

impl<E: Exec> Exec for On<'_, E> {
    fn backend(&self) -> DbBackend {
        self.0.backend()
    }

    fn bind_budget(&self) -> usize {
        self.0.bind_budget()
    }

    fn session(&self) -> Option<&Session> {
        self.0.session()
    }

    async fn fetch<M: Row>(&self, stmt: Statement) -> Result<Vec<M>> {
        self.0.fetch(stmt).await
    }

    async fn fetch_up_to<M: Row>(&self, stmt: Statement, most: usize) -> Result<Vec<M>> {
        self.0.fetch_up_to(stmt, most).await
    }

    async fn run(&self, stmt: Statement) -> Result<u64> {
        self.0.run(stmt).await
    }
}

/// `query` built for `backend`. sea-query's MySQL builder leaves `RETURNING` out (MySQL
/// has none); MariaDB has it on INSERT and DELETE, so there the clause is taken from the
/// PostgreSQL build of the same statement: column names in double quotes, which MySQL
/// connections read as identifiers (`ANSI_QUOTES`, `db::connect`). An UPDATE that wants
/// its rows back reads them after it on MySQL/MariaDB (`registry::write`).
pub fn build(backend: DbBackend, query: &impl QueryTrait) -> Statement {
    build_statement(backend, query.as_query())
}

/// [`build`] for a sea-query statement.
pub fn build_statement(backend: DbBackend, query: &impl StatementBuilder) -> Statement {
    let mut stmt = query.build(&backend);
    if backend == DbBackend::MySql
        && (stmt.sql.starts_with("INSERT") || stmt.sql.starts_with("DELETE"))
    {
        let postgres = query.build(&DbBackend::Postgres).sql;
        if let Some(at) = postgres.rfind(" RETURNING ") {
            stmt.sql.push_str(&postgres[at..]);
        }
    }
    stmt
}

/// All rows of a sea-orm query built for `exec`'s backend.
pub async fn all<M: Row, E: Exec>(exec: &E, query: &impl QueryTrait) -> Result<Vec<M>> {
    exec.fetch(build(exec.backend(), query)).await
}

/// [`all`] for a query that returns at most `most` rows ([`Exec::fetch_up_to`]).
pub async fn all_up_to<M: Row, E: Exec>(
    exec: &E,
    query: &impl QueryTrait,
    most: usize,
) -> Result<Vec<M>> {
    exec.fetch_up_to(build(exec.backend(), query), most).await
}

/// The first row of a sea-orm query (give it a LIMIT 1).
pub async fn first<M: Row, E: Exec>(exec: &E, query: &impl QueryTrait) -> Result<Option<M>> {
    Ok(all(exec, query).await?.into_iter().next())
}

/// Runs a sea-orm statement built for `exec`'s backend.
pub async fn run<E: Exec>(exec: &E, query: &impl QueryTrait) -> Result<u64> {
    exec.run(build(exec.backend(), query)).await
}

fn bind_values(stmt: &Statement) -> rusqlite::ParamsFromIter<impl Iterator<Item = Bind<&Value>>> {
    let values = stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]);
    rusqlite::params_from_iter(values.iter().map(Bind))
}

/// A sea-query value bound to a SQLite statement as SQLite stores it (the types the
/// registry's tables use), text and blobs borrowed, not copied.
pub struct Bind<V>(pub V);

impl<V: std::borrow::Borrow<Value>> rusqlite::ToSql for Bind<V> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
        let int = |v: Option<i64>| ToSqlOutput::Owned(v.map_or(Sql::Null, Sql::Integer));
        let refused =
            |what: String| rusqlite::Error::ToSqlConversionFailure(Box::new(DbError::Other(what)));
        Ok(match self.0.borrow() {
            Value::Bool(v) => int(v.map(i64::from)),
            Value::TinyInt(v) => int(v.map(i64::from)),
            Value::SmallInt(v) => int(v.map(i64::from)),
            Value::Int(v) => int(v.map(i64::from)),
            Value::BigInt(v) => int(*v),
            Value::TinyUnsigned(v) => int(v.map(i64::from)),
            Value::SmallUnsigned(v) => int(v.map(i64::from)),
            Value::Unsigned(v) => int(v.map(i64::from)),
            Value::BigUnsigned(v) => match v.map(i64::try_from) {
                None => int(None),
                Some(Ok(n)) => int(Some(n)),
                Some(Err(_)) => return Err(refused(format!("{v:?} is out of range"))),
            },
            Value::Float(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, |f| Sql::Real(f64::from(f)))),
            Value::Double(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, Sql::Real)),
            Value::String(v) => match v {
                Some(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
                None => int(None),
            },
            Value::Char(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, |c| Sql::Text(c.to_string()))),
            Value::Bytes(v) => match v {
                Some(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
                None => int(None),
            },
            Value::Json(v) => {
                ToSqlOutput::Owned(v.as_ref().map_or(Sql::Null, |j| Sql::Text(j.to_string())))
            }
            other => return Err(refused(format!("a direct session cannot bind {other:?}"))),
        })
    }
}

/// The output of a future that never waits: direct sessions run each statement on the
/// calling thread, so the registry's async write path completes in one poll on them.
pub fn now<F: Future>(future: F) -> Result<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => Ok(out),
        Poll::Pending => Err(DbError::Other("a direct session's statement waited".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sea_query_values_bind_as_sqlite_stores_them() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let values = [
            Value::BigInt(Some(-7)),
            Value::BigUnsigned(Some(1)),
            Value::Bool(Some(true)),
            Value::Double(Some(0.5)),
            Value::String(Some("x".into())),
            Value::String(None),
        ];
        let row: (i64, i64, i64, f64, String, Option<String>) = conn
            .query_row(
                "SELECT ?, ?, ?, ?, ?, ?",
                rusqlite::params_from_iter(values.iter().map(Bind)),
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(row, (-7, 1, 1, 0.5, "x".to_owned(), None));
        let too_big = conn
            .query_row(
                "SELECT ?",
                [Bind(Value::BigUnsigned(Some(u64::MAX)))],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_err();
        let too_big = DbError::from(too_big).to_string();
        assert!(too_big.contains("is out of range"), "{too_big}");
    }

    #[test]
    fn now_refuses_a_future_that_waits() {
        assert_eq!(now(async { 3 }).unwrap(), 3);
        let waits = now(std::future::pending::<()>()).unwrap_err();
        assert!(matches!(waits, DbError::Other(_)));
    }
}
