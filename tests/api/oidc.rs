//! OIDC: JWTs the test signs with keys it makes (ES256 with ring, RS256 with openssl),
//! published as a JWKS by a server of the test's own on loopback. Good tokens map their
//! groups to roles; expired, wrong-audience, wrong-issuer, unknown-key and tampered ones
//! are 401; a key added to the JWKS later (rotation) is picked up.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use modelgraph::auth::oidc::OidcConfig;
use modelgraph::auth::{AuthConfig, Role};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::helpers::spawn_app_authenticating;
use crate::identity::gql_as;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "modelgraph";

/// A signing key and its public JWK.
struct Key {
    alg: Algorithm,
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

fn es256(kid: &str) -> Key {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref(); // 0x04 || x || y
    Key {
        alg: Algorithm::ES256,
        kid: kid.to_owned(),
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])}),
    }
}

fn rs256(kid: &str, dir: &std::path::Path) -> Key {
    let pem = dir.join(format!("{kid}.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&pem)
        .output()
        .expect("openssl makes the RSA key");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let modulus = std::process::Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(&pem)
        .output()
        .expect("openssl reads the modulus");
    let text = String::from_utf8(modulus.stdout).unwrap();
    let hex = text.trim().trim_start_matches("Modulus=");
    let n: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    Key {
        alg: Algorithm::RS256,
        kid: kid.to_owned(),
        encoding: EncodingKey::from_rsa_pem(&std::fs::read(&pem).unwrap()).unwrap(),
        jwk: json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
            "n": B64.encode(n), "e": "AQAB"}),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn token(key: &Key, claims: Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    encode(&header, &claims, &key.encoding).unwrap()
}

fn claims(sub: &str, groups: &[&str]) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "groups": groups,
        "iat": now(), "exp": now() + 600})
}

/// Serves `keys` as a JWKS at `/jwks` on a loopback port; returns its URL.
async fn jwks_server(keys: Arc<Mutex<Vec<Value>>>) -> String {
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let keys = keys.lock().unwrap().clone();
            async move { axum::Json(json!({"keys": keys})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks")
}

const VIEWER: &str = "{ viewer { subject roles authenticated } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_are_checked_against_the_issuers_keys() {
    let dir = tempfile::tempdir().unwrap();
    let ec = es256("ec-1");
    let rsa = rs256("rsa-1", dir.path());
    let later = es256("ec-2");
    let stranger = es256("ec-1"); // same kid as a published key, another key
    let published = Arc::new(Mutex::new(vec![ec.jwk.clone(), rsa.jwk.clone()]));
    let jwks_url = jwks_server(published.clone()).await;
    for backend in crate::helpers::STORES {
        let config = AuthConfig {
            oidc: Some(OidcConfig {
                issuer: ISSUER.into(),
                audience: AUDIENCE.into(),
                jwks_url: jwks_url.clone(),
                roles_claim: "groups".into(),
                role_map: vec![
                    ("ml".into(), Role::Editor),
                    ("ml-admins".into(), Role::Admin),
                ],
            }),
            ..Default::default()
        };
        let app = spawn_app_authenticating(backend, Default::default(), config).await;
        // good tokens, both algorithms; groups map to roles
        let alice = gql_as(
            &app,
            Some(&token(&ec, claims("alice", &["ml"]))),
            VIEWER,
            json!({}),
        )
        .await;
        assert_eq!(
            alice.body["data"]["viewer"],
            json!({"subject": "alice", "roles": ["READER", "EDITOR"], "authenticated": true}),
            "{}",
            alice.body
        );
        let root = gql_as(
            &app,
            Some(&token(&rsa, claims("root", &["ml-admins"]))),
            VIEWER,
            json!({}),
        )
        .await;
        assert_eq!(
            root.body["data"]["viewer"]["roles"][3], "ADMIN",
            "{}",
            root.body
        );
        // no mapped group: authenticated, but no role
        let nobody = gql_as(
            &app,
            Some(&token(&ec, claims("bob", &["other"]))),
            VIEWER,
            json!({}),
        )
        .await;
        assert_eq!(
            nobody.body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{}",
            nobody.body
        );
        // refused: expired, wrong audience, wrong issuer, unknown key, forged signature
        let mut expired = claims("alice", &["ml"]);
        expired["exp"] = json!(now() - 600);
        let mut audience = claims("alice", &["ml"]);
        audience["aud"] = json!("someone-else");
        let mut issuer = claims("alice", &["ml"]);
        issuer["iss"] = json!("https://evil.test");
        let bad = [
            token(&ec, expired),
            token(&ec, audience),
            token(&ec, issuer),
            token(&later, claims("alice", &["ml"])),
            token(&stranger, claims("alice", &["ml-admins"])),
        ];
        for (i, t) in bad.iter().enumerate() {
            let answer = gql_as(&app, Some(t), VIEWER, json!({})).await;
            assert_eq!(answer.status, 401, "case {i}: {}", answer.body);
            assert_eq!(
                answer.body["errors"][0]["extensions"]["code"],
                "UNAUTHENTICATED"
            );
        }
        // the issuer rotates in a new key: tokens signed with it are accepted once the
        // server fetches the keys again for the kid it has not seen
        published.lock().unwrap().push(later.jwk.clone());
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let rotated = gql_as(
            &app,
            Some(&token(&later, claims("carol", &["ml"]))),
            VIEWER,
            json!({}),
        )
        .await;
        assert_eq!(
            rotated.body["data"]["viewer"]["subject"], "carol",
            "{}",
            rotated.body
        );
        published.lock().unwrap().pop();
        app.finish().await;
    }
}
