//! Flags and MODELGRAPH_* environment variables.
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::registry::PageLimits;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://modelgraph.db?mode=rwc";

/// Where the store lives.
#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// SQLite (`sqlite://path?mode=rwc`) or PostgreSQL (`postgres://user@host/db`) URL.
    #[arg(long, env = "MODELGRAPH_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Log every SQL statement (at debug level, target `sqlx`).
    #[arg(long, env = "MODELGRAPH_LOG_SQL", default_value_t = false)]
    pub log_sql: bool,
    /// Connections in the pool.
    #[arg(long, env = "MODELGRAPH_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub max_connections: u32,
    /// How long to try reaching the database at start before giving up.
    #[arg(long, env = "MODELGRAPH_CONNECT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,
}

/// Request bounds; over any of them is LIMIT_EXCEEDED.
#[derive(Args, Clone, Debug)]
pub struct Limits {
    /// Deepest GraphQL selection nesting accepted.
    #[arg(long, env = "MODELGRAPH_MAX_QUERY_DEPTH", default_value_t = 16)]
    pub max_query_depth: usize,
    /// Highest GraphQL query complexity accepted.
    #[arg(long, env = "MODELGRAPH_MAX_COMPLEXITY", default_value_t = 10_000)]
    pub max_complexity: usize,
    /// Most operations in one batched GraphQL request.
    #[arg(long, env = "MODELGRAPH_MAX_BATCH", default_value_t = 20)]
    pub max_batch: usize,
    /// Largest lineage `maxDepth`.
    #[arg(long, env = "MODELGRAPH_MAX_LINEAGE_DEPTH", default_value_t = 50)]
    pub max_lineage_depth: u32,
    /// Largest lineage `first` (nodes in one walk).
    #[arg(long, env = "MODELGRAPH_MAX_LINEAGE_NODES", default_value_t = 10_000)]
    pub max_lineage_nodes: u32,
    /// Largest request body, in bytes.
    #[arg(long, env = "MODELGRAPH_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Page size when a list is asked for without `first`/`last`.
    #[arg(long, env = "MODELGRAPH_DEFAULT_PAGE_SIZE", default_value_t = 100)]
    pub default_page_size: u64,
    /// Largest page of a list.
    #[arg(long, env = "MODELGRAPH_MAX_PAGE_SIZE", default_value_t = 1000)]
    pub max_page_size: u64,
    /// Most inputs, and most outputs, one OpenLineage event may name.
    #[arg(long, env = "MODELGRAPH_MAX_EVENT_DATASETS", default_value_t = 1000)]
    pub max_event_datasets: usize,
    /// Longest a request may take (`30s`, `500ms`); past it its database work is
    /// dropped and the answer is LIMIT_EXCEEDED (GraphQL) or 503.
    #[arg(long, env = "MODELGRAPH_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// GraphQL operations running at once, each on a thread of a fixed set; more wait
    /// their turn. 0: one per core.
    #[arg(
        long,
        env = "MODELGRAPH_MAX_CONCURRENT_OPERATIONS",
        default_value_t = 0
    )]
    pub max_concurrent_operations: usize,
    /// Largest GraphQL response, in bytes; a larger one is replaced by LIMIT_EXCEEDED.
    #[arg(long, env = "MODELGRAPH_MAX_RESPONSE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_response_bytes: usize,
    /// Client connections open at once; past it the server accepts no more until one
    /// closes.
    #[arg(long, env = "MODELGRAPH_MAX_OPEN_CONNECTIONS", default_value_t = 1024)]
    pub max_open_connections: usize,
    /// Longest wait for a request's headers, counted from when the server starts waiting
    /// for a request (a new connection, or a kept-alive one after its last answer).
    #[arg(long, env = "MODELGRAPH_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// Longest a request's body may take to arrive, counted from its headers; past it
    /// the answer is 408.
    #[arg(long, env = "MODELGRAPH_BODY_READ_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub body_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed. Keep it
    /// above --request-timeout.
    #[arg(long, env = "MODELGRAPH_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Subscriptions one WebSocket connection may hold at once.
    #[arg(
        long,
        env = "MODELGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 32
    )]
    pub max_subscriptions_per_connection: usize,
    /// WebSocket (subscription) connections open at once.
    #[arg(long, env = "MODELGRAPH_MAX_WEBSOCKETS", default_value_t = 256)]
    pub max_websockets: usize,
    /// On SIGTERM or Ctrl-C the server stops accepting and lets requests in flight
    /// finish for at most this long, then exits.
    #[arg(long, env = "MODELGRAPH_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_query_depth: 16,
            max_complexity: 10_000,
            max_batch: 20,
            max_lineage_depth: 50,
            max_lineage_nodes: 10_000,
            max_body_bytes: 1024 * 1024,
            default_page_size: 100,
            max_page_size: 1000,
            max_event_datasets: 1000,
            request_timeout: Duration::from_secs(30),
            max_concurrent_operations: 0,
            max_response_bytes: 16 * 1024 * 1024,
            max_open_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            max_subscriptions_per_connection: 32,
            max_websockets: 256,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl Limits {
    pub fn connections(&self) -> crate::http::conn::ConnLimits {
        crate::http::conn::ConnLimits {
            max_open_connections: self.max_open_connections,
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            shutdown_timeout: self.shutdown_timeout,
        }
    }

    pub fn page(&self) -> PageLimits {
        PageLimits {
            default_size: self.default_page_size,
            max_size: self.max_page_size,
        }
    }
}

