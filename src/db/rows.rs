//! Rows a direct session reads, into structs by position. serde_rusqlite hands a row to
//! a struct as a map of column name to value, so every column of every row is matched
//! against the struct's field names (a node row has 53 of them: that matching, not
//! SQLite, was most of a listed row's cost). Here the columns are matched to fields once
//! per statement, and each row is handed over as a map of the statement's columns only,
//! each keyed by its field's place (serde's derived `Deserialize` takes a field's index
//! as its key): a list that reads 12 of a node's 53 columns decodes 12 values a row, not
//! 53 with 41 of them NULL.
//!
//! A field with no column is missing from the map, which serde reads as `None` for an
//! `Option` field (as when it is NULL) and as an error naming the field otherwise;
//! columns no field names are skipped.
//!
//! PostgreSQL's and MySQL/MariaDB's rows (`by_place`) go the same way when every column
//! is a number, a boolean or text: sea-orm's `FromQueryResult` looks each of a struct's
//! fields up by name and builds an error, with its message, for every field whose
//! column is NULL or absent, which for a node read 41 times a row (about 10 us a
//! listed row).
use rusqlite::types::ValueRef;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};

/// Why a row did not fit the struct.
#[derive(Debug)]
pub struct RowError(String);

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RowError {}

impl de::Error for RowError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

impl From<rusqlite::Error> for RowError {
    fn from(err: rusqlite::Error) -> Self {
        Self(err.to_string())
    }
}

/// A row whose columns are read by place, each as SQLite's kinds of value.
pub trait Cells {
    fn cell(&self, column: usize) -> Result<ValueRef<'_>, RowError>;
}

impl Cells for rusqlite::Row<'_> {
    fn cell(&self, column: usize) -> Result<ValueRef<'_>, RowError> {
        Ok(self.get_ref(column)?)
    }
}

/// One statement's columns and, once the first row has met the struct, which column
/// each of its fields reads.
pub struct Columns {
    names: Vec<String>,
    fields: Option<(&'static [&'static str], Vec<Filled>)>,
}

/// A field's place among the struct's fields, and the column that fills it.
type Filled = (u64, usize);

impl Columns {
    pub fn of(statement: &rusqlite::Statement<'_>) -> Self {
        Self::named(statement.column_names())
    }

    /// A statement's columns, by their names in order.
    pub fn named<'n>(names: impl IntoIterator<Item = &'n str>) -> Self {
        Self {
            names: names.into_iter().map(str::to_owned).collect(),
            fields: None,
        }
    }

    /// `T` from `row`.
    pub fn read<T: de::DeserializeOwned>(&mut self, row: &impl Cells) -> Result<T, RowError> {
        T::deserialize(RowDeserializer { row, columns: self })
    }

    /// Each field of `fields` that a column fills, by its place among `fields`, with
    /// that column: worked out for the first row only.
    fn present(&mut self, fields: &'static [&'static str]) -> &[Filled] {
        let stale = !matches!(&self.fields, Some((known, _)) if std::ptr::eq(*known, fields));
        if stale {
            let present = fields
                .iter()
                .zip(0u64..)
                .filter_map(|(field, place)| {
                    let column = self.names.iter().position(|name| name == field)?;
                    Some((place, column))
                })
                .collect();
            self.fields = Some((fields, present));
        }
        self.fields.as_ref().map_or(&[], |(_, p)| p)
    }
}

struct RowDeserializer<'a, 's, R> {
    row: &'a R,
    columns: &'s mut Columns,
}

impl<'de, R: Cells> Deserializer<'de> for RowDeserializer<'_, '_, R> {
    type Error = RowError;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, RowError> {
        let present = self.columns.present(fields);
        visitor.visit_map(RowFields {
            row: self.row,
            present,
            next: 0,
        })
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, RowError> {
        Err(RowError("a row is read into a struct".into()))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A row's columns that fill fields, each keyed by its field's place.
struct RowFields<'a, R> {
    row: &'a R,
    present: &'a [Filled],
    next: usize,
}

impl<'de, R: Cells> MapAccess<'de> for RowFields<'_, R> {
    type Error = RowError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, RowError> {
        let Some((place, _)) = self.present.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize((*place).into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, RowError> {
        let Some((_, column)) = self.present.get(self.next) else {
            return Err(RowError("a value was asked for before its field".into()));
        };
        self.next += 1;
        seed.deserialize(Column(self.row.cell(*column)?))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.present.len() - self.next)
    }
}

/// One column's value.
struct Column<'a>(ValueRef<'a>);

impl<'de> Deserializer<'de> for Column<'_> {
    type Error = RowError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        match self.0 {
            ValueRef::Null => visitor.visit_unit(),
            ValueRef::Integer(i) => visitor.visit_i64(i),
            ValueRef::Real(f) => visitor.visit_f64(f),
            ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => visitor.visit_str(text),
                Err(_) => Err(RowError("a text column is not UTF-8".into())),
            },
            ValueRef::Blob(bytes) => visitor.visit_bytes(bytes),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        match self.0 {
            ValueRef::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        match self.0 {
            ValueRef::Integer(i) => visitor.visit_bool(i != 0),
            _ => self.deserialize_any(visitor),
        }
    }

