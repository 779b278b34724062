//! Several `modelgraph serve` processes on one database keep every guarantee one server
//! gives: version numbering, unique names, one winner per revision conflict, aliases
//! moved in turn, a gap-free change log, reading one's own writes; and a server killed
//! mid-write loses nothing it acknowledged while the others keep serving. On PostgreSQL
//! and MariaDB, with two and with four servers.
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::webhooks::Server;

macro_rules! on_shared_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::Backend;

                #[test]
                fn postgres() {
                    crate::webhooks::run(Backend::Postgres, super::$name);
                }

                #[test]
                fn mysql() {
                    crate::webhooks::run(Backend::Mysql, super::$name);
                }
            }
        )*
    };
}

on_shared_stores!(
    two_servers_keep_one_servers_guarantees,
    four_servers_keep_one_servers_guarantees,
    a_killed_server_loses_no_acknowledged_write,
);

/// One GraphQL request to the server at `base`: the whole body.
async fn call(client: &reqwest::Client, base: &str, query: &str, variables: Value) -> Value {
    client
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON body")
}

/// The `data` of a request to `base` that must succeed (`what` names it if it fails).
async fn data(
    client: &reqwest::Client,
    base: &str,
    query: &str,
    variables: Value,
    what: &str,
) -> Value {
    ok(&call(client, base, query, variables).await, what)
}

