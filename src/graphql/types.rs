//! Shared GraphQL vocabulary: ids, times, enums, ordering and the common filter inputs.
use async_graphql::{Enum, ID, InputObject, Json};
use serde_json::Value;

use crate::registry::filter::{PropOp, PropertyFilter as RegPropertyFilter, StringMatch};
use crate::registry::page::{Direction, Order, OrderField as RegOrderField};
use crate::registry::props::{PropValue, Props, props_from_json};
use crate::registry::{NodeKind as RegKind, RegistryError, Result};

/// Parses a global id (a decimal string); `field` names the argument in errors.
pub fn parse_id(id: &ID, field: &str) -> Result<i64> {
    id.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        RegistryError::invalid(field, format!("{:?} is not a valid id", id.as_str()))
    })
}

pub fn parse_ids(ids: &[ID], field: &str) -> Result<Vec<i64>> {
    ids.iter().map(|id| parse_id(id, field)).collect()
}

pub fn opt_id(id: &Option<ID>, field: &str) -> Result<Option<i64>> {
    id.as_ref().map(|id| parse_id(id, field)).transpose()
}

pub fn to_id(id: i64) -> ID {
    ID(id.to_string())
}

pub use crate::registry::time::{datetime, millis};

/// A metric's or a parameter's value: a JSON number for a `Metric`, a JSON string for a
/// `Parameter`. One type for both, so that a selection over both kinds
/// (`... on Metric { value } ... on Parameter { value }`) is valid GraphQL; `numberValue`
/// and `stringValue` read each typed.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataValue {
    Number(f64),
    Text(String),
}

/// A metric's or a parameter's value: a JSON number for a `Metric`, a JSON string for a
/// `Parameter`. One type for both, so that a selection over both kinds is valid GraphQL;
/// `Metric.numberValue` and `Parameter.stringValue` read each typed.
#[async_graphql::Scalar]
impl async_graphql::ScalarType for MetadataValue {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match value {
            async_graphql::Value::Number(n) => n
                .as_f64()
                .map(MetadataValue::Number)
                .ok_or_else(|| async_graphql::InputValueError::custom("not a finite number")),
            async_graphql::Value::String(s) => Ok(MetadataValue::Text(s)),
            other => Err(async_graphql::InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        match self {
            MetadataValue::Number(n) => serde_json::Number::from_f64(*n)
                .map_or(async_graphql::Value::Null, async_graphql::Value::Number),
            MetadataValue::Text(s) => async_graphql::Value::String(s.clone()),
        }
    }
}

pub fn props(value: &Option<Json<Value>>) -> Result<Option<Props>> {
    value
        .as_ref()
        .map(|v| props_from_json(&v.0, "customProperties"))
        .transpose()
}

macro_rules! db_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($variant),* }
        impl $name {
            pub fn as_db(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
            pub fn from_db(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)* _ => None }
            }
            /// A stored value; one the registry never writes is an internal error.
            pub fn stored(s: &str) -> async_graphql::Result<Self> {
                use crate::graphql::errors::GqlResult;
                Self::from_db(s)
                    .ok_or_else(|| RegistryError::Internal(format!(
                        "stored {} {s:?} is not one of its values", stringify!($name)
                    )))
                    .gql()
            }
        }
    };
}

db_enum!(
    /// What a node is.
    NodeKind {
        RegisteredModel => "REGISTERED_MODEL",
        ModelVersion => "MODEL_VERSION",
        ModelArtifact => "MODEL_ARTIFACT",
        DocArtifact => "DOC_ARTIFACT",
        Dataset => "DATASET",
        Metric => "METRIC",
        Parameter => "PARAMETER",
        Experiment => "EXPERIMENT",
        ExperimentRun => "EXPERIMENT_RUN",
        ServingEnvironment => "SERVING_ENVIRONMENT",
        InferenceService => "INFERENCE_SERVICE",
        ServeModel => "SERVE_MODEL",
    }
);

