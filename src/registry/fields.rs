//! What a door hands the registry to create or change a node: every field optional,
//! checked here once for all doors.
use entity::node;
use sea_orm::ActiveValue::Set;

use super::error::{RegistryError, Result};
use super::kind::{NodeKind, PARAMETER_TYPES, RUN_STATUSES};
use super::props::{Props, to_stored, validate_props};

pub const MAX_NAME_CHARS: usize = 255;
const MAX_SHORT_TEXT: usize = 4 * 1024;
const MAX_URI: usize = 8 * 1024;
const MAX_LONG_TEXT: usize = 64 * 1024;
const MAX_DOCUMENT: usize = 256 * 1024;

#[derive(Clone, Debug, Default)]
pub struct NodeFields {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub parent_id: Option<i64>,
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub state: Option<String>,
    pub custom_properties: Option<Props>,
    pub uri: Option<String>,
    pub model_format_name: Option<String>,
    pub model_format_version: Option<String>,
    pub storage_key: Option<String>,
    pub storage_path: Option<String>,
    pub service_account_name: Option<String>,
    pub model_source_kind: Option<String>,
    pub model_source_class: Option<String>,
    pub model_source_group: Option<String>,
    pub model_source_id: Option<String>,
    pub model_source_name: Option<String>,
    pub digest: Option<String>,
    pub source_type: Option<String>,
    pub source: Option<String>,
    pub dataset_schema: Option<String>,
    pub profile: Option<String>,
    pub metric_value: Option<f64>,
    pub metric_timestamp: Option<i64>,
    pub metric_step: Option<i64>,
    pub parameter_value: Option<String>,
    pub parameter_type: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub status: Option<String>,
    pub registered_model_id: Option<i64>,
    pub model_version_id: Option<i64>,
    pub runtime: Option<String>,
    pub readme: Option<String>,
    pub maturity: Option<String>,
    pub language: Option<Vec<String>>,
    pub tasks: Option<Vec<String>>,
    pub provider: Option<String>,
    pub logo: Option<String>,
    pub license: Option<String>,
    pub license_link: Option<String>,
    pub library_name: Option<String>,
    pub facets: Option<String>,
    pub parent_run_id: Option<i64>,
}

