//! Webhooks, driven through `modelgraph serve` processes against a receiver (a small
//! HTTP server in the test) that checks every signature: changes arrive in sequence
//! order after failed first attempts, a server killed mid-delivery is replaced by
//! another that carries on from the change log, two servers on one PostgreSQL deliver
//! each change once, and timeouts and refusals are recorded.
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::cli::Store;
use crate::helpers::Backend;

const SECRET: &str = "correct horse battery staple";

/// What the receiver got in one request.
#[derive(Clone, Debug)]
struct Received {
    sequence: i64,
    webhook: String,
    attempt: i64,
    /// Answered 2xx.
    accepted: bool,
    signed: bool,
    change: Value,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Requests still to refuse with 500.
    refuse: Arc<AtomicUsize>,
    /// How long each answer takes.
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    /// Serves on a loopback port; its URL.
    async fn start(&self) -> String {
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The sequences accepted, first acceptance of each, in arrival order.
    fn accepted(&self) -> Vec<i64> {
        let mut seen = Vec::new();
        for r in self.received().into_iter().filter(|r| r.accepted) {
            if !seen.contains(&r.sequence) {
                seen.push(r.sequence);
            }
        }
        seen
    }

    async fn wait_for(&self, count: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.accepted().len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {count} changes accepted: {:#?}",
                self.accepted().len(),
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(State(rx): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let delay = rx.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    // the signature checked as a receiver would: HMAC-SHA256 of the raw body
    let signed = header("x-modelgraph-signature")
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .is_some_and(|tag| {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
            ring::hmac::verify(&key, &body, &tag).is_ok()
        });
    let payload: Value = serde_json::from_slice(&body).unwrap_or_default();
    let refuse = rx
        .refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    rx.got.lock().unwrap().push(Received {
        sequence: payload["change"]["sequence"].as_i64().unwrap_or(-1),
        webhook: payload["webhookId"].as_str().unwrap_or_default().to_owned(),
        attempt: header("x-modelgraph-attempt").parse().unwrap_or(0),
        accepted: !refuse,
        signed,
        change: payload["change"].clone(),
    });
    if refuse {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A `modelgraph serve` process.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) async fn start(database_url: &str, extra: &[&str]) -> Self {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--bind", &bind, "--webhook-allow-private"];
        for (flag, value) in [("--webhook-timeout", "1s"), ("--webhook-backoff", "100ms")] {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        args.extend(extra);
        let child = Command::new(env!("CARGO_BIN_EXE_modelgraph"))
            .args(&args)
            .env("MODELGRAPH_DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let server = Self {
            child,
            base: format!("http://{bind}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(res) = client.get(format!("{}/healthz", server.base)).send().await
                && res.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server at {bind} did not come up");
    }

    /// SIGKILL: no chance to release anything.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub(crate) async fn gql(&self, query: &str, variables: Value) -> Value {
        let res: Value = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(res["errors"].is_null(), "{query}: {res}");
        res["data"].clone()
    }

    async fn create_model(&self, name: &str) -> i64 {
        let data = self
            .gql(
                "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }",
                json!({"n": name}),
            )
            .await;
        data["createRegisteredModel"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The sequences of the changes a webhook on models' creations should get.
    async fn model_creations(&self) -> Vec<i64> {
        let data = self
            .gql(
                "{ changes(first: 1000, filter: {kinds: [REGISTERED_MODEL], operations: [CREATE]}) { nodes { sequence } } }",
                json!({}),
            )
            .await;
        let mut seqs: Vec<i64> = data["changes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["sequence"].as_i64().unwrap())
            .collect();
        seqs.sort_unstable();
        seqs
    }

    async fn create_webhook(&self, url: &str) -> String {
        let data = self
            .gql(
                "mutation($u: String!, $s: String!) { createWebhook(url: $u, secret: $s, filter: {kinds: [REGISTERED_MODEL], operations: [CREATE]}) { id active deliveredThrough } }",
                json!({"u": url, "s": SECRET}),
            )
            .await;
        data["createWebhook"]["id"].as_str().unwrap().to_owned()
    }

    async fn deliveries(&self, webhook: &str) -> Vec<Value> {
        let data = self
            .gql(
                "query($w: ID!) { webhookDeliveries(webhookId: $w, first: 1000) { nodes { sequence attempt outcome statusCode error latencyMs } } }",
                json!({"w": webhook}),
            )
            .await;
        data["webhookDeliveries"]["nodes"]
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a webhook test on SQLite and PostgreSQL, each with a database of its own (made
/// and dropped outside the test's runtime).
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::Backend;

                #[test]
                fn sqlite() {
                    super::run(Backend::Sqlite, super::$name);
                }

                #[test]
                fn postgres() {
                    super::run(Backend::Postgres, super::$name);
                }

                #[test]
                fn mysql() {
                    super::run(Backend::Mysql, super::$name);
                }
            }
        )*
    };
}

/// Runs `test` with the URL of a fresh database on `backend`, on a runtime of its own
/// (the database is made and dropped outside it).
pub(crate) fn run<F: Future<Output = ()>>(backend: Backend, test: impl FnOnce(String) -> F) {
    let store = Store::new(backend);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(test(store.url.clone()));
    drop(runtime);
    drop(store);
}

on_both_stores!(
    deliveries_arrive_signed_in_order_through_failures_and_a_crash,
    timeouts_and_refusals_are_recorded,
);

async fn deliveries_arrive_signed_in_order_through_failures_and_a_crash(url: String) {
    let receiver = Receiver::default();
    let target = receiver.start().await;
    let mut first = Server::start(&url, &[]).await;
    let webhook = first.create_webhook(&target).await;
    // the first three attempts fail; the webhook retries, in order
    receiver.refuse.store(3, Ordering::SeqCst);
    for i in 0..5 {
        first.create_model(&format!("m{i}")).await;
    }
    // a change the filter leaves out
    first
        .gql(
            r#"mutation { createExperiment(input: {name: "not-a-model"}) { id } }"#,
            json!({}),
        )
        .await;
    receiver.wait_for(5, Duration::from_secs(20)).await;

    // slow answers, and the server dies in the middle of delivering
    receiver.delay_ms.store(300, Ordering::SeqCst);
    for i in 5..10 {
        first.create_model(&format!("m{i}")).await;
    }
    receiver.wait_for(6, Duration::from_secs(20)).await;
    first.kill();
    receiver.delay_ms.store(0, Ordering::SeqCst);
    // another server on the same database takes over once the dead one's lease ends
    let second = Server::start(&url, &[]).await;
    receiver.wait_for(10, Duration::from_secs(30)).await;

    let expected = second.model_creations().await;
    assert_eq!(expected.len(), 10);
    assert_eq!(receiver.accepted(), expected, "every change once, in order");
    let all = receiver.received();
    assert!(all.iter().all(|r| r.signed), "unsigned: {all:#?}");
    assert!(all.iter().all(|r| r.webhook == webhook));
    // the first change took four attempts; the refusals are in the change's order too
    let firsts: Vec<&Received> = all.iter().filter(|r| r.sequence == expected[0]).collect();
    assert_eq!(
        firsts.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(firsts[3].change["operation"], "CREATE");
    assert_eq!(firsts[3].change["nodeKind"], "REGISTERED_MODEL");
    assert_eq!(firsts[3].change["after"]["name"], "m0");
    // at least once: only the change in flight when the server died may come twice
    let repeats = all.iter().filter(|r| r.accepted).count() - expected.len();
    assert!(repeats <= 1, "{repeats} repeated deliveries: {all:#?}");

    // the attempts are on record, newest first
    let deliveries = second.deliveries(&webhook).await;
    let failed: Vec<&Value> = deliveries
        .iter()
        .filter(|d| d["outcome"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 3, "{deliveries:#?}");
    for d in &failed {
        assert_eq!(d["statusCode"], 500);
        assert_eq!(d["sequence"], expected[0]);
        assert!(d["error"].as_str().unwrap().contains("500"), "{d}");
    }
    let delivered = deliveries
        .iter()
        .filter(|d| d["outcome"] == "DELIVERED")
        .count();
    assert!(delivered >= 10, "{deliveries:#?}");
    // the cursor moves once the delivery's answer is recorded, just after the receiver
    // has the change: wait for it a little
    let mut waited = 0;
    let through = loop {
        let through = second
            .gql(
                "{ webhooks { id deliveredThrough failedAttempts } }",
                json!({}),
            )
            .await;
        let cursor = through["webhooks"][0]["deliveredThrough"].as_i64().unwrap();
        if cursor >= expected[9] || waited >= 50 {
            break through;
        }
        waited += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(through["webhooks"][0]["failedAttempts"], 0);
    assert!(
        through["webhooks"][0]["deliveredThrough"].as_i64().unwrap() >= expected[9],
        "{through}"
    );
}

async fn timeouts_and_refusals_are_recorded(url: String) {
    let receiver = Receiver::default();
    let target = receiver.start().await;
    // a port nobody listens on
    let closed = StdListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let server = Server::start(&url, &["--webhook-backoff", "10s"]).await;
    let slow = server.create_webhook(&target).await;
    let refused = server.create_webhook(&closed_url).await;
    receiver.delay_ms.store(3000, Ordering::SeqCst);
    server.create_model("late").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (slow_attempts, refused_attempts) = loop {
        let a = server.deliveries(&slow).await;
        let b = server.deliveries(&refused).await;
        if !a.is_empty() && !b.is_empty() {
            break (a, b);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempts recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let timed_out = &slow_attempts[0];
    assert_eq!(timed_out["outcome"], "FAILED");
    assert!(timed_out["statusCode"].is_null());
    assert!(
        timed_out["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1s"),
        "{timed_out}"
    );
    assert!(
        timed_out["latencyMs"].as_i64().unwrap() >= 1000,
        "{timed_out}"
    );
    let no_one = &refused_attempts[0];
    assert_eq!(no_one["outcome"], "FAILED");
    assert!(
        no_one["error"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{no_one}"
    );
    // the backoff holds the next attempt back
    let hooks = server
        .gql(
            "{ webhooks { id failedAttempts nextAttemptAt failingSince } }",
            json!({}),
        )
        .await;
    for hook in hooks["webhooks"].as_array().unwrap() {
        assert_eq!(hook["failedAttempts"], 1, "{hook}");
        assert!(hook["nextAttemptAt"].is_string(), "{hook}");
    }
}

/// Two servers on one PostgreSQL or MariaDB: each change reaches the webhook once, in
/// order.
#[test]
fn two_servers_deliver_each_change_once() {
    for backend in [Backend::Postgres, Backend::Mysql] {
        run(backend, two_servers_deliver_once);
    }
}

async fn two_servers_deliver_once(url: String) {
    let receiver = Receiver::default();
    let target = receiver.start().await;
    let a = Server::start(&url, &[]).await;
    let b = Server::start(&url, &[]).await;
    a.create_webhook(&target).await;
    for i in 0..10 {
        let server = if i % 2 == 0 { &a } else { &b };
        server.create_model(&format!("m{i}")).await;
    }
    receiver.wait_for(10, Duration::from_secs(20)).await;
    // give a second delivery, if there were going to be one, time to arrive
    tokio::time::sleep(Duration::from_secs(2)).await;
    let expected = a.model_creations().await;
    let all = receiver.received();
    assert_eq!(receiver.accepted(), expected);
    assert_eq!(all.len(), 10, "each change once: {all:#?}");
}

crate::on_both!(webhooks_are_admins_and_their_targets_are_checked);

const CREATE: &str = "mutation($u: String!, $s: String!, $f: ChangeFilter) { createWebhook(url: $u, secret: $s, filter: $f) { id url active filter { kinds operations } createdBy } }";

/// The code and message of a request that must fail.
async fn refusal(app: &crate::helpers::TestApp, query: &str, variables: Value) -> (String, String) {
    let body = app.gql(query, variables).await;
    let error = &body["errors"][0];
    assert!(error.is_object(), "refused with no error: {body}");
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn webhooks_are_admins_and_their_targets_are_checked(app: &crate::helpers::TestApp) {
    for (url, secret, field) in [
        ("http://127.0.0.1:9/hook", "s", "url"),
        ("http://[::1]/hook", "s", "url"),
        ("http://169.254.169.254/latest", "s", "url"),
        ("ftp://hooks.example.com/", "s", "url"),
        ("hooks.example.com", "s", "url"),
        ("https://hooks.example.com/h", "", "secret"),
    ] {
        let (code, message) = refusal(app, CREATE, json!({"u": url, "s": secret})).await;
        assert_eq!(code, "INVALID_INPUT", "{url}: {message}");
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{url}: {message}"
        );
    }
    assert_eq!(app.count_rows("webhook").await, 0);

    let data = app
        .ok(
            CREATE,
            json!({"u": "https://hooks.example.com/h", "s": "s3cret", "f": {"kinds": ["MODEL_VERSION"]}}),
        )
        .await;
    let hook = &data["createWebhook"];
    assert_eq!(hook["url"], "https://hooks.example.com/h");
    assert_eq!(hook["active"], true);
    assert_eq!(hook["filter"]["kinds"], json!(["MODEL_VERSION"]));
    assert!(hook["filter"]["operations"].is_null());
    assert_eq!(hook["createdBy"], "anonymous");
    let id = hook["id"].clone();
    let data = app
        .ok(
            r#"mutation($id: ID!) { updateWebhook(id: $id, active: false, url: "https://other.example.com/h") { active url } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        data["updateWebhook"],
        json!({"active": false, "url": "https://other.example.com/h"})
    );
    let (code, _) = refusal(
        app,
        r#"mutation($id: ID!) { updateWebhook(id: $id, url: "http://10.0.0.1/") { id } }"#,
        json!({"id": id}),
    )
    .await;
    assert_eq!(code, "INVALID_INPUT");
    let listed = app.ok("{ webhooks { id url active } }", json!({})).await;
    assert_eq!(
        listed["webhooks"],
        json!([{"id": id, "url": "https://other.example.com/h", "active": false}])
    );
    let data = app
        .ok(
            "query($id: ID!) { webhookDeliveries(webhookId: $id) { nodes { id } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["webhookDeliveries"]["nodes"], json!([]));
    app.ok(
        "mutation($id: ID!) { deleteWebhook(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    let (code, _) = refusal(
        app,
        "mutation($id: ID!) { deleteWebhook(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");

    // once authentication is on, webhooks are an ADMIN's
    use modelgraph::auth::{Role, tokens};
    let admin = tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap()
        .token;
    let editor = tokens::create(&app.db, "ed", Role::Editor, None)
        .await
        .unwrap()
        .token;
    // (a server that found no token looks again after a second)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for query in ["{ webhooks { id } }", CREATE] {
        let vars = json!({"u": "https://hooks.example.com/h", "s": "s"});
        let answer = crate::identity::gql_as(app, Some(&editor), query, vars.clone()).await;
        assert_eq!(
            answer.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{}",
            answer.body
        );
        let answer = crate::identity::gql_as(app, Some(&admin), query, vars).await;
        assert!(answer.body["errors"].is_null(), "{}", answer.body);
    }
}
