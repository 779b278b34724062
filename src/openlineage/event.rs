//! OpenLineage events (2-0-x), checked against the spec's shape: a bad event is refused
//! with the JSON path of the first bad field.
use serde_json::{Map, Value};

use crate::registry::{RegistryError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct DatasetRef {
    pub namespace: String,
    pub name: String,
    pub facets: Map<String, Value>,
    /// inputFacets / outputFacets, kept on the lineage edge.
    pub io_facets: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobRef {
    pub namespace: String,
    pub name: String,
    pub facets: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParentRun {
    pub run_id: String,
    pub job: JobRef,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunEvent {
    pub event_type: Option<String>,
    pub event_time: i64,
    pub run_id: String,
    pub run_facets: Map<String, Value>,
    pub parent: Option<ParentRun>,
    pub job: JobRef,
    pub inputs: Vec<DatasetRef>,
    pub outputs: Vec<DatasetRef>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Run(Box<RunEvent>),
    Dataset {
        event_time: i64,
        dataset: DatasetRef,
    },
    Job {
        event_time: i64,
        job: JobRef,
        inputs: Vec<DatasetRef>,
        outputs: Vec<DatasetRef>,
    },
}

impl Event {
    /// Every dataset the event names (inputs, then outputs).
    pub fn datasets(&self) -> impl Iterator<Item = &DatasetRef> {
        let (inputs, outputs): (&[DatasetRef], &[DatasetRef]) = match self {
            Self::Run(run) => (&run.inputs, &run.outputs),
            Self::Dataset { dataset, .. } => (std::slice::from_ref(dataset), &[]),
            Self::Job {
                inputs, outputs, ..
            } => (inputs, outputs),
        };
        inputs.iter().chain(outputs)
    }
}

pub const EVENT_TYPES: &[&str] = &["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"];

/// `path: msg`; the event itself (the empty path) is called `event`.
fn bad(path: impl Into<String>, msg: impl Into<String>) -> RegistryError {
    let path = path.into();
    let path = if path.is_empty() {
        "event".into()
    } else {
        path
    };
    RegistryError::invalid(path, msg)
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| bad(path, "must be an object"))
}

fn required<'a>(m: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value> {
    m.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| bad(join(path, key), "is required"))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn string(m: &Map<String, Value>, key: &str, path: &str) -> Result<String> {
    let p = join(path, key);
    let s = required(m, key, path)?
        .as_str()
        .ok_or_else(|| bad(&p, "must be a string"))?;
    if s.is_empty() {
        return Err(bad(&p, "must not be empty"));
    }
    // namespaces and names become node names and lookup keys; PostgreSQL cannot even
    // compare a NUL, so it is refused here, before any lookup, as on every store
    if s.contains('\0') {
        return Err(bad(&p, "may not contain NUL characters"));
    }
    Ok(s.to_owned())
}

fn uri(m: &Map<String, Value>, key: &str, path: &str) -> Result<String> {
    let s = string(m, key, path)?;
    if !s.contains(':') || s.chars().any(char::is_whitespace) {
        return Err(bad(join(path, key), format!("{s:?} is not a URI")));
    }
    Ok(s)
}

fn facets(m: &Map<String, Value>, key: &str, path: &str) -> Result<Map<String, Value>> {
    let p = join(path, key);
    match m.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(f)) => {
            for (name, facet) in f {
                let fp = join(&p, name);
                let facet = object(facet, &fp)?;
                check_facet(name, facet, &fp)?;
            }
            Ok(f.clone())
        }
        Some(_) => Err(bad(p, "must be an object of facets")),
    }
}

/// The facets modelgraph reads back are checked in depth; others only as objects.
fn check_facet(name: &str, facet: &Map<String, Value>, path: &str) -> Result<()> {
    match name {
        "schema" => {
            if let Some(fields) = facet.get("fields") {
                check_schema_fields(fields, &join(path, "fields"))?;
            }
        }
        "columnLineage" => {
            if let Some(fields) = facet.get("fields") {
                let fields = object(fields, &join(path, "fields"))?;
                for (column, spec) in fields {
                    let cp = join(&join(path, "fields"), column);
                    let spec = object(spec, &cp)?;
                    let inputs = required(spec, "inputFields", &cp)?
                        .as_array()
                        .ok_or_else(|| bad(join(&cp, "inputFields"), "must be an array"))?;
                    for (i, input) in inputs.iter().enumerate() {
                        let ip = format!("{cp}.inputFields[{i}]");
                        let input = object(input, &ip)?;
                        for key in ["namespace", "name", "field"] {
                            string(input, key, &ip)?;
                        }
                        if let Some(t) = input.get("transformations") {
                            let list = t.as_array().ok_or_else(|| {
                                bad(join(&ip, "transformations"), "must be an array")
                            })?;
                            for (j, t) in list.iter().enumerate() {
                                object(t, &format!("{ip}.transformations[{j}]"))?;
                            }
                        }
                    }
                }
            }
        }
        "parent" => {
            let run = object(required(facet, "run", path)?, &join(path, "run"))?;
            uuid(run, "runId", &join(path, "run"))?;
            let job = object(required(facet, "job", path)?, &join(path, "job"))?;
            string(job, "namespace", &join(path, "job"))?;
            string(job, "name", &join(path, "job"))?;
        }
        "version" => {
            string(facet, "datasetVersion", path)?;
        }
        _ => {}
    }
    Ok(())
}