/// The error code of a body, or None when it has no errors.
fn code(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

fn ok(body: &Value, what: &str) -> Value {
    assert!(code(body).is_none(), "{what}: {body}");
    body["data"].clone()
}

const CREATE_VERSION: &str = "mutation($m: ID!, $n: String) { createModelVersion(input: {registeredModelId: $m, name: $n}) { id name } }";

async fn two_servers_keep_one_servers_guarantees(url: String) {
    servers_keep_one_servers_guarantees(&url, 2).await;
}

async fn four_servers_keep_one_servers_guarantees(url: String) {
    servers_keep_one_servers_guarantees(&url, 4).await;
}

async fn servers_keep_one_servers_guarantees(url: &str, count: usize) {
    let mut servers = Vec::new();
    for _ in 0..count {
        servers.push(Server::start(url, &[]).await);
    }
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let client = reqwest::Client::new();
    let made = call(
        &client,
        &bases[0],
        r#"mutation { createRegisteredModel(input: {name: "shared"}) { id } }"#,
        json!({}),
    )
    .await;
    let model = ok(&made, "the model")["createRegisteredModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // versions with and without names through every server at once, each read back
    // through the server that made it; and names asked for twice, through two servers
    const CREATES: usize = 800;
    const CONTESTED: usize = 10;
    let mut creates = Vec::new();
    for i in 0..CREATES {
        let name = (i % 2 == 1).then(|| format!("named-{i}"));
        creates.push((bases[i % count].clone(), name));
    }
    for k in 0..CONTESTED {
        for server in [k % count, (k + 1) % count] {
            creates.push((bases[server].clone(), Some(format!("contested-{k}"))));
        }
    }
    let outcomes = join_all(creates.iter().map(|(base, name)| {
        let (client, model) = (&client, &model);
        async move {
            let body = call(client, base, CREATE_VERSION, json!({"m": model, "n": name})).await;
            if code(&body).is_none() {
                let id = body["data"]["createModelVersion"]["id"].clone();
                let read = call(
                    client,
                    base,
                    "query($id: ID!) { modelVersion(id: $id) { id } }",
                    json!({"id": id}),
                )
                .await;
                assert_eq!(
                    read["data"]["modelVersion"]["id"], id,
                    "read-your-writes: {read}"
                );
            }
            body
        }
    }))
    .await;
    let mut names = Vec::new();
    for ((_, name), body) in creates.iter().zip(&outcomes) {
        match name {
            Some(n) if n.starts_with("contested-") => {}
            _ => {
                let data = ok(body, "an uncontested create");
                names.push(
                    data["createModelVersion"]["name"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    for k in 0..CONTESTED {
        let name = format!("contested-{k}");
        let tries: Vec<&Value> = creates
            .iter()
            .zip(&outcomes)
            .filter(|((_, n), _)| n.as_deref() == Some(name.as_str()))
            .map(|(_, body)| body)
            .collect();
        let won: Vec<&&Value> = tries.iter().filter(|b| code(b).is_none()).collect();
        assert_eq!(won.len(), 1, "{name}: {tries:?}");
        let lost: Vec<String> = tries.iter().filter_map(|b| code(b)).collect();
        assert_eq!(lost, ["ALREADY_EXISTS"], "{name}");
        names.push(name);
    }
    let numbered: BTreeSet<i64> = names.iter().filter_map(|n| n.parse().ok()).collect();
    assert_eq!(
        numbered.len(),
        CREATES / 2,
        "unnamed versions got distinct numbers"
    );
    let listed = versions(&client, &bases[count - 1], &model).await;
    let stored: Vec<String> = listed
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "no duplicate names: {stored:?}");
    let mut expected = names.clone();
    expected.sort();
    let mut got = stored.clone();
    got.sort();
    assert_eq!(
        got, expected,
        "every acknowledged version, and nothing else"
    );

    // one alias moved by every server at once: each move is recorded as the one before
    // it left the alias
    let versions: Vec<String> = listed
        .iter()
        .take(20)
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    let moves = join_all(versions.iter().enumerate().map(|(i, version)| {
        let (client, base, model) = (&client, &bases[i % count], &model);
        async move {
            call(
                client,
                base,
                r#"mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: "prod", versionId: $v) { versionId } }"#,
                json!({"m": model, "v": version}),
            )
            .await
        }
    }))
    .await;
    for body in &moves {
        ok(body, "an alias move");
    }
    let log = data(
        &client,
        &bases[0],
        "query($m: ID!) { changes(first: 1000, filter: {nodeIds: [$m], operations: [ALIAS_SET]}) { nodes { sequence before after } } }",
        json!({"m": model}),
        "the alias log",
    )
    .await;
    let mut left = Value::Null;
    // the log lists the newest first
    let mut alias_moves = log["changes"]["nodes"].as_array().unwrap().clone();
    alias_moves.sort_by_key(|c| c["sequence"].as_i64());
    assert_eq!(alias_moves.len(), versions.len());
    assert!(alias_moves[0]["after"]["versionId"].is_string(), "{log}");
    for change in &alias_moves {
        assert_eq!(change["before"]["versionId"], left, "{change}");
        left = change["after"]["versionId"].clone();
    }
    let now = data(
        &client,
        &bases[count - 1],
        r#"query($m: ID!) { registeredModel(id: $m) { aliases { alias versionId } } }"#,
        json!({"m": model}),
        "the alias",
    )
    .await;
    assert_eq!(now["registeredModel"]["aliases"][0]["versionId"], left);

    // updates that expect no revision all land, one after another
    let plain = update_at_once(&client, &bases, &model, None).await;
    for body in &plain {
        ok(body, "an update without an expected revision");
    }

    // one winner among updates that all expect the same revision
    let revision = data(
        &client,
        &bases[0],
        "query($m: ID!) { registeredModel(id: $m) { revision } }",
        json!({"m": model}),
        "the revision",
    )
    .await["registeredModel"]["revision"]
        .as_i64()
        .unwrap();
    let updates = update_at_once(&client, &bases, &model, Some(revision)).await;
    let codes: Vec<Option<String>> = updates.iter().map(code).collect();
    assert_eq!(
        codes.iter().filter(|c| c.is_none()).count(),
        1,
        "{updates:?}"
    );
    assert!(
        codes.iter().flatten().all(|c| c == "CONFLICT"),
        "{updates:?}"
    );

    // the change log: every sequence once, none missing
    let all = data(
        &client,
        &bases[count - 1],
        "{ changes(first: 1000) { nodes { sequence } } }",
        json!({}),
        "the log",
    )
    .await;
    let mut sequences: Vec<i64> = all["changes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sequence"].as_i64().unwrap())
        .collect();
    sequences.sort_unstable();
    assert!(sequences.len() > CREATES, "{}", sequences.len());
    let want: Vec<i64> = (1..=sequences.len() as i64).collect();
    assert_eq!(sequences, want, "gap-free");
}

/// The versions of `model`, as the server at `base` lists them (`id` and `name`).
async fn versions(client: &reqwest::Client, base: &str, model: &str) -> Vec<Value> {
    let listed = data(
        client,
        base,
        "query($m: ID!) { registeredModel(id: $m) { versions(first: 1000) { nodes { id name } } } }",
        json!({"m": model}),
        "the versions",
    )
    .await;
    listed["registeredModel"]["versions"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// Eight updates of `model`'s description at once, spread over the servers, each
/// expecting `revision` (or none): their answers.
async fn update_at_once(
    client: &reqwest::Client,
    bases: &[String],
    model: &str,
    revision: Option<i64>,
) -> Vec<Value> {
    join_all((0..8).map(|i| {
        let base = &bases[i % bases.len()];
        async move {
            call(
                client,
                base,
                "mutation($m: ID!, $d: String, $r: Int) { updateRegisteredModel(id: $m, input: {description: $d}, expectedRevision: $r) { revision } }",
                json!({"m": model, "d": format!("update {i}"), "r": revision}),
            )
            .await
        }
    }))
    .await
}

async fn a_killed_server_loses_no_acknowledged_write(url: String) {
    let mut doomed = Server::start(&url, &[]).await;
    let survivor = Server::start(&url, &[]).await;
    let client = reqwest::Client::new();
    let made = call(
        &client,
        &survivor.base,
        r#"mutation { createRegisteredModel(input: {name: "survives"}) { id } }"#,
        json!({}),
    )
    .await;
    let model = ok(&made, "the model")["createRegisteredModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // four writers through the doomed server, each noting what it was told was written
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, base, model) = (client.clone(), doomed.base.clone(), model.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0.. {
                    let name = format!("w{w}-{i}");
                    let sent = client
                        .post(format!("{base}/graphql"))
                        .json(
                            &json!({"query": CREATE_VERSION, "variables": {"m": model, "n": name}}),
                        )
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    let Ok(body) = response.json::<Value>().await else {
                        break;
                    };
                    if code(&body).is_some() {
                        break;
                    }
                    acknowledged.push(name);
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    doomed.kill();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(
        !acknowledged.is_empty(),
        "the writers wrote before the kill"
    );
    let stored: HashSet<String> = versions(&client, &survivor.base, &model)
        .await
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    for name in &acknowledged {
        assert!(stored.contains(name), "{name} was acknowledged and is gone");
    }
    // the other server keeps serving, writes included
    let after = call(
        &client,
        &survivor.base,
        CREATE_VERSION,
        json!({"m": model, "n": "after-the-kill"}),
    )
    .await;
    ok(&after, "a write after the kill");
}
