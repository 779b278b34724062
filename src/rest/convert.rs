//! Kubeflow bodies <-> registry values: camelCase fields, `artifactType`, typed
//! `customProperties` (`{"metadataType": "MetadataIntValue", "int_value": "3"}`), ids and
//! times as decimal strings.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entity::node;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::registry::columns::NodeColumns;
use crate::registry::props::{PropValue, Props, from_stored, validate_props};
use crate::registry::{NodeFields, NodeKind, RegistryError, Result};

/// Marks a MetadataProtoValue kept as a struct, so it reads back as a proto value.
const PROTO_MARK: &str = "__metadataProtoValue";

fn props_in(value: &Value) -> Result<Props> {
    let Value::Object(map) = value else {
        return Err(RegistryError::invalid(
            "customProperties",
            "must be an object of MetadataValue",
        ));
    };
    let mut props = Props::new();
    for (key, v) in map {
        let field = format!("customProperties.{key}");
        let Value::Object(mv) = v else {
            return Err(RegistryError::invalid(
                field,
                "must be a MetadataValue object",
            ));
        };
        let ty = mv
            .get("metadataType")
            .and_then(Value::as_str)
            .unwrap_or_else(|| {
                // the type may be left out; infer it from the one value field present
                [
                    "int_value",
                    "double_value",
                    "string_value",
                    "bool_value",
                    "struct_value",
                    "proto_value",
                ]
                .into_iter()
                .find(|k| mv.contains_key(*k))
                .map_or("", |k| match k {
                    "int_value" => "MetadataIntValue",
                    "double_value" => "MetadataDoubleValue",
                    "string_value" => "MetadataStringValue",
                    "bool_value" => "MetadataBoolValue",
                    "struct_value" => "MetadataStructValue",
                    _ => "MetadataProtoValue",
                })
            });
        let bad = |what: &str| {
            RegistryError::invalid(format!("{field}.{what}"), "is missing or of the wrong type")
        };
        // each MetadataValue has exactly its own fields (additionalProperties: false)
        let allowed: &[&str] = match ty {
            "MetadataIntValue" => &["metadataType", "int_value"],
            "MetadataDoubleValue" => &["metadataType", "double_value"],
            "MetadataStringValue" => &["metadataType", "string_value"],
            "MetadataBoolValue" => &["metadataType", "bool_value"],
            "MetadataStructValue" => &["metadataType", "struct_value"],
            _ => &["metadataType", "type", "proto_value"],
        };
        if let Some(extra) = mv.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(RegistryError::invalid(
                format!("{field}.{extra}"),
                format!("is not a field of {ty}"),
            ));
        }
        let value = match ty {
            "MetadataIntValue" => match mv.get("int_value") {
                // the spec's int_value is an int32 written as a string
                Some(Value::String(s)) => PropValue::Int(
                    s.trim()
                        .parse::<i32>()
                        .map_err(|_| bad("int_value"))?
                        .into(),
                ),
                Some(Value::Number(n)) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => {
                    PropValue::Int(n.as_i64().unwrap_or_default())
                }
                _ => return Err(bad("int_value")),
            },
            "MetadataDoubleValue" => match mv.get("double_value") {
                Some(Value::Number(n)) => {
                    PropValue::Double(n.as_f64().ok_or_else(|| bad("double_value"))?)
                }
                Some(Value::String(s)) => {
                    PropValue::Double(s.parse().map_err(|_| bad("double_value"))?)
                }
                _ => return Err(bad("double_value")),
            },
            "MetadataStringValue" => PropValue::String(
                mv.get("string_value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("string_value"))?
                    .to_owned(),
            ),
            "MetadataBoolValue" => PropValue::Bool(
                mv.get("bool_value")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| bad("bool_value"))?,
            ),
            "MetadataStructValue" => {
                let text = mv
                    .get("struct_value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("struct_value"))?;
                let bytes = STANDARD.decode(text).map_err(|_| {
                    RegistryError::invalid(format!("{field}.struct_value"), "is not base64")
                })?;
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(m)) => PropValue::Struct(m),
                    _ => {
                        return Err(RegistryError::invalid(
                            format!("{field}.struct_value"),
                            "is not base64 of a JSON object",
                        ));
                    }
                }
            }
            "MetadataProtoValue" => {
                let mut m = Map::new();
                m.insert(PROTO_MARK.to_owned(), Value::Bool(true));
                let type_url = match mv.get("type") {
                    Some(Value::String(t)) => t.clone(),
                    _ => return Err(bad("type")),
                };
                let proto = match mv.get("proto_value") {
                    Some(Value::String(p)) if STANDARD.decode(p).is_ok() => p.clone(),
                    _ => return Err(bad("proto_value")),
                };
                m.insert("type".to_owned(), Value::String(type_url));
                m.insert("proto_value".to_owned(), Value::String(proto));
                PropValue::Struct(m)
            }
            other => {
                return Err(RegistryError::invalid(
                    format!("{field}.metadataType"),
                    format!("unknown metadataType {other:?}"),
                ));
            }
        };
        props.insert(key.clone(), value);
    }
    validate_props(&props, "customProperties")?;
    Ok(props)
}

