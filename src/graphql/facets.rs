//! OpenLineage facets read back: a dataset's schema and column lineage as typed fields.
use async_graphql::SimpleObject;
use entity::node;
use serde_json::Value;

/// A column (or nested field) from OpenLineage's schema facet.
#[derive(SimpleObject, Clone, Debug)]
pub struct SchemaField {
    pub name: String,
    #[graphql(name = "type")]
    pub field_type: Option<String>,
    pub description: Option<String>,
    pub fields: Vec<SchemaField>,
}

/// How an input column became an output column.
#[derive(SimpleObject, Clone, Debug)]
pub struct ColumnTransformation {
    /// DIRECT or INDIRECT.
    #[graphql(name = "type")]
    pub kind: Option<String>,
    pub subtype: Option<String>,
    pub description: Option<String>,
    pub masking: Option<bool>,
}

/// An input column that feeds an output column (OpenLineage's column lineage facet): the
/// dataset's `namespace` and `name`, the column (`field`), and how it was transformed.
#[derive(SimpleObject, Clone, Debug)]
pub struct ColumnLineageInput {
    pub namespace: String,
    pub name: String,
    pub field: String,
    pub transformations: Vec<ColumnTransformation>,
}

/// Which input columns feed one output column.
#[derive(SimpleObject, Clone, Debug)]
pub struct ColumnLineage {
    pub field: String,
    pub inputs: Vec<ColumnLineageInput>,
}

pub fn facets(n: &node::Model) -> Option<Value> {
    n.facets
        .as_deref()
        .and_then(|f| serde_json::from_str(f).ok())
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn schema_fields(list: Option<&Value>) -> Vec<SchemaField> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some(SchemaField {
                name: text(f, "name")?,
                field_type: text(f, "type"),
                description: text(f, "description"),
                fields: schema_fields(f.get("fields")),
            })
        })
        .collect()
}

pub fn schema(n: &node::Model) -> Vec<SchemaField> {
    schema_fields(
        facets(n)
            .as_ref()
            .and_then(|f| f.get("schema"))
            .and_then(|s| s.get("fields")),
    )
}

fn transformation(t: &Value) -> ColumnTransformation {
    ColumnTransformation {
        kind: text(t, "type"),
        subtype: text(t, "subtype"),
        description: text(t, "description"),
        masking: t.get("masking").and_then(Value::as_bool),
    }
}

pub fn column_lineage(n: &node::Model) -> Vec<ColumnLineage> {
    let facets = facets(n);
    let Some(fields) = facets
        .as_ref()
        .and_then(|f| f.get("columnLineage"))
        .and_then(|c| c.get("fields"))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(field, spec)| {
            // older producers describe one transformation for the whole column
            let legacy = text(spec, "transformationType").map(|kind| ColumnTransformation {
                kind: Some(kind),
                subtype: None,
                description: text(spec, "transformationDescription"),
                masking: None,
            });
            let inputs = spec
                .get("inputFields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    let mut transformations: Vec<ColumnTransformation> = i
                        .get("transformations")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(transformation)
                        .collect();
                    if transformations.is_empty() {
                        transformations.extend(legacy.clone());
                    }
                    Some(ColumnLineageInput {
                        namespace: text(i, "namespace")?,
                        name: text(i, "name")?,
                        field: text(i, "field")?,
                        transformations,
                    })
                })
                .collect();
            ColumnLineage {
                field: field.clone(),
                inputs,
            }
        })
        .collect()
}
