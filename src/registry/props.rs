//! Typed custom properties: int stays int, double stays double (3.0 prints as 3.0).
use std::collections::BTreeMap;

use entity::node_property;
use sea_orm::ActiveValue::Set;
use serde_json::{Map, Number, Value};

use super::error::{RegistryError, Result};

pub const MAX_PROPERTIES_BYTES: usize = 256 * 1024;
pub const MAX_KEY_CHARS: usize = 255;
/// How deep objects and arrays may nest inside a struct property (the property itself is
/// level 1). Every door's JSON reader stops at 128 levels, so a deeper value written
/// through one door could not be read back through another.
pub const MAX_STRUCT_NESTING: usize = 32;

/// How deep `value`'s objects and arrays nest (a scalar is 0), and whether any string in
/// it (key or value) holds a NUL, which PostgreSQL cannot store. Iterative: the value may
/// be as deep as a client could send.
fn inspect(value: &Value) -> (usize, bool) {
    let (mut deepest, mut nul) = (0, false);
    let mut pending = vec![(value, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        match value {
            Value::Object(map) => {
                deepest = deepest.max(depth);
                nul |= map.keys().any(|k| k.contains('\0'));
                pending.extend(map.values().map(|v| (v, depth + 1)));
            }
            Value::Array(items) => {
                deepest = deepest.max(depth);
                pending.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::String(text) => nul |= text.contains('\0'),
            _ => {}
        }
    }
    (deepest, nul)
}

#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    Int(i64),
    Double(f64),
    String(String),
    Bool(bool),
    Struct(Map<String, Value>),
}

pub type Props = BTreeMap<String, PropValue>;

impl PropValue {
    /// Reads one JSON value; `field` names it in errors.
    pub fn from_json(value: &Value, field: &str) -> Result<Self> {
        Ok(match value {
            Value::Bool(b) => Self::Bool(*b),
            Value::String(s) => Self::String(s.clone()),
            Value::Number(n) => match n.as_i64() {
                Some(i) if !n.is_f64() => Self::Int(i),
                _ => Self::Double(
                    n.as_f64()
                        .ok_or_else(|| RegistryError::invalid(field, "number is out of range"))?,
                ),
            },
            Value::Object(map) => Self::Struct(map.clone()),
            Value::Null => {
                return Err(RegistryError::invalid(
                    field,
                    "null is not a property value (int, double, string, bool or object)",
                ));
            }
            Value::Array(_) => {
                return Err(RegistryError::invalid(
                    field,
                    "arrays are not property values; wrap the list in an object",
                ));
            }
        })
    }

    pub fn to_json(&self) -> Value {
        match self {
            Self::Int(i) => Value::from(*i),
            Self::Double(d) => Number::from_f64(*d)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Self::String(s) => Value::String(s.clone()),
            Self::Bool(b) => Value::Bool(*b),
            Self::Struct(m) => Value::Object(m.clone()),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Int(_) => "int",
            Self::Double(_) => "double",
            Self::String(_) => "string",
            Self::Bool(_) => "bool",
            Self::Struct(_) => "struct",
        }
    }
}

/// Validates a customProperties JSON object (the GraphQL shape: plain typed values).
pub fn props_from_json(value: &Value, field: &str) -> Result<Props> {
    let Value::Object(map) = value else {
        return Err(RegistryError::invalid(
            field,
            "must be a JSON object of property name to value",
        ));
    };
    let mut props = Props::new();
    for (key, v) in map {
        props.insert(
            key.clone(),
            PropValue::from_json(v, &format!("{field}.{key}"))?,
        );
    }
    validate_props(&props, field)?;
    Ok(props)
}

pub fn validate_props(props: &Props, field: &str) -> Result<()> {
    for (key, value) in props {
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(RegistryError::invalid(
                field,
                format!("property names are 1 to {MAX_KEY_CHARS} characters"),
            ));
        }
        if key.chars().any(char::is_control) {
            return Err(RegistryError::invalid(
                field,
                "property names may not contain control characters",
            ));
        }
        let at = || format!("{field}.{key}");
        match value {
            PropValue::Double(d) if !d.is_finite() => {
                return Err(RegistryError::invalid(at(), "doubles must be finite"));
            }
            PropValue::String(text) if text.contains('\0') => {
                return Err(RegistryError::invalid(
                    at(),
                    "may not contain NUL characters",
                ));
            }
            PropValue::Struct(map) => {
                let (depth, nul) = inspect(&Value::Object(map.clone()));
                if depth > MAX_STRUCT_NESTING {
                    return Err(RegistryError::invalid(
                        at(),
                        format!(
                            "objects and arrays nest {depth} levels deep; at most {MAX_STRUCT_NESTING}"
                        ),
                    ));
                }
                if nul {
                    return Err(RegistryError::invalid(
                        at(),
                        "may not contain NUL characters",
                    ));
                }
            }
            _ => {}
        }
    }
    if to_stored(props).len() > MAX_PROPERTIES_BYTES {
        return Err(RegistryError::LimitExceeded(format!(
            "{field} is larger than {} KiB",
            MAX_PROPERTIES_BYTES / 1024
        )));
    }
    Ok(())
}