impl NodeKind {
    pub fn registry(self) -> RegKind {
        self.as_db()
            .parse()
            .expect("every GraphQL kind is a registry kind")
    }

    pub fn of(kind: RegKind) -> Self {
        Self::from_db(kind.as_str()).expect("every registry kind is a GraphQL kind")
    }
}

db_enum!(
    /// The kinds of artifact.
    ArtifactType {
        ModelArtifact => "MODEL_ARTIFACT",
        DocArtifact => "DOC_ARTIFACT",
        Dataset => "DATASET",
        Metric => "METRIC",
        Parameter => "PARAMETER",
    }
);

impl ArtifactType {
    pub fn registry(self) -> RegKind {
        self.as_db()
            .parse()
            .expect("every artifact type is a registry kind")
    }
}

db_enum!(
    /// LIVE or ARCHIVED: archiving is how registry objects are retired.
    RegisteredModelState { Live => "LIVE", Archived => "ARCHIVED" }
);
db_enum!(
    /// LIVE or ARCHIVED. An archived version is still listed and read, but `latestVersion`
    /// (and an inference service serving its model's latest) skips it, and it can't be
    /// requested or approved for release.
    ModelVersionState { Live => "LIVE", Archived => "ARCHIVED" }
);
db_enum!(
    /// LIVE or ARCHIVED: archiving is how an experiment is retired; nothing is deleted.
    ExperimentState { Live => "LIVE", Archived => "ARCHIVED" }
);
db_enum!(
    /// LIVE or ARCHIVED: archiving is how a run is retired; nothing is deleted. Where the
    /// run's work stands is its `status`, not its state.
    ExperimentRunState { Live => "LIVE", Archived => "ARCHIVED" }
);
db_enum!(
    /// LIVE or ARCHIVED: archiving is how a serving environment is retired; nothing is
    /// deleted.
    ServingEnvironmentState { Live => "LIVE", Archived => "ARCHIVED" }
);
db_enum!(
    /// An artifact's state, as in ml-metadata.
    ArtifactState {
        Unknown => "UNKNOWN",
        Pending => "PENDING",
        Live => "LIVE",
        MarkedForDeletion => "MARKED_FOR_DELETION",
        Deleted => "DELETED",
        Abandoned => "ABANDONED",
        Reference => "REFERENCE",
    }
);
db_enum!(
    /// The desired state of an inference service.
    InferenceServiceState { Deployed => "DEPLOYED", Undeployed => "UNDEPLOYED" }
);
db_enum!(
    /// The state of an execution such as a ServeModel.
    ExecutionState {
        Unknown => "UNKNOWN",
        New => "NEW",
        Running => "RUNNING",
        Complete => "COMPLETE",
        Failed => "FAILED",
        Cached => "CACHED",
        Canceled => "CANCELED",
    }
);
db_enum!(
    /// Where a run is: [SCHEDULED ->] RUNNING -> FINISHED | FAILED | KILLED.
    ExperimentRunStatus {
        Running => "RUNNING",
        Scheduled => "SCHEDULED",
        Finished => "FINISHED",
        Failed => "FAILED",
        Killed => "KILLED",
    }
);
db_enum!(
    /// The type of a parameter's value.
    ParameterType { String => "string", Number => "number", Boolean => "boolean", Object => "object" }
);

/// What a list is sorted by; ties break by id. A list without `orderBy` is sorted by
/// CREATE_TIME, ascending.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrderField {
    /// When the node was created.
    #[default]
    CreateTime,
    /// When the node was last updated.
    LastUpdateTime,
    Name,
    /// The global id.
    Id,
}

/// Which way a list is sorted: ASC (the default) or DESC.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

