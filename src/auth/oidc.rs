//! OIDC: JWTs signed by the issuer's keys (RS256 or ES256), fetched from its JWKS URL,
//! cached, and fetched again when a token names a key id not seen yet (key rotation).
//! The subject is `sub`; roles come from a claim (`--oidc-roles-claim`, default
//! `groups`) through `--oidc-role-map group=ROLE,...`.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use super::{Principal, Role};
use crate::registry::{RegistryError, Result};

#[derive(Clone, Debug)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub roles_claim: String,
    /// Claim value -> role.
    pub role_map: Vec<(String, Role)>,
}

/// Parses `group=ROLE,other=ROLE`.
pub fn parse_role_map(text: &str) -> std::result::Result<Vec<(String, Role)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (group, role) = pair
                .rsplit_once('=')
                .ok_or_else(|| format!("{pair:?} is not group=ROLE"))?;
            Ok((group.trim().to_owned(), role.parse::<Role>()?))
        })
        .collect()
}

/// A refetch of the keys for an unknown key id happens at most this often.
const REFETCH_EVERY: Duration = Duration::from_secs(1);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_S: u64 = 30;

pub struct Verifier {
    config: OidcConfig,
    client: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// When the keys were last fetched; one fetch at a time.
    fetched: Mutex<Option<Instant>>,
}

fn invalid() -> RegistryError {
    RegistryError::Unauthenticated("the credential is not valid".into())
}

impl Verifier {
    pub fn new(config: OidcConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            config,
            client,
            keys: RwLock::default(),
            fetched: Mutex::default(),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Principal> {
        let header = decode_header(token).map_err(|_| invalid())?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = match self.key(&kid).await {
            Some(key) => key,
            None => {
                self.refetch().await;
                self.key(&kid).await.ok_or_else(invalid)?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_S;
        let claims = decode::<Value>(token, &key, &validation)
            .map_err(|_| invalid())?
            .claims;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(invalid)?;
        Ok(Principal {
            subject: subject.to_owned(),
            role: self.role(&claims),
            authenticated: true,
        })
    }

    /// The highest role the token's roles claim maps to.
    fn role(&self, claims: &Value) -> Option<Role> {
        let values: Vec<&str> = match claims.get(&self.config.roles_claim) {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        self.config
            .role_map
            .iter()
            .filter(|(group, _)| values.contains(&group.as_str()))
            .map(|(_, role)| *role)
            .max()
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().await.get(kid).cloned()
    }

    /// Fetches the JWKS again, unless it was fetched moments ago.
    async fn refetch(&self) {
        let mut fetched = self.fetched.lock().await;
        if fetched.is_some_and(|at| at.elapsed() < REFETCH_EVERY) {
            return;
        }
        *fetched = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => *self.keys.write().await = keys,
            Err(err) => {
                tracing::warn!(url = %self.config.jwks_url, error = %err, "fetching the OIDC keys failed")
            }
        }
    }

    async fn fetch(&self) -> std::result::Result<HashMap<String, DecodingKey>, String> {
        let set: JwkSet = self
            .client
            .get(&self.config.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_maps_parse() {
        let map = parse_role_map("ml-admins=ADMIN, ml=editor").unwrap();
        assert_eq!(
            map,
            vec![
                ("ml-admins".to_owned(), Role::Admin),
                ("ml".to_owned(), Role::Editor)
            ]
        );
        assert!(parse_role_map("ml").is_err());
        assert!(parse_role_map("ml=OWNER").is_err());
    }
}
