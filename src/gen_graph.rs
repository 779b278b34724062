//! `modelgraph gen-graph`: a synthetic ML lineage graph for benchmarks, written as the
//! `nodes.csv` (`id,kind,name`) and `edges.csv` (`source,target,kind`) that
//! `import-graph` loads. Seeded: the same `--runs` and `--seed` write the same files.
//!
//! The shape: pipelines ("projects") whose runs interleave in time. A run reads one to
//! four inputs (the first among its project's few most recent outputs; the others from
//! that window, from anywhere in the project, or from datasets shared by every project)
//! and writes one or two outputs, each a dataset or a model version (packaged by one or
//! two model artifacts, sometimes deployed as an inference service). Ids follow creation
//! order, so every edge points from a lower id to a higher one and the newest nodes sit
//! deepest: about three nodes per run.
use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What shapes the graph.
#[derive(Clone, Debug)]
pub struct Shape {
    pub runs: u64,
    pub seed: u64,
    /// Runs per project (the number of projects is runs / this, at least one).
    pub runs_per_project: u64,
    /// How many of a project's latest outputs count as recent.
    pub window: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            runs: 3300,
            seed: 42,
            runs_per_project: 500,
            window: 8,
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Generated {
    pub nodes: u64,
    pub edges: u64,
}

/// One of `options` by their weights.
fn weighted(rng: &mut ChaCha8Rng, options: &[(usize, u32)]) -> usize {
    let total: u32 = options.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (value, weight) in options {
        if pick < *weight {
            return *value;
        }
        pick -= weight;
    }
    options[options.len() - 1].0
}

struct Writer<W: Write> {
    nodes: W,
    edges: W,
    count: Generated,
}

impl<W: Write> Writer<W> {
    fn node(&mut self, kind: &str, project: u64) -> std::io::Result<u64> {
        self.count.nodes += 1;
        let id = self.count.nodes;
        let prefix = match kind {
            "DATASET" => "ds",
            "EXPERIMENT_RUN" => "run",
            "MODEL_VERSION" => "mv",
            "MODEL_ARTIFACT" => "ma",
            _ => "isvc",
        };
        writeln!(self.nodes, "{id},{kind},p{project:03}-{prefix}-{id:07}")?;
        Ok(id)
    }

