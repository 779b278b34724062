//! Who may do what, on every door: open mode, API tokens and their roles, the trusted
//! proxy header, and the refusals (401 with `WWW-Authenticate`, 403), which change
//! nothing and say nothing about whether a token exists.
use std::time::Duration;

use modelgraph::auth::{AuthConfig, Role, tokens};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_authenticating};
use crate::on_both;

on_both!(
    an_open_server_treats_everyone_as_admin,
    tokens_turn_authentication_on_and_roles_hold_on_every_door,
    admins_make_and_revoke_tokens_over_graphql,
    expired_and_malformed_credentials_are_401,
    the_first_token_must_be_an_admins,
);

/// What one call answered: status, `WWW-Authenticate`, body.
pub struct Answer {
    pub status: u16,
    pub challenge: Option<String>,
    pub body: Value,
}

/// A call with `Authorization: Bearer <token>` (none when `token` is None), and extra
/// headers.
pub async fn call_as(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let res = request.send().await.expect("request");
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let text = res.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        challenge,
        body,
    }
}

pub async fn gql_as(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Answer {
    let body = json!({"query": query, "variables": variables});
    call_as(app, token, "POST", "/graphql", Some(&body), &[]).await
}

fn code(answer: &Answer) -> String {
    answer.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const MODELS: &str = "/api/model_registry/v1/registered_models";
const CREATE: &str = r#"mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"#;
const VIEWER: &str = "{ viewer { subject roles authenticated } }";

fn event(run: &str) -> Value {
    json!({
        "eventType": "COMPLETE", "eventTime": "2026-01-01T10:00:00Z",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run}, "job": {"namespace": "ns", "name": "j"},
        "inputs": [{"namespace": "s3://b", "name": "in.csv"}], "outputs": [],
    })
}

async fn an_open_server_treats_everyone_as_admin(app: &TestApp) {
    let answer = gql_as(app, None, VIEWER, json!({})).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["data"]["viewer"],
        json!({"subject": "anonymous", "roles": ["READER", "EDITOR", "APPROVER", "ADMIN"], "authenticated": false})
    );
    let made = gql_as(app, None, CREATE, json!({"n": "open"})).await;
    assert!(made.body["errors"].is_null(), "{}", made.body);
    // a credential there is nothing to check against (a pod's service-account token)
    // is ignored, not refused
    let sent = gql_as(app, Some("eyJhbGciOiJSUzI1NiJ9.e30.x"), VIEWER, json!({})).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.body["data"]["viewer"]["roles"][3], "ADMIN");
}

/// Makes the tokens a test needs: ADMIN first (it turns authentication on).
async fn tokens_for(app: &TestApp) -> (String, String, String, String) {
    let admin = tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap();
    let editor = tokens::create(&app.db, "ed", Role::Editor, None)
        .await
        .unwrap();
    let approver = tokens::create(&app.db, "ap", Role::Approver, None)
        .await
        .unwrap();
    let reader = tokens::create(&app.db, "re", Role::Reader, None)
        .await
        .unwrap();
    (admin.token, editor.token, approver.token, reader.token)
}