pub fn props_out(stored: &str) -> Value {
    let props = from_stored(stored);
    let mut out = Map::new();
    for (key, value) in props {
        let v = match value {
            PropValue::Int(i) => {
                json!({"metadataType": "MetadataIntValue", "int_value": i.to_string()})
            }
            PropValue::Double(d) => {
                json!({"metadataType": "MetadataDoubleValue", "double_value": d})
            }
            PropValue::String(s) => {
                json!({"metadataType": "MetadataStringValue", "string_value": s})
            }
            PropValue::Bool(b) => json!({"metadataType": "MetadataBoolValue", "bool_value": b}),
            PropValue::Struct(m) if m.get(PROTO_MARK) == Some(&Value::Bool(true)) => json!({
                "metadataType": "MetadataProtoValue",
                "type": m.get("type").cloned().unwrap_or_default(),
                "proto_value": m.get("proto_value").cloned().unwrap_or_default(),
            }),
            PropValue::Struct(m) => json!({
                "metadataType": "MetadataStructValue",
                "struct_value": STANDARD.encode(Value::Object(m).to_string()),
            }),
        };
        out.insert(key, v);
    }
    Value::Object(out)
}

/// Reads a body: an object whose fields are checked by type, naming the bad one.
pub struct Body<'a>(pub &'a Map<String, Value>);

impl<'a> Body<'a> {
    pub fn of(value: &'a Value) -> Result<Self> {
        value
            .as_object()
            .map(Body)
            .ok_or_else(|| RegistryError::invalid("body", "must be a JSON object"))
    }

    /// Refuses a field the spec does not give this kind, naming it, as Kubeflow's own
    /// server decodes bodies strictly (`json: unknown field "ext_id"`).
    pub fn known_fields(&self, kind: NodeKind) -> Result<()> {
        match self.0.keys().find(|key| !spec_has(kind, key)) {
            Some(key) => Err(RegistryError::invalid(
                key.as_str(),
                format!("unknown field: a {} has no {key:?}", kind.label()),
            )),
            None => Ok(()),
        }
    }

