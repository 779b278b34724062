//! The release workflow: aliases, protected aliases, four-eyes release requests, and
//! the change log that answers "which version was production at time T".
use modelgraph::auth::{Role, tokens};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::identity::gql_as;
use crate::on_both;

on_both!(
    aliases_name_versions_and_move_atomically,
    concurrent_alias_moves_both_land_in_order,
    latest_version_skips_archived_versions,
    protected_aliases_move_only_through_four_eyes_releases,
    aliases_as_of_answer_from_the_change_log,
    the_readme_walk_through_works_as_written,
);

struct People {
    admin: String,
    editor: String,
    approver: String,
    approver2: String,
}

async fn people(app: &TestApp) -> People {
    let make = |subject: &'static str, role| async move {
        tokens::create(&app.db, subject, role, None)
            .await
            .unwrap()
            .token
    };
    People {
        admin: make("root", Role::Admin).await,
        editor: make("ed", Role::Editor).await,
        approver: make("ap1", Role::Approver).await,
        approver2: make("ap2", Role::Approver).await,
    }
}

/// The data of a request that must succeed.
async fn ok(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let answer = gql_as(app, Some(token), query, variables).await;
    assert!(answer.body["errors"].is_null(), "{query}: {}", answer.body);
    answer.body["data"].clone()
}

/// The error code of a request that must fail.
async fn refused(app: &TestApp, token: &str, query: &str, variables: Value) -> String {
    let answer = gql_as(app, Some(token), query, variables).await;
    answer.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{query} succeeded: {}", answer.body))
        .to_owned()
}

/// A model with `n` versions named 1..=n; returns (model id, version ids).
async fn model_with_versions(
    app: &TestApp,
    token: &str,
    name: &str,
    n: usize,
) -> (Value, Vec<Value>) {
    let data = ok(
        app,
        token,
        "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }",
        json!({"n": name}),
    )
    .await;
    let model = data["createRegisteredModel"]["id"].clone();
    let mut versions = Vec::new();
    for _ in 0..n {
        let data = ok(
            app,
            token,
            "mutation($m: ID!) { createModelVersion(input: {registeredModelId: $m}) { id } }",
            json!({"m": model}),
        )
        .await;
        versions.push(data["createModelVersion"]["id"].clone());
    }
    (model, versions)
}

const SET: &str = r#"mutation($m: ID!, $a: String!, $v: ID!) { setModelAlias(modelId: $m, alias: $a, versionId: $v) { alias versionId setBy protected } }"#;
const ALIASES: &str =
    r#"query($m: ID!) { registeredModel(id: $m) { aliases { alias versionId setBy } } }"#;

