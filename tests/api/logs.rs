//! Logs: on stderr (stdout is for what a command prints), plain text when not a
//! terminal, JSON with `--log-format json`, and one access line per request that never
//! carries a credential.
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::Store;
use crate::helpers::Backend;

fn modelgraph() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_modelgraph"));
    command.env_remove("RUST_LOG");
    command
}

#[test]
fn commands_print_to_stdout_and_log_plainly_to_stderr() {
    let store = Store::new(Backend::Sqlite);
    let out = modelgraph()
        .arg("seed-demo")
        .env("MODELGRAPH_DATABASE_URL", &store.url)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // what the command says, alone on stdout; its logs (migrations) on stderr
    assert!(stdout.starts_with("demo graph loaded"), "{stdout}");
    assert!(!stdout.contains(" INFO "), "logs on stdout: {stdout}");
    assert!(stderr.contains("INFO"), "no logs on stderr: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour escapes into a pipe: {stderr:?}"
    );
}

#[test]
fn each_request_has_one_json_access_line_without_its_token() {
    let store = Store::new(Backend::Sqlite);
    let made = modelgraph()
        .args(["token", "create", "--subject", "root", "--role", "ADMIN"])
        .env("MODELGRAPH_DATABASE_URL", &store.url)
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&made.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = modelgraph()
        .args([
            "--log-format",
            "json",
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .env("MODELGRAPH_DATABASE_URL", &store.url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let request_id = runtime.block_on(async {
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let res = client
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({"query": "query Probe { viewer { subject } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.headers()["x-request-id"].to_str().unwrap().to_owned()
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains(&token), "the token is in the log");
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "access" && l["path"] == "/graphql")
        .collect();
    assert_eq!(access.len(), 1, "{stderr}");
    let line = access[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["door"], "graphql");
    assert_eq!(line["operation"], "Probe");
    assert_eq!(line["status"], 200);
    assert_eq!(line["request_id"], request_id.as_str());
    assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
}
