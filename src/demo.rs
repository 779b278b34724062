//! `modelgraph seed-demo`: a small, realistic graph to explore in GraphiQL. Idempotent:
//! a database that has the demo keeps it as it is.
use sea_orm::DatabaseConnection;

use crate::registry::edges::{EdgeKind, NewEdge, add_edges};
use crate::registry::history::Actor;
use crate::registry::props::{PropValue, Props};
use crate::registry::read::find_by_name;
use crate::registry::registered_model::{RegisterModel, register_model};
use crate::registry::run::{RecordRun, RunOutput, record_run};
use crate::registry::{NodeFields, NodeKind, Result, write};

pub const EXPERIMENT: &str = "churn-prediction";

/// Ids worth knowing for the README's queries.
#[derive(Debug, Default)]
pub struct Demo {
    pub already_there: bool,
    pub raw_dataset: i64,
    pub production_service: i64,
    pub distilled_version: i64,
}

fn props(pairs: &[(&str, PropValue)]) -> Option<Props> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn dataset(name: &str, uri: &str) -> NodeFields {
    NodeFields {
        name: Some(name.to_owned()),
        uri: Some(uri.to_owned()),
        source_type: Some("s3".to_owned()),
        ..Default::default()
    }
}

fn metric(name: &str, value: f64) -> NodeFields {
    NodeFields {
        name: Some(name.to_owned()),
        metric_value: Some(value),
        ..Default::default()
    }
}

fn parameter(name: &str, value: &str) -> NodeFields {
    NodeFields {
        name: Some(name.to_owned()),
        parameter_value: Some(value.to_owned()),
        parameter_type: Some("number".to_owned()),
        ..Default::default()
    }
}

