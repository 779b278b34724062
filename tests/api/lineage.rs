//! Lineage walks checked against an independent in-memory BFS, and the edge rules.
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    walks_match_an_in_memory_bfs,
    edges_follow_the_rules_and_are_idempotent,
    names_and_properties_walk_back_as_written,
    as_of_truncation_and_multi_start,
    registry_facts_make_edges_and_one_hop_fields,
    paths_and_walk_statement_counts,
    direct_and_sqlx_walks_agree,
    nested_walks_match_an_in_memory_bfs,
    added_edges_read_their_ends_once,
    a_walk_reads_its_nodes_in_the_fewest_statements,
);

/// A small deterministic generator (no external crate needed for test data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone, Debug)]
struct Edge {
    id: String,
    source: String,
    target: String,
    kind: &'static str,
}

struct Graph {
    kinds: HashMap<String, &'static str>,
    edges: Vec<Edge>,
}

async fn id_of(app: &TestApp, mutation: &str, name: &str, extra: &str) -> String {
    let q = format!(r#"mutation {{ {mutation}(input: {{name: "{name}"{extra}}}) {{ id }} }}"#);
    app.ok(&q, json!({})).await[mutation]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Datasets and runs joined by random INPUT, OUTPUT and DERIVED_FROM edges; with
/// `cycles`, runs may rewrite datasets they read.
async fn random_graph(app: &TestApp, seed: u64, cycles: bool) -> Graph {
    let mut rng = Lcg(seed);
    let exp = id_of(app, "createExperiment", &format!("exp-{seed}"), "").await;
    let mut datasets = Vec::new();
    let mut runs = Vec::new();
    let mut kinds = HashMap::new();
    for i in 0..24 {
        let id = id_of(app, "createDataset", &format!("d{seed}-{i}"), "").await;
        kinds.insert(id.clone(), "DATASET");
        datasets.push(id);
    }
    for i in 0..14 {
        let id = id_of(
            app,
            "createExperimentRun",
            &format!("r{seed}-{i}"),
            &format!(r#", experimentId: "{exp}""#),
        )
        .await;
        kinds.insert(id.clone(), "EXPERIMENT_RUN");
        runs.push(id);
    }
    // a DAG in "time order" (index order), plus back edges when cycles are wanted
    let mut wanted: BTreeSet<(String, String, &'static str)> = BTreeSet::new();
    for _ in 0..70 {
        let d = rng.below(datasets.len());
        let r = rng.below(runs.len());
        let forward = d * runs.len() / datasets.len() <= r;
        match rng.below(3) {
            0 if forward || cycles => {
                wanted.insert((datasets[d].clone(), runs[r].clone(), "INPUT"))
            }
            1 if !forward || cycles => {
                wanted.insert((runs[r].clone(), datasets[d].clone(), "OUTPUT"))
            }
            _ => {
                let (a, b) = (rng.below(datasets.len()), rng.below(datasets.len()));
                if a == b || (!cycles && a > b) {
                    continue;
                }
                wanted.insert((datasets[a].clone(), datasets[b].clone(), "DERIVED_FROM"))
            }
        };
    }
    let input: Vec<Value> = wanted
        .iter()
        .map(|(s, t, k)| json!({"source": s, "target": t, "kind": k}))
        .collect();
    let data = app
        .ok("mutation($e: [LineageEdgeInput!]!) { addLineageEdges(edges: $e) { id kind source { id } target { id } } }", json!({"e": input}))
        .await;
    let edges = data["addLineageEdges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Edge {
            id: e["id"].as_str().unwrap().to_owned(),
            source: e["source"]["id"].as_str().unwrap().to_owned(),
            target: e["target"]["id"].as_str().unwrap().to_owned(),
            kind: match e["kind"].as_str().unwrap() {
                "INPUT" => "INPUT",
                "OUTPUT" => "OUTPUT",
                _ => "DERIVED_FROM",
            },
        })
        .collect::<Vec<_>>();
    assert_eq!(edges.len(), wanted.len());
    Graph { kinds, edges }
}

type Expected = (BTreeSet<(String, u32, String)>, BTreeSet<String>);

/// The oracle: plain BFS per direction, least depth per node.
fn bfs(
    g: &Graph,
    starts: &[String],
    dirs: &[&str],
    max_depth: u32,
    node_kinds: &[&str],
    edge_kinds: &[&str],
) -> Expected {
    let mut nodes = BTreeSet::new();
    let mut walked: Vec<&Edge> = Vec::new();
    for dir in dirs {
        let mut depth: HashMap<&str, u32> = starts.iter().map(|s| (s.as_str(), 0)).collect();
        let mut queue: VecDeque<&str> = starts.iter().map(String::as_str).collect();
        while let Some(n) = queue.pop_front() {
            let d = depth[n];
            if d >= max_depth {
                continue;
            }
            for e in &g.edges {
                if !edge_kinds.is_empty() && !edge_kinds.contains(&e.kind) {
                    continue;
                }
                let (near, far) = if *dir == "UPSTREAM" {
                    (&e.target, &e.source)
                } else {
                    (&e.source, &e.target)
                };
                if near != n {
                    continue;
                }
                walked.push(e);
                if !depth.contains_key(far.as_str()) {
                    depth.insert(far, d + 1);
                    queue.push_back(far);
                    if node_kinds.is_empty() || node_kinds.contains(&g.kinds[far.as_str()]) {
                        nodes.insert((far.clone(), d + 1, dir.to_string()));
                    }
                }
            }
        }
    }
    let keep: BTreeSet<&str> = starts
        .iter()
        .map(String::as_str)
        .chain(nodes.iter().map(|(id, _, _)| id.as_str()))
        .collect();
    let edges = walked
        .iter()
        .filter(|e| keep.contains(e.source.as_str()) && keep.contains(e.target.as_str()))
        .map(|e| e.id.clone())
        .collect();
    (nodes, edges)
}

const WALK: &str = r#"query($s: [ID!]!, $d: LineageDirection!, $m: Int!, $nk: [NodeKind!], $ek: [EdgeKind!]) {
    lineage(start: $s, direction: $d, maxDepth: $m, nodeKinds: $nk, edgeKinds: $ek, first: 10000) {
        truncated nodes { depth direction node { id kind } } edges { id } } }"#;

/// [`WALK`] without the edges: a walk that does not keep its edges lists the same nodes.
const WALK_NODES: &str = r#"query($s: [ID!]!, $d: LineageDirection!, $m: Int!, $nk: [NodeKind!], $ek: [EdgeKind!]) {
    lineage(start: $s, direction: $d, maxDepth: $m, nodeKinds: $nk, edgeKinds: $ek, first: 10000) {
        truncated nodes { depth direction node { id kind } } } }"#;

async fn api_walk(
    app: &TestApp,
    starts: &[String],
    dir: &str,
    max_depth: u32,
    nk: &[&str],
    ek: &[&str],
) -> Expected {
    let vars = json!({"s": starts, "d": dir, "m": max_depth,
        "nk": if nk.is_empty() { Value::Null } else { json!(nk) }, "ek": if ek.is_empty() { Value::Null } else { json!(ek) }});
    let data = app.ok(WALK, vars.clone()).await;
    let g = &data["lineage"];
    assert_eq!(g["truncated"], false);
    let without_edges = app.ok(WALK_NODES, vars).await;
    assert_eq!(
        without_edges["lineage"]["nodes"], g["nodes"],
        "selecting edges changed the nodes listed"
    );
    let nodes_list = g["nodes"].as_array().unwrap();
    let nodes: BTreeSet<(String, u32, String)> = nodes_list
        .iter()
        .map(|n| {
            (
                n["node"]["id"].as_str().unwrap().to_owned(),
                n["depth"].as_u64().unwrap() as u32,
                n["direction"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        nodes.len(),
        nodes_list.len(),
        "a node is listed twice in one direction"
    );
    let depths: Vec<u64> = nodes_list
        .iter()
        .map(|n| n["depth"].as_u64().unwrap())
        .collect();
    assert!(
        depths.windows(2).all(|w| w[0] <= w[1]),
        "nodes are not by ascending depth: {depths:?}"
    );
    let edges = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    (nodes, edges)
}

async fn walks_match_an_in_memory_bfs(app: &TestApp) {
    let mut listed = 0;
    for (seed, cycles) in [(7u64, false), (11, false), (23, true)] {
        let g = random_graph(app, seed, cycles).await;
        let mut rng = Lcg(seed * 31);
        let ids: Vec<String> = g
            .kinds
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let cases: Vec<(u32, Vec<&str>, Vec<&str>)> = vec![
            (1, vec![], vec![]),
            (2, vec![], vec![]),
            (3, vec!["DATASET"], vec![]),
            (5, vec![], vec!["INPUT", "OUTPUT"]),
            (8, vec!["EXPERIMENT_RUN"], vec!["DERIVED_FROM", "INPUT"]),
            (50, vec![], vec![]),
        ];
        for (max_depth, nk, ek) in cases {
            for dir in ["UPSTREAM", "DOWNSTREAM", "BOTH"] {
                let n_starts = 1 + rng.below(3);
                let starts: Vec<String> = (0..n_starts)
                    .map(|_| ids[rng.below(ids.len())].clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let dirs: Vec<&str> = if dir == "BOTH" {
                    vec!["UPSTREAM", "DOWNSTREAM"]
                } else {
                    vec![dir]
                };
                let want = bfs(&g, &starts, &dirs, max_depth, &nk, &ek);
                let got = api_walk(app, &starts, dir, max_depth, &nk, &ek).await;
                assert_eq!(
                    got.0, want.0,
                    "nodes differ: seed {seed} starts {starts:?} {dir} depth {max_depth} nk {nk:?} ek {ek:?}"
                );
                assert_eq!(
                    got.1, want.1,
                    "edges differ: seed {seed} starts {starts:?} {dir} depth {max_depth} nk {nk:?} ek {ek:?}"
                );
                listed += got.0.len();
            }
        }
    }
    assert!(
        listed > 200,
        "the random graphs were too sparse to test anything ({listed} nodes listed)"
    );
}

/// A walk's rows come back from the store as JSON text it builds itself (PostgreSQL by
/// concatenation): names and edge properties with quotes, backslashes, brackets and
/// text beyond ASCII (and tabs and newlines in properties) come back as written, at every hop and from a walk of several levels.
async fn names_and_properties_walk_back_as_written(app: &TestApp) {
    let odd = "q\"uo\\te café ✓ {},[] 'x'";
    let create = "mutation($n: String!) { createDataset(input: {name: $n}) { id } }";
    let d = app.ok(create, json!({"n": odd})).await["createDataset"]["id"].clone();
    let exp = id_of(app, "createExperiment", "odd-e", "").await;
    let run = app
        .ok(
            "mutation($n: String!, $e: ID!) { createExperimentRun(input: {name: $n, experimentId: $e}) { id } }",
            json!({"n": format!("{odd} run"), "e": exp}),
        )
        .await["createExperimentRun"]["id"]
        .clone();
    let out =
        app.ok(create, json!({"n": format!("{odd} out")})).await["createDataset"]["id"].clone();
    let props = json!({"note": format!("{odd}\t\n"), "n": [1, null, true]});
    let add = "mutation($e: [LineageEdgeInput!]!) { addLineageEdges(edges: $e) { id } }";
    app.ok(
        add,
        json!({"e": [
            {"source": d, "target": run, "kind": "INPUT", "properties": props},
            {"source": run, "target": out, "kind": "OUTPUT", "properties": props},
        ]}),
    )
    .await;
    let walked = app
        .ok(
            "query($s: [ID!]!) { lineage(start: $s, direction: UPSTREAM, maxDepth: 5) { nodes { depth node { name } } edges { kind properties } } }",
            json!({"s": [out]}),
        )
        .await;
    let mut names: Vec<(i64, String)> = walked["lineage"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["depth"].as_i64().unwrap(),
                n["node"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [(1, format!("{odd} run")), (2, odd.to_owned())],
        "{walked}"
    );
    let edges = walked["lineage"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "{walked}");
    for edge in edges {
        assert_eq!(edge["properties"], props, "{walked}");
    }
}

async fn edges_follow_the_rules_and_are_idempotent(app: &TestApp) {
    let d = id_of(app, "createDataset", "d", "").await;
    let exp = id_of(app, "createExperiment", "e", "").await;
    let run = id_of(
        app,
        "createExperimentRun",
        "r",
        &format!(r#", experimentId: "{exp}""#),
    )
    .await;
    let add = "mutation($e: [LineageEdgeInput!]!) { addLineageEdges(edges: $e) { id kind createTime properties } }";
    let first = app.ok(add, json!({"e": [{"source": d, "target": run, "kind": "INPUT", "properties": {"role": "train"}}]})).await;
    let again = app
        .ok(
            add,
            json!({"e": [{"source": d, "target": run, "kind": "INPUT"}]}),
        )
        .await;
    assert_eq!(
        first["addLineageEdges"][0]["id"], again["addLineageEdges"][0]["id"],
        "adding an existing edge changes nothing"
    );
    assert_eq!(again["addLineageEdges"][0]["properties"]["role"], "train");
    // walks show the properties too, and null arguments mean their defaults
    let walked = app
        .ok("query($s: [ID!]!, $d: Int, $f: Int, $dir: LineageDirection) { lineage(start: $s, maxDepth: $d, first: $f, direction: $dir) { nodes { depth } edges { properties } } }",
            json!({"s": [d], "d": null, "f": null, "dir": null}))
        .await;
    assert_eq!(walked["lineage"]["edges"][0]["properties"]["role"], "train");
    assert_eq!(walked["lineage"]["nodes"][0]["depth"], 1);
    let edges_before = app.count_rows("lineage_edge").await;
    // a wrong pair names both kinds; a batch with one bad edge writes nothing
    let (code, message) = app
        .err(add, json!({"e": [{"source": run, "target": d, "kind": "OUTPUT"}, {"source": run, "target": d, "kind": "INPUT"}]}))
        .await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(
        message.contains("EXPERIMENT_RUN") && message.contains("DATASET"),
        "{message}"
    );
    let (code, _) = app
        .err(
            add,
            json!({"e": [{"source": d, "target": d, "kind": "DERIVED_FROM"}]}),
        )
        .await;
    assert_eq!(code, "INVALID_INPUT", "self-loops are refused");
    let (code, _) = app
        .err(
            add,
            json!({"e": [{"source": d, "target": "99999", "kind": "INPUT"}]}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) = app
        .err(
            add,
            json!({"e": [{"source": exp, "target": run, "kind": "INPUT"}]}),
        )
        .await;
    assert_eq!(code, "INVALID_INPUT", "experiments are not lineage data");
    assert_eq!(app.count_rows("lineage_edge").await, edges_before);
    // removal: all or nothing
    let id = first["addLineageEdges"][0]["id"].clone();
    let (code, _) = app
        .err(
            "mutation($i: [ID!]!) { removeLineageEdges(ids: $i) }",
            json!({"i": [id, "987654"]}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(app.count_rows("lineage_edge").await, edges_before);
    let removed = app
        .ok(
            "mutation($i: [ID!]!) { removeLineageEdges(ids: $i) }",
            json!({"i": [id]}),
        )
        .await;
    assert_eq!(removed["removeLineageEdges"], 1);
    // bounds
    let (code, _) = app
        .err(
            r#"query($s: [ID!]!) { lineage(start: $s, maxDepth: 51) { truncated } }"#,
            json!({"s": [d]}),
        )
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    let (code, _) = app
        .err(
            r#"query($s: [ID!]!) { lineage(start: $s, first: 10001) { truncated } }"#,
            json!({"s": [d]}),
        )
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    let (code, _) = app
        .err(r#"{ lineage(start: ["424242"]) { truncated } }"#, json!({}))
        .await;
    assert_eq!(code, "NOT_FOUND");
}

async fn as_of_truncation_and_multi_start(app: &TestApp) {
    let exp = id_of(app, "createExperiment", "e", "").await;
    let a = id_of(app, "createDataset", "a", "").await;
    let run = id_of(
        app,
        "createExperimentRun",
        "r",
        &format!(r#", experimentId: "{exp}""#),
    )
    .await;
    let add = "mutation($e: [LineageEdgeInput!]!) { addLineageEdges(edges: $e) { id createTime } }";
    let e1 = app
        .ok(
            add,
            json!({"e": [{"source": a, "target": run, "kind": "INPUT"}]}),
        )
        .await;
    let cut = e1["addLineageEdges"][0]["createTime"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let b = id_of(app, "createDataset", "b", "").await;
    let c = id_of(app, "createDataset", "c", "").await;
    app.ok(add, json!({"e": [{"source": run, "target": b, "kind": "OUTPUT"}, {"source": run, "target": c, "kind": "OUTPUT"}]})).await;
    let q = r#"query($s: [ID!]!, $t: DateTime, $f: Int!, $d: LineageDirection!) { lineage(start: $s, direction: $d, asOf: $t, first: $f) {
        truncated nodes { depth node { id } } edges { id } } }"#;
    let now = app
        .ok(q, json!({"s": [a], "t": null, "f": 500, "d": "DOWNSTREAM"}))
        .await;
    assert_eq!(now["lineage"]["nodes"].as_array().unwrap().len(), 3);
    let then = app
        .ok(q, json!({"s": [a], "t": cut, "f": 500, "d": "DOWNSTREAM"}))
        .await;
    let ids: Vec<&str> = then["lineage"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [run.as_str()], "asOf ignores later nodes and edges");
    // a start created after asOf gives an empty graph
    let empty = app
        .ok(q, json!({"s": [b], "t": cut, "f": 500, "d": "BOTH"}))
        .await;
    assert!(empty["lineage"]["nodes"].as_array().unwrap().is_empty());
    // first caps nodes by ascending depth and says so
    let capped = app
        .ok(q, json!({"s": [a], "t": null, "f": 2, "d": "DOWNSTREAM"}))
        .await;
    assert_eq!(capped["lineage"]["truncated"], true);
    let nodes = capped["lineage"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["node"]["id"], run.as_str());
    // several starts walk together: b and c upstream meet at the run, listed once
    let multi = app
        .ok(
            q,
            json!({"s": [b, c], "t": null, "f": 500, "d": "UPSTREAM"}),
        )
        .await;
    let got: BTreeMap<String, u64> = multi["lineage"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["node"]["id"].as_str().unwrap().to_owned(),
                n["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, BTreeMap::from([(run.clone(), 1), (a.clone(), 2)]));
    // nodeKinds filters what is returned, not what is walked through
    let through = app
        .ok(r#"query($s: [ID!]!) { lineage(start: $s, direction: UPSTREAM, nodeKinds: [DATASET]) { nodes { depth node { id } } } }"#, json!({"s": [b]}))
        .await;
    assert_eq!(through["lineage"]["nodes"][0]["node"]["id"], a.as_str());
    assert_eq!(through["lineage"]["nodes"][0]["depth"], 2);
    // edgeKinds limits what is walked
    let limited = app
        .ok(r#"query($s: [ID!]!) { lineage(start: $s, direction: UPSTREAM, edgeKinds: [OUTPUT]) { nodes { node { id } } } }"#, json!({"s": [b]}))
        .await;
    assert_eq!(limited["lineage"]["nodes"].as_array().unwrap().len(), 1);
}

async fn registry_facts_make_edges_and_one_hop_fields(app: &TestApp) {
    let exp = id_of(app, "createExperiment", "e", "").await;
    let raw = id_of(app, "createDataset", "raw", "").await;
    let run = app
        .ok(r#"mutation($e: ID!, $raw: ID!) { recordRun(input: {experimentId: $e, name: "train", inputs: [$raw],
            outputs: [{artifactType: DATASET, name: "features"}], metrics: [{name: "auc", value: 0.9}],
            parameters: [{name: "lr", value: 0.01}],
            outputModelVersions: [{registeredModelName: "clf", uri: "s3://clf.onnx"}]}) { id } }"#, json!({"e": exp, "raw": raw}))
        .await["recordRun"]["id"].as_str().unwrap().to_owned();
    let base = app
        .ok(
            r#"{ registeredModel(name: "clf") { latestVersion { id } } }"#,
            json!({}),
        )
        .await["registeredModel"]["latestVersion"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tuned = app
        .ok(r#"mutation($r: ID!, $b: ID!) { registerModel(input: {name: "clf-tuned", uri: "s3://t", producedByRun: $r, derivedFrom: $b}) { id } }"#, json!({"r": run, "b": base}))
        .await["registerModel"]["id"].as_str().unwrap().to_owned();
    let env = id_of(app, "createServingEnvironment", "prod", "").await;
    let model = app
        .ok(
            r#"{ registeredModel(name: "clf-tuned") { id } }"#,
            json!({}),
        )
        .await["registeredModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let svc = id_of(app, "createInferenceService", "svc", &format!(r#", servingEnvironmentId: "{env}", registeredModelId: "{model}", modelVersionId: "{tuned}""#)).await;
    let data = app
        .ok(r#"query($r: ID!, $b: ID!, $t: ID!, $raw: ID!) {
            experimentRun(id: $r) { inputs { id } outputs { kind name } }
            base: modelVersion(id: $b) { derivatives { id } producedBy { id } artifacts { nodes { name } } }
            tuned: modelVersion(id: $t) { derivedFrom { id } producedBy { id } deployments { name } }
            raw: node(id: $raw) { ... on Dataset { consumedBy { id } producedBy { id } } }
        }"#, json!({"r": run, "b": base, "t": tuned, "raw": raw}))
        .await;
    assert_eq!(data["experimentRun"]["inputs"], json!([{"id": raw}]));
    let outputs: BTreeSet<(String, String)> = data["experimentRun"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_owned(),
                o["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("DATASET", "features"),
        ("METRIC", "auc"),
        ("PARAMETER", "lr"),
        ("MODEL_VERSION", "1"),
    ] {
        assert!(
            outputs.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{outputs:?}"
        );
    }
    assert_eq!(data["base"]["derivatives"], json!([{"id": tuned}]));
    assert_eq!(data["base"]["producedBy"], json!([{"id": run}]));
    assert_eq!(data["tuned"]["derivedFrom"], json!([{"id": base}]));
    assert_eq!(data["tuned"]["producedBy"], json!([{"id": run}]));
    assert_eq!(data["tuned"]["deployments"], json!([{"name": "svc"}]));
    assert_eq!(data["raw"]["consumedBy"], json!([{"id": run}]));
    assert_eq!(data["raw"]["producedBy"], json!([]));
    // what is the deployed service trained on? one query, many hops
    let trained = app
        .ok(r#"query($s: ID!) { inferenceService(id: $s) { upstream(maxDepth: 10, nodeKinds: [DATASET]) { nodes { node { name } } } } }"#, json!({"s": svc}))
        .await;
    let names: BTreeSet<&str> = trained["inferenceService"]["upstream"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["raw"]));
    // PART_OF comes with an artifact created under a version
    let parts = app
        .ok(r#"query($b: ID!) { modelVersion(id: $b) { upstream(maxDepth: 1, edgeKinds: [PART_OF]) { nodes { node { kind } } } } }"#, json!({"b": base}))
        .await;
    assert_eq!(
        parts["modelVersion"]["upstream"]["nodes"][0]["node"]["kind"],
        "MODEL_ARTIFACT"
    );
    // a failing recordRun writes nothing
    let before = app.count_rows("node").await;
    let (code, _) = app
        .err(r#"mutation($e: ID!) { recordRun(input: {experimentId: $e, name: "bad", inputs: ["424242"], outputs: [{artifactType: DATASET, name: "x"}]}) { id } }"#, json!({"e": exp}))
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(app.count_rows("node").await, before);
}

async fn chain(app: &TestApp, prefix: &str, len: usize, exp: &str) -> Vec<String> {
    // dataset -> run -> dataset -> run ... : `len` edges
    let mut ids = vec![id_of(app, "createDataset", &format!("{prefix}-0"), "").await];
    let mut edges = Vec::new();
    for i in 1..=len {
        let id = if i % 2 == 1 {
            id_of(
                app,
                "createExperimentRun",
                &format!("{prefix}-{i}"),
                &format!(r#", experimentId: "{exp}""#),
            )
            .await
        } else {
            id_of(app, "createDataset", &format!("{prefix}-{i}"), "").await
        };
        let kind = if i % 2 == 1 { "INPUT" } else { "OUTPUT" };
        edges.push(json!({"source": ids.last().unwrap(), "target": id, "kind": kind}));
        ids.push(id);
    }
    app.ok(
        "mutation($e: [LineageEdgeInput!]!) { addLineageEdges(edges: $e) { id } }",
        json!({"e": edges}),
    )
    .await;
    ids
}

async fn paths_and_walk_statement_counts(app: &TestApp) {
    let exp = id_of(app, "createExperiment", "e", "").await;
    let ids = chain(app, "c", 12, &exp).await;
    let path = app
        .ok(r#"query($f: ID!, $t: ID!) { lineagePath(from: $f, to: $t) { nodes { id } edges { kind source { id } target { id } } } }"#, json!({"f": ids[0], "t": ids[12]}))
        .await;
    let nodes: Vec<&str> = path["lineagePath"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(path["lineagePath"]["edges"].as_array().unwrap().len(), 12);
    // from downstream to upstream: the same path walked back, still in order from `from`
    let back = app
        .ok(
            r#"query($f: ID!, $t: ID!) { lineagePath(from: $f, to: $t) { nodes { id } } }"#,
            json!({"f": ids[12], "t": ids[0]}),
        )
        .await;
    assert_eq!(back["lineagePath"]["nodes"].as_array().unwrap().len(), 13);
    let none = app
        .ok(r#"query($f: ID!, $t: ID!) { lineagePath(from: $f, to: $t, maxDepth: 3) { nodes { id } } }"#, json!({"f": ids[0], "t": ids[12]}))
        .await;
    assert!(none["lineagePath"].is_null());

    // a depth-10 walk and nested walks cost statements by depth, not by data
    let walk = r#"query($s: [ID!]!) { lineage(start: $s, direction: DOWNSTREAM, maxDepth: 10) { nodes { node { id name
        ... on ExperimentRun { inputs { id } upstream(maxDepth: 2) { nodes { node { id } } } } } } } }"#;
    app.reset_statements();
    app.ok(walk, json!({"s": [ids[0]]})).await;
    let small = app.statements();
    for k in 0..4 {
        chain(app, &format!("more{k}"), 12, &exp).await;
    }
    // fan more data off the same start so the walk reaches more nodes
    let extra = chain(app, "wide", 12, &exp).await;
    app.ok(
        "mutation($e: [LineageEdgeInput!]!) { addLineageEdges(edges: $e) { id } }",
        json!({"e": [{"source": ids[0], "target": extra[1], "kind": "INPUT"}]}),
    )
    .await;
    // past the open server's once-a-second check for tokens, which the count leaves out
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.reset_statements();
    let data = app.ok(walk, json!({"s": [ids[0]]})).await;
    let large = app.statements();
    assert!(data["lineage"]["nodes"].as_array().unwrap().len() > 12);
    assert_eq!(
        small,
        large,
        "statements grew with the data: {:#?}",
        app.statement_log()
    );
    assert!(
        large <= 2 + 10 + 1 + 3 + 4,
        "a depth-10 walk with nested fields took {large} statements"
    );
    // the walk's own statements are counted (on SQLite they run in a direct session)
    let log = app.statement_log();
    assert!(
        log.iter()
            .filter(|s| s.contains("\"lineage_edge\""))
            .count()
            >= 2,
        "the walk's statements were not counted: {log:#?}"
    );
}

/// A walk reads the nodes it starts from and reaches in as few statements as its store
/// allows: on PostgreSQL its own statement summarises them (no other); on MySQL/MariaDB
/// one read after the walk takes the start and the nodes found together; SQLite's direct
/// session reads the start before the walk (for its creation time) and the nodes found
/// after it.
async fn a_walk_reads_its_nodes_in_the_fewest_statements(app: &TestApp) {
    let exp = id_of(app, "createExperiment", "fewest", "").await;
    let ids = chain(app, "fewest", 6, &exp).await;
    // past the open server's once-a-second check for tokens, which the count leaves out
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.reset_statements();
    let data = app
        .ok(
            r#"query($s: [ID!]!) { lineage(start: $s, direction: DOWNSTREAM, maxDepth: 10) { nodes { node { id name } } } }"#,
            json!({"s": [ids[0]]}),
        )
        .await;
    let names: Vec<&str> = data["lineage"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{data:#}");
    assert!(names.contains(&"fewest-6"), "{data:#}");
    let log = app.whole_statements();
    let node_reads = log
        .iter()
        .map(|s| s.replace('`', "\""))
        .filter(|s| s.contains("\"node\"") && !s.contains("\"lineage_edge\""))
        .count();
    let fewest = match app.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => 0,
        sea_orm::DbBackend::MySql => 1,
        _ => 2,
    };
    assert_eq!(node_reads, fewest, "{log:#?}");
}

/// `addLineageEdges` reads both ends of every edge to check it, and files each edge's
/// change under its source's kind from that same read: no second lookup at commit.
async fn added_edges_read_their_ends_once(app: &TestApp) {
    let exp = id_of(app, "createExperiment", "once", "").await;
    let ids = chain(app, "once-a", 2, &exp).await;
    let more = chain(app, "once-b", 2, &exp).await;
    // past the open server's once-a-second check for tokens, which the count leaves out
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.reset_statements();
    app.ok(
        "mutation($e: [LineageEdgeInput!]!) { addLineageEdges(edges: $e) { id } }",
        json!({"e": [
            {"source": ids[0], "target": more[1], "kind": "INPUT"},
            {"source": more[1], "target": ids[2], "kind": "OUTPUT"},
        ]}),
    )
    .await;
    let log = app.statement_log();
    let node_reads = log
        .iter()
        .map(|s| s.replace('`', "\""))
        .filter(|s| s.contains(r#"FROM "node""#))
        .count();
    assert_eq!(node_reads, 1, "the ends were read more than once: {log:#?}");
    // and the changes are filed under the sources' kinds all the same
    let filed = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!(
                r#"SELECT COUNT(*) AS n FROM "change" c JOIN "node" s ON s."id" = c."node_id"
                   WHERE c."operation" = 'EDGE_ADD' AND c."node_kind" = s."kind"
                   AND c."node_id" IN ({}, {})"#,
                ids[0], more[1]
            ),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    // each source has its chain's edge and one new edge
    assert_eq!(filed, 4, "edge changes filed under their source's kind");
}

/// Walks read SQLite through the server's own connections (`db::direct`) or through
/// sqlx's pool (PostgreSQL always, SQLite when they cannot be had): two code paths that
/// must answer the same, on random graphs, for every kind of walk.
async fn direct_and_sqlx_walks_agree(app: &TestApp) {
    let via_sqlx = app.server_via_sqlx().await;
    let mut rng = Lcg(11);
    for (seed, cycles) in [(21, false), (22, true)] {
        let g = random_graph(app, seed, cycles).await;
        let ids: Vec<&String> = g.kinds.keys().collect();
        for round in 0..12 {
            let starts: Vec<&String> = (0..1 + rng.below(3))
                .map(|_| ids[rng.below(ids.len())])
                .collect();
            let direction = ["UPSTREAM", "DOWNSTREAM", "BOTH"][round % 3];
            let depth = [1, 2, 5, 50][rng.below(4)];
            let filters = match rng.below(4) {
                0 => "",
                1 => ", nodeKinds: [DATASET]",
                2 => ", edgeKinds: [INPUT, DERIVED_FROM]",
                _ => ", first: 5",
            };
            let query = format!(
                r#"query($s: [ID!]!) {{ lineage(start: $s, direction: {direction}, maxDepth: {depth}{filters}) {{
                    truncated
                    nodes {{ depth direction node {{ id kind name
                        upstream(maxDepth: 2) {{ nodes {{ depth node {{ id }} }} }} }} }}
                    edges {{ id kind createTime source {{ id }} target {{ id }} }} }} }}"#
            );
            let mut answers = Vec::new();
            for base in [&app.base, &via_sqlx] {
                answers.push(app.gql_text_at(base, &query, json!({"s": starts})).await);
            }
            assert!(!answers[0].contains("\"errors\""), "{}", answers[0]);
            assert_eq!(
                answers[0], answers[1],
                "seed {seed}, round {round}: {query}"
            );
        }
    }
}

/// Walks nested under every node of a list share their statements (one group per node):
/// each group's answer is still its own BFS, on graphs where groups overlap and reach the
/// same nodes at different depths.
async fn nested_walks_match_an_in_memory_bfs(app: &TestApp) {
    let mut checked = 0;
    for (seed, cycles) in [(31u64, false), (37, true)] {
        let g = random_graph(app, seed, cycles).await;
        let mut rng = Lcg(seed * 7);
        let ids: Vec<String> = g
            .kinds
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for (depth, nested_depth) in [(2u32, 4u32), (1, 50), (3, 2)] {
            let starts: Vec<String> = (0..3)
                .map(|_| ids[rng.below(ids.len())].clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let query = format!(
                r#"query($s: [ID!]!) {{ lineage(start: $s, direction: DOWNSTREAM, maxDepth: {depth}, first: 10000) {{
                    nodes {{ node {{ id ... on LineageNode {{ upstream(maxDepth: {nested_depth}, first: 10000) {{
                        truncated nodes {{ depth node {{ id }} }} edges {{ id }} }} }} }} }} }} }}"#
            );
            let data = app.ok(&query, json!({"s": starts})).await;
            for entry in data["lineage"]["nodes"].as_array().unwrap() {
                let id = entry["node"]["id"].as_str().unwrap().to_owned();
                let up = &entry["node"]["upstream"];
                assert_eq!(up["truncated"], false);
                let nodes: BTreeSet<(String, u32, String)> = up["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| {
                        (
                            n["node"]["id"].as_str().unwrap().to_owned(),
                            n["depth"].as_u64().unwrap() as u32,
                            "UPSTREAM".to_owned(),
                        )
                    })
                    .collect();
                let edges: BTreeSet<String> = up["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_owned())
                    .collect();
                let want = bfs(
                    &g,
                    std::slice::from_ref(&id),
                    &["UPSTREAM"],
                    nested_depth,
                    &[],
                    &[],
                );
                assert_eq!(
                    nodes, want.0,
                    "seed {seed}: nodes upstream of {id} (depth {nested_depth})"
                );
                assert_eq!(
                    edges, want.1,
                    "seed {seed}: edges upstream of {id} (depth {nested_depth})"
                );
                checked += want.0.len();
            }
        }
    }
    assert!(
        checked > 100,
        "the nested walks reached too little to test anything ({checked})"
    );
}
