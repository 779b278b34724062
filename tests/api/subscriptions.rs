//! Subscriptions over `graphql-transport-ws` with a WebSocket client: live changes in
//! sequence order, resuming from a sequence with nothing missed or repeated, lineage
//! subscriptions that follow the graph as it grows, and the credential in
//! `connection_init`.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use modelgraph::auth::{Role, tokens};
use modelgraph::events;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    changes_arrive_live_and_resume_from_a_sequence,
    lineage_subscriptions_follow_the_graph,
    subscriptions_need_a_credential_once_auth_is_on,
    nested_fields_resolve_in_a_subscription,
    the_feed_rests_without_subscribers,
);

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` and completes `connection_init` with `payload`; the socket, or
/// the close the server answered with.
pub(crate) async fn open(app: &TestApp, payload: Value) -> Result<Socket, String> {
    let url = format!("{}/graphql/ws", app.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the upgrade");
    let init = json!({"type": "connection_init", "payload": payload});
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    match next_message(&mut socket).await {
        Some(v) if v["type"] == "connection_ack" => Ok(socket),
        other => Err(format!("{other:?}")),
    }
}

/// The next JSON message (pings answered), or None when the socket closed.
pub(crate) async fn next_message(socket: &mut Socket) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")?;
        match msg.ok()? {
            Message::Text(text) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["type"] == "ping" {
                    let pong = json!({"type": "pong"}).to_string();
                    socket.send(Message::Text(pong.into())).await.ok()?;
                    continue;
                }
                return Some(v);
            }
            Message::Close(frame) => {
                return Some(json!({"closed": frame.map(|f| u16::from(f.code))}));
            }
            _ => continue,
        }
    }
}

pub(crate) async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    let msg =
        json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}});
    socket
        .send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
}

/// The next `next` payload's data for subscription `id`.
pub(crate) async fn next_data(socket: &mut Socket, id: &str) -> Value {
    let msg = next_message(socket).await.expect("open");
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(msg["id"], id);
    msg["payload"]["data"].clone()
}

async fn create_model(app: &TestApp, token: Option<&str>, name: &str) -> Value {
    let answer = crate::identity::gql_as(
        app,
        token,
        "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }",
        json!({"n": name}),
    )
    .await;
    assert!(answer.body["errors"].is_null(), "{}", answer.body);
    answer.body["data"]["createRegisteredModel"]["id"].clone()
}

const CHANGES: &str = "subscription($after: Int) { changes(afterSequence: $after, filter: {operations: [CREATE]}) { sequence operation actor node { id ... on RegisteredModel { name } } } }";

async fn changes_arrive_live_and_resume_from_a_sequence(app: &TestApp) {
    let mut socket = open(app, json!({})).await.expect("open mode acks");
    subscribe(&mut socket, "1", CHANGES, json!({"after": null})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first = create_model(app, None, "one").await;
    let got = next_data(&mut socket, "1").await;
    assert_eq!(got["changes"]["operation"], "CREATE");
    assert_eq!(got["changes"]["node"]["id"], first);
    let seen = got["changes"]["sequence"].as_i64().unwrap();
    // the client goes away; two more changes commit meanwhile
    drop(socket);
    create_model(app, None, "two").await;
    create_model(app, None, "three").await;
    // back, from the last sequence it saw: exactly what it missed, in order, then live
    let mut socket = open(app, json!({})).await.unwrap();
    subscribe(&mut socket, "2", CHANGES, json!({"after": seen})).await;
    let two = next_data(&mut socket, "2").await;
    let three = next_data(&mut socket, "2").await;
    assert_eq!(two["changes"]["node"]["name"], "two");
    assert_eq!(three["changes"]["node"]["name"], "three");
    assert_eq!(two["changes"]["sequence"].as_i64().unwrap(), seen + 1);
    assert_eq!(three["changes"]["sequence"].as_i64().unwrap(), seen + 2);
    create_model(app, None, "four").await;
    let four = next_data(&mut socket, "2").await;
    assert_eq!(four["changes"]["node"]["name"], "four");
    // a change made by another server on the same database arrives too
    let other = app.server_via_sqlx().await;
    let res: Value = app
        .client
        .post(format!("{other}/graphql"))
        .json(&json!({"query": r#"mutation { createRegisteredModel(input: {name: "five"}) { id } }"#}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(res["errors"].is_null(), "{res}");
    let five = next_data(&mut socket, "2").await;
    assert_eq!(five["changes"]["node"]["name"], "five");
}

/// A change's node answers its nested fields (batched reads) as in a query.
async fn nested_fields_resolve_in_a_subscription(app: &TestApp) {
    let mut socket = open(app, json!({})).await.unwrap();
    let query = "subscription { changes(filter: {kinds: [MODEL_VERSION]}) { operation node {
        ... on ModelVersion { name aliases registeredModel { name aliases { alias }
            versions { nodes { name } } } } } } }";
    subscribe(&mut socket, "1", query, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let model = create_model(app, None, "nested").await;
    app.ok(
        r#"mutation($m: ID!) { createModelVersion(input: {registeredModelId: $m, name: "v1"}) { id } }"#,
        json!({"m": model}),
    )
    .await;
    let msg = next_message(&mut socket).await.expect("open");
    assert_eq!(msg["type"], "next", "{msg}");
    assert!(msg["payload"]["errors"].is_null(), "{msg}");
    let node = &msg["payload"]["data"]["changes"]["node"];
    assert_eq!(node["name"], "v1");
    assert_eq!(node["aliases"], json!([]));
    assert_eq!(node["registeredModel"]["name"], "nested");
    assert_eq!(
        node["registeredModel"]["versions"]["nodes"][0]["name"],
        "v1"
    );
}

/// Once the last subscriber left, nothing reads the change log any more.
async fn the_feed_rests_without_subscribers(app: &TestApp) {
    let mut socket = open(app, json!({})).await.unwrap();
    // from the first change on: the model's creation arrives whether the subscription
    // starts before it commits or after (from "now" it could miss it on a busy machine)
    subscribe(&mut socket, "1", CHANGES, json!({"after": 0})).await;
    create_model(app, None, "watched").await;
    next_data(&mut socket, "1").await;
    socket.close(None).await.unwrap();
    drop(socket);
    // the server notices the close and drops the subscription
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.reset_statements();
    tokio::time::sleep(events::POLL * 4).await;
    assert_eq!(app.statements(), 0, "{:#?}", app.statement_log());
}

async fn lineage_subscriptions_follow_the_graph(app: &TestApp) {
    let data = app
        .ok(
            r#"mutation { d: createDataset(input: {name: "raw"}) { id } e: createExperiment(input: {name: "e"}) { id } }"#,
            json!({}),
        )
        .await;
    let raw = data["d"]["id"].clone();
    let mut socket = open(app, json!({})).await.unwrap();
    subscribe(
        &mut socket,
        "l",
        "subscription($s: ID!) { lineageChanged(start: $s, direction: DOWNSTREAM, maxDepth: 3) { operation nodeId otherNodeId } }",
        json!({"s": raw}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // a change elsewhere in the registry is not in the walk
    create_model(app, None, "unrelated").await;
    // a run that reads the dataset joins the walk: the edge, then the run's own update
    let run = app
        .ok(
            r#"mutation($e: ID!) { createExperimentRun(input: {experimentId: $e, name: "r"}) { id } }"#,
            json!({"e": data["e"]["id"]}),
        )
        .await["createExperimentRun"]["id"]
        .clone();
    app.ok(
        r#"mutation($s: ID!, $t: ID!) { addLineageEdges(edges: [{source: $s, target: $t, kind: INPUT}]) { id } }"#,
        json!({"s": raw, "t": run}),
    )
    .await;
    // (the run's creation may come first: read together with the edge, the run is
    // already in the walk)
    let mut edge = next_data(&mut socket, "l").await;
    if edge["lineageChanged"]["operation"] == "CREATE" {
        assert_eq!(edge["lineageChanged"]["nodeId"], run);
        edge = next_data(&mut socket, "l").await;
    }
    assert_eq!(edge["lineageChanged"]["operation"], "EDGE_ADD", "{edge}");
    assert_eq!(edge["lineageChanged"]["otherNodeId"], run);
    app.ok(
        r#"mutation($r: ID!) { updateExperimentRun(id: $r, input: {description: "now in the walk"}) { id } }"#,
        json!({"r": run}),
    )
    .await;
    let update = next_data(&mut socket, "l").await;
    assert_eq!(update["lineageChanged"]["operation"], "UPDATE");
    assert_eq!(update["lineageChanged"]["nodeId"], run);
}

async fn subscriptions_need_a_credential_once_auth_is_on(app: &TestApp) {
    let reader = {
        tokens::create(&app.db, "root", Role::Admin, None)
            .await
            .unwrap();
        tokens::create(&app.db, "re", Role::Reader, None)
            .await
            .unwrap()
            .token
    };
    let refused = open(app, json!({})).await.expect_err("refused");
    assert!(refused.contains("4403"), "{refused}");
    let bad = open(
        app,
        json!({"Authorization": "Bearer mg_0123456789abcdef_x"}),
    )
    .await
    .expect_err("refused");
    assert!(bad.contains("4403"), "{bad}");
    let mut socket = open(app, json!({"Authorization": format!("Bearer {reader}")}))
        .await
        .expect("a reader subscribes");
    subscribe(
        &mut socket,
        "1",
        "subscription { changes { actor } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let admin = tokens::create(&app.db, "ed", Role::Editor, None)
        .await
        .unwrap()
        .token;
    create_model(app, Some(&admin), "by-ed").await;
    let got = next_data(&mut socket, "1").await;
    assert_eq!(got["changes"]["actor"], "ed");
}

/// A subscription that hears nothing for longer than `--idle-timeout` stays open: the
/// server pings the socket (and does not close it for the client's silence).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_subscription_outlives_the_idle_bound() {
    let limits = modelgraph::config::Limits {
        idle_timeout: Duration::from_millis(900),
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, limits).await;
    let mut socket = open(&app, json!({})).await.unwrap();
    subscribe(&mut socket, "q", CHANGES, json!({"after": null})).await;
    // three idle bounds of silence: only pings come (tungstenite answers them as it
    // reads), no message and no close
    let until = tokio::time::Instant::now() + Duration::from_millis(2700);
    let mut pings = 0;
    while let Ok(frame) = tokio::time::timeout_at(until, socket.next()).await {
        match frame {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("the server sent or closed: {other:?}"),
        }
    }
    assert!(pings >= 2, "{pings} pings");
    create_model(&app, None, "after-the-quiet").await;
    let got = next_data(&mut socket, "q").await;
    assert_eq!(got["changes"]["node"]["name"], "after-the-quiet");
    app.finish().await;
}

/// A WebSocket that reads nothing after `connection_ack` unless asked to: with
/// `recv_buffer`, a small kernel receive buffer, so what the server sends piles up.
async fn open_raw(app: &TestApp, recv_buffer: Option<u32>) -> Socket {
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = recv_buffer {
        tcp.set_recv_buffer_size(size).unwrap();
    }
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(tcp.connect(addr).await.unwrap());
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    let init = json!({"type": "connection_init", "payload": {}}).to_string();
    socket.send(Message::Text(init.into())).await.unwrap();
    assert_eq!(
        next_message(&mut socket).await.unwrap()["type"],
        "connection_ack"
    );
    socket
}

/// Reads the raw frames the server sent until the connection ends (a WebSocket
/// client answers the pings it reads, which fails once the server has gone): the text
/// messages, and the close frame's code and reason if one came.
async fn drain(socket: &mut Socket) -> (usize, Option<(u16, String)>) {
    use tokio::io::AsyncReadExt;
    let stream = socket.get_mut();
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("still open after {} bytes", bytes.len()),
        }
    }
    // server frames are unmasked: opcode, length (7 bits, or 16 or 64 more), payload
    let (mut at, mut texts) = (0, 0);
    while at + 2 <= bytes.len() {
        let opcode = bytes[at] & 0x0f;
        let (mut len, mut start) = (usize::from(bytes[at + 1] & 0x7f), at + 2);
        if len == 126 && start + 2 <= bytes.len() {
            len = usize::from(u16::from_be_bytes([bytes[start], bytes[start + 1]]));
            start += 2;
        } else if len == 127 && start + 8 <= bytes.len() {
            len = u64::from_be_bytes(bytes[start..start + 8].try_into().unwrap()) as usize;
            start += 8;
        }
        let Some(payload) = bytes.get(start..start + len) else {
            break;
        };
        match opcode {
            1 => texts += 1,
            8 if payload.len() >= 2 => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                return (
                    texts,
                    Some((code, String::from_utf8_lossy(&payload[2..]).into())),
                );
            }
            _ => {}
        }
        at = start + len;
    }
    (texts, None)
}

/// Subscribers that stop reading are disconnected, told why when there is room to say
/// it; meanwhile writers and a subscriber that keeps up carry on, and what the server
/// holds for the stuck ones is bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_that_stop_reading_are_told_and_disconnected() {
    let limits = modelgraph::config::Limits {
        idle_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, limits).await;
    // one asks for little per change, one for a lot through a small buffer
    let mut quiet = open_raw(&app, None).await;
    subscribe(
        &mut quiet,
        "q",
        "subscription { changes { sequence } }",
        json!({}),
    )
    .await;
    let mut clogged = open_raw(&app, Some(4096)).await;
    let fat = "subscription { changes { sequence after } }";
    subscribe(&mut clogged, "c", fat, json!({})).await;
    let mut good = open(&app, json!({})).await.unwrap();
    subscribe(&mut good, "g", fat, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    const MODELS: usize = 300;
    let description = "x".repeat(40_000);
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < MODELS {
            let data = next_data(&mut good, "g").await;
            assert!(data["changes"]["sequence"].is_i64());
            got += 1;
        }
        got
    });
    for i in 0..MODELS {
        app.ok(
            "mutation($n: String!, $d: String) { createRegisteredModel(input: {name: $n, description: $d}) { id } }",
            json!({"n": format!("fat-{i}"), "d": description}),
        )
        .await;
    }
    assert_eq!(
        reader.await.unwrap(),
        MODELS,
        "the reading subscriber got everything"
    );
    // past the bound (half the idle timeout) both were closed
    tokio::time::sleep(Duration::from_secs(2)).await;
    // the quiet one had room: it reads what was sent, then why it was closed
    let (delivered, close) = drain(&mut quiet).await;
    let (code, reason) = close.expect("a close frame");
    assert_eq!(code, 1008);
    assert!(reason.contains("afterSequence"), "{reason}");
    // (how much reached it before the close depends on how fast the writes went; what
    // did arrive came once each)
    assert!(
        delivered <= MODELS,
        "{delivered} messages for {MODELS} changes"
    );
    // the clogged one's buffers were full: it is cut off, with what fit
    let (delivered, _) = drain(&mut clogged).await;
    assert!(
        delivered < MODELS,
        "all {delivered} arrived: nothing was held back"
    );
    app.finish().await;
}

/// Stores in other schemas of the same PostgreSQL database notify on the same channel,
/// with their own (here higher) sequences: those must not hide this store's changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_schemas_changes_do_not_hide_ours_on_postgres() {
    use crate::helpers::{Backend, spawn_app};
    let ours = spawn_app(Backend::Postgres).await;
    let theirs = spawn_app(Backend::Postgres).await;
    let mut socket = open(&ours, json!({})).await.unwrap();
    subscribe(&mut socket, "1", CHANGES, json!({"after": null})).await;
    // the subscription started the feed, and its listener is listening
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..5 {
        create_model(&theirs, None, &format!("elsewhere-{i}")).await;
    }
    // their notifications reach our listener first
    tokio::time::sleep(Duration::from_millis(500)).await;
    create_model(&ours, None, "here").await;
    let got = next_data(&mut socket, "1").await;
    assert_eq!(got["changes"]["node"]["name"], "here");
    assert_eq!(got["changes"]["sequence"], 1);
    drop(socket);
    ours.finish().await;
    theirs.finish().await;
}