/// `modelgraph serve` settings.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MODELGRAPH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub limits: Limits,
    /// Origins allowed to call the API from a browser page elsewhere, comma-separated
    /// (`https://dash.example.com`); none by default.
    #[arg(long, env = "MODELGRAPH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// How webhooks are delivered (README: "Webhooks").
#[derive(Args, Clone, Debug)]
pub struct WebhookArgs {
    /// Let webhooks point at loopback and private addresses (refused by default, so a
    /// webhook can't reach what only the server can).
    #[arg(
        long,
        env = "MODELGRAPH_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false
    )]
    pub webhook_allow_private: bool,
    /// Longest one delivery may take before it counts as failed.
    #[arg(long, env = "MODELGRAPH_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,
    /// The wait before the first retry of a failed delivery; it doubles after each
    /// failure, up to an hour.
    #[arg(long, env = "MODELGRAPH_WEBHOOK_BACKOFF", default_value = "1s", value_parser = humantime::parse_duration)]
    pub webhook_backoff: Duration,
    /// How long one change is retried before the webhook gives it up and moves on.
    #[arg(long, env = "MODELGRAPH_WEBHOOK_RETRY_FOR", default_value = "24h", value_parser = humantime::parse_duration)]
    pub webhook_retry_for: Duration,
}

impl WebhookArgs {
    pub fn settings(&self) -> crate::events::webhooks::WebhookSettings {
        crate::events::webhooks::WebhookSettings {
            allow_private: self.webhook_allow_private,
            timeout: self.webhook_timeout,
            backoff: self.webhook_backoff,
            retry_for: self.webhook_retry_for,
            ..Default::default()
        }
    }
}

/// How callers are authenticated (README: "Teams and tokens"). With none of these set
/// and no API token in the database, the server is open and every caller is ADMIN.
#[derive(Args, Clone, Debug, Default)]
pub struct AuthArgs {
    /// OIDC issuer whose JWTs are accepted (the `iss` they must carry).
    #[arg(long, env = "MODELGRAPH_OIDC_ISSUER", requires_all = ["oidc_audience", "oidc_jwks_url"])]
    pub oidc_issuer: Option<String>,
    /// The `aud` an accepted JWT must carry.
    #[arg(long, env = "MODELGRAPH_OIDC_AUDIENCE", requires = "oidc_issuer")]
    pub oidc_audience: Option<String>,
    /// Where the issuer publishes its signing keys (JWKS).
    #[arg(long, env = "MODELGRAPH_OIDC_JWKS_URL", requires = "oidc_issuer")]
    pub oidc_jwks_url: Option<String>,
    /// The JWT claim listing the caller's groups.
    #[arg(long, env = "MODELGRAPH_OIDC_ROLES_CLAIM", default_value = "groups")]
    pub oidc_roles_claim: String,
    /// Groups to roles: `ml-admins=ADMIN,ml=EDITOR`.
    #[arg(long, env = "MODELGRAPH_OIDC_ROLE_MAP", default_value = "")]
    pub oidc_role_map: String,
    /// Take the caller from this header (e.g. `kubeflow-userid`, as Kubeflow's gateway
    /// sets it); its subjects get roles from grantRole. Only behind a gateway that sets it.
    #[arg(long, env = "MODELGRAPH_TRUSTED_PROXY_HEADER")]
    pub trusted_proxy_header: Option<String>,
    /// What a caller with no credential may do once authentication is on (READER,
    /// EDITOR, ...); also lets an open server bind a non-loopback address.
    #[arg(long, env = "MODELGRAPH_ALLOW_ANONYMOUS")]
    pub allow_anonymous: Option<String>,
}

impl AuthArgs {
    /// The settings these flags make, or what is wrong with them.
    pub fn config(&self) -> Result<crate::auth::AuthConfig, String> {
        use crate::auth::{Role, oidc};
        let oidc = match (&self.oidc_issuer, &self.oidc_audience, &self.oidc_jwks_url) {
            (Some(issuer), Some(audience), Some(jwks_url)) => Some(oidc::OidcConfig {
                issuer: issuer.clone(),
                audience: audience.clone(),
                jwks_url: jwks_url.clone(),
                roles_claim: self.oidc_roles_claim.clone(),
                role_map: oidc::parse_role_map(&self.oidc_role_map)
                    .map_err(|e| format!("--oidc-role-map: {e}"))?,
            }),
            (None, None, None) => None,
            _ => {
                return Err(
                    "--oidc-issuer, --oidc-audience and --oidc-jwks-url go together".into(),
                );
            }
        };
        let trusted_proxy_header = self
            .trusted_proxy_header
            .as_deref()
            .map(|name| {
                axum::http::HeaderName::try_from(name.trim())
                    .map_err(|_| format!("--trusted-proxy-header: {name:?} is not a header name"))
            })
            .transpose()?;
        let allow_anonymous = self
            .allow_anonymous
            .as_deref()
            .map(|r| {
                r.parse::<Role>()
                    .map_err(|e| format!("--allow-anonymous: {e}"))
            })
            .transpose()?;
        Ok(crate::auth::AuthConfig {
            oidc,
            trusted_proxy_header,
            allow_anonymous,
        })
    }
}
