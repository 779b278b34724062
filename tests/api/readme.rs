//! The README, run as written. Every ```sh block in it says what runs it
//! (`<!-- run-by: ... -->` on the line before): `.ci/run`, or a test here that runs the
//! block's lines unchanged in a shell whose `modelgraph` (and `cargo run [--release] --`)
//! is the built binary, in a fresh directory, the server on a free port instead of 8080.
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::backup::said;
use crate::helpers::postgres_url;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

/// Every ```sh block: what its `run-by` comment says (empty when it has none), and its
/// text.
fn sh_blocks() -> Vec<(String, String)> {
    let text = readme();
    let mut blocks = Vec::new();
    let mut previous = "";
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            let runner = previous
                .trim()
                .strip_prefix("<!-- run-by:")
                .and_then(|r| r.strip_suffix("-->"))
                .unwrap_or("")
                .trim()
                .to_owned();
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            blocks.push((runner, body.join("\n")));
        }
        previous = line;
    }
    blocks
}

/// The blocks the tests here run, by the name in their `run-by` comment.
const RUN_HERE: &[&str] = &[
    "top",
    "quick-start",
    "tokens",
    "postgres",
    "sqlite-backup",
    "postgres-backup",
    "mysql",
    "mysql-backup",
    "other-commands",
];

/// The block marked `tests/api/readme.rs (NAME)`, as logical lines (continuations
/// joined, comments and blank lines dropped).
fn block(name: &str) -> Vec<String> {
    let marker = format!("tests/api/readme.rs ({name})");
    let (_, body) = sh_blocks()
        .into_iter()
        .find(|(runner, _)| runner.split(", ").any(|r| r == marker))
        .unwrap_or_else(|| panic!("README has no sh block run by {marker}"));
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in body.lines() {
        let line = line.trim();
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            continue;
        }
        current.push_str(line);
        let command = current.trim().to_owned();
        current.clear();
        if !command.is_empty() && !command.starts_with('#') {
            lines.push(command);
        }
    }
    lines
}

/// A fresh working directory with a `PATH` whose `modelgraph` and `cargo run ... --`
/// run the built binary, and a free port standing in for 8080.
struct Shell {
    work: tempfile::TempDir,
    bin: tempfile::TempDir,
    port: u16,
    env: Vec<(String, String)>,
    server: Option<Child>,
}

impl Shell {
    fn new() -> Self {
        let bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_modelgraph"),
            bin.path().join("modelgraph"),
        )
        .unwrap();
        let cargo = bin.path().join("cargo");
        std::fs::write(
            &cargo,
            "#!/bin/sh\n# `cargo run [--release] -- ARGS`, as the README writes it\n\
             [ \"$1\" = run ] || { echo \"only cargo run here\" >&2; exit 2; }\n\
             while [ \"$#\" -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n\
             shift\nexec modelgraph \"$@\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            work: tempfile::tempdir().unwrap(),
            bin,
            port,
            env: Vec::new(),
            server: None,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self, line: &str) -> Command {
        let line = line.replace("127.0.0.1:8080", &format!("127.0.0.1:{}", self.port));
        let mut command = Command::new("bash");
        command
            .args(["-e", "-o", "pipefail", "-c", &line])
            .current_dir(self.work.path())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.bin.path().display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("MODELGRAPH_BIND", format!("127.0.0.1:{}", self.port))
            .env("RUST_LOG", "warn")
            .env_remove("MODELGRAPH_DATABASE_URL");
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command
    }

    /// Runs `script` (lines of the README) to success; its output.
    fn run(&self, script: &str) -> Output {
        let out = self.command(script).output().unwrap();
        assert!(out.status.success(), "{script}\n{}", said(&out));
        out
    }