async fn aliases_name_versions_and_move_atomically(app: &TestApp) {
    let p = people(app).await;
    let (model, v) = model_with_versions(app, &p.editor, "fraud", 2).await;
    let set = ok(
        app,
        &p.editor,
        SET,
        json!({"m": model, "a": "champion", "v": v[0]}),
    )
    .await;
    assert_eq!(
        set["setModelAlias"],
        json!({"alias": "champion", "versionId": v[0], "setBy": "ed", "protected": false})
    );
    ok(
        app,
        &p.editor,
        SET,
        json!({"m": model, "a": "champion", "v": v[1]}),
    )
    .await;
    ok(
        app,
        &p.editor,
        SET,
        json!({"m": model, "a": "challenger", "v": v[0]}),
    )
    .await;
    let data = ok(app, &p.editor, ALIASES, json!({"m": model})).await;
    assert_eq!(
        data["registeredModel"]["aliases"],
        json!([
            {"alias": "challenger", "versionId": v[0], "setBy": "ed"},
            {"alias": "champion", "versionId": v[1], "setBy": "ed"},
        ])
    );
    // reads by alias, from the model, the version and the root
    let data = ok(
        app,
        &p.editor,
        r#"query($m: ID!, $v: ID!) {
            registeredModel(id: $m) { byAlias: version(alias: "champion") { id } byName: version(name: "1") { id } }
            modelVersion(modelName: "fraud", alias: "challenger") { id aliases }
            other: modelVersion(id: $v) { aliases } }"#,
        json!({"m": model, "v": v[1]}),
    )
    .await;
    assert_eq!(data["registeredModel"]["byAlias"]["id"], v[1]);
    assert_eq!(data["registeredModel"]["byName"]["id"], v[0]);
    assert_eq!(data["modelVersion"]["id"], v[0]);
    assert_eq!(data["modelVersion"]["aliases"], json!(["challenger"]));
    assert_eq!(data["other"]["aliases"], json!(["champion"]));
    // rules: names, versions of another model
    for bad in ["Champion", "1st", "", "a b"] {
        let code = refused(
            app,
            &p.editor,
            SET,
            json!({"m": model, "a": bad, "v": v[0]}),
        )
        .await;
        assert_eq!(code, "INVALID_INPUT", "{bad}");
    }
    let (_, ov) = model_with_versions(app, &p.editor, "other", 1).await;
    let code = refused(
        app,
        &p.editor,
        SET,
        json!({"m": model, "a": "x", "v": ov[0]}),
    )
    .await;
    assert_eq!(code, "INVALID_INPUT");
    // removal
    let data = ok(
        app,
        &p.editor,
        r#"mutation($m: ID!) { a: removeModelAlias(modelId: $m, alias: "challenger") b: removeModelAlias(modelId: $m, alias: "never") }"#,
        json!({"m": model}),
    )
    .await;
    assert_eq!(data, json!({"a": true, "b": false}));
    let history = ok(
        app,
        &p.admin,
        r#"query($m: ID!) { changes(filter: {nodeIds: [$m], operations: [ALIAS_SET, ALIAS_REMOVE]}) { nodes { operation actor after } } }"#,
        json!({"m": model}),
    )
    .await;
    let ops: Vec<&str> = history["changes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["ALIAS_REMOVE", "ALIAS_SET", "ALIAS_SET", "ALIAS_SET"]);
}

/// Two moves of one alias at once: both land, one after the other; the alias ends where
/// the later (by sequence) put it, and the log shows both.
async fn concurrent_alias_moves_both_land_in_order(app: &TestApp) {
    let p = people(app).await;
    let (model, v) = model_with_versions(app, &p.editor, "race", 2).await;
    let one = gql_as(
        app,
        Some(&p.editor),
        SET,
        json!({"m": model, "a": "prod", "v": v[0]}),
    );
    let two = gql_as(
        app,
        Some(&p.approver),
        SET,
        json!({"m": model, "a": "prod", "v": v[1]}),
    );
    let (a, b) = tokio::join!(one, two);
    assert!(a.body["errors"].is_null() && b.body["errors"].is_null());
    let data = ok(
        app,
        &p.admin,
        r#"query($m: ID!) { changes(filter: {nodeIds: [$m], operations: [ALIAS_SET]}) { nodes { sequence before after } }
            registeredModel(id: $m) { version(alias: "prod") { id } } }"#,
        json!({"m": model}),
    )
    .await;
    let moves = data["changes"]["nodes"].as_array().unwrap();
    assert_eq!(moves.len(), 2);
    // newest first: the first listed is where the alias ended
    assert_eq!(
        moves[0]["after"]["versionId"],
        data["registeredModel"]["version"]["id"]
    );
    // the later move saw the earlier one: its `before` is the earlier one's `after`
    assert_eq!(
        moves[0]["before"]["versionId"],
        moves[1]["after"]["versionId"]
    );
    assert!(moves[1]["before"]["versionId"].is_null());
}

async fn latest_version_skips_archived_versions(app: &TestApp) {
    let p = people(app).await;
    let (model, v) = model_with_versions(app, &p.editor, "arch", 2).await;
    ok(
        app,
        &p.editor,
        "mutation($v: ID!) { updateModelVersion(id: $v, input: {state: ARCHIVED}) { id } }",
        json!({"v": v[1]}),
    )
    .await;
    let data = ok(
        app,
        &p.editor,
        "query($m: ID!) { registeredModel(id: $m) { latestVersion { id } } }",
        json!({"m": model}),
    )
    .await;
    assert_eq!(data["registeredModel"]["latestVersion"]["id"], v[0]);
}

