//! Round trips to PostgreSQL, counted on the wire. A proxy between the server's pool and
//! PostgreSQL counts the messages after which the client waits for the server (`Sync`,
//! ending an extended-protocol exchange, and `Query`), so a test can say what an
//! operation costs in round trips, which on loopback cost more than the statements.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use modelgraph::config::{DatabaseArgs, Limits};
use modelgraph::{AppState, db, graphql};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::postgres_url;

/// A counting proxy to the test PostgreSQL server.
struct Wire {
    url: String,
    round_trips: Arc<AtomicU64>,
}

impl Wire {
    async fn start() -> Self {
        let mut url = reqwest::Url::parse(&postgres_url()).expect("MODELGRAPH_TEST_POSTGRES_URL");
        let upstream = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let local = listener.local_addr().expect("addr");
        let round_trips = Arc::new(AtomicU64::new(0));
        let counted = round_trips.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.expect("PostgreSQL");
                tokio::spawn(relay(client, server, counted.clone()));
            }
        });
        let SocketAddr::V4(local) = local else {
            unreachable!("bound to 127.0.0.1")
        };
        url.set_port(Some(local.port())).expect("port");
        // plain text, so the proxy can read the messages
        url.query_pairs_mut().append_pair("sslmode", "disable");
        Self {
            url: url.to_string(),
            round_trips,
        }
    }

    async fn connect(&self, max_connections: u32) -> DatabaseConnection {
        self.connect_to(&self.url, max_connections).await
    }

    /// Connects through the proxy, the schema search path `schema`.
    async fn connect_in(&self, schema: &str, max_connections: u32) -> DatabaseConnection {
        let url = format!("{}&options=-c%20search_path%3D{schema}", self.url);
        self.connect_to(&url, max_connections).await
    }

    async fn connect_to(&self, url: &str, max_connections: u32) -> DatabaseConnection {
        db::connect(&DatabaseArgs {
            database_url: url.to_owned(),
            log_sql: false,
            max_connections,
            connect_timeout: Duration::from_secs(5),
        })
        .await
        .expect("connect through the proxy")
    }

    /// Round trips so far, once the pool's background work (connections returned after
    /// use) has settled.
    async fn settled(&self) -> u64 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.round_trips.load(Ordering::SeqCst)
    }
}

/// Copies both ways, counting the client's `Sync` and `Query` messages.
async fn relay(client: TcpStream, server: TcpStream, round_trips: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    // messages are a type byte and a length that counts itself; the first (the startup
    // message) has no type byte
    let (mut pending, mut buf, mut started) = (Vec::new(), [0u8; 16 * 1024], false);
    loop {
        let n = match client_read.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if server_write.write_all(&buf[..n]).await.is_err() {
            return;
        }
        pending.extend_from_slice(&buf[..n]);
        loop {
            let head = usize::from(started);
            let Some(len) = pending.get(head..head + 4) else {
                break;
            };
            let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
            if pending.len() < head + len {
                break;
            }
            if started && matches!(pending[0], b'S' | b'Q') {
                round_trips.fetch_add(1, Ordering::SeqCst);
            }
            pending.drain(..head + len);
            started = true;
        }
    }
}

#[tokio::test]
async fn a_pooled_statement_costs_one_round_trip() {
    let wire = Wire::start().await;
    let db = wire.connect(5).await;
    let select = || Statement::from_string(db.get_database_backend(), "SELECT 1 AS one");
    // the first use of a text on a connection prepares it (a round trip of its own)
    for _ in 0..5 {
        db.query_one_raw(select()).await.expect("warm-up");
    }
    let before = wire.settled().await;
    for _ in 0..20 {
        db.query_one_raw(select()).await.expect("select");
    }
    let spent = wire.settled().await - before;
    // sqlx pinged every connection when it went back to the pool: two round trips each
    assert!(
        spent <= 22,
        "20 statements took {spent} round trips to PostgreSQL"
    );
    assert!(spent >= 20, "the proxy missed statements: {spent}");
}

#[tokio::test]
async fn a_statement_given_up_mid_way_leaves_its_connection_clean() {
    // a request over its time budget drops its statement mid-way: the connection goes
    // back to the pool only once the server has finished answering it (one connection,
    // so the statements after it run on it)
    let wire = Wire::start().await;
    let db = wire.connect(1).await;
    let backend = db.get_database_backend();
    let slow = db.query_one_raw(Statement::from_string(
        backend,
        "SELECT pg_sleep(0.3), 1 AS one",
    ));
    assert!(
        tokio::time::timeout(Duration::from_millis(50), slow)
            .await
            .is_err()
    );
    for n in 2..12i32 {
        let row = db
            .query_one_raw(Statement::from_string(backend, format!("SELECT {n} AS n")))
            .await
            .expect("select")
            .expect("a row");
        assert_eq!(row.try_get::<i32>("", "n").unwrap(), n);
    }
}

#[tokio::test]
async fn a_postgresql_walk_costs_one_round_trip() {
    // the walk's one statement, which also summarises the nodes it starts from and
    // reaches (five levels here)
    let wire = Wire::start().await;
    let admin = wire.connect(1).await;
    let schema = format!("mg_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let db = wire.connect_in(&schema, 2).await;
    db::migrate(&db).await.expect("migrate");
    let state = AppState::new(db.clone(), Limits::default());
    let run = |query: String| {
        let state = state.clone();
        async move {
            let response = graphql::execute(
                &state,
                &modelgraph::auth::Principal::open(),
                async_graphql::Request::new(query),
            )
            .await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            response.data.into_json().unwrap()
        }
    };
    let mut ids = Vec::new();
    for n in 0..6 {
        let made = run(format!(
            r#"mutation {{ createDataset(input: {{name: "d{n}"}}) {{ id }} }}"#
        ))
        .await;
        ids.push(made["createDataset"]["id"].as_str().unwrap().to_owned());
    }
    let edges: Vec<String> = ids
        .windows(2)
        .map(|w| {
            format!(
                r#"{{source: "{}", target: "{}", kind: DERIVED_FROM}}"#,
                w[0], w[1]
            )
        })
        .collect();
    run(format!(
        "mutation {{ addLineageEdges(edges: [{}]) {{ id }} }}",
        edges.join(", ")
    ))
    .await;
    let walk = format!(
        r#"{{ lineage(start: ["{}"], direction: UPSTREAM, maxDepth: 10) {{ nodes {{ depth node {{ id name }} }} }} }}"#,
        ids[5]
    );
    // the fewest of several walks: a connection prepares each text once, the first time
    // it runs it
    let mut fewest = u64::MAX;
    for _ in 0..6 {
        let before = wire.settled().await;
        let data = run(walk.clone()).await;
        fewest = fewest.min(wire.settled().await - before);
        let names: Vec<&str> = data["lineage"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["node"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["d4", "d3", "d2", "d1", "d0"]);
    }
    admin
        .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop schema");
    assert_eq!(fewest, 1, "a five-level walk took {fewest} round trips");
}
