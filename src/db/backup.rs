//! `modelgraph backup` and `restore` for SQLite stores, through SQLite's online backup
//! API. A backup copies every page in one step, inside one read transaction: in WAL mode
//! writers go on meanwhile, and the copy is the store as of the moment the step began
//! (every write acknowledged before it, nothing half-written). It is written beside the
//! target, checked (`PRAGMA integrity_check`), and only then renamed into place, so a
//! failed backup never leaves a damaged file under the name asked for. A restore checks
//! the copy the same way, and that it is a modelgraph store, before writing any page.
//! PostgreSQL stores are backed up with `pg_dump`, MySQL/MariaDB ones with `mariadb-dump`
//! (README, "Backups").
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The SQLite file a `--database-url` names, or why it names none a backup can use.
pub fn store_file(database_url: &str) -> Result<PathBuf, String> {
    if database_url.starts_with("postgres") {
        return Err(
            "backup and restore copy SQLite stores; back PostgreSQL up with pg_dump \
                    and pg_restore (README, \"Backups\")"
                .into(),
        );
    }
    if database_url.starts_with("mysql") || database_url.starts_with("mariadb") {
        return Err(
            "backup and restore copy SQLite stores; back MySQL/MariaDB up with \
                    mariadb-dump --single-transaction (README, \"Backups\")"
                .into(),
        );
    }
    super::sqlite_path(database_url)
        .ok_or_else(|| "backup and restore need a SQLite file, not an in-memory database".into())
}

fn open(path: &Path, flags: OpenFlags) -> Result<Connection, String> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(conn)
}

/// `PRAGMA integrity_check` on `conn`, and that it holds modelgraph's tables.
fn check(conn: &Connection, path: &Path) -> Result<(), String> {
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|e| format!("{}: not a readable SQLite database ({e})", path.display()))?;
    if verdict != "ok" {
        return Err(format!(
            "{}: fails SQLite's integrity check: {verdict}",
            path.display()
        ));
    }
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('node', 'lineage_edge', 'change')",
            [],
            |row| row.get(0),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if tables != 3 {
        return Err(format!("{}: not a modelgraph store", path.display()));
    }
    Ok(())
}

/// What a backup or restore copied.
#[derive(Debug)]
pub struct Copied {
    pub pages: i32,
    pub bytes: u64,
}

fn copy(from: &Connection, to: &mut Connection) -> Result<Copied, String> {
    let backup = rusqlite::backup::Backup::new(from, to).map_err(|e| e.to_string())?;
    // every page in one step: one read transaction on the source, so the copy is
    // consistent however much is written meanwhile (an incremental backup would start
    // over after each write through another connection)
    loop {
        match backup.step(-1).map_err(|e| e.to_string())? {
            rusqlite::backup::StepResult::Done => break,
            rusqlite::backup::StepResult::Busy | rusqlite::backup::StepResult::Locked => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {}
        }
    }
    let pages = backup.progress().pagecount;
    drop(backup);
    let page_size: i64 = to
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    Ok(Copied {
        pages,
        bytes: pages as u64 * page_size as u64,
    })
}

/// Copies the store at `store` to `to`, consistently while it serves writes.
pub fn backup(store: &Path, to: &Path) -> Result<Copied, String> {
    if !store.is_file() {
        return Err(format!("no SQLite store at {}", store.display()));
    }
    if to.exists() && same_file(store, to) {
        return Err(format!("{} is the store itself", to.display()));
    }
    let source = open(store, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let mut copy = open(
            &partial,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        let copied = self::copy(&source, &mut copy)
            .map_err(|e| format!("copying {}: {e}", store.display()))?;
        // a single file, whatever journal the store used
        copy.pragma_update(None, "journal_mode", "DELETE")
            .map_err(|e| format!("{}: {e}", partial.display()))?;
        check(&copy, &partial)?;
        drop(copy);
        std::fs::rename(&partial, to).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
        Ok(copied)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Replaces the store at `store` with the copy at `from` (checked first; nothing is
/// written when it fails the check). Stop the servers using the store first.
pub fn restore(from: &Path, store: &Path) -> Result<Copied, String> {
    if !from.is_file() {
        return Err(format!("no backup at {}", from.display()));
    }
    if store.exists() && same_file(store, from) {
        return Err(format!("{} is the store itself", from.display()));
    }
    let source = open(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    check(&source, from)?;
    if let Some(dir) = store.parent()
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        return Err(format!("the directory {} does not exist", dir.display()));
    }
    let mut target = open(
        store,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )?;
    let copied =
        copy(&source, &mut target).map_err(|e| format!("restoring {}: {e}", store.display()))?;
    // the store as the server opens it
    target
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| format!("{}: {e}", store.display()))?;
    check(&target, store)?;
    Ok(copied)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