    /// SQLite may hand a REAL column's whole number back as an integer.
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        match self.0 {
            ValueRef::Integer(i) => visitor.visit_f64(i as f64),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, RowError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, RowError> {
        match self.0 {
            ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => visitor.visit_enum(text.into_deserializer()),
                Err(_) => Err(RowError("a text column is not UTF-8".into())),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// `T`s from PostgreSQL's or MySQL/MariaDB's rows, as a direct SQLite session reads
/// them, or None where a column is of a type [`Kind`] does not read (dates, JSON,
/// arrays, decimals, unsigned or binary columns: the caller reads those rows through
/// sea-orm), where the rows are SQLite's (through sqlx), or where there are none.
pub fn by_place<T: de::DeserializeOwned>(
    rows: &[sea_orm::QueryResult],
) -> Option<Result<Vec<T>, RowError>> {
    let first = rows.first()?;
    if first.try_as_pg_row().is_some() {
        read_by_place::<sqlx::postgres::PgRow, T>(rows)
    } else if first.try_as_mysql_row().is_some() {
        read_by_place::<sqlx::mysql::MySqlRow, T>(rows)
    } else {
        None
    }
}

/// The kinds of column read by place, each as one of SQLite's kinds of value.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Text,
}

impl Kind {
    /// The kind of a column of type `ty`: the first Rust type the driver itself would
    /// decode it into (so a text column in a binary collation, an unsigned or a date
    /// column has none).
    fn of<DB: sqlx::Database>(ty: &DB::TypeInfo) -> Option<Self>
    where
        bool: sqlx::Type<DB>,
        i16: sqlx::Type<DB>,
        i32: sqlx::Type<DB>,
        i64: sqlx::Type<DB>,
        f32: sqlx::Type<DB>,
        f64: sqlx::Type<DB>,
        str: sqlx::Type<DB>,
    {
        use sqlx::Type;
        // integers before booleans: MySQL's booleans are integers
        Some(if <i64 as Type<DB>>::compatible(ty) {
            Self::Int8
        } else if <i32 as Type<DB>>::compatible(ty) {
            Self::Int4
        } else if <i16 as Type<DB>>::compatible(ty) {
            Self::Int2
        } else if <bool as Type<DB>>::compatible(ty) {
            Self::Bool
        } else if <f64 as Type<DB>>::compatible(ty) {
            Self::Float8
        } else if <f32 as Type<DB>>::compatible(ty) {
            Self::Float4
        } else if <str as Type<DB>>::compatible(ty) {
            Self::Text
        } else {
            return None;
        })
    }
}

/// A driver's rows, read by place.
trait Placed: sqlx::Row {
    fn of(row: &sea_orm::QueryResult) -> Option<&Self>;

    /// The kind of a column of type `ty` ([`Kind::of`]).
    fn kind(ty: &<Self::Database as sqlx::Database>::TypeInfo) -> Option<Kind>;

    /// The value of `column`, of `kind` ([`decode`]).
    fn cell(&self, column: usize, kind: Kind) -> Result<ValueRef<'_>, RowError>;
}

impl Placed for sqlx::postgres::PgRow {
    fn of(row: &sea_orm::QueryResult) -> Option<&Self> {
        row.try_as_pg_row()
    }

    fn kind(ty: &sqlx::postgres::PgTypeInfo) -> Option<Kind> {
        Kind::of::<sqlx::Postgres>(ty)
    }

    fn cell(&self, column: usize, kind: Kind) -> Result<ValueRef<'_>, RowError> {
        decode(self, column, kind)
    }
}

impl Placed for sqlx::mysql::MySqlRow {
    fn of(row: &sea_orm::QueryResult) -> Option<&Self> {
        row.try_as_mysql_row()
    }

    fn kind(ty: &sqlx::mysql::MySqlTypeInfo) -> Option<Kind> {
        Kind::of::<sqlx::MySql>(ty)
    }

    fn cell(&self, column: usize, kind: Kind) -> Result<ValueRef<'_>, RowError> {
        decode(self, column, kind)
    }
}

/// `row`'s value in `column`, decoded by the driver as `kind`'s Rust type.
fn decode<R>(row: &R, column: usize, kind: Kind) -> Result<ValueRef<'_>, RowError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> bool: sqlx::Decode<'r, R::Database>,
    for<'r> i16: sqlx::Decode<'r, R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database>,
    for<'r> f32: sqlx::Decode<'r, R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database>,
    for<'r> &'r str: sqlx::Decode<'r, R::Database>,
{
    use sqlx::{Database, Decode, ValueRef as _};
    fn as_<'r, DB: Database, T: Decode<'r, DB>>(
        value: <DB as Database>::ValueRef<'r>,
    ) -> Result<T, RowError> {
        T::decode(value).map_err(|e| RowError(e.to_string()))
    }
    type Db<R> = <R as sqlx::Row>::Database;
    let value = row
        .try_get_raw(column)
        .map_err(|e| RowError(e.to_string()))?;
    if value.is_null() {
        return Ok(ValueRef::Null);
    }
    Ok(match kind {
        Kind::Bool => ValueRef::Integer(as_::<Db<R>, bool>(value)?.into()),
        Kind::Int2 => ValueRef::Integer(as_::<Db<R>, i16>(value)?.into()),
        Kind::Int4 => ValueRef::Integer(as_::<Db<R>, i32>(value)?.into()),
        Kind::Int8 => ValueRef::Integer(as_::<Db<R>, i64>(value)?),
        Kind::Float4 => ValueRef::Real(as_::<Db<R>, f32>(value)?.into()),
        Kind::Float8 => ValueRef::Real(as_::<Db<R>, f64>(value)?),
        Kind::Text => ValueRef::Text(as_::<Db<R>, &str>(value)?.as_bytes()),
    })
}

fn read_by_place<R: Placed, T: de::DeserializeOwned>(
    rows: &[sea_orm::QueryResult],
) -> Option<Result<Vec<T>, RowError>> {
    use sqlx::Column as _;
    let first = R::of(rows.first()?)?;
    let kinds: Vec<Kind> = first
        .columns()
        .iter()
        .map(|c| R::kind(c.type_info()))
        .collect::<Option<_>>()?;
    let mut columns = Columns::named(first.columns().iter().map(|c| c.name()));
    // sized up front: collecting through a Result cannot, and a node row is about a
    // kilobyte, copied at every regrowth
    let mut read = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(row) = R::of(row) else {
            return Some(Err(RowError("rows of two drivers".into())));
        };
        match columns.read(&DriverCells { row, kinds: &kinds }) {
            Ok(value) => read.push(value),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(read))
}

/// A driver's row with its columns' kinds.
struct DriverCells<'r, R> {
    row: &'r R,
    kinds: &'r [Kind],
}