async fn tokens_turn_authentication_on_and_roles_hold_on_every_door(app: &TestApp) {
    let (admin, editor, _approver, reader) = tokens_for(app).await;
    let nodes_before = app.count_rows("node").await;

    // no credential: 401 with a challenge, on every door
    let answer = gql_as(app, None, VIEWER, json!({})).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(
        answer
            .challenge
            .as_deref()
            .unwrap_or("")
            .starts_with("Bearer")
    );
    assert_eq!(code(&answer), "UNAUTHENTICATED");
    for (method, path, body) in [
        ("GET", MODELS, None),
        ("POST", MODELS, Some(json!({"name": "x"}))),
        (
            "POST",
            "/api/v1/lineage",
            Some(event("0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b30")),
        ),
        ("GET", "/api/v1/lineage?nodeId=x", None),
    ] {
        let answer = call_as(app, None, method, path, body.as_ref(), &[]).await;
        assert_eq!(answer.status, 401, "{method} {path}: {}", answer.body);
        assert!(answer.challenge.is_some(), "{method} {path}");
        assert_eq!(answer.body["code"], "Unauthorized", "{method} {path}");
    }
    // probes stay open
    for path in ["/healthz", "/readyz"] {
        assert_eq!(call_as(app, None, "GET", path, None, &[]).await.status, 200);
    }

    // a reader reads, and is refused every write with FORBIDDEN / 403
    let viewer = gql_as(app, Some(&reader), VIEWER, json!({})).await;
    assert_eq!(
        viewer.body["data"]["viewer"],
        json!({"subject": "re", "roles": ["READER"], "authenticated": true})
    );
    assert_eq!(
        call_as(app, Some(&reader), "GET", MODELS, None, &[])
            .await
            .status,
        200
    );
    let refused = gql_as(app, Some(&reader), CREATE, json!({"n": "r"})).await;
    assert_eq!(refused.status, 200);
    assert_eq!(code(&refused), "FORBIDDEN", "{}", refused.body);
    assert!(refused.body["data"].is_null());
    let body = json!({"name": "r"});
    let rest = call_as(app, Some(&reader), "POST", MODELS, Some(&body), &[]).await;
    assert_eq!(rest.status, 403, "{}", rest.body);
    assert_eq!(rest.body["code"], "Forbidden");
    let ol = event("0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b31");
    let rest = call_as(
        app,
        Some(&reader),
        "POST",
        "/api/v1/lineage",
        Some(&ol),
        &[],
    )
    .await;
    assert_eq!(rest.status, 403, "{}", rest.body);
    // every operation of a batch is checked on its own
    let batch = json!([{"query": VIEWER}, {"query": CREATE, "variables": {"n": "b"}}]);
    let answer = call_as(app, Some(&reader), "POST", "/graphql", Some(&batch), &[]).await;
    assert!(answer.body[0]["errors"].is_null(), "{}", answer.body);
    assert_eq!(
        answer.body[1]["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
    // ADMIN-only fields refuse an editor
    let tokens = gql_as(app, Some(&editor), "{ apiTokens { id } }", json!({})).await;
    assert_eq!(code(&tokens), "FORBIDDEN", "{}", tokens.body);
    assert_eq!(app.count_rows("node").await, nodes_before, "refusals wrote");

    // an editor writes through every door
    let made = gql_as(app, Some(&editor), CREATE, json!({"n": "by-editor"})).await;
    assert!(made.body["errors"].is_null(), "{}", made.body);
    let body = json!({"name": "by-editor-rest"});
    let rest = call_as(app, Some(&editor), "POST", MODELS, Some(&body), &[]).await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    let ol = event("0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b32");
    let posted = call_as(
        app,
        Some(&editor),
        "POST",
        "/api/v1/lineage",
        Some(&ol),
        &[],
    )
    .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let listed = gql_as(
        app,
        Some(&admin),
        "{ apiTokens { subject role } }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed.body["data"]["apiTokens"].as_array().unwrap().len(),
        4
    );
}

async fn admins_make_and_revoke_tokens_over_graphql(app: &TestApp) {
    let admin = tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap()
        .token;
    let made = gql_as(
        app,
        Some(&admin),
        r#"mutation { createApiToken(subject: "ci", role: EDITOR, expiresIn: "30d") { token apiToken { id subject role expiresAt revokedAt } } }"#,
        json!({}),
    )
    .await;
    let created = &made.body["data"]["createApiToken"];
    let token = created["token"].as_str().expect("a token").to_owned();
    assert!(
        token.starts_with("mg_") && token.len() >= 43 + 20,
        "{token}"
    );
    assert_eq!(created["apiToken"]["role"], "EDITOR");
    assert!(created["apiToken"]["expiresAt"].is_string());
    let viewer = gql_as(app, Some(&token), VIEWER, json!({})).await;
    assert_eq!(viewer.body["data"]["viewer"]["subject"], "ci");
    // the list never shows a secret
    let listed = gql_as(app, Some(&admin), "{ apiTokens { id subject } }", json!({})).await;
    assert!(!listed.body.to_string().contains(&token[20..]));
    let revoked = gql_as(
        app,
        Some(&admin),
        "mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }",
        json!({"id": created["apiToken"]["id"]}),
    )
    .await;
    assert!(revoked.body["data"]["revokeApiToken"]["revokedAt"].is_string());
    let after = gql_as(app, Some(&token), VIEWER, json!({})).await;
    assert_eq!(after.status, 401);
    assert_eq!(code(&after), "UNAUTHENTICATED");
}

async fn expired_and_malformed_credentials_are_401(app: &TestApp) {
    tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap();
    let short = tokens::create(
        &app.db,
        "brief",
        Role::Reader,
        Some(Duration::from_millis(50)),
    )
    .await
    .unwrap()
    .token;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let expired = gql_as(app, Some(&short), VIEWER, json!({})).await;
    // the same answer as for a token that never existed
    let unknown = gql_as(app, Some("mg_0123456789abcdef_nope"), VIEWER, json!({})).await;
    let garbage = gql_as(app, Some("not-a-token"), VIEWER, json!({})).await;
    for answer in [&expired, &unknown, &garbage] {
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(code(answer), "UNAUTHENTICATED");
    }
    assert_eq!(
        expired.body["errors"][0]["message"],
        unknown.body["errors"][0]["message"]
    );
    let basic = call_as(
        app,
        None,
        "GET",
        MODELS,
        None,
        &[("authorization", "Basic dXNlcjpwYXNz")],
    )
    .await;
    assert_eq!(basic.status, 401);
    assert!(basic.challenge.is_some());
}

async fn the_first_token_must_be_an_admins(app: &TestApp) {
    let err = tokens::create(&app.db, "re", Role::Reader, None)
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("first token must be an ADMIN"),
        "{err}"
    );
    // and nothing turned authentication on
    let answer = gql_as(app, None, VIEWER, json!({})).await;
    assert_eq!(answer.status, 200);
}

/// Only with `--trusted-proxy-header` does the header say who the caller is; its
/// subjects get roles from grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_header_counts_only_when_trusted() {
    for backend in crate::helpers::STORES {
        let trusting = AuthConfig {
            trusted_proxy_header: Some("kubeflow-userid".parse().unwrap()),
            ..Default::default()
        };
        let app = spawn_app_authenticating(backend, Default::default(), trusting).await;
        let admin = tokens::create(&app.db, "root", Role::Admin, None)
            .await
            .unwrap()
            .token;
        let alice = [("kubeflow-userid", "alice@example.com")];
        let body = json!({"query": VIEWER});
        let before = call_as(&app, None, "POST", "/graphql", Some(&body), &alice).await;
        assert_eq!(before.status, 200);
        assert_eq!(code(&before), "FORBIDDEN", "no grant yet: {}", before.body);
        let granted = gql_as(
            &app,
            Some(&admin),
            r#"mutation { grantRole(subject: "alice@example.com", role: EDITOR) { subject role grantedBy } }"#,
            json!({}),
        )
        .await;
        assert_eq!(granted.body["data"]["grantRole"]["grantedBy"], "root");
        let after = call_as(&app, None, "POST", "/graphql", Some(&body), &alice).await;
        assert_eq!(
            after.body["data"]["viewer"],
            json!({"subject": "alice@example.com", "roles": ["READER", "EDITOR"], "authenticated": true})
        );
        let rest = call_as(
            &app,
            None,
            "POST",
            MODELS,
            Some(&json!({"name": "a"})),
            &alice,
        )
        .await;
        assert_eq!(rest.status, 201, "{}", rest.body);
        app.finish().await;

        // the same header on a server that does not trust it proves nothing
        let app =
            spawn_app_authenticating(backend, Default::default(), AuthConfig::default()).await;
        tokens::create(&app.db, "root", Role::Admin, None)
            .await
            .unwrap();
        let ignored = call_as(&app, None, "POST", "/graphql", Some(&body), &alice).await;
        assert_eq!(ignored.status, 401, "{}", ignored.body);
        app.finish().await;
    }
}

/// An address that keeps sending bad tokens gets its 401s later and later (still 401);
/// another address is not slowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_bad_tokens_from_one_address_are_slowed_down() {
    let app =
        spawn_app_authenticating(Backend::Sqlite, Default::default(), AuthConfig::default()).await;
    tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap();
    let bad = json!({"query": VIEWER});
    let mut last = Duration::ZERO;
    for _ in 0..10 {
        let started = std::time::Instant::now();
        let answer = call_as(
            &app,
            Some("mg_0123456789abcdef_guess"),
            "POST",
            "/graphql",
            Some(&bad),
            &[],
        )
        .await;
        assert_eq!(answer.status, 401);
        last = started.elapsed();
    }
    // the tenth failure waits five steps of 200 ms
    assert!(
        last >= Duration::from_millis(900),
        "the tenth bad token took {last:?}"
    );
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let res = other
        .post(format!("{}/graphql", app.base))
        .bearer_auth("mg_0123456789abcdef_guess")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(started.elapsed() < last, "another address was slowed too");
    app.finish().await;
}