pub fn props_to_json(props: &Props) -> Value {
    Value::Object(
        props
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
}

/// The text stored in `node.custom_properties` (plain JSON keeps int vs double apart).
pub fn to_stored(props: &Props) -> String {
    props_to_json(props).to_string()
}

/// The stored text as the JSON object it is, to serialize: `to_stored` wrote it from
/// validated properties, so it is read back as is, not checked and converted again (the
/// form `props_to_json(&from_stored(text))` gives, for a fraction of the work). It is
/// parsed into whatever it is serialized to (a GraphQL response's value) as it is read
/// (serde-transcode), with no `Value` tree between: for a list of 100 models with their
/// latest versions that tree, copied into the response, was about 5% of the server's
/// time. Text that is not an object serializes as `{}` (no properties, as in
/// `from_stored`); text the store never writes (an object cut short) fails to serialize.
pub struct StoredJson<'a>(pub &'a str);

impl serde::Serialize for StoredJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.0.trim_start().starts_with('{') {
            return Map::new().serialize(serializer);
        }
        let mut text = serde_json::Deserializer::from_str(self.0);
        serde_transcode::transcode(&mut text, serializer)
    }
}

pub fn from_stored(text: &str) -> Props {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| props_from_json(&v, "customProperties").ok())
        .unwrap_or_default()
}

/// The typed index rows that filters query.
pub fn property_rows(node_id: i64, props: &Props) -> Vec<node_property::ActiveModel> {
    props
        .iter()
        .map(|(key, value)| {
            let mut row = node_property::ActiveModel {
                node_id: Set(node_id),
                key: Set(key.clone()),
                value_type: Set(value.type_name().to_owned()),
                int_value: Set(None),
                double_value: Set(None),
                string_value: Set(None),
                bool_value: Set(None),
            };
            match value {
                // ints are also indexed as doubles so numeric filters need one column
                PropValue::Int(i) => {
                    row.int_value = Set(Some(*i));
                    row.double_value = Set(Some(*i as f64));
                }
                PropValue::Double(d) => row.double_value = Set(Some(*d)),
                PropValue::String(s) => row.string_value = Set(Some(s.clone())),
                PropValue::Bool(b) => row.bool_value = Set(Some(*b)),
                PropValue::Struct(m) => {
                    row.string_value = Set(Some(Value::Object(m.clone()).to_string()))
                }
            }
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reading the stored text as is gives what checking and converting it again gave.
    #[test]
    fn stored_json_reads_back_what_was_stored() {
        let written = json!({"team": "ml", "epochs": 3, "accuracy": 3.0, "rate": 0.25,
            "live": true, "big": 9007199254740993_i64, "config": {"layers": [1, 2], "x": null}});
        let stored = to_stored(&props_from_json(&written, "customProperties").unwrap());
        let read = serde_json::to_value(StoredJson(&stored)).unwrap();
        assert_eq!(read, props_to_json(&from_stored(&stored)));
        assert_eq!(read, written);
        assert_eq!(read["accuracy"].to_string(), "3.0");
        assert_eq!(serde_json::to_string(&StoredJson(&stored)).unwrap(), stored);
        for not_an_object in ["", "[]", "3", "null", "  "] {
            assert_eq!(
                serde_json::to_value(StoredJson(not_an_object)).unwrap(),
                json!({})
            );
        }
        assert!(serde_json::to_value(StoredJson("{")).is_err());
    }

    #[test]
    fn keeps_int_and_double_apart() {
        let props = props_from_json(
            &json!({"a": 3, "b": 3.0, "c": "x", "d": true, "e": {"k": [1]}}),
            "cp",
        )
        .unwrap();
        assert_eq!(props["a"], PropValue::Int(3));
        assert_eq!(props["b"], PropValue::Double(3.0));
        let stored = to_stored(&props);
        assert!(stored.contains("\"b\":3.0"), "{stored}");
        assert_eq!(from_stored(&stored), props);
    }

    #[test]
    fn rejects_arrays_nulls_and_non_objects() {
        assert!(props_from_json(&json!({"a": [1]}), "cp").is_err());
        assert!(props_from_json(&json!({"a": null}), "cp").is_err());
        let err = props_from_json(&json!([1]), "customProperties").unwrap_err();
        assert!(err.to_string().starts_with("customProperties"));
    }

    #[test]
    fn struct_properties_nest_to_a_bound() {
        let mut deep = json!(1);
        for _ in 0..MAX_STRUCT_NESTING {
            deep = json!({"k": deep});
        }
        // the property's own object is level 1: 32 objects fit, 33 do not
        let fits = props_from_json(&json!({"p": deep.clone()}), "cp");
        assert!(fits.is_ok(), "{fits:?}");
        let err = props_from_json(&json!({"p": {"k": deep}}), "cp").unwrap_err();
        assert!(err.to_string().starts_with("cp.p"), "{err}");
        assert!(err.to_string().contains("at most 32"), "{err}");
        let mut arrays = json!(1);
        for _ in 0..MAX_STRUCT_NESTING {
            arrays = json!([arrays]);
        }
        // an object holding 32 levels of arrays is 33 deep
        assert!(props_from_json(&json!({"p": {"a": arrays}}), "cp").is_err());
    }

    #[test]
    fn nul_characters_are_refused_anywhere_in_a_property() {
        for value in [
            json!("a\u{0}b"),
            json!({"k": "a\u{0}"}),
            json!({"k\u{0}": 1}),
        ] {
            let err = props_from_json(&json!({ "p": value }), "cp").unwrap_err();
            assert!(err.to_string().contains("NUL"), "{err}");
        }
        // other control characters are text as any other
        assert!(props_from_json(&json!({"p": "tab\there"}), "cp").is_ok());
    }
}