    /// Starts a `serve` line in the background and waits until it answers.
    fn serve(&mut self, line: &str) {
        assert!(line.contains(" serve"), "{line}");
        self.stop();
        let child = self
            .command(&format!("exec {line}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.server = Some(child);
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.get("/healthz").0 == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{line} did not come up");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-s", "-H", "Accept: text/html", "-w", "\n%{http_code}"])
            .arg(format!("{}{path}", self.base()))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_owned())
    }

    fn graphql(&self, query: &str) -> Value {
        let out = Command::new("curl")
            .args(["-s", "-H", "Content-Type: application/json", "-d"])
            .arg(json!({"query": query}).to_string())
            .arg(format!("{}/graphql", self.base()))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", said(&out)))
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.stop();
    }
}

/// From nothing to the lineage queries: the quick start's two commands, the UI and
/// GraphiQL, and its three queries, in a directory with nothing in it.
#[test]
fn the_quick_start_gets_from_nothing_to_the_lineage_queries() {
    let steps = block("quick-start");
    assert_eq!(steps.len(), 2, "{steps:?}");
    let mut shell = Shell::new();
    let seeded = shell.run(&steps[0]);
    assert!(
        String::from_utf8_lossy(&seeded.stdout).starts_with("demo graph loaded"),
        "{}",
        said(&seeded)
    );
    assert!(shell.work.path().join("modelgraph.db").is_file());
    // the first lines' serve is the quick start's
    let top = block("top");
    let command = |line: &str| line.split('#').next().unwrap().trim().to_owned();
    assert_eq!(command(&top[0]), command(&steps[1]));
    shell.serve(&steps[1]);
    let (status, page) = shell.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("<div id=\"root\">"), "{page}");
    let (status, graphiql) = shell.get("/graphql");
    assert_eq!(status, 200);
    assert!(graphiql.to_lowercase().contains("graphiql"));
    for name in ["trained-on", "fed-into", "path"] {
        let answer = shell.graphql(&crate::demo::readme_query(name));
        assert!(answer["errors"].is_null(), "{name}: {answer}");
        assert!(!answer["data"].is_null(), "{name}: {answer}");
    }
    let trained = shell.graphql(&crate::demo::readme_query("trained-on"));
    let upstream = &trained["data"]["servingEnvironment"]["inferenceServices"]["nodes"][0]["upstream"]
        ["nodes"];
    assert!(
        upstream.as_array().is_some_and(|a| !a.is_empty()),
        "{trained}"
    );
}

#[test]
fn the_token_example_runs_as_written() {
    let mut shell = Shell::new();
    shell.serve("modelgraph serve");
    let script = block("tokens").join("\n");
    let out = shell.run(&script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"token\":\"mg_"), "{stdout}");
    assert!(stdout.contains("\"subject\":\"alice\""), "{stdout}");
    // and from then on the server asks for a credential
    let answer = shell.graphql("{ viewer { subject } }");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{answer}"
    );
}

#[test]
fn the_sqlite_backup_commands_run_as_written() {
    let steps = block("sqlite-backup");
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].starts_with("modelgraph backup "), "{steps:?}");
    assert!(steps[1].starts_with("modelgraph restore "), "{steps:?}");
    let mut shell = Shell::new();
    shell.run("modelgraph seed-demo");
    shell.serve("modelgraph serve");
    let backed = shell.run(&steps[0]);
    assert!(String::from_utf8_lossy(&backed.stdout).starts_with("backed up"));
    // a change after the backup, which the restore takes away
    let made =
        shell.graphql(r#"mutation { createRegisteredModel(input: {name: "later"}) { id } }"#);
    assert!(made["errors"].is_null(), "{made}");
    shell.stop();
    let restored = shell.run(&steps[1]);
    assert!(String::from_utf8_lossy(&restored.stdout).starts_with("restored"));
    shell.serve("modelgraph serve");
    let answer = shell.graphql(
        r#"{ demo: registeredModel(name: "churn-classifier") { name } later: registeredModel(name: "later") { name } }"#,
    );
    assert_eq!(
        answer["data"]["demo"]["name"], "churn-classifier",
        "{answer}"
    );
    assert!(answer["data"]["later"].is_null(), "{answer}");
}