    pub fn str(&self, key: &str) -> Result<Option<String>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(RegistryError::invalid(key, "must be a string")),
        }
    }

    /// An identifying string (`name`, `externalId`): `""` reads as left out, as the
    /// spec sets no bound on them and Kubeflow's clients send either.
    pub fn ident(&self, key: &str) -> Result<Option<String>> {
        Ok(self.str(key)?.filter(|s| !s.is_empty()))
    }

    /// Whether the body gives `key` a value (not null, not `""`).
    pub fn has(&self, key: &str) -> bool {
        match self.0.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        }
    }

    /// An int64 sent as a string (or a number).
    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| RegistryError::invalid(key, "must be an integer")),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| RegistryError::invalid(key, "must be an integer")),
            Some(_) => Err(RegistryError::invalid(key, "must be an integer")),
        }
    }

    pub fn id(&self, key: &str) -> Result<Option<i64>> {
        match self.int(key)? {
            Some(v) if v <= 0 => Err(RegistryError::invalid(key, "is not a valid id")),
            other => Ok(other),
        }
    }

    pub fn float(&self, key: &str) -> Result<Option<f64>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(RegistryError::invalid(key, "must be a number")),
        }
    }

    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| RegistryError::invalid(key, "must be a list of strings"))
                })
                .collect::<Result<_>>()
                .map(Some),
            Some(_) => Err(RegistryError::invalid(key, "must be a list of strings")),
        }
    }

    fn state(&self, key: &str, allowed: &[&str]) -> Result<Option<String>> {
        let value = self.str(key)?;
        if let Some(v) = &value
            && !allowed.contains(&v.as_str())
        {
            return Err(RegistryError::invalid(
                key,
                format!("{v:?} is not one of {}", allowed.join(", ")),
            ));
        }
        Ok(value)
    }
}

/// Fields every kind has in Kubeflow's spec (create, update and full schemas; clients
/// send the read-only ones back on updates and upserts, and they are ignored).
const COMMON_FIELDS: [&str; 7] = [
    "id",
    "name",
    "externalId",
    "description",
    "customProperties",
    "createTimeSinceEpoch",
    "lastUpdateTimeSinceEpoch",
];

/// Fields every artifact type has besides the common ones.
const ARTIFACT_FIELDS: [&str; 4] = ["artifactType", "state", "experimentId", "experimentRunId"];

/// The fields the spec gives `kind` besides the common (and, for artifacts, artifact) ones.
fn own_fields(kind: NodeKind) -> &'static [&'static str] {
    match kind {
        NodeKind::RegisteredModel => &[
            "owner",
            "state",
            "readme",
            "maturity",
            "language",
            "tasks",
            "provider",
            "logo",
            "license",
            "licenseLink",
            "libraryName",
        ],
        NodeKind::ModelVersion => &["author", "state", "registeredModelId"],
        NodeKind::ModelArtifact => &[
            "uri",
            "modelFormatName",
            "modelFormatVersion",
            "storageKey",
            "storagePath",
            "serviceAccountName",
            "modelSourceKind",
            "modelSourceClass",
            "modelSourceGroup",
            "modelSourceId",
            "modelSourceName",
        ],
        NodeKind::DocArtifact => &["uri"],
        NodeKind::Dataset => &["uri", "digest", "sourceType", "source", "schema", "profile"],
        NodeKind::Metric => &["value", "timestamp", "step"],
        NodeKind::Parameter => &["value", "parameterType"],
        NodeKind::Experiment => &["owner", "state"],
        NodeKind::ExperimentRun => &[
            "owner",
            "state",
            "status",
            "startTimeSinceEpoch",
            "endTimeSinceEpoch",
            "experimentId",
        ],
        NodeKind::ServingEnvironment => &[],
        NodeKind::InferenceService => &[
            "modelVersionId",
            "registeredModelId",
            "servingEnvironmentId",
            "runtime",
            "desiredState",
        ],
        NodeKind::ServeModel => &["modelVersionId", "lastKnownState"],
    }
}

/// Whether the spec gives `kind` a field named `key`.
fn spec_has(kind: NodeKind, key: &str) -> bool {
    COMMON_FIELDS.contains(&key)
        || (kind.is_artifact() && ARTIFACT_FIELDS.contains(&key))
        || own_fields(kind).contains(&key)
}