const REQUEST: &str = r#"mutation($v: ID!, $a: String!) { requestRelease(versionId: $v, alias: $a, note: "ready") { id state requestedBy } }"#;
const APPROVE: &str = r#"mutation($id: ID!) { approveRelease(id: $id, note: "lgtm") { id state decisions { by approve note } } }"#;
const REJECT: &str = r#"mutation($id: ID!) { rejectRelease(id: $id, note: "no") { state } }"#;
const CANCEL: &str = r#"mutation($id: ID!) { cancelRelease(id: $id) { state } }"#;
const PROTECT: &str = r#"mutation($m: ID!, $a: String!, $n: Int!) { protectAlias(modelId: $m, alias: $a, requiredApprovals: $n) { alias protected requiredApprovals } }"#;

async fn champion(app: &TestApp, token: &str, model: &Value) -> Value {
    let data = ok(
        app,
        token,
        r#"query($m: ID!) { registeredModel(id: $m) { version(alias: "production") { id } } }"#,
        json!({"m": model}),
    )
    .await;
    data["registeredModel"]["version"]["id"].clone()
}

async fn protected_aliases_move_only_through_four_eyes_releases(app: &TestApp) {
    let p = people(app).await;
    let (model, v) = model_with_versions(app, &p.editor, "gov", 3).await;
    // only an ADMIN protects
    let code = refused(
        app,
        &p.editor,
        PROTECT,
        json!({"m": model, "a": "production", "n": 1}),
    )
    .await;
    assert_eq!(code, "FORBIDDEN");
    let data = ok(
        app,
        &p.admin,
        PROTECT,
        json!({"m": model, "a": "production", "n": 2}),
    )
    .await;
    assert_eq!(
        data["protectAlias"],
        json!({"alias": "production", "protected": true, "requiredApprovals": 2})
    );
    // nobody moves it by hand, ADMIN included
    let code = refused(
        app,
        &p.admin,
        SET,
        json!({"m": model, "a": "production", "v": v[0]}),
    )
    .await;
    assert_eq!(code, "FORBIDDEN");

    let request = ok(
        app,
        &p.editor,
        REQUEST,
        json!({"v": v[0], "a": "production"}),
    )
    .await;
    let id = request["requestRelease"]["id"].clone();
    assert_eq!(request["requestRelease"]["state"], "PENDING");
    // the requester can't approve (the editor lacks the role; an approver asking for
    // a release can't approve their own either)
    assert_eq!(
        refused(app, &p.editor, APPROVE, json!({"id": id})).await,
        "FORBIDDEN"
    );
    let own = ok(
        app,
        &p.approver2,
        REQUEST,
        json!({"v": v[1], "a": "production"}),
    )
    .await;
    let own_id = own["requestRelease"]["id"].clone();
    assert_eq!(
        refused(app, &p.approver2, APPROVE, json!({"id": own_id})).await,
        "FORBIDDEN"
    );
    // one approval of two: still pending, nothing moved
    let first = ok(app, &p.approver, APPROVE, json!({"id": id})).await;
    assert_eq!(first["approveRelease"]["state"], "PENDING");
    assert!(champion(app, &p.editor, &model).await.is_null());
    // one decision per person
    assert_eq!(
        refused(app, &p.approver, APPROVE, json!({"id": id})).await,
        "CONFLICT"
    );
    // the second distinct approval moves the alias in the same transaction
    let second = ok(app, &p.approver2, APPROVE, json!({"id": id})).await;
    assert_eq!(second["approveRelease"]["state"], "APPROVED");
    assert_eq!(
        second["approveRelease"]["decisions"],
        json!([{"by": "ap1", "approve": true, "note": "lgtm"}, {"by": "ap2", "approve": true, "note": "lgtm"}])
    );
    assert_eq!(champion(app, &p.editor, &model).await, v[0]);
    // decided requests take no more decisions
    assert_eq!(
        refused(app, &p.admin, APPROVE, json!({"id": id})).await,
        "CONFLICT"
    );

    // a reject ends a request
    let r = ok(
        app,
        &p.editor,
        REQUEST,
        json!({"v": v[2], "a": "production"}),
    )
    .await;
    let rid = r["requestRelease"]["id"].clone();
    let rejected = ok(app, &p.approver, REJECT, json!({"id": rid})).await;
    assert_eq!(rejected["rejectRelease"]["state"], "REJECTED");
    assert_eq!(
        refused(app, &p.approver2, APPROVE, json!({"id": rid})).await,
        "CONFLICT"
    );
    // only the requester cancels
    let c = ok(
        app,
        &p.editor,
        REQUEST,
        json!({"v": v[2], "a": "production"}),
    )
    .await;
    let cid = c["requestRelease"]["id"].clone();
    assert_eq!(
        refused(app, &p.approver, CANCEL, json!({"id": cid})).await,
        "FORBIDDEN"
    );
    let cancelled = ok(app, &p.editor, CANCEL, json!({"id": cid})).await;
    assert_eq!(cancelled["cancelRelease"]["state"], "CANCELLED");
    // an archived version can't be requested, or approved once archived
    let late = ok(
        app,
        &p.editor,
        REQUEST,
        json!({"v": v[2], "a": "production"}),
    )
    .await;
    let late_id = late["requestRelease"]["id"].clone();
    ok(
        app,
        &p.editor,
        "mutation($v: ID!) { updateModelVersion(id: $v, input: {state: ARCHIVED}) { id } }",
        json!({"v": v[2]}),
    )
    .await;
    assert_eq!(
        refused(
            app,
            &p.editor,
            REQUEST,
            json!({"v": v[2], "a": "production"})
        )
        .await,
        "INVALID_INPUT"
    );
    assert_eq!(
        refused(app, &p.approver, APPROVE, json!({"id": late_id})).await,
        "INVALID_INPUT"
    );
    // two pending requests for one alias: the later approval wins
    let a = ok(
        app,
        &p.editor,
        REQUEST,
        json!({"v": v[0], "a": "production"}),
    )
    .await;
    let b = ok(
        app,
        &p.editor,
        REQUEST,
        json!({"v": v[1], "a": "production"}),
    )
    .await;
    let (aid, bid) = (
        a["requestRelease"]["id"].clone(),
        b["requestRelease"]["id"].clone(),
    );
    for token in [&p.approver, &p.approver2] {
        ok(app, token, APPROVE, json!({"id": bid})).await;
    }
    assert_eq!(champion(app, &p.editor, &model).await, v[1]);
    for token in [&p.approver, &p.approver2] {
        ok(app, token, APPROVE, json!({"id": aid})).await;
    }
    assert_eq!(champion(app, &p.editor, &model).await, v[0]);
    // the whole trail is the model's history
    let data = ok(
        app,
        &p.admin,
        r#"query($m: ID!) { releaseRequests(filter: {modelId: $m, state: APPROVED}) { nodes { id } }
            registeredModel(id: $m) { history(first: 100) { nodes { operation actor } } } }"#,
        json!({"m": model}),
    )
    .await;
    assert_eq!(
        data["releaseRequests"]["nodes"].as_array().unwrap().len(),
        3
    );
    let ops: Vec<String> = data["registeredModel"]["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["operation"].as_str().unwrap(),
                c["actor"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "RELEASE_REQUEST ed",
        "RELEASE_APPROVE ap1",
        "RELEASE_APPROVE ap2",
        "ALIAS_SET ap2",
        "RELEASE_REJECT ap1",
        "RELEASE_CANCEL ed",
    ] {
        assert!(
            ops.contains(&expected.to_owned()),
            "{expected} missing from {ops:?}"
        );
    }
}