fn run_named(experiment: i64, name: &str) -> RecordRun {
    RecordRun {
        experiment_id: Some(experiment),
        run: NodeFields {
            name: Some(name.to_owned()),
            status: Some("FINISHED".to_owned()),
            owner: Some("data-team".to_owned()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Loads the demo graph unless it is there already.
pub async fn seed(db: &DatabaseConnection) -> Result<Demo> {
    if let Some(existing) = find_by_name(db, NodeKind::Experiment, 0, "", EXPERIMENT).await? {
        let raw = find_by_name(db, NodeKind::Dataset, 0, "", "customer-events-raw").await?;
        return Ok(Demo {
            already_there: true,
            raw_dataset: raw.map_or(0, |r| r.id),
            production_service: 0,
            distilled_version: existing.id,
        });
    }
    let actor = Actor::cli();
    let experiment = write::create(
        db,
        &actor,
        NodeKind::Experiment,
        NodeFields {
            name: Some(EXPERIMENT.to_owned()),
            owner: Some("data-team".to_owned()),
            description: Some("Predict which customers will churn next month".to_owned()),
            ..Default::default()
        },
    )
    .await?;
    let raw = write::create(
        db,
        &actor,
        NodeKind::Dataset,
        dataset("customer-events-raw", "s3://demo/raw/events.parquet"),
    )
    .await?;

    let mut clean = run_named(experiment.id, "clean-events");
    clean.inputs = vec![raw.id];
    clean.outputs = vec![RunOutput {
        kind: NodeKind::Dataset,
        fields: dataset("customer-events-clean", "s3://demo/clean/events.parquet"),
    }];
    let clean_run = record_run(db, &actor, clean).await?;
    let clean_ds = find_by_name(
        db,
        NodeKind::Dataset,
        clean_run.id,
        "",
        "customer-events-clean",
    )
    .await?
    .map_or(0, |d| d.id);

    let mut features = run_named(experiment.id, "extract-features");
    features.inputs = vec![clean_ds];
    features.outputs = vec![RunOutput {
        kind: NodeKind::Dataset,
        fields: dataset("customer-features", "s3://demo/features/v1.parquet"),
    }];
    features.parameters = vec![parameter("window_days", "30")];
    let features_run = record_run(db, &actor, features).await?;
    let features_ds = find_by_name(
        db,
        NodeKind::Dataset,
        features_run.id,
        "",
        "customer-features",
    )
    .await?
    .map_or(0, |d| d.id);

    let mut versions = Vec::new();
    for (i, (auc, lr)) in [(0.91, "0.01"), (0.93, "0.005")].into_iter().enumerate() {
        let mut train = run_named(experiment.id, &format!("train-churn-v{}", i + 1));
        train.inputs = vec![features_ds];
        train.metrics = vec![metric("auc", auc), metric("loss", 0.5 - auc / 2.0)];
        train.parameters = vec![parameter("learning_rate", lr), parameter("epochs", "20")];
        let run = record_run(db, &actor, train).await?;
        let version = register_model(
            db,
            &actor,
            RegisterModel {
                name: "churn-classifier".to_owned(),
                version: Some(format!("v{}", i + 1)),
                uri: format!("s3://demo/models/churn/v{}/model.onnx", i + 1),
                model_format_name: Some("onnx".to_owned()),
                model_format_version: Some("1.15".to_owned()),
                author: Some("ada".to_owned()),
                description: Some("Gradient-boosted churn classifier".to_owned()),
                version_description: Some(format!("Trained by train-churn-v{}", i + 1)),
                custom_properties: props(&[
                    ("auc", PropValue::Double(auc)),
                    ("framework", PropValue::String("xgboost".into())),
                ]),
                produced_by_run: Some(run.id),
                ..Default::default()
            },
        )
        .await?;
        write::create(
            db,
            &actor,
            NodeKind::DocArtifact,
            NodeFields {
                name: Some("model-card".to_owned()),
                parent_id: Some(version.id),
                uri: Some(format!("s3://demo/models/churn/v{}/MODEL_CARD.md", i + 1)),
                ..Default::default()
            },
        )
        .await?;
        versions.push(version);
    }

    let mut distill = run_named(experiment.id, "distill-churn");
    distill.inputs = vec![versions[1].id, features_ds];
    let distill_run = record_run(db, &actor, distill).await?;
    let distilled = register_model(
        db,
        &actor,
        RegisterModel {
            name: "churn-classifier-small".to_owned(),
            version: Some("v1".to_owned()),
            uri: "s3://demo/models/churn-small/v1/model.onnx".to_owned(),
            model_format_name: Some("onnx".to_owned()),
            author: Some("grace".to_owned()),
            description: Some("Distilled churn classifier for edge serving".to_owned()),
            produced_by_run: Some(distill_run.id),
            derived_from: vec![versions[1].id],
            ..Default::default()
        },
    )
    .await?;

    let mut services = Vec::new();
    for (env_name, deployments) in [
        (
            "production",
            vec![("churn-api", &versions[1]), ("churn-edge", &distilled)],
        ),
        ("staging", vec![("churn-api-staging", &versions[0])]),
    ] {
        let env = write::create(
            db,
            &actor,
            NodeKind::ServingEnvironment,
            NodeFields {
                name: Some(env_name.to_owned()),
                ..Default::default()
            },
        )
        .await?;
        for (name, version) in deployments {
            let service = write::create(
                db,
                &actor,
                NodeKind::InferenceService,
                NodeFields {
                    name: Some(name.to_owned()),
                    parent_id: Some(env.id),
                    registered_model_id: version.parent_id,
                    model_version_id: Some(version.id),
                    runtime: Some("triton".to_owned()),
                    ..Default::default()
                },
            )
            .await?;
            write::create(
                db,
                &actor,
                NodeKind::ServeModel,
                NodeFields {
                    parent_id: Some(service.id),
                    model_version_id: Some(version.id),
                    state: Some("RUNNING".to_owned()),
                    ..Default::default()
                },
            )
            .await?;
            services.push(service);
        }
    }
    // the cleaned data is also derived from the raw data directly (no run needed to say so)
    add_edges(
        db,
        &actor,
        vec![NewEdge {
            source: raw.id,
            target: clean_ds,
            kind: EdgeKind::DerivedFrom,
            properties: None,
            source_kind: None,
        }],
    )
    .await?;
    Ok(Demo {
        already_there: false,
        raw_dataset: raw.id,
        production_service: services[0].id,
        distilled_version: distilled.id,
    })
}
