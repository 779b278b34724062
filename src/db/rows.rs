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
//! PostgreSQL rows (`postgres`) go the same way when every column is a number, a
//! boolean or text: sea-orm's `FromQueryResult` looks each of a struct's fields up by
//! name and builds an error, with its message, for every field whose column is NULL or
//! absent, which for a node read 41 times a row (about 10 us a listed row).
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

/// `T`s from PostgreSQL's rows, as a direct SQLite session reads them, or None where a
/// column is of a type [`PgKind`] does not read (dates, JSON, arrays, numerics: the
/// caller reads those rows through sea-orm), or where there are no rows.
pub fn postgres<T: de::DeserializeOwned>(
    rows: &[sea_orm::QueryResult],
) -> Option<Result<Vec<T>, RowError>> {
    use sqlx::{Column as _, Row as _};
    let first = rows.first()?.try_as_pg_row()?;
    let kinds: Vec<PgKind> = first
        .columns()
        .iter()
        .map(|c| PgKind::of(c.type_info()))
        .collect::<Option<_>>()?;
    let mut columns = Columns::named(first.columns().iter().map(|c| c.name()));
    let read = rows
        .iter()
        .map(|row| {
            let row = row
                .try_as_pg_row()
                .ok_or_else(|| RowError("a PostgreSQL row was expected".into()))?;
            columns.read(&PgCells { row, kinds: &kinds })
        })
        .collect();
    Some(read)
}

/// The PostgreSQL types read as SQLite's kinds of value.
#[derive(Clone, Copy)]
enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Text,
}

impl PgKind {
    fn of(ty: &sqlx::postgres::PgTypeInfo) -> Option<Self> {
        use sqlx::TypeInfo as _;
        Some(match ty.name() {
            "BOOL" => Self::Bool,
            "INT2" => Self::Int2,
            "INT4" => Self::Int4,
            "INT8" => Self::Int8,
            "FLOAT4" => Self::Float4,
            "FLOAT8" => Self::Float8,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Self::Text,
            _ => return None,
        })
    }
}

/// A PostgreSQL row with its columns' kinds.
struct PgCells<'r> {
    row: &'r sqlx::postgres::PgRow,
    kinds: &'r [PgKind],
}

impl Cells for PgCells<'_> {
    fn cell(&self, column: usize) -> Result<ValueRef<'_>, RowError> {
        use sqlx::postgres::Postgres;
        use sqlx::{Decode, Row as _, ValueRef as _};
        fn decode<'r, T: Decode<'r, Postgres>>(
            value: sqlx::postgres::PgValueRef<'r>,
        ) -> Result<T, RowError> {
            T::decode(value).map_err(|e| RowError(e.to_string()))
        }
        let value = self
            .row
            .try_get_raw(column)
            .map_err(|e| RowError(e.to_string()))?;
        if value.is_null() {
            return Ok(ValueRef::Null);
        }
        let kind = self
            .kinds
            .get(column)
            .ok_or_else(|| RowError(format!("no column {column}")))?;
        Ok(match kind {
            PgKind::Bool => ValueRef::Integer(decode::<bool>(value)?.into()),
            PgKind::Int2 => ValueRef::Integer(decode::<i16>(value)?.into()),
            PgKind::Int4 => ValueRef::Integer(decode::<i32>(value)?.into()),
            PgKind::Int8 => ValueRef::Integer(decode::<i64>(value)?),
            PgKind::Float4 => ValueRef::Real(decode::<f32>(value)?.into()),
            PgKind::Float8 => ValueRef::Real(decode::<f64>(value)?),
            PgKind::Text => ValueRef::Text(decode::<&str>(value)?.as_bytes()),
        })
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
