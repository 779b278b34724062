//! Connection bounds, over raw sockets: a client that sends its headers or body slowly,
//! or nothing at all, or holds connections open, gets them closed in bounded time and
//! cannot lock others out for longer than the bounds.
use std::time::{Duration, Instant};

use modelgraph::config::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, spawn_app_with};

/// Far longer than any bound these tests set: reaching it means the server never closed.
const PATIENCE: Duration = Duration::from_secs(8);

async fn app(limits: Limits) -> TestApp {
    spawn_app_with(Backend::Sqlite, limits).await
}

async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection; what it sent, and how long it took.
/// Panics when the server keeps it open past `PATIENCE`.
async fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open for {PATIENCE:?}; it sent {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

#[tokio::test]
async fn headers_that_never_finish_close_the_connection() {
    let app = app(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut stream).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    app.finish().await;
}

#[tokio::test]
async fn silent_and_kept_alive_connections_are_closed() {
    let app = app(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    // says nothing at all
    let mut silent = connect(&app).await;
    let (sent, _) = read_until_closed(&mut silent).await;
    assert_eq!(sent, "", "nothing asked, nothing answered");
    // one request answered, then nothing: the kept-alive connection ends too
    let mut kept = connect(&app).await;
    kept.write_all(HEALTH).await.unwrap();
    let (sent, _) = read_until_closed(&mut kept).await;
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    assert!(sent.ends_with("ok"), "{sent}");
    app.finish().await;
}

/// A body trickled in is answered 408 in the door's own error shape, and the connection
/// is closed; nothing is written.
#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408_on_every_door() {
    let app = app(Limits {
        body_read_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let doors = [
        ("/graphql", "\"LIMIT_EXCEEDED\""),
        (
            "/api/model_registry/v1/registered_models",
            "\"Request Timeout\"",
        ),
        ("/api/v1/lineage", "\"Request Timeout\""),
    ];
    for (path, code) in doors {
        let mut stream = connect(&app).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"name\":"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (sent, took) = read_until_closed(&mut stream).await;
        assert!(sent.starts_with("HTTP/1.1 408"), "{path}: {sent}");
        assert!(sent.contains(code), "{path}: {sent}");
        assert!(sent.contains("--body-read-timeout"), "{path}: {sent}");
        assert!(
            took < Duration::from_secs(3),
            "{path}: closed after {took:?}"
        );
    }
    assert_eq!(app.count_rows("node").await, 0);
    app.finish().await;
}

/// No byte either way for `--idle-timeout` ends the connection, whatever it was in the
/// middle of (here: a body that stopped, with a longer body bound; the answer says which
/// bound ended it).
#[tokio::test]
async fn a_stalled_connection_is_closed_by_the_idle_bound() {
    let app = app(Limits {
        idle_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{")
        .await
        .unwrap();
    let (sent, took) = read_until_closed(&mut stream).await;
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("--idle-timeout"), "{sent}");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    app.finish().await;
}

/// Past `--max-open-connections` the server accepts no more until one closes: the
/// newcomer waits (it is not refused), and is served as soon as a place frees.
#[tokio::test]
async fn open_connections_are_capped() {
    let app = app(Limits {
        max_open_connections: 2,
        ..Default::default()
    })
    .await;
    let first = connect(&app).await;
    let _second = connect(&app).await;
    let mut third = connect(&app).await;
    third.write_all(HEALTH).await.unwrap();
    let mut buf = [0u8; 256];
    let early = tokio::time::timeout(Duration::from_millis(700), third.read(&mut buf)).await;
    assert!(early.is_err(), "a third connection was served past the cap");
    drop(first);
    let n = tokio::time::timeout(PATIENCE, third.read(&mut buf))
        .await
        .expect("served once a place freed")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    app.finish().await;
}
