//! The whole GraphQL request path: the bytes are the body of `POST /graphql`, run through
//! the server's router (body bounds, JSON, nesting bound, parser, validation, limits,
//! resolvers) against a SQLite store holding the demo graph. Any input may be refused;
//! none may panic, answer 500, or hang.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;
use modelgraph::config::{DatabaseArgs, Limits};
use modelgraph::{AppState, db};
use tower::ServiceExt;

struct Server {
    runtime: tokio::runtime::Runtime,
    app: Router,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("fuzz.db").display());
        let app = runtime.block_on(async {
            let conn = db::connect(&DatabaseArgs {
                database_url: url,
                log_sql: false,
                max_connections: 4,
                connect_timeout: std::time::Duration::from_secs(5),
            })
            .await
            .expect("connect");
            db::migrate(&conn).await.expect("migrate");
            modelgraph::demo::seed(&conn).await.expect("seed");
            let limits = Limits {
                request_timeout: std::time::Duration::from_secs(5),
                ..Default::default()
            };
            modelgraph::app(AppState::new(conn, limits))
        });
        Server {
            runtime,
            app,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let server = server();
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(data.to_vec()))
        .expect("request");
    let (status, body) = server.runtime.block_on(async {
        let response = server.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the answer is read");
        (status, body)
    });
    let text = String::from_utf8_lossy(&body);
    assert!(
        !status.is_server_error() && !text.contains(r#""code":"INTERNAL""#),
        "POST /graphql answered {status} {text} to {:?}",
        String::from_utf8_lossy(data)
    );
});