/// Checks a name: 1 to 255 characters, no control characters.
pub fn validate_name(field: &str, name: &str) -> Result<()> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(RegistryError::invalid(
            field,
            format!("must be 1 to {MAX_NAME_CHARS} characters (got {chars})"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(RegistryError::invalid(
            field,
            "may not contain control characters",
        ));
    }
    Ok(())
}

/// Checks free text: at most `max` bytes, and no NUL (PostgreSQL cannot store one, so
/// no store takes it). Other control characters (newlines, tabs) are text.
pub(crate) fn check_len(field: &str, value: &Option<String>, max: usize) -> Result<()> {
    let Some(v) = value else {
        return Ok(());
    };
    if v.len() > max {
        return Err(RegistryError::invalid(
            field,
            format!("is longer than {max} bytes"),
        ));
    }
    if v.contains('\0') {
        return Err(RegistryError::invalid(
            field,
            "may not contain NUL characters",
        ));
    }
    Ok(())
}

fn check_one_of(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<()> {
    if let Some(v) = value
        && !allowed.contains(&v.as_str())
    {
        return Err(RegistryError::invalid(
            field,
            format!("{v:?} is not one of {}", allowed.join(", ")),
        ));
    }
    Ok(())
}

/// A list of names as a row keeps it (`language`, `tasks`: JSON text, written by
/// [`NodeFields::apply`]); empty when unset or unreadable.
pub fn stored_list(text: Option<&str>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

impl NodeFields {
    /// Validates every field that is set, for a node of `kind`.
    pub fn validate(&self, kind: NodeKind) -> Result<()> {
        if let Some(name) = &self.name {
            validate_name("name", name)?;
        }
        if let Some(id) = &self.external_id {
            validate_name("externalId", id)?;
        }
        check_one_of("state", &self.state, kind.states())?;
        check_one_of("status", &self.status, RUN_STATUSES)?;
        check_one_of("parameterType", &self.parameter_type, PARAMETER_TYPES)?;
        if let Some(props) = &self.custom_properties {
            validate_props(props, "customProperties")?;
        }
        if let Some(v) = self.metric_value
            && !v.is_finite()
        {
            return Err(RegistryError::invalid("value", "must be a finite number"));
        }
        for (field, value) in [
            ("namespace", &self.namespace),
            ("owner", &self.owner),
            ("modelFormatName", &self.model_format_name),
            ("modelFormatVersion", &self.model_format_version),
            ("storageKey", &self.storage_key),
            ("storagePath", &self.storage_path),
            ("serviceAccountName", &self.service_account_name),
            ("modelSourceKind", &self.model_source_kind),
            ("modelSourceClass", &self.model_source_class),
            ("modelSourceGroup", &self.model_source_group),
            ("modelSourceId", &self.model_source_id),
            ("modelSourceName", &self.model_source_name),
            ("digest", &self.digest),
            ("sourceType", &self.source_type),
            ("runtime", &self.runtime),
            ("maturity", &self.maturity),
            ("provider", &self.provider),
            ("license", &self.license),
            ("libraryName", &self.library_name),
        ] {
            check_len(field, value, MAX_SHORT_TEXT)?;
        }
        for (field, value) in [
            ("uri", &self.uri),
            ("source", &self.source),
            ("licenseLink", &self.license_link),
        ] {
            check_len(field, value, MAX_URI)?;
        }
        for (field, value) in [
            ("description", &self.description),
            ("readme", &self.readme),
            ("value", &self.parameter_value),
        ] {
            check_len(field, value, MAX_LONG_TEXT)?;
        }
        for (field, value) in [
            ("schema", &self.dataset_schema),
            ("profile", &self.profile),
            ("logo", &self.logo),
        ] {
            check_len(field, value, MAX_DOCUMENT)?;
        }
        for (field, list) in [("language", &self.language), ("tasks", &self.tasks)] {
            if let Some(items) = list {
                if items.len() > 256 {
                    return Err(RegistryError::invalid(field, "has more than 256 items"));
                }
                for item in items {
                    validate_name(field, item)?;
                }
            }
        }
        Ok(())
    }

    /// Copies every set field into the row being written (never name or parent: those
    /// are fixed at creation and written by the caller).
    pub fn apply(&self, row: &mut node::ActiveModel) {
        macro_rules! set {
            ($($field:ident),* $(,)?) => {
                $(if let Some(v) = &self.$field {
                    row.$field = Set(Some(v.clone()));
                })*
            };
        }
        set!(
            external_id,
            description,
            owner,
            uri,
            model_format_name,
            model_format_version,
            storage_key,
            storage_path,
            service_account_name,
            model_source_kind,
            model_source_class,
            model_source_group,
            model_source_id,
            model_source_name,
            digest,
            source_type,
            source,
            dataset_schema,
            profile,
            metric_value,
            metric_timestamp,
            metric_step,
            parameter_value,
            parameter_type,
            start_time,
            end_time,
            status,
            registered_model_id,
            model_version_id,
            runtime,
            readme,
            maturity,
            provider,
            logo,
            license,
            license_link,
            library_name,
            facets,
            parent_run_id,
        );
        if let Some(state) = &self.state {
            row.state = Set(state.clone());
        }
        if let Some(props) = &self.custom_properties {
            row.custom_properties = Set(to_stored(props));
        }
        if let Some(list) = &self.language {
            row.language = Set(Some(serde_json::to_string(list).unwrap_or_default()));
        }
        if let Some(list) = &self.tasks {
            row.tasks = Set(Some(serde_json::to_string(list).unwrap_or_default()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ErrorCode;
    use crate::registry::props::PropValue;

    /// The field an INVALID_INPUT error names.
    fn refused(fields: NodeFields, kind: NodeKind) -> String {
        match fields.validate(kind) {
            Err(RegistryError::InvalidInput { field, .. }) => field,
            other => panic!("expected INVALID_INPUT, got {other:?}"),
        }
    }

    fn named(name: &str) -> NodeFields {
        NodeFields {
            name: Some(name.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn names_are_1_to_255_characters_without_control_characters() {
        let kind = NodeKind::RegisteredModel;
        assert!(named("a").validate(kind).is_ok());
        // characters, not bytes: 255 three-byte characters fit
        assert!(named(&"€".repeat(255)).validate(kind).is_ok());
        assert_eq!(refused(named(""), kind), "name");
        assert_eq!(refused(named(&"x".repeat(256)), kind), "name");
        assert_eq!(refused(named("tab\there"), kind), "name");
        assert_eq!(refused(named("new\nline"), kind), "name");
        let external = NodeFields {
            external_id: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(refused(external, kind), "externalId");
    }

    #[test]
    fn states_statuses_and_parameter_types_come_from_their_lists() {
        let state = |s: &str| NodeFields {
            state: Some(s.to_owned()),
            ..Default::default()
        };
        assert!(state("ARCHIVED").validate(NodeKind::ModelVersion).is_ok());
        assert!(
            state("DEPLOYED")
                .validate(NodeKind::InferenceService)
                .is_ok()
        );
        assert!(state("PENDING").validate(NodeKind::Dataset).is_ok());
        // each kind has its own states
        assert_eq!(refused(state("DEPLOYED"), NodeKind::ModelVersion), "state");
        assert_eq!(refused(state("LIVE"), NodeKind::InferenceService), "state");
        assert_eq!(refused(state("live"), NodeKind::RegisteredModel), "state");
        let status = NodeFields {
            status: Some("DONE".into()),
            ..Default::default()
        };
        assert_eq!(refused(status, NodeKind::ExperimentRun), "status");
        let parameter = NodeFields {
            parameter_type: Some("float".into()),
            ..Default::default()
        };
        assert_eq!(refused(parameter, NodeKind::Parameter), "parameterType");
    }

    #[test]
    fn metric_values_are_finite() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let metric = NodeFields {
                metric_value: Some(v),
                ..Default::default()
            };
            assert_eq!(refused(metric, NodeKind::Metric), "value");
        }
        let metric = NodeFields {
            metric_value: Some(-0.5),
            ..Default::default()
        };
        assert!(metric.validate(NodeKind::Metric).is_ok());
    }

    #[test]
    fn text_fields_have_bounds_that_name_the_field() {
        let kind = NodeKind::ModelArtifact;
        let over = |max: usize| Some("x".repeat(max + 1));
        let cases = [
            (
                NodeFields {
                    owner: over(MAX_SHORT_TEXT),
                    ..Default::default()
                },
                "owner",
            ),
            (
                NodeFields {
                    uri: over(MAX_URI),
                    ..Default::default()
                },
                "uri",
            ),
            (
                NodeFields {
                    description: over(MAX_LONG_TEXT),
                    ..Default::default()
                },
                "description",
            ),
            (
                NodeFields {
                    dataset_schema: over(MAX_DOCUMENT),
                    ..Default::default()
                },
                "schema",
            ),
        ];
        for (fields, field) in cases {
            assert_eq!(refused(fields, kind), field);
        }
        let at_bound = NodeFields {
            description: Some("x".repeat(MAX_LONG_TEXT)),
            uri: Some("x".repeat(MAX_URI)),
            ..Default::default()
        };
        assert!(at_bound.validate(kind).is_ok());
    }

    #[test]
    fn lists_are_bounded_and_hold_names() {
        let kind = NodeKind::RegisteredModel;
        let many = NodeFields {
            language: Some(vec!["en".into(); 257]),
            ..Default::default()
        };
        assert_eq!(refused(many, kind), "language");
        let empty_item = NodeFields {
            tasks: Some(vec!["classification".into(), String::new()]),
            ..Default::default()
        };
        assert_eq!(refused(empty_item, kind), "tasks");
    }

    #[test]
    fn custom_properties_are_checked_with_the_rest() {
        let kind = NodeKind::Experiment;
        let with = |key: &str, value: PropValue| NodeFields {
            custom_properties: Some([(key.to_owned(), value)].into_iter().collect()),
            ..Default::default()
        };
        assert!(with("epochs", PropValue::Int(3)).validate(kind).is_ok());
        assert_eq!(
            refused(with("", PropValue::Int(3)), kind),
            "customProperties"
        );
        assert_eq!(
            refused(with("a\u{7}", PropValue::Int(3)), kind),
            "customProperties"
        );
        assert_eq!(
            refused(with("auc", PropValue::Double(f64::NAN)), kind),
            "customProperties.auc"
        );
        // over the per-object size is a limit, not bad input
        let huge = with("blob", PropValue::String("x".repeat(300 * 1024)));
        let err = huge.validate(kind).unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
        assert!(err.to_string().contains("customProperties"), "{err}");
    }

    #[test]
    fn free_text_takes_newlines_but_not_nul() {
        let kind = NodeKind::Dataset;
        let text = |description: &str, namespace: &str| NodeFields {
            description: Some(description.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        };
        assert!(text("line one\nline\ttwo", "s3://b").validate(kind).is_ok());
        assert_eq!(refused(text("a\0b", "s3://b"), kind), "description");
        assert_eq!(refused(text("ok", "s3://\0"), kind), "namespace");
    }
}