/// The fields a body sets for a node of `kind` (parents are read by the caller).
pub fn fields_in(kind: NodeKind, body: &Body<'_>) -> Result<NodeFields> {
    let mut f = NodeFields {
        name: body.ident("name")?,
        external_id: body.ident("externalId")?,
        description: body.str("description")?,
        custom_properties: match body.0.get("customProperties") {
            None | Some(Value::Null) => None,
            Some(v) => Some(props_in(v)?),
        },
        ..Default::default()
    };
    let states = kind.states();
    match kind {
        NodeKind::RegisteredModel => {
            f.owner = body.str("owner")?;
            f.state = body.state("state", states)?;
            f.readme = body.str("readme")?;
            f.maturity = body.str("maturity")?;
            f.language = body.list("language")?;
            f.tasks = body.list("tasks")?;
            f.provider = body.str("provider")?;
            f.logo = body.str("logo")?;
            f.license = body.str("license")?;
            f.license_link = body.str("licenseLink")?;
            f.library_name = body.str("libraryName")?;
        }
        NodeKind::ModelVersion => {
            f.owner = body.str("author")?;
            f.state = body.state("state", states)?;
        }
        NodeKind::Experiment => {
            f.owner = body.str("owner")?;
            f.state = body.state("state", states)?;
        }
        NodeKind::ExperimentRun => {
            f.owner = body.str("owner")?;
            f.state = body.state("state", states)?;
            f.status = body.state("status", crate::registry::kind::RUN_STATUSES)?;
            f.start_time = body.int("startTimeSinceEpoch")?;
            f.end_time = body.int("endTimeSinceEpoch")?;
        }
        NodeKind::ServingEnvironment => {}
        NodeKind::InferenceService => {
            f.state = body.state("desiredState", states)?;
            f.runtime = body.str("runtime")?;
            f.model_version_id = body.id("modelVersionId")?;
            f.registered_model_id = body.id("registeredModelId")?;
        }
        NodeKind::ServeModel => {
            f.state = body.state("lastKnownState", states)?;
            f.model_version_id = body.id("modelVersionId")?;
        }
        artifact => {
            f.state = body.state("state", states)?;
            match artifact {
                NodeKind::ModelArtifact => {
                    f.uri = body.str("uri")?;
                    f.model_format_name = body.str("modelFormatName")?;
                    f.model_format_version = body.str("modelFormatVersion")?;
                    f.storage_key = body.str("storageKey")?;
                    f.storage_path = body.str("storagePath")?;
                    f.service_account_name = body.str("serviceAccountName")?;
                    f.model_source_kind = body.str("modelSourceKind")?;
                    f.model_source_class = body.str("modelSourceClass")?;
                    f.model_source_group = body.str("modelSourceGroup")?;
                    f.model_source_id = body.str("modelSourceId")?;
                    f.model_source_name = body.str("modelSourceName")?;
                }
                NodeKind::DocArtifact => f.uri = body.str("uri")?,
                NodeKind::Dataset => {
                    f.uri = body.str("uri")?;
                    f.digest = body.str("digest")?;
                    f.source_type = body.str("sourceType")?;
                    f.source = body.str("source")?;
                    f.dataset_schema = body.str("schema")?;
                    f.profile = body.str("profile")?;
                }
                NodeKind::Metric => {
                    f.metric_value = body.float("value")?;
                    f.metric_timestamp = body.int("timestamp")?;
                    f.metric_step = body.int("step")?;
                }
                NodeKind::Parameter => {
                    f.parameter_value = match body.0.get("value") {
                        Some(Value::String(s)) => Some(s.clone()),
                        None | Some(Value::Null) => None,
                        Some(other) => Some(other.to_string()),
                    };
                    f.parameter_type =
                        body.state("parameterType", crate::registry::kind::PARAMETER_TYPES)?;
                }
                _ => {}
            }
        }
    }
    Ok(f)
}

/// The artifact kind a body names with `artifactType` (model-artifact when left out).
pub fn artifact_kind(body: &Body<'_>) -> Result<NodeKind> {
    match body.str("artifactType")? {
        None => Ok(NodeKind::ModelArtifact),
        Some(t) => NodeKind::from_artifact_type(&t).ok_or_else(|| {
            RegistryError::invalid("artifactType", format!("{t:?} is not one of model-artifact, doc-artifact, dataset-artifact, metric, parameter"))
        }),
    }
}