    fn edge(&mut self, source: u64, target: u64, kind: &str) -> std::io::Result<()> {
        self.count.edges += 1;
        writeln!(self.edges, "{source},{target},{kind}")
    }
}

/// Writes the graph `shape` describes into `out` (created if missing);
/// `progress(runs_done)` is called every 10,000 runs and at the end.
pub fn generate(
    shape: &Shape,
    out: &Path,
    mut progress: impl FnMut(u64),
) -> std::io::Result<Generated> {
    std::fs::create_dir_all(out)?;
    let open = |name: &str| -> std::io::Result<std::io::BufWriter<std::fs::File>> {
        let file = std::fs::File::create(out.join(name)).map_err(|e| {
            std::io::Error::new(e.kind(), format!("{}: {e}", out.join(name).display()))
        })?;
        Ok(std::io::BufWriter::with_capacity(1 << 20, file))
    };
    let mut w = Writer {
        nodes: open("nodes.csv")?,
        edges: open("edges.csv")?,
        count: Generated::default(),
    };
    writeln!(w.nodes, "id,kind,name")?;
    writeln!(w.edges, "source,target,kind")?;

    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let projects = (shape.runs / shape.runs_per_project.max(1)).max(1);
    let window = shape.window.max(1);
    let shared: Vec<u64> = (0..(shape.runs / 100).max(10))
        .map(|_| w.node("DATASET", 999))
        .collect::<std::io::Result<_>>()?;
    // per project: what its runs may read (datasets and model versions), oldest first
    let mut history: Vec<Vec<u64>> = Vec::with_capacity(projects as usize);
    for p in 0..projects {
        let first = rng.random_range(3..=6);
        history.push(
            (0..first)
                .map(|_| w.node("DATASET", p))
                .collect::<std::io::Result<_>>()?,
        );
    }

    let mut inputs = Vec::with_capacity(4);
    for done in 0..shape.runs {
        if done % 10_000 == 0 && done > 0 {
            progress(done);
        }
        let p = rng.random_range(0..projects);
        let h = &history[p as usize];
        let recent = &h[h.len().saturating_sub(window)..];
        let count = weighted(&mut rng, &[(1, 30), (2, 35), (3, 20), (4, 15)]);
        inputs.clear();
        inputs.push(recent[rng.random_range(0..recent.len())]);
        for _ in 1..count {
            let r: f64 = rng.random();
            let pick = if r < 0.60 {
                recent[rng.random_range(0..recent.len())]
            } else if r < 0.85 {
                h[rng.random_range(0..h.len())]
            } else {
                shared[rng.random_range(0..shared.len())]
            };
            if !inputs.contains(&pick) {
                inputs.push(pick);
            }
        }
        let run = w.node("EXPERIMENT_RUN", p)?;
        for &input in &inputs {
            w.edge(input, run, "INPUT")?;
        }
        for _ in 0..weighted(&mut rng, &[(1, 60), (2, 40)]) {
            let output = if rng.random::<f64>() < 0.30 {
                // artifacts first, so that ids stay in creation (topological) order
                let artifacts = weighted(&mut rng, &[(1, 80), (2, 20)]);
                let mut packaged = [0u64; 2];
                for slot in packaged.iter_mut().take(artifacts) {
                    *slot = w.node("MODEL_ARTIFACT", p)?;
                }
                let version = w.node("MODEL_VERSION", p)?;
                w.edge(run, version, "OUTPUT")?;
                for &artifact in &packaged[..artifacts] {
                    w.edge(artifact, version, "PART_OF")?;
                }
                if rng.random::<f64>() < 0.30 {
                    let service = w.node("INFERENCE_SERVICE", p)?;
                    w.edge(version, service, "DEPLOYED_AS")?;
                }
                version
            } else {
                let dataset = w.node("DATASET", p)?;
                w.edge(run, dataset, "OUTPUT")?;
                dataset
            };
            history[p as usize].push(output);
        }
    }
    progress(shape.runs);
    w.nodes.flush()?;
    w.edges.flush()?;
    Ok(w.count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn the_same_seed_writes_the_same_graph_and_another_seed_another() {
        let shape = Shape {
            runs: 2000,
            ..Shape::default()
        };
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let first = generate(&shape, a.path(), |_| {}).unwrap();
        let again = generate(&shape, b.path(), |_| {}).unwrap();
        generate(
            &Shape {
                seed: 7,
                ..shape.clone()
            },
            c.path(),
            |_| {},
        )
        .unwrap();
        assert_eq!(first, again);
        assert_eq!(read(a.path(), "nodes.csv"), read(b.path(), "nodes.csv"));
        assert_eq!(read(a.path(), "edges.csv"), read(b.path(), "edges.csv"));
        assert_ne!(read(a.path(), "edges.csv"), read(c.path(), "edges.csv"));
        // about three nodes per run
        assert!((5_000..7_500).contains(&first.nodes), "{first:?}");
    }

    #[test]
    fn edges_join_known_nodes_forward_with_the_kinds_they_may_join() {
        let dir = tempfile::tempdir().unwrap();
        let made = generate(
            &Shape {
                runs: 1500,
                ..Shape::default()
            },
            dir.path(),
            |_| {},
        )
        .unwrap();
        let nodes = read(dir.path(), "nodes.csv");
        let mut lines = nodes.lines();
        assert_eq!(lines.next(), Some("id,kind,name"));
        let kinds: Vec<String> = lines
            .enumerate()
            .map(|(i, line)| {
                let cells: Vec<&str> = line.split(',').collect();
                assert_eq!(cells[0], (i + 1).to_string(), "ids in order: {line}");
                cells[1].to_owned()
            })
            .collect();
        assert_eq!(kinds.len() as u64, made.nodes);
        let edges = read(dir.path(), "edges.csv");
        let mut lines = edges.lines();
        assert_eq!(lines.next(), Some("source,target,kind"));
        let mut count = 0;
        for line in lines {
            count += 1;
            let cells: Vec<&str> = line.split(',').collect();
            let (s, t): (usize, usize) = (cells[0].parse().unwrap(), cells[1].parse().unwrap());
            assert!(s < t && t <= kinds.len(), "{line}");
            let pair = (kinds[s - 1].as_str(), kinds[t - 1].as_str(), cells[2]);
            assert!(
                matches!(
                    pair,
                    ("DATASET" | "MODEL_VERSION", "EXPERIMENT_RUN", "INPUT")
                        | ("EXPERIMENT_RUN", "DATASET" | "MODEL_VERSION", "OUTPUT")
                        | ("MODEL_ARTIFACT", "MODEL_VERSION", "PART_OF")
                        | ("MODEL_VERSION", "INFERENCE_SERVICE", "DEPLOYED_AS")
                ),
                "{line}: {pair:?}"
            );
        }
        assert_eq!(count, made.edges);
    }
}
