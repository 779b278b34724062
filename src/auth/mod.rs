//! Who a request is and what it may do: roles, the principal a request acts as, and the
//! one check (`Principal::require`) every door calls. Credentials: API tokens
//! (`tokens.rs`), OIDC JWTs (`oidc.rs`), or a trusted proxy header whose subjects get
//! roles from grants (`grants.rs`). Repeated bad credentials from one address are slowed
//! down (`limiter.rs`).
pub mod grants;
pub mod limiter;
pub mod oidc;
pub mod tokens;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderMap, HeaderName, header};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use crate::registry::{RegistryError, Result};

/// Roles, each including the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads everything.
    Reader,
    /// Creates, updates, archives, links, ingests, requests releases.
    Editor,
    /// Approves or rejects release requests.
    Approver,
    /// Tokens, role grants, protected aliases, webhooks.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reader, Role::Editor, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "READER",
            Self::Editor => "EDITOR",
            Self::Approver => "APPROVER",
            Self::Admin => "ADMIN",
        }
    }

    /// This role and every role it includes, lowest first.
    pub fn included(self) -> Vec<Role> {
        Self::ALL.into_iter().filter(|r| *r <= self).collect()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a role (READER, EDITOR, APPROVER or ADMIN)"))
    }
}

/// Who a request acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's subject, the JWT's `sub`, the proxy header's value, or `anonymous`.
    pub subject: String,
    /// The highest role held; none at all is possible (a proxy subject never granted one).
    pub role: Option<Role>,
    /// Whether a credential said who this is.
    pub authenticated: bool,
}

pub const ANONYMOUS: &str = "anonymous";

impl Principal {
    /// The caller of a server with no authentication configured: anyone, as ADMIN.
    pub fn open() -> Self {
        Self {
            subject: ANONYMOUS.to_owned(),
            role: Some(Role::Admin),
            authenticated: false,
        }
    }

    /// The server itself, for writes made by CLI commands.
    pub fn system(subject: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            role: Some(Role::Admin),
            authenticated: true,
        }
    }

    /// Every role held, lowest first.
    pub fn roles(&self) -> Vec<Role> {
        self.role.map(Role::included).unwrap_or_default()
    }

    /// The one permission check: `Ok` when the principal holds `needed`;
    /// `UNAUTHENTICATED` when it said nothing about who it is, `FORBIDDEN` otherwise.
    pub fn require(&self, needed: Role) -> Result<()> {
        if self.role.is_some_and(|held| held >= needed) {
            return Ok(());
        }
        if !self.authenticated {
            return Err(RegistryError::Unauthenticated(format!(
                "this needs the {needed} role: send a credential (Authorization: Bearer ...)"
            )));
        }
        Err(RegistryError::Forbidden(format!(
            "this needs the {needed} role, which {} does not have",
            self.subject
        )))
    }
}

/// How the server authenticates (`serve` flags).
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    pub oidc: Option<oidc::OidcConfig>,
    /// Take the subject from this header (set by a gateway in front of the server).
    pub trusted_proxy_header: Option<HeaderName>,
    /// What a caller with no credential may do once authentication is on.
    pub allow_anonymous: Option<Role>,
}

/// Resolves requests to principals.
#[derive(Clone)]
pub struct Authenticator {
    db: DatabaseConnection,
    config: Arc<AuthConfig>,
    oidc: Option<Arc<oidc::Verifier>>,
    /// Set once a token is known to exist; it never goes back (revoking every token
    /// does not open the server).
    tokens_exist: Arc<AtomicBool>,
    /// When the database last said no token exists: asked again at most once a
    /// second (a token made by another process turns authentication on within it).
    no_tokens_at: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    limiter: Arc<limiter::Limiter>,
}

impl Authenticator {
    pub fn new(db: DatabaseConnection, config: AuthConfig) -> Self {
        let oidc = config
            .oidc
            .clone()
            .map(|c| Arc::new(oidc::Verifier::new(c)));
        Self {
            db,
            config: Arc::new(config),
            oidc,
            tokens_exist: Arc::default(),
            no_tokens_at: Arc::default(),
            limiter: Arc::default(),
        }
    }

    /// Whether any credential source is configured: a token exists, or OIDC or the proxy
    /// header is set. Without one the server is open and every caller is ADMIN.
    pub async fn enabled(&self) -> Result<bool> {
        if self.config.oidc.is_some() || self.config.trusted_proxy_header.is_some() {
            return Ok(true);
        }
        if self.tokens_exist.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let recently = |at: &Option<std::time::Instant>| {
            at.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1))
        };
        if recently(&self.no_tokens_at.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(false);
        }
        let any = entity::api_token::Entity::find().count(&self.db).await? > 0;
        if any {
            self.tokens_exist.store(true, Ordering::Relaxed);
        } else {
            *self.no_tokens_at.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(std::time::Instant::now());
        }
        Ok(any)
    }

    /// A token was just made through this server: authentication is on from now.
    pub fn token_made(&self) {
        self.tokens_exist.store(true, Ordering::Relaxed);
    }

    /// Who the request with these headers is. A credential that does not check out is
    /// `UNAUTHENTICATED` (after a delay when the address keeps sending bad ones); the
    /// answer never says whether a token exists.
    pub async fn principal(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<Principal> {
        let result = self.resolve(headers).await;
        match &result {
            Err(RegistryError::Unauthenticated(_)) => {
                if let Some(ip) = peer {
                    self.limiter.failed(ip).await;
                }
            }
            Ok(p) if p.authenticated => {
                if let Some(ip) = peer {
                    self.limiter.succeeded(ip);
                }
            }
            _ => {}
        }
        result
    }

    async fn resolve(&self, headers: &HeaderMap) -> Result<Principal> {
        // an open server has nothing to check a credential against: whatever a client
        // sends (a pod's service-account token, say) is ignored, as DESIGN.md's open
        // mode has every caller ADMIN
        if !self.enabled().await? {
            return Ok(Principal::open());
        }
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let credential = value
                .to_str()
                .ok()
                .and_then(|v| {
                    let (scheme, rest) = v.trim().split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
                })
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    bad_credential("the Authorization header must be 'Bearer <token>'")
                })?;
            if tokens::looks_like_token(credential) {
                return tokens::verify(&self.db, credential).await;
            }
            if let Some(oidc) = &self.oidc {
                return oidc.verify(credential).await;
            }
            return Err(bad_credential("the credential is not valid"));
        }
        if let Some(name) = &self.config.trusted_proxy_header
            && let Some(value) = headers.get(name)
        {
            let subject = value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control))
                .ok_or_else(|| bad_credential(format!("the {name} header is not a subject")))?;
            let role = grants::role_of(&self.db, subject).await?;
            return Ok(Principal {
                subject: subject.to_owned(),
                role,
                authenticated: true,
            });
        }
        Ok(Principal {
            subject: ANONYMOUS.to_owned(),
            role: self.config.allow_anonymous,
            authenticated: false,
        })
    }
}

fn bad_credential(message: impl Into<String>) -> RegistryError {
    RegistryError::Unauthenticated(message.into())
}