/// The columns [`node_out`] shows of nodes of `kinds`, so that a list reads only those
/// (`registry::columns`): a Kubeflow body shows a few of a node's 53 columns, and a
/// list read every one of them, most NULL. A unit test checks each kind's body against
/// one from a whole row. No kinds is any kind: every column.
pub fn columns_shown(kinds: &[NodeKind]) -> NodeColumns {
    use node::Column as C;
    if kinds.is_empty() {
        return NodeColumns::ALL;
    }
    let mut columns = NodeColumns::required()
        .with(C::ExternalId)
        .with(C::Description);
    for kind in kinds {
        let shown: &[C] = match kind {
            NodeKind::RegisteredModel => &[
                C::Owner,
                C::Readme,
                C::Maturity,
                C::Language,
                C::Tasks,
                C::Provider,
                C::Logo,
                C::License,
                C::LicenseLink,
                C::LibraryName,
            ],
            NodeKind::ModelVersion | NodeKind::Experiment => &[C::Owner],
            NodeKind::ExperimentRun => &[C::Owner, C::Status, C::StartTime, C::EndTime],
            NodeKind::ServingEnvironment => &[],
            NodeKind::InferenceService => &[C::RegisteredModelId, C::ModelVersionId, C::Runtime],
            NodeKind::ServeModel => &[C::ModelVersionId],
            NodeKind::ModelArtifact => &[
                C::Uri,
                C::ModelFormatName,
                C::ModelFormatVersion,
                C::StorageKey,
                C::StoragePath,
                C::ServiceAccountName,
                C::ModelSourceKind,
                C::ModelSourceClass,
                C::ModelSourceGroup,
                C::ModelSourceId,
                C::ModelSourceName,
            ],
            NodeKind::DocArtifact => &[C::Uri],
            NodeKind::Dataset => &[
                C::Uri,
                C::Digest,
                C::SourceType,
                C::Source,
                C::DatasetSchema,
                C::Profile,
            ],
            NodeKind::Metric => &[C::MetricValue, C::MetricTimestamp, C::MetricStep],
            NodeKind::Parameter => &[C::ParameterValue, C::ParameterType],
        };
        columns = shown.iter().fold(columns, |c, column| c.with(*column));
    }
    columns
}

/// A node as Kubeflow's body for its kind. `experiment_of_run` gives an artifact's
/// experiment when it was logged in a run.
pub fn node_out(n: &node::Model, experiment_of_run: Option<i64>) -> Value {
    serde_json::to_value(NodeBody::new(n, experiment_of_run)).unwrap_or_default()
}

/// A node's Kubeflow body, written straight to the response: a list built each row as
/// a `serde_json::Value` first (a dozen keys and values allocated per row, then walked
/// again to serialize) and that cost more than reading the row.
pub struct NodeBody<'a> {
    n: &'a node::Model,
    experiment_of_run: Option<i64>,
}

impl<'a> NodeBody<'a> {
    pub fn new(n: &'a node::Model, experiment_of_run: Option<i64>) -> Self {
        Self {
            n,
            experiment_of_run,
        }
    }
}

/// An id or time as Kubeflow writes it: a string of digits.
struct Digits(i64);