fn check_schema_fields(v: &Value, path: &str) -> Result<()> {
    let list = v.as_array().ok_or_else(|| bad(path, "must be an array"))?;
    for (i, field) in list.iter().enumerate() {
        let fp = format!("{path}[{i}]");
        let field = object(field, &fp)?;
        string(field, "name", &fp)?;
        if let Some(nested) = field.get("fields") {
            check_schema_fields(nested, &join(&fp, "fields"))?;
        }
    }
    Ok(())
}

fn uuid(m: &Map<String, Value>, key: &str, path: &str) -> Result<String> {
    let s = string(m, key, path)?;
    uuid::Uuid::parse_str(&s).map_err(|_| bad(join(path, key), format!("{s:?} is not a UUID")))?;
    Ok(s)
}

fn time(m: &Map<String, Value>, key: &str, path: &str) -> Result<i64> {
    let s = string(m, key, path)?;
    chrono::DateTime::parse_from_rfc3339(&s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            bad(
                join(path, key),
                format!("{s:?} is not an RFC 3339 date-time"),
            )
        })
}

fn job(v: &Value, path: &str) -> Result<JobRef> {
    let m = object(v, path)?;
    Ok(JobRef {
        namespace: string(m, "namespace", path)?,
        name: string(m, "name", path)?,
        facets: facets(m, "facets", path)?,
    })
}

fn datasets(m: &Map<String, Value>, key: &str, io: &str, most: usize) -> Result<Vec<DatasetRef>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) if list.len() > most => {
            Err(RegistryError::LimitExceeded(format!(
                "{key}: an event names at most {most} datasets here (--max-event-datasets); it named {}",
                list.len()
            )))
        }
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, d)| dataset(d, &format!("{key}[{i}]"), io))
            .collect(),
        Some(_) => Err(bad(key, "must be an array")),
    }
}

fn dataset(v: &Value, path: &str, io: &str) -> Result<DatasetRef> {
    let m = object(v, path)?;
    Ok(DatasetRef {
        namespace: string(m, "namespace", path)?,
        name: string(m, "name", path)?,
        facets: facets(m, "facets", path)?,
        io_facets: if io.is_empty() {
            Map::new()
        } else {
            facets(m, io, path)?
        },
    })
}

/// Parses one event; the kind is told by its fields (run, dataset, or job alone).
/// `max_datasets` bounds its inputs and its outputs.
pub fn parse(v: &Value, max_datasets: usize) -> Result<Event> {
    let m = object(v, "")?;
    let event_time = time(m, "eventTime", "")?;
    uri(m, "producer", "")?;
    uri(m, "schemaURL", "")?;
    if m.contains_key("run") {
        let run = object(required(m, "run", "")?, "run")?;
        let run_id = uuid(run, "runId", "run")?;
        let run_facets = facets(run, "facets", "run")?;
        let parent = match run_facets.get("parent").and_then(Value::as_object) {
            Some(p) => {
                let r = p
                    .get("run")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let j = p.get("job").cloned().unwrap_or_default();
                Some(ParentRun {
                    run_id: uuid(&r, "runId", "run.facets.parent.run")?,
                    job: job(&j, "run.facets.parent.job")?,
                })
            }
            None => None,
        };
        let event_type = match m.get("eventType") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if EVENT_TYPES.contains(&t.as_str()) => Some(t.clone()),
            Some(other) => {
                return Err(bad(
                    "eventType",
                    format!("{other} is not one of {}", EVENT_TYPES.join(", ")),
                ));
            }
        };
        return Ok(Event::Run(Box::new(RunEvent {
            event_type,
            event_time,
            run_id,
            run_facets,
            parent,
            job: job(required(m, "job", "")?, "job")?,
            inputs: datasets(m, "inputs", "inputFacets", max_datasets)?,
            outputs: datasets(m, "outputs", "outputFacets", max_datasets)?,
        })));
    }
    if let Some(d) = m.get("dataset") {
        return Ok(Event::Dataset {
            event_time,
            dataset: dataset(d, "dataset", "")?,
        });
    }
    if let Some(j) = m.get("job") {
        return Ok(Event::Job {
            event_time,
            job: job(j, "job")?,
            inputs: datasets(m, "inputs", "inputFacets", max_datasets)?,
            outputs: datasets(m, "outputs", "outputFacets", max_datasets)?,
        });
    }
    Err(bad(
        "run",
        "is required (a RunEvent), or dataset (a DatasetEvent), or job (a JobEvent)",
    ))
}
