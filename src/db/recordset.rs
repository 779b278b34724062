//! Many rows as a few bound parameters on PostgreSQL: one array per column, which
//! `unnest` turns back into typed rows, for `INSERT ... SELECT`. A multi-row `VALUES`
//! list costs PostgreSQL a parse and a plan of every tuple and a bind of every value
//! (12,000 for a thousand nodes); column arrays are one parameter a column and a
//! one-line plan. For a thousand nodes into the 1M-node store (psql): 33 ms as `VALUES`,
//! 18 ms as a JSON recordset (`json_to_recordset` builds a hash table per row), 8-14 ms
//! as column arrays. The statement text is the same for any number of rows.
//!
//! Each array is bound as text in PostgreSQL's array syntax and cast to its type in the
//! statement, so no driver support for arrays is needed.
use sea_orm::Value;

/// The rows a statement takes: bounded so that one statement's parameters stay a few
/// megabytes.
pub const ROWS_PER_STATEMENT: usize = 5000;

/// `rows` (values in `columns` order, one for each) as one array literal per column,
/// the parameters [`unnest`] reads.
pub fn column_arrays<'a, const N: usize>(
    columns: &[(&str, &str); N],
    rows: impl IntoIterator<Item = &'a [Value; N]>,
) -> Vec<Value> {
    let mut arrays: Vec<String> = columns.iter().map(|_| String::from("{")).collect();
    for (at, row) in rows.into_iter().enumerate() {
        for (array, value) in arrays.iter_mut().zip(row) {
            if at > 0 {
                array.push(',');
            }
            element(array, value);
        }
    }
    arrays
        .into_iter()
        .map(|mut array| {
            array.push('}');
            Value::from(array)
        })
        .collect()
}

/// Appends `value` as an array element: NULL bare, numbers and booleans as they are,
/// anything else double-quoted with `"` and `\` escaped (so commas, braces and spaces
/// inside it stay its own). An import writes millions of these: text goes in by runs
/// between the characters to escape, not a character at a time.
fn element(array: &mut String, value: &Value) {
    use std::fmt::Write as _;
    let text: std::borrow::Cow<'_, str> = match value {
        Value::String(Some(s)) => s.as_str().into(),
        // digits, signs and letters only: nothing in them needs quoting
        Value::BigInt(Some(n)) => return write_plain(array, n),
        Value::Int(Some(n)) => return write_plain(array, n),
        Value::Bool(Some(b)) => return write_plain(array, b),
        Value::Double(Some(x)) => x.to_string().into(),
        other => match sea_orm::sea_query::value::sea_value_to_json_value(other) {
            serde_json::Value::Null => {
                array.push_str("NULL");
                return;
            }
            serde_json::Value::String(s) => s.into(),
            json => json.to_string().into(),
        },
    };
    array.push('"');
    let mut rest: &str = &text;
    while let Some(at) = rest.find(['"', '\\']) {
        array.push_str(&rest[..at]);
        array.push('\\');
        array.push_str(&rest[at..=at]);
        rest = &rest[at + 1..];
    }
    array.push_str(rest);
    array.push('"');

    fn write_plain(array: &mut String, value: impl std::fmt::Display) {
        // writing to a String cannot fail
        let _ = write!(array, "{value}");
    }
}

/// A `FROM` item reading the arrays bound from `$first` on as `alias`, with `columns`
/// (name, PostgreSQL type) as its typed columns.
pub fn unnest(first: usize, alias: &str, columns: &[(&str, &str)]) -> String {
    format!(
        "unnest({}) AS {alias}({})",
        arrays(first, columns),
        names("", columns)
    )
}

/// [`unnest`] with one more column, `place`: each row's place in the arrays, from 1.
pub fn unnest_numbered(first: usize, alias: &str, columns: &[(&str, &str)], place: &str) -> String {
    format!(
        r#"unnest({}) WITH ORDINALITY AS {alias}({}, "{place}")"#,
        arrays(first, columns),
        names("", columns)
    )
}

/// The array parameters from `$first` on, each cast to its column's array type.
fn arrays(first: usize, columns: &[(&str, &str)]) -> String {
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("${}::{ty}[]", first + i))
        .collect();
    arrays.join(", ")
}

/// `columns`' names, quoted and prefixed with `alias.` when it is not empty.
pub fn names(alias: &str, columns: &[(&str, &str)]) -> String {
    let names: Vec<String> = columns
        .iter()
        .map(|(name, _)| match alias {
            "" => format!(r#""{name}""#),
            _ => format!(r#"{alias}."{name}""#),
        })
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [(&str, &str); 3] = [("id", "bigint"), ("name", "text"), ("note", "text")];

    #[test]
    fn rows_become_one_array_per_column() {
        let rows: Vec<[Value; 3]> = vec![
            [1i64.into(), "a\"b\\c".into(), Option::<String>::None.into()],
            [
                (-2i64).into(),
                "NULL".into(),
                Some("{\"x\": [1, 2]}".to_owned()).into(),
            ],
            [
                i64::MAX.into(),
                "\\\"é, }\"".into(),
                Some(String::new()).into(),
            ],
        ];
        let arrays = column_arrays(&COLUMNS, &rows);
        assert_eq!(
            arrays,
            vec![
                Value::from(format!("{{1,-2,{}}}", i64::MAX)),
                Value::from(r#"{"a\"b\\c","NULL","\\\"é, }\""}"#),
                Value::from(r#"{NULL,"{\"x\": [1, 2]}",""}"#),
            ]
        );
        assert_eq!(
            column_arrays(&COLUMNS, std::iter::empty()),
            vec![Value::from("{}"); 3]
        );
    }

    #[test]
    fn the_from_item_types_each_column() {
        assert_eq!(
            unnest(2, "v", &COLUMNS),
            r#"unnest($2::bigint[], $3::text[], $4::text[]) AS v("id", "name", "note")"#
        );
        assert_eq!(
            unnest_numbered(1, "v", &COLUMNS[1..], "k"),
            r#"unnest($1::text[], $2::text[]) WITH ORDINALITY AS v("name", "note", "k")"#
        );
        assert_eq!(names("v", &COLUMNS), r#"v."id", v."name", v."note""#);
        assert_eq!(names("", &COLUMNS), r#""id", "name", "note""#);
    }
}
