//! SIGTERM: the server stops accepting, lets the requests in flight finish, and exits 0
//! within `--shutdown-timeout` even when a client stalls mid-request.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cli::Store;
use crate::helpers::Backend;

#[test]
fn sigterm_finishes_requests_in_flight_then_exits_within_the_timeout() {
    let store = Store::new(Backend::Sqlite);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_modelgraph"))
            .args(["serve", "--bind", &addr, "--shutdown-timeout", "2s"])
            // a stalled body would otherwise end the request only after a minute
            .args(["--body-read-timeout", "60s", "--idle-timeout", "120s"])
            .env("MODELGRAPH_DATABASE_URL", &store.url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut up = false;
        for _ in 0..200 {
            if TcpStream::connect(&addr).await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(up, "the server did not come up");

        // a request in flight: its headers and half its body are there
        let body = br#"{"query": "{ viewer { subject } }"}"#;
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut busy = TcpStream::connect(&addr).await.unwrap();
        busy.write_all(head.as_bytes()).await.unwrap();
        busy.write_all(&body[..10]).await.unwrap();
        // a client that stalls mid-body for good
        let mut stalled = TcpStream::connect(&addr).await.unwrap();
        let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
        stalled.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;

        let sent = Instant::now();
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        tokio::time::sleep(Duration::from_millis(300)).await;
        // no new connections
        assert!(
            TcpStream::connect(&addr).await.is_err(),
            "still accepting after SIGTERM"
        );
        // the request in flight is answered
        busy.write_all(&body[10..]).await.unwrap();
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("subject") {
            let n = tokio::time::timeout(Duration::from_secs(5), busy.read(&mut chunk))
                .await
                .expect("an answer")
                .unwrap();
            assert!(n > 0, "closed without an answer: {}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&chunk[..n]);
        }
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
        // the stalled client holds the server no longer than --shutdown-timeout
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "still running {:?} after SIGTERM",
                sent.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "{status}");
        assert!(sent.elapsed() >= Duration::from_secs(2), "it did not wait for the stalled request");
        drop(stalled);
    });
    drop(runtime);
    drop(store);
}