#[test]
fn the_other_commands_run_as_written() {
    let shell = Shell::new();
    let out = shell.run(&block("other-commands").join("\n"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let work = shell.work.path();
    assert!(work.join("modelgraph.db").is_file());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(
        std::fs::read_to_string(work.join("schema.graphql")).unwrap(),
        committed
    );
    assert!(work.join("g10k/nodes.csv").is_file() && work.join("g10k/edges.csv").is_file());
    // the load's rate per stage, and no progress bar drawn into a pipe
    assert!(
        stdout.contains("wrote ") && stdout.contains("imported "),
        "{stdout}"
    );
    assert!(
        stdout.contains(" nodes in ")
            && stdout.contains(" edges in ")
            && stdout.contains(" statistics in "),
        "{stdout}"
    );
    assert!(!stderr.contains('\r'), "{stderr:?}");
}

/// A database of its own on the test server (the README's `pg_restore --clean` works on
/// a whole database), dropped at the end.
struct Database {
    url: String,
    name: String,
}

impl Database {
    fn new() -> Self {
        let name = format!("mg_readme_{}", uuid::Uuid::new_v4().simple());
        psql(&postgres_url(), &format!("CREATE DATABASE {name}"));
        Self {
            url: with_database(&postgres_url(), &name),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        psql(
            &postgres_url(),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a PostgreSQL URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", said(&out));
}

#[test]
fn the_postgres_commands_run_as_written() {
    let database = Database::new();
    let mut shell = Shell::new();
    shell
        .env
        .push(("DATABASE_URL".into(), database.url.clone()));
    let serve = block("postgres");
    assert_eq!(serve.len(), 1, "{serve:?}");
    shell.serve(&serve[0]);
    let made = shell.graphql(r#"mutation { createRegisteredModel(input: {name: "kept"}) { id } }"#);
    assert!(made["errors"].is_null(), "{made}");
    shell.stop();

    let steps = block("postgres-backup");
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].starts_with("pg_dump "), "{steps:?}");
    assert!(steps[1].starts_with("pg_restore "), "{steps:?}");
    shell.run(&steps[0]);
    assert!(Path::new(&shell.work.path().join("modelgraph.dump")).is_file());
    // the database lost, made again empty, and restored
    let admin = postgres_url();
    psql(
        &admin,
        &format!("DROP DATABASE {} WITH (FORCE)", database.name),
    );
    psql(&admin, &format!("CREATE DATABASE {}", database.name));
    shell.run(&steps[1]);
    shell.serve(&serve[0]);
    let answer = shell.graphql(r#"{ registeredModel(name: "kept") { name } }"#);
    assert_eq!(
        answer["data"]["registeredModel"]["name"], "kept",
        "{answer}"
    );
    let more =
        shell.graphql(r#"mutation { createRegisteredModel(input: {name: "after"}) { id } }"#);
    assert!(more["errors"].is_null(), "{more}");
    shell.stop();
}

/// A MySQL/MariaDB database of its own for a README test, dropped at the end.
struct MysqlDatabase {
    name: String,
    drop: String,
}

impl MysqlDatabase {
    fn new() -> Self {
        let (name, create, drop) = crate::helpers::mysql_database();
        mariadb(&create);
        Self { name, drop }
    }

    /// What a `mariadb` or `mariadb-dump` run by the README's lines needs to reach the
    /// test server, as the clients read it from the environment.
    fn client_env(&self) -> Vec<(String, String)> {
        let url = url::Url::parse(&crate::helpers::mysql_url()).expect("a MySQL URL");
        let mut env = vec![
            ("DATABASE".to_owned(), self.name.clone()),
            (
                "DATABASE_URL".to_owned(),
                crate::helpers::mysql_database_url(&self.name),
            ),
            (
                "MYSQL_HOST".to_owned(),
                url.host_str().unwrap_or("127.0.0.1").to_owned(),
            ),
            (
                "MYSQL_TCP_PORT".to_owned(),
                url.port().unwrap_or(3306).to_string(),
            ),
            ("USER".to_owned(), url.username().to_owned()),
        ];
        if let Some(password) = url.password() {
            env.push(("MYSQL_PWD".to_owned(), password.to_owned()));
        }
        env
    }
}

impl Drop for MysqlDatabase {
    fn drop(&mut self) {
        mariadb(&self.drop);
    }
}

/// One statement through the `mariadb` client, as the test server's admin.
fn mariadb(sql: &str) {
    let url = url::Url::parse(&crate::helpers::mysql_url()).expect("a MySQL URL");
    let mut command = Command::new("mariadb");
    command
        .args(["-h", url.host_str().unwrap_or("127.0.0.1")])
        .args(["-P", &url.port().unwrap_or(3306).to_string()])
        .args(["-u", url.username(), "-e", sql]);
    if let Some(password) = url.password() {
        command.env("MYSQL_PWD", password);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{sql}: {}", said(&out));
}

/// The MySQL/MariaDB serve line, then the backup: dumped while the server runs, the
/// database lost and made again empty, restored, and served again with what it held
/// (names that differ only in case stay two names).
#[test]
fn the_mysql_commands_run_as_written() {
    let database = MysqlDatabase::new();
    let mut shell = Shell::new();
    shell.env.extend(database.client_env());
    let serve = block("mysql");
    assert_eq!(serve.len(), 1, "{serve:?}");
    shell.serve(&serve[0]);
    for name in ["kept", "Kept"] {
        let made = shell.graphql(&format!(
            r#"mutation {{ createRegisteredModel(input: {{name: "{name}"}}) {{ id }} }}"#
        ));
        assert!(made["errors"].is_null(), "{made}");
    }

    let steps = block("mysql-backup");
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].starts_with("mariadb-dump "), "{steps:?}");
    assert!(steps[1].starts_with("mariadb "), "{steps:?}");
    shell.run(&steps[0]);
    shell.stop();
    assert!(Path::new(&shell.work.path().join("modelgraph.sql")).is_file());
    mariadb(&format!("DROP DATABASE {}", database.name));
    mariadb(&format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        database.name
    ));
    shell.run(&steps[1]);
    shell.serve(&serve[0]);
    let answer = shell.graphql(
        r#"{ a: registeredModel(name: "kept") { name } b: registeredModel(name: "Kept") { name } }"#,
    );
    assert_eq!(answer["data"]["a"]["name"], "kept", "{answer}");
    assert_eq!(answer["data"]["b"]["name"], "Kept", "{answer}");
    let more =
        shell.graphql(r#"mutation { createRegisteredModel(input: {name: "after"}) { id } }"#);
    assert!(more["errors"].is_null(), "{more}");
    shell.stop();
}

/// Every ```sh block says what runs it, and it does: `.ci/run` holds each command of
/// the blocks it runs; each block this file runs has a test above.
#[test]
fn every_command_block_says_what_runs_it() {
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    let blocks = sh_blocks();
    assert!(blocks.len() >= RUN_HERE.len() + 3, "{blocks:?}");
    let mut here = Vec::new();
    for (runner, body) in &blocks {
        assert!(
            !runner.is_empty(),
            "a sh block without <!-- run-by: -->:\n{body}"
        );
        for by in runner.split(", ") {
            if let Some(name) = by
                .strip_prefix("tests/api/readme.rs (")
                .and_then(|n| n.strip_suffix(')'))
            {
                assert!(RUN_HERE.contains(&name), "no test here runs {name}");
                here.push(name.to_owned());
                continue;
            }
            assert_eq!(by, ".ci/run", "unknown runner {by:?}");
            for line in body.lines().map(|l| l.split('#').next().unwrap().trim()) {
                for part in line.split("&&").map(str::trim).filter(|p| !p.is_empty()) {
                    // the command and its first argument, after any VAR=value
                    let words: Vec<&str> = part
                        .split_whitespace()
                        .skip_while(|w| w.contains('='))
                        .take(2)
                        .collect();
                    let command = words.join(" ");
                    if command.starts_with("cd ") || command.starts_with("cargo run") {
                        continue;
                    }
                    assert!(
                        ci.contains(&command),
                        ".ci/run does not run `{command}` ({part})"
                    );
                }
            }
        }
    }
    let mut expected: Vec<String> = RUN_HERE.iter().map(|s| s.to_string()).collect();
    expected.sort();
    here.sort();
    assert_eq!(here, expected);
}