impl<R: Placed> Cells for DriverCells<'_, R> {
    fn cell(&self, column: usize) -> Result<ValueRef<'_>, RowError> {
        let kind = self
            .kinds
            .get(column)
            .ok_or_else(|| RowError(format!("no column {column}")))?;
        self.row.cell(column, *kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Thing {
        id: i64,
        name: String,
        note: Option<String>,
        score: f64,
        live: bool,
        missing: Option<i64>,
    }

    /// Columns meet fields by name whatever their order; unknown columns are skipped,
    /// a field without a column is None, NULL is None, whole REALs read as f64.
    #[test]
    fn rows_fill_fields_by_name_in_any_column_order() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut statement = conn
            .prepare(
                "SELECT 2.0 AS score, 'x' AS extra, NULL AS note, 'a' AS name, 1 AS live, 7 AS id
                 UNION ALL SELECT 0.5, 'y', 'n', 'b', 0, 8",
            )
            .unwrap();
        let mut columns = Columns::of(&statement);
        let mut rows = statement.query([]).unwrap();
        let mut things = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            things.push(columns.read::<Thing>(row).unwrap());
        }
        assert_eq!(
            things,
            [
                Thing {
                    id: 7,
                    name: "a".into(),
                    note: None,
                    score: 2.0,
                    live: true,
                    missing: None,
                },
                Thing {
                    id: 8,
                    name: "b".into(),
                    note: Some("n".into()),
                    score: 0.5,
                    live: false,
                    missing: None,
                },
            ]
        );
    }

    /// A column that does not fit its field, or a required field no column fills, is an
    /// error naming what went wrong, not a panic.
    #[test]
    fn rows_that_do_not_fit_are_errors() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for (sql, named) in [
            (
                "SELECT 'seven' AS id, 'a' AS name, 1.0 AS score, 1 AS live",
                "seven",
            ),
            ("SELECT 7 AS id, 1.0 AS score, 1 AS live", "`name`"),
            (
                "SELECT 7 AS id, NULL AS name, 1.0 AS score, 1 AS live",
                "unit",
            ),
        ] {
            let mut statement = conn.prepare(sql).unwrap();
            let mut columns = Columns::of(&statement);
            let mut rows = statement.query([]).unwrap();
            let row = rows.next().unwrap().unwrap();
            let err = columns.read::<Thing>(row).unwrap_err();
            assert!(err.to_string().contains(named), "{sql}: {err}");
        }
    }
}
