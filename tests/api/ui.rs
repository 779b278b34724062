//! The web UI and GraphiQL served from the binary: pages for client-side routes, assets
//! cached for good, the API's 404s kept, nothing fetched from elsewhere.
use modelgraph::auth::{Role, tokens};

use crate::helpers::{Backend, spawn_app};

/// Every `src` and `href` in a page.
fn references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in page.split(attr).skip(1) {
            found.push(part.split('"').next().unwrap_or_default().to_owned());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_answers_its_routes_and_the_api_keeps_its_404s() {
    let app = spawn_app(Backend::Sqlite).await;
    let get = |path: &'static str| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.base);
        async move { client.get(url).send().await.unwrap() }
    };
    for path in [
        "/",
        "/models",
        "/models/12",
        "/versions/3",
        "/lineage/7?direction=UPSTREAM",
        "/search?q=x",
    ] {
        let res = get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = res.text().await.unwrap();
        assert!(page.contains("<div id=\"root\">"), "{path}: {page}");
        // everything the page loads comes from this server
        let refs = references(&page);
        assert!(!refs.is_empty());
        for r in refs {
            assert!(r.starts_with("/assets/"), "{path} loads {r}");
            let asset = app
                .client
                .get(format!("{}{r}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(asset.status(), 200, "{r}");
            assert_eq!(
                asset.headers()["cache-control"],
                "public, max-age=31536000, immutable"
            );
        }
    }
    // GraphiQL too loads only its own assets
    let page = get("/graphql").await.text().await.unwrap();
    for r in references(&page) {
        assert!(r.starts_with("/assets/"), "GraphiQL loads {r}");
    }
    // the API's unknown paths stay JSON 404s, as do unknown assets and other methods
    for path in [
        "/api/model_registry/v1/nope",
        "/api/nope",
        "/assets/nope.js",
    ] {
        let res = get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["message"].as_str().is_some(), "{path}: {body}");
    }
    let (status, _) = app
        .call("POST", "/models", Some(&serde_json::json!({})))
        .await;
    assert_eq!(status, 404);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_load_without_a_credential_but_the_api_needs_one() {
    let app = spawn_app(Backend::Sqlite).await;
    tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for path in ["/", "/models/1", "/graphql"] {
        assert_eq!(app.call("GET", path, None).await.0, 200, "{path}");
    }
    let (status, _) = app
        .call("GET", "/api/model_registry/v1/registered_models", None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .call(
            "POST",
            "/graphql",
            Some(&serde_json::json!({"query": "{ viewer { subject } }"})),
        )
        .await;
    assert_eq!(status, 401);
    app.finish().await;
}
