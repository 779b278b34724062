//! The typed `filter` inputs of every list: common fields plus each kind's own.
use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use super::types::*;
use crate::registry::{Filter, NodeKind as RegKind, Result};

/// Fields every kind's filter has.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CommonFilter {
    pub name: Option<StringFilter>,
    /// Owner, or author for model versions.
    pub owner: Option<String>,
    pub external_id: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// Every condition must hold.
    pub custom_properties: Option<Vec<PropertyFilter>>,
}

impl CommonFilter {
    fn filter(&self) -> Result<Filter> {
        Ok(Filter {
            name: self.name.as_ref().map(StringFilter::to_match),
            owner: self.owner.clone(),
            external_id: self.external_id.clone(),
            created_after: self.created_after.as_ref().map(millis),
            created_before: self.created_before.as_ref().map(millis),
            updated_after: self.updated_after.as_ref().map(millis),
            updated_before: self.updated_before.as_ref().map(millis),
            custom_properties: self
                .custom_properties
                .iter()
                .flatten()
                .map(PropertyFilter::to_registry)
                .collect::<Result<_>>()?,
            ..Default::default()
        })
    }
}

/// A kind's filter becomes a registry filter.
pub trait KindFilter {
    fn to_filter(&self) -> Result<Filter>;
}

/// Nested lists take their filters boxed, to keep their resolvers' futures small
/// (`graphql::nodes::boxed`).
impl<T: KindFilter> KindFilter for Box<T> {
    fn to_filter(&self) -> Result<Filter> {
        T::to_filter(self)
    }
}

impl<T: KindFilter> KindFilter for Option<T> {
    fn to_filter(&self) -> Result<Filter> {
        self.as_ref()
            .map_or_else(|| Ok(Filter::default()), T::to_filter)
    }
}

macro_rules! kind_filter {
    ($(#[$meta:meta])* $name:ident, $state:ty $(, $field:ident : $ty:ty => |$f:ident, $v:ident| $apply:expr)* $(,)?) => {
        $(#[$meta])*
        #[derive(InputObject, Clone, Debug, Default)]
        pub struct $name {
            #[graphql(flatten)]
            pub common: CommonFilter,
            pub state: Option<$state>,
            $(pub $field: Option<$ty>,)*
        }

        impl KindFilter for $name {
            #[allow(unused_mut)]
            fn to_filter(&self) -> Result<Filter> {
                let mut filter = self.common.filter()?;
                filter.state = self.state.map(|s| s.as_db().to_owned());
                $(if let Some($v) = &self.$field {
                    let $f = &mut filter;
                    $apply;
                })*
                Ok(filter)
            }
        }
    };
}

kind_filter!(
    /// Filters registered models. The fields given combine with AND, and with `filterQuery`.
    RegisteredModelFilter,
    RegisteredModelState
);
kind_filter!(
    /// Filters model versions (`registeredModelId`: one model's; `owner`: the author). The
    /// fields given combine with AND, and with `filterQuery`.
    ModelVersionFilter,
    ModelVersionState,
    registered_model_id: ID => |f, v| f.narrow_parent(parse_id(v, "registeredModelId")?),
);
kind_filter!(
    /// Filters artifacts of every type (`modelVersionId`, `experimentRunId`: created under
    /// that version or run). The fields given combine with AND, and with `filterQuery`.
    ArtifactFilter,
    ArtifactState,
    uri: String => |f, v| f.uri = Some(v.clone()),
    artifact_type: Vec<ArtifactType> => |f, v| f.kinds = Some(v.iter().map(|t| t.registry()).collect()),
    model_version_id: ID => |f, v| f.narrow_parent(parse_id(v, "modelVersionId")?),
    experiment_run_id: ID => |f, v| f.narrow_parent(parse_id(v, "experimentRunId")?),
);
kind_filter!(
    /// Filters datasets (`uri` and `namespace` match exactly). The fields given combine with
    /// AND, and with `filterQuery`.
    DatasetFilter,
    ArtifactState,
    uri: String => |f, v| f.uri = Some(v.clone()),
    namespace: String => |f, v| f.namespace = Some(v.clone()),
);
kind_filter!(
    /// Filters experiments (`namespace`: the OpenLineage job's, exactly). The fields given
    /// combine with AND, and with `filterQuery`.
    ExperimentFilter,
    ExperimentState,
    namespace: String => |f, v| f.namespace = Some(v.clone()),
);
kind_filter!(
    /// Filters experiment runs (`experimentId`: one experiment's). The fields given combine
    /// with AND, and with `filterQuery`.
    ExperimentRunFilter,
    ExperimentRunState,
    status: ExperimentRunStatus => |f, v| f.status = Some(v.as_db().to_owned()),
    experiment_id: ID => |f, v| f.narrow_parent(parse_id(v, "experimentId")?),
);
kind_filter!(
    /// Filters serving environments. The fields given combine with AND, and with
    /// `filterQuery`.
    ServingEnvironmentFilter,
    ServingEnvironmentState
);
kind_filter!(
    /// Filters inference services (`servingEnvironmentId`: one environment's;
    /// `registeredModelId` and `modelVersionId`: the model and version they were given).
    /// The fields given combine with AND, and with `filterQuery`.
    InferenceServiceFilter,
    InferenceServiceState,
    serving_environment_id: ID => |f, v| f.narrow_parent(parse_id(v, "servingEnvironmentId")?),
    registered_model_id: ID => |f, v| f.registered_model_id = Some(parse_id(v, "registeredModelId")?),
    model_version_id: ID => |f, v| f.model_version_id = Some(parse_id(v, "modelVersionId")?),
);
kind_filter!(
    /// Filters serve-model records (`state`: the last known execution state;
    /// `modelVersionId`: the version served). The fields given combine with AND, and with
    /// `filterQuery`.
    ServeModelFilter,
    ExecutionState,
    model_version_id: ID => |f, v| f.model_version_id = Some(parse_id(v, "modelVersionId")?),
);

/// `filterQuery` (Kubeflow's filter syntax) joins the typed filter.
pub fn with_query(mut filter: Filter, kinds: &[RegKind], query: &Option<String>) -> Result<Filter> {
    if let Some(q) = query.as_deref().filter(|q| !q.trim().is_empty()) {
        let parsed = crate::registry::filter_query::parse_query(q, kinds)?;
        filter.query = Some(parsed.condition);
        filter.query_properties = parsed.bare_properties;
    }
    Ok(filter)
}
