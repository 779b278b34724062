//! The node kinds and the rules that differ between them: parents, states, names.
use std::fmt;
use std::str::FromStr;

use super::error::RegistryError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    RegisteredModel,
    ModelVersion,
    ModelArtifact,
    DocArtifact,
    Dataset,
    Metric,
    Parameter,
    Experiment,
    ExperimentRun,
    ServingEnvironment,
    InferenceService,
    ServeModel,
}

pub const ARTIFACT_STATES: &[&str] = &[
    "UNKNOWN",
    "PENDING",
    "LIVE",
    "MARKED_FOR_DELETION",
    "DELETED",
    "ABANDONED",
    "REFERENCE",
];
pub const LIVE_STATES: &[&str] = &["LIVE", "ARCHIVED"];
pub const INFERENCE_SERVICE_STATES: &[&str] = &["DEPLOYED", "UNDEPLOYED"];
pub const EXECUTION_STATES: &[&str] = &[
    "UNKNOWN", "NEW", "RUNNING", "COMPLETE", "FAILED", "CACHED", "CANCELED",
];
pub const RUN_STATUSES: &[&str] = &["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];
pub const PARAMETER_TYPES: &[&str] = &["string", "number", "boolean", "object"];

impl NodeKind {
    pub const ALL: [NodeKind; 12] = [
        NodeKind::RegisteredModel,
        NodeKind::ModelVersion,
        NodeKind::ModelArtifact,
        NodeKind::DocArtifact,
        NodeKind::Dataset,
        NodeKind::Metric,
        NodeKind::Parameter,
        NodeKind::Experiment,
        NodeKind::ExperimentRun,
        NodeKind::ServingEnvironment,
        NodeKind::InferenceService,
        NodeKind::ServeModel,
    ];
    pub const ARTIFACTS: [NodeKind; 5] = [
        NodeKind::ModelArtifact,
        NodeKind::DocArtifact,
        NodeKind::Dataset,
        NodeKind::Metric,
        NodeKind::Parameter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegisteredModel => "REGISTERED_MODEL",
            Self::ModelVersion => "MODEL_VERSION",
            Self::ModelArtifact => "MODEL_ARTIFACT",
            Self::DocArtifact => "DOC_ARTIFACT",
            Self::Dataset => "DATASET",
            Self::Metric => "METRIC",
            Self::Parameter => "PARAMETER",
            Self::Experiment => "EXPERIMENT",
            Self::ExperimentRun => "EXPERIMENT_RUN",
            Self::ServingEnvironment => "SERVING_ENVIRONMENT",
            Self::InferenceService => "INFERENCE_SERVICE",
            Self::ServeModel => "SERVE_MODEL",
        }
    }

    /// A readable name for messages ("registered model").
    pub fn label(self) -> &'static str {
        match self {
            Self::RegisteredModel => "registered model",
            Self::ModelVersion => "model version",
            Self::ModelArtifact => "model artifact",
            Self::DocArtifact => "doc artifact",
            Self::Dataset => "dataset",
            Self::Metric => "metric",
            Self::Parameter => "parameter",
            Self::Experiment => "experiment",
            Self::ExperimentRun => "experiment run",
            Self::ServingEnvironment => "serving environment",
            Self::InferenceService => "inference service",
            Self::ServeModel => "serve model",
        }
    }

    pub fn is_artifact(self) -> bool {
        Self::ARTIFACTS.contains(&self)
    }

    /// Kubeflow's `artifactType` discriminator, for artifact kinds.
    pub fn artifact_type(self) -> Option<&'static str> {
        Some(match self {
            Self::ModelArtifact => "model-artifact",
            Self::DocArtifact => "doc-artifact",
            Self::Dataset => "dataset-artifact",
            Self::Metric => "metric",
            Self::Parameter => "parameter",
            _ => return None,
        })
    }

    pub fn from_artifact_type(value: &str) -> Option<Self> {
        Self::ARTIFACTS
            .into_iter()
            .find(|k| k.artifact_type() == Some(value))
    }

    /// Which kinds may be this kind's parent, and whether one is required.
    pub fn parent_rule(self) -> (&'static [NodeKind], bool) {
        match self {
            Self::ModelVersion => (&[NodeKind::RegisteredModel], true),
            Self::ExperimentRun => (&[NodeKind::Experiment], true),
            Self::InferenceService => (&[NodeKind::ServingEnvironment], true),
            Self::ServeModel => (&[NodeKind::InferenceService], true),
            k if k.is_artifact() => (&[NodeKind::ModelVersion, NodeKind::ExperimentRun], false),
            _ => (&[], false),
        }
    }

    /// The field that names the parent in create inputs.
    pub fn parent_field(self) -> &'static str {
        match self {
            Self::ModelVersion => "registeredModelId",
            Self::ExperimentRun => "experimentId",
            Self::InferenceService => "servingEnvironmentId",
            Self::ServeModel => "inferenceServiceId",
            _ => "parentId",
        }
    }

    pub fn states(self) -> &'static [&'static str] {
        match self {
            k if k.is_artifact() => ARTIFACT_STATES,
            Self::InferenceService => INFERENCE_SERVICE_STATES,
            Self::ServeModel => EXECUTION_STATES,
            _ => LIVE_STATES,
        }
    }

    pub fn default_state(self) -> &'static str {
        match self {
            k if k.is_artifact() => "UNKNOWN",
            Self::InferenceService => "DEPLOYED",
            Self::ServeModel => "UNKNOWN",
            _ => "LIVE",
        }
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NodeKind {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| RegistryError::invalid("kind", format!("unknown node kind {s:?}")))
    }
}