impl Serialize for Digits {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl Serialize for NodeBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let n = self.n;
        let kind: NodeKind = n.kind.parse().unwrap_or(NodeKind::ModelArtifact);
        let mut out = serializer.serialize_map(None)?;
        // a field the node lacks is left out, as Kubeflow's server leaves it out
        fn put<M: SerializeMap, T: Serialize>(
            out: &mut M,
            key: &str,
            value: Option<T>,
        ) -> std::result::Result<(), M::Error> {
            match value {
                Some(v) => out.serialize_entry(key, &v),
                None => Ok(()),
            }
        }
        let digits = |v: Option<i64>| v.map(Digits);
        let list = |v: &Option<String>| {
            v.as_deref()
                .and_then(|l| serde_json::from_str::<Value>(l).ok())
        };
        out.serialize_entry("id", &Digits(n.id))?;
        out.serialize_entry("name", &n.name)?;
        put(&mut out, "externalId", n.external_id.as_ref())?;
        put(&mut out, "description", n.description.as_ref())?;
        out.serialize_entry("customProperties", &props_out(&n.custom_properties))?;
        out.serialize_entry("createTimeSinceEpoch", &Digits(n.create_time))?;
        out.serialize_entry("lastUpdateTimeSinceEpoch", &Digits(n.last_update_time))?;
        match kind {
            NodeKind::RegisteredModel => {
                put(&mut out, "owner", n.owner.as_ref())?;
                out.serialize_entry("state", &n.state)?;
                put(&mut out, "readme", n.readme.as_ref())?;
                put(&mut out, "maturity", n.maturity.as_ref())?;
                put(&mut out, "language", list(&n.language))?;
                put(&mut out, "tasks", list(&n.tasks))?;
                put(&mut out, "provider", n.provider.as_ref())?;
                put(&mut out, "logo", n.logo.as_ref())?;
                put(&mut out, "license", n.license.as_ref())?;
                put(&mut out, "licenseLink", n.license_link.as_ref())?;
                put(&mut out, "libraryName", n.library_name.as_ref())?;
            }
            NodeKind::ModelVersion => {
                put(&mut out, "registeredModelId", digits(n.parent_id))?;
                out.serialize_entry("state", &n.state)?;
                put(&mut out, "author", n.owner.as_ref())?;
            }
            NodeKind::Experiment => {
                put(&mut out, "owner", n.owner.as_ref())?;
                out.serialize_entry("state", &n.state)?;
            }
            NodeKind::ExperimentRun => {
                put(&mut out, "experimentId", digits(n.parent_id))?;
                put(&mut out, "owner", n.owner.as_ref())?;
                out.serialize_entry("state", &n.state)?;
                put(&mut out, "status", n.status.as_ref())?;
                put(&mut out, "startTimeSinceEpoch", digits(n.start_time))?;
                put(&mut out, "endTimeSinceEpoch", digits(n.end_time))?;
            }
            NodeKind::ServingEnvironment => {}
            NodeKind::InferenceService => {
                put(&mut out, "servingEnvironmentId", digits(n.parent_id))?;
                put(&mut out, "registeredModelId", digits(n.registered_model_id))?;
                put(&mut out, "modelVersionId", digits(n.model_version_id))?;
                put(&mut out, "runtime", n.runtime.as_ref())?;
                out.serialize_entry("desiredState", &n.state)?;
            }
            NodeKind::ServeModel => {
                put(&mut out, "modelVersionId", digits(n.model_version_id))?;
                out.serialize_entry("lastKnownState", &n.state)?;
            }
            artifact => {
                put(&mut out, "artifactType", artifact.artifact_type())?;
                out.serialize_entry("state", &n.state)?;
                if n.parent_kind.as_deref() == Some("EXPERIMENT_RUN") {
                    put(&mut out, "experimentRunId", digits(n.parent_id))?;
                    put(&mut out, "experimentId", digits(self.experiment_of_run))?;
                }
                match artifact {
                    NodeKind::ModelArtifact => {
                        put(&mut out, "uri", n.uri.as_ref())?;
                        put(&mut out, "modelFormatName", n.model_format_name.as_ref())?;
                        put(
                            &mut out,
                            "modelFormatVersion",
                            n.model_format_version.as_ref(),
                        )?;
                        put(&mut out, "storageKey", n.storage_key.as_ref())?;
                        put(&mut out, "storagePath", n.storage_path.as_ref())?;
                        put(
                            &mut out,
                            "serviceAccountName",
                            n.service_account_name.as_ref(),
                        )?;
                        put(&mut out, "modelSourceKind", n.model_source_kind.as_ref())?;
                        put(&mut out, "modelSourceClass", n.model_source_class.as_ref())?;
                        put(&mut out, "modelSourceGroup", n.model_source_group.as_ref())?;
                        put(&mut out, "modelSourceId", n.model_source_id.as_ref())?;
                        put(&mut out, "modelSourceName", n.model_source_name.as_ref())?;
                    }
                    NodeKind::DocArtifact => put(&mut out, "uri", n.uri.as_ref())?,
                    NodeKind::Dataset => {
                        put(&mut out, "uri", n.uri.as_ref())?;
                        put(&mut out, "digest", n.digest.as_ref())?;
                        put(&mut out, "sourceType", n.source_type.as_ref())?;
                        put(&mut out, "source", n.source.as_ref())?;
                        put(&mut out, "schema", n.dataset_schema.as_ref())?;
                        put(&mut out, "profile", n.profile.as_ref())?;
                    }
                    NodeKind::Metric => {
                        put(&mut out, "value", n.metric_value)?;
                        put(&mut out, "timestamp", digits(n.metric_timestamp))?;
                        put(&mut out, "step", n.metric_step)?;
                    }
                    NodeKind::Parameter => {
                        put(&mut out, "value", n.parameter_value.as_ref())?;
                        put(&mut out, "parameterType", n.parameter_type.as_ref())?;
                    }
                    _ => {}
                }
            }
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_values_round_trip() {
        let body = json!({
            "i": {"metadataType": "MetadataIntValue", "int_value": "3"},
            "d": {"metadataType": "MetadataDoubleValue", "double_value": 3.0},
            "s": {"metadataType": "MetadataStringValue", "string_value": "x"},
            "b": {"metadataType": "MetadataBoolValue", "bool_value": true},
            "o": {"metadataType": "MetadataStructValue", "struct_value": STANDARD.encode("{\"k\":[1,2]}")},
            "p": {"metadataType": "MetadataProtoValue", "type": "t", "proto_value": "AAE="},
        });
        let props = props_in(&body).unwrap();
        assert_eq!(props["i"], PropValue::Int(3));
        assert_eq!(props["d"], PropValue::Double(3.0));
        let out = props_out(&crate::registry::props::to_stored(&props));
        assert_eq!(out, body);
        assert!(
            props_in(&json!({"i": {"metadataType": "MetadataIntValue", "int_value": "x"}}))
                .is_err()
        );
    }

    /// Every kind's body from the columns `columns_shown` names is its body from the
    /// whole row: a field `node_out` shows but the list does not read would come out
    /// missing. Every column holds a value here (text columns a JSON list, which the
    /// list-valued fields parse), and an artifact is logged in a run.
    #[test]
    fn bodies_read_from_the_columns_shown_are_whole() {
        use sea_orm::{ColumnTrait, ColumnType, IdenStatic, Iterable};
        for kind in NodeKind::ALL {
            let mut whole = Map::new();
            for (at, column) in node::Column::iter().enumerate() {
                let value = match column.def().get_column_type() {
                    ColumnType::BigInteger | ColumnType::Integer => json!(at + 1),
                    ColumnType::Double | ColumnType::Float => json!(at as f64 + 0.5),
                    _ => json!(format!("[\"{}\"]", column.as_str())),
                };
                whole.insert(column.as_str().to_owned(), value);
            }
            whole.insert("kind".into(), json!(kind.as_str()));
            whole.insert("parent_kind".into(), json!("EXPERIMENT_RUN"));
            whole.insert("custom_properties".into(), json!("{}"));
            let shown = columns_shown(&[kind]);
            let mut narrowed = whole.clone();
            for column in node::Column::iter() {
                if !shown.has(column) {
                    narrowed.insert(column.as_str().to_owned(), Value::Null);
                }
            }
            let whole: node::Model = serde_json::from_value(Value::Object(whole)).unwrap();
            let narrowed: node::Model = serde_json::from_value(Value::Object(narrowed)).unwrap();
            assert_eq!(
                node_out(&narrowed, Some(3)),
                node_out(&whole, Some(3)),
                "{kind:?}"
            );
            assert!(!shown.is_all(), "{kind:?} reads every column");
        }
        assert!(
            columns_shown(&[]).is_all(),
            "a list of any kind reads every column"
        );
    }
}