/// "Which version was production at time T", answered from the change log.
async fn aliases_as_of_answer_from_the_change_log(app: &TestApp) {
    let p = people(app).await;
    let (model, v) = model_with_versions(app, &p.editor, "asof", 2).await;
    ok(
        app,
        &p.editor,
        SET,
        json!({"m": model, "a": "production", "v": v[0]}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let before_release = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    ok(
        app,
        &p.admin,
        PROTECT,
        json!({"m": model, "a": "production", "n": 1}),
    )
    .await;
    let r = ok(
        app,
        &p.editor,
        REQUEST,
        json!({"v": v[1], "a": "production"}),
    )
    .await;
    ok(
        app,
        &p.approver,
        APPROVE,
        json!({"id": r["requestRelease"]["id"]}),
    )
    .await;
    let q = r#"query($m: ID!, $t: DateTime) { registeredModel(id: $m) { aliases(asOf: $t) { alias versionId setBy } } }"#;
    let then = ok(app, &p.editor, q, json!({"m": model, "t": before_release})).await;
    assert_eq!(
        then["registeredModel"]["aliases"],
        json!([{"alias": "production", "versionId": v[0], "setBy": "ed"}])
    );
    let now = ok(
        app,
        &p.editor,
        q,
        json!({"m": model, "t": chrono::Utc::now().to_rfc3339()}),
    )
    .await;
    assert_eq!(
        now["registeredModel"]["aliases"],
        json!([{"alias": "production", "versionId": v[1], "setBy": "ap1"}])
    );
    let early = ok(
        app,
        &p.editor,
        q,
        json!({"m": model, "t": "2000-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(early["registeredModel"]["aliases"], json!([]));
}

/// The README's "Releasing a model" walk-through, run line by line as the token each
/// comment names, with its subscription watching.
async fn the_readme_walk_through_works_as_written(app: &TestApp) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Releasing a model")
        .nth(1)
        .expect("the section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut blocks = section
        .split("```graphql\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap());
    let steps = blocks.next().expect("the walk-through");
    let watch = blocks.next().expect("the subscription").trim();
    assert!(watch.starts_with("subscription"), "{watch}");

    let p = people(app).await;
    let token_of = |who: &str| match who {
        "ADMIN" => p.admin.clone(),
        "ED" => p.editor.clone(),
        "AP1" => p.approver.clone(),
        "AP2" => p.approver2.clone(),
        other => panic!("no token for {other}"),
    };
    let mut socket = crate::subscriptions::open(
        app,
        json!({"Authorization": format!("Bearer {}", p.editor)}),
    )
    .await
    .expect("the editor subscribes");
    // a person subscribes seconds before the approvals; the test, which goes on at
    // once, says where to start so that no step can slip in before the subscription
    let start = modelgraph::events::highest(&app.db).await.unwrap();
    let watch = watch.replacen("changes(", &format!("changes(afterSequence: {start}, "), 1);
    crate::subscriptions::subscribe(&mut socket, "w", &watch, json!({})).await;

    let mut who = None;
    let mut last = Value::Null;
    let mut ran = 0;
    for line in steps.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# as ") {
            who = Some(comment.split(':').next().unwrap().trim().to_owned());
            continue;
        }
        let token = token_of(who.as_deref().expect("a step says whose it is"));
        last = ok(app, &token, line, json!({})).await;
        ran += 1;
    }
    assert_eq!(ran, 8);
    assert_eq!(last["registeredModel"]["version"]["name"], "v2");
    let ops: Vec<&str> = last["registeredModel"]["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops[0], "ALIAS_SET", "{ops:?}");
    assert!(ops.contains(&"RELEASE_APPROVE"), "{ops:?}");

    // the subscription saw the release happen, the alias move last
    let mut seen = Vec::new();
    while !seen.contains(&"ALIAS_SET".to_owned()) {
        let data = crate::subscriptions::next_data(&mut socket, "w").await;
        seen.push(data["changes"]["operation"].as_str().unwrap().to_owned());
    }
    assert!(seen.contains(&"RELEASE_REQUEST".to_owned()), "{seen:?}");
    assert_eq!(
        seen.iter().filter(|op| *op == "RELEASE_APPROVE").count(),
        2,
        "{seen:?}"
    );
}