/// How a list is sorted; ties break by id.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct OrderBy {
    pub field: OrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Sorts runs by the value of their metric or their parameter of one name (give one of
/// `metric` and `parameter`): metrics as numbers, parameters as text; ties break by id,
/// and runs without that metric or parameter come last either way.
#[derive(InputObject, Clone, Debug)]
pub struct ValueOrder {
    /// The name of the metric whose value sorts the runs (`auc`).
    pub metric: Option<String>,
    /// The name of the parameter whose value sorts the runs (`optimizer`).
    pub parameter: Option<String>,
    /// DESC (the default: the best score first) or ASC.
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

impl ValueOrder {
    pub fn order(&self) -> Result<crate::registry::value_order::ValueOrder> {
        use crate::registry::value_order::{ValueOrder as RegValueOrder, ValueSource};
        let (source, name) = match (&self.metric, &self.parameter) {
            (Some(metric), None) => (ValueSource::Metric, metric.clone()),
            (None, Some(parameter)) => (ValueSource::Parameter, parameter.clone()),
            _ => {
                return Err(RegistryError::invalid(
                    "orderByValue",
                    "give one of metric and parameter",
                ));
            }
        };
        Ok(RegValueOrder {
            source,
            name,
            direction: match self.direction {
                OrderDirection::Asc => Direction::Asc,
                OrderDirection::Desc => Direction::Desc,
            },
        })
    }
}

impl OrderBy {
    pub fn order(order: Option<OrderBy>) -> Order {
        let o = order.unwrap_or_default();
        Order {
            field: match o.field {
                OrderField::CreateTime => RegOrderField::CreateTime,
                OrderField::LastUpdateTime => RegOrderField::LastUpdateTime,
                OrderField::Name => RegOrderField::Name,
                OrderField::Id => RegOrderField::Id,
            },
            direction: match o.direction {
                OrderDirection::Asc => Direction::Asc,
                OrderDirection::Desc => Direction::Desc,
            },
        }
    }
}

/// Matches a string field.
#[derive(InputObject, Clone, Debug, Default)]
pub struct StringFilter {
    pub eq: Option<String>,
    /// Case-insensitive substring.
    pub contains: Option<String>,
    #[graphql(name = "in")]
    pub any_of: Option<Vec<String>>,
}

impl StringFilter {
    pub fn to_match(&self) -> StringMatch {
        StringMatch {
            eq: self.eq.clone(),
            contains: self.contains.clone(),
            any_of: self.any_of.clone(),
        }
    }
}

/// How a `PropertyFilter` compares a custom property with its `value` (EQ by default).
/// Every operator but EXISTS needs a `value` and matches only nodes that have the
/// property (NE included); booleans compare only with EQ and NE, and objects not at all.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PropertyOp {
    /// Equal.
    #[default]
    Eq,
    /// Not equal (the property must exist).
    Ne,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Case-insensitive substring of a string property.
    Contains,
    /// The property is set, whatever its value.
    Exists,
}

/// Compares one custom property; numbers compare across int and double.
#[derive(InputObject, Clone, Debug)]
pub struct PropertyFilter {
    pub key: String,
    #[graphql(default)]
    pub op: PropertyOp,
    pub value: Option<Json<Value>>,
}

impl PropertyFilter {
    pub fn to_registry(&self) -> Result<RegPropertyFilter> {
        let op = match self.op {
            PropertyOp::Eq => PropOp::Eq,
            PropertyOp::Ne => PropOp::Ne,
            PropertyOp::Gt => PropOp::Gt,
            PropertyOp::Gte => PropOp::Gte,
            PropertyOp::Lt => PropOp::Lt,
            PropertyOp::Lte => PropOp::Lte,
            PropertyOp::Contains => PropOp::Contains,
            PropertyOp::Exists => PropOp::Exists,
        };
        let field = format!("customProperties.{}", self.key);
        let value = self
            .value
            .as_ref()
            .map(|v| PropValue::from_json(&v.0, &field))
            .transpose()?;
        Ok(RegPropertyFilter {
            key: self.key.clone(),
            op,
            value,
        })
    }
}
