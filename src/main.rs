//! The `modelgraph` command: serve, migrate, schema.
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use modelgraph::config::{DatabaseArgs, ServeArgs};
use modelgraph::{AppState, db, graphql};

/// mimalloc: a request builds and drops thousands of small values (GraphQL responses,
/// rows), and glibc's allocator spent a tenth of a lineage walk's time on them. Built
/// without transparent huge pages (`no_thp` in Cargo.toml): mimalloc asks the kernel for
/// them on its arenas, and each arena touched then sits in memory in 2 MiB pieces, 14 of
/// an idle server's 36 MB (24 MB without).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "modelgraph",
    version,
    about = "A model registry whose data is a lineage graph"
)]
struct Cli {
    /// Log lines as text (plain when stderr is not a terminal) or as JSON objects.
    #[arg(long, global = true, env = "MODELGRAPH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs go to stderr (stdout is for what a command prints), coloured only on a
/// terminal, filtered by RUST_LOG (default `info,sqlx=warn`).
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API: GraphQL (GraphiQL at /graphql), Kubeflow REST and OpenLineage; migrates the database first.
    Serve(Box<ServeArgs>),
    /// Create or upgrade the database schema, then exit.
    Migrate(DatabaseArgs),
    /// Print the GraphQL SDL (what schema.graphql holds).
    Schema,
    /// Load a small example graph to explore (idempotent).
    SeedDemo(DatabaseArgs),
    /// Bulk-load a lineage graph from nodes.csv and edges.csv (as gen-graph writes them).
    ImportGraph(ImportArgs),
    /// Write a synthetic lineage graph (nodes.csv, edges.csv) for benchmarks; seeded.
    GenGraph(GenGraphArgs),
    /// Copy a SQLite store to a file, consistently, while servers keep writing to it.
    Backup(BackupArgs),
    /// Replace a SQLite store with a backup (stop the servers using it first).
    Restore(RestoreArgs),
    /// API tokens: create (printed once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token; it is printed alone on the last line of stdout, and only then. The
    /// first token of a store must be an ADMIN's (it turns authentication on).
    Create {
        /// Who the token stands for.
        #[arg(long)]
        subject: String,
        /// READER, EDITOR, APPROVER or ADMIN.
        #[arg(long)]
        role: modelgraph::auth::Role,
        /// How long it is valid (`30d`, `12h`); forever without.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List tokens: id, subject, role, created, expires, last use (never the token).
    List(DatabaseArgs),
    /// Revoke a token by id.
    Revoke {
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(clap::Args)]
struct ImportArgs {
    /// CSV with columns id,kind,name.
    #[arg(long)]
    nodes: std::path::PathBuf,
    /// CSV with columns source,target,kind.
    #[arg(long)]
    edges: std::path::PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(clap::Args)]
struct GenGraphArgs {
    /// Runs to generate; the graph has about three nodes per run (330000: about a million).
    #[arg(long)]
    runs: u64,
    /// The same seed (and shape) writes the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Runs per pipeline ("project"); the number of projects is runs divided by this.
    #[arg(long, default_value_t = 500)]
    runs_per_project: u64,
    /// How many of a project's latest outputs its next run mostly reads from.
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// The directory to write nodes.csv and edges.csv into (created if missing).
    #[arg(long)]
    out: std::path::PathBuf,
}

#[derive(clap::Args)]
struct BackupArgs {
    /// The file to write (replaced if it exists, only once the copy is complete and checked).
    #[arg(long)]
    to: std::path::PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(clap::Args)]
struct RestoreArgs {
    /// The backup to restore (checked before anything is written).
    #[arg(long)]
    from: std::path::PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// A progress bar on stderr for one stage of long work, drawn only on a terminal; its
/// rate counts from the stage's start.
fn stage_bar(stage: &str, total: u64, since: std::time::Instant) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total).with_elapsed(since.elapsed());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>8} {bar:32} {human_pos}/{human_len} {per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(stage.to_owned());
    bar
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    db::configure_sqlite();
    match run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // once, on stderr, as a sentence: what failed and why
            eprintln!("modelgraph: {}", failure(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error as a person reads it: a database error's own text, not its variant name.
fn failure(err: &anyhow::Error) -> String {
    match err.downcast_ref::<sea_orm::DbErr>() {
        Some(sea_orm::DbErr::Custom(text)) => text.clone(),
        _ => format!("{err:#}"),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let origins = args
                .cors_origins
                .iter()
                .map(|o| {
                    axum::http::HeaderValue::from_str(o.trim())
                        .map_err(|_| anyhow::anyhow!("--cors-origins: {o:?} is not an origin"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            anyhow::ensure!(
                args.limits.idle_timeout > args.limits.request_timeout,
                "--idle-timeout ({}) must be longer than --request-timeout ({})",
                humantime::format_duration(args.limits.idle_timeout),
                humantime::format_duration(args.limits.request_timeout)
            );
            let auth = args.auth.config().map_err(anyhow::Error::msg)?;
            let conn = db::connect(&args.database).await?;
            db::migrate(&conn).await?;
            let anonymous = auth.allow_anonymous;
            let webhooks = args.webhooks.settings();
            let state = AppState::new(conn.clone(), args.limits)
                .with_cors_origins(origins)
                .with_auth(auth)
                .with_webhooks(webhooks.clone());
            let enabled = state.auth.enabled().await?;
            if !enabled {
                anyhow::ensure!(
                    args.bind.ip().is_loopback() || anonymous.is_some(),
                    "refusing to serve {} with no authentication: every caller would be ADMIN. \
                     Make a token (modelgraph token create --subject NAME --role ADMIN), set \
                     --oidc-issuer or --trusted-proxy-header, or say what anonymous callers may \
                     do with --allow-anonymous ROLE",
                    args.bind
                );
                tracing::warn!(
                    "no authentication configured: the server is open and every caller is ADMIN \
                     (make a token with `modelgraph token create` to turn authentication on)"
                );
            }
            let listener = tokio::net::TcpListener::bind(args.bind)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.bind))?;
            modelgraph::events::webhooks::start(conn.clone(), webhooks);
            tracing::info!(
                address = %listener.local_addr()?,
                database = db::backend_name(&conn),
                authentication = if enabled { "on" } else { "off (open)" },
                "serving GraphQL at /graphql"
            );
            modelgraph::serve(listener, state, shutdown_signal()).await?;
        }
        Command::Migrate(args) => {
            let conn = db::connect(&args).await?;
            db::migrate(&conn).await?;
            tracing::info!(database = db::backend_name(&conn), "migrated");
        }
        Command::Schema => print!("{}", graphql::sdl()),
        Command::Token(command) => token(command).await?,
        Command::SeedDemo(args) => {
            let conn = db::connect(&args).await?;
            db::migrate(&conn).await?;
            let demo = modelgraph::demo::seed(&conn).await?;
            if demo.already_there {
                println!("the demo graph is already loaded");
            } else {
                println!(
                    "demo graph loaded: raw dataset {}, production inference service {}, distilled model version {}",
                    demo.raw_dataset, demo.production_service, demo.distilled_version
                );
            }
        }
        Command::ImportGraph(args) => {
            let conn = db::connect(&args.database).await?;
            db::migrate(&conn).await?;
            // one bar per stage, and each stage's own rate at the end
            let mut current: Option<(String, indicatif::ProgressBar, std::time::Instant)> = None;
            let mut rates = Vec::new();
            // a stage starts where the one before it ended (the first with the command)
            let mut stage_end = std::time::Instant::now();
            let stats = modelgraph::registry::bulk::import_graph(
                &conn,
                &args.nodes,
                &args.edges,
                |stage, done, total| {
                    if current.as_ref().is_none_or(|(s, _, _)| s != stage) {
                        current = Some((
                            stage.to_owned(),
                            stage_bar(stage, total as u64, stage_end),
                            stage_end,
                        ));
                    }
                    if let Some((_, bar, started)) = &current {
                        bar.set_position(done as u64);
                        if done == total {
                            bar.finish_and_clear();
                            let seconds = started.elapsed().as_secs_f64().max(1e-9);
                            let rate = total as f64 / seconds;
                            rates.push(format!("{total} {stage} in {seconds:.1} s at {rate:.0}/s"));
                            stage_end = std::time::Instant::now();
                        }
                    }
                },
            )
            .await?;
            println!(
                "imported {} nodes and {} edges in {:.1} s ({:.0} rows/s; {})",
                stats.nodes,
                stats.edges,
                stats.seconds,
                (stats.nodes + stats.edges) as f64 / stats.seconds.max(1e-9),
                rates.join(", ")
            );
            if stats.reference_checks == modelgraph::registry::bulk::ReferenceChecks::Skipped {
                println!(
                    "every reference was checked before loading; the store's row-by-row foreign-key checks were skipped"
                );
            }
        }
        Command::GenGraph(args) => {
            let shape = modelgraph::gen_graph::Shape {
                runs: args.runs,
                seed: args.seed,
                runs_per_project: args.runs_per_project,
                window: args.window,
            };
            let started = std::time::Instant::now();
            let bar = stage_bar("runs", args.runs, started);
            let made =
                modelgraph::gen_graph::generate(&shape, &args.out, |done| bar.set_position(done))?;
            bar.finish_and_clear();
            println!(
                "wrote {} nodes and {} edges to {} in {:.1} s (runs {}, seed {})",
                made.nodes,
                made.edges,
                args.out.display(),
                started.elapsed().as_secs_f64(),
                args.runs,
                args.seed
            );
        }
        Command::Backup(args) => {
            let store =
                db::backup::store_file(&args.database.database_url).map_err(anyhow::Error::msg)?;
            let spinner = indicatif::ProgressBar::new_spinner().with_message("backing up");
            spinner.enable_steady_tick(std::time::Duration::from_millis(200));
            let started = std::time::Instant::now();
            let to = args.to.clone();
            let copied = tokio::task::spawn_blocking(move || db::backup::backup(&store, &to))
                .await?
                .map_err(anyhow::Error::msg)?;
            spinner.finish_and_clear();
            println!(
                "backed up {} pages ({:.1} MB) to {} in {:.1} s",
                copied.pages,
                copied.bytes as f64 / 1e6,
                args.to.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Restore(args) => {
            let store =
                db::backup::store_file(&args.database.database_url).map_err(anyhow::Error::msg)?;
            let from = args.from.clone();
            let shown = store.display().to_string();
            let copied = tokio::task::spawn_blocking(move || db::backup::restore(&from, &store))
                .await?
                .map_err(anyhow::Error::msg)?;
            println!(
                "restored {} pages ({:.1} MB) from {} into {shown}",
                copied.pages,
                copied.bytes as f64 / 1e6,
                args.from.display()
            );
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    use modelgraph::auth::tokens;
    let ms = |t: i64| {
        chrono::DateTime::from_timestamp_millis(t)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    match command {
        TokenCommand::Create {
            subject,
            role,
            expires_in,
            database,
        } => {
            let conn = db::connect(&database).await?;
            db::migrate(&conn).await?;
            let first = tokens::list(&conn).await?.is_empty();
            let created = tokens::create(&conn, &subject, role, expires_in).await?;
            let row = &created.row;
            println!(
                "token {} for {} ({}){}; it is shown this once:",
                row.id,
                row.subject,
                row.role,
                row.expires_at
                    .map(|t| format!(", expires {}", ms(t)))
                    .unwrap_or_default()
            );
            if first {
                println!(
                    "this is the store's first token, an ADMIN's: authentication is now on, and \
                     every request needs a credential (make the others with this one)"
                );
            }
            println!("{}", created.token);
        }
        TokenCommand::List(database) => {
            let conn = db::connect(&database).await?;
            db::migrate(&conn).await?;
            println!("id\tsubject\trole\tcreated\texpires\tlast_used\trevoked");
            for t in tokens::list(&conn).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.subject,
                    t.role,
                    ms(t.created_at),
                    t.expires_at.map(ms).unwrap_or_else(|| "never".into()),
                    t.last_used_at.map(ms).unwrap_or_else(|| "never".into()),
                    t.revoked_at.map(ms).unwrap_or_else(|| "no".into()),
                );
            }
        }
        TokenCommand::Revoke { id, database } => {
            let conn = db::connect(&database).await?;
            db::migrate(&conn).await?;
            let t = tokens::revoke(&conn, id).await?;
            println!("token {} of {} revoked", t.id, t.subject);
        }
    }
    Ok(())
}
