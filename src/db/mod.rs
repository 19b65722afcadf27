//! The one local SQLite file: how it is created (owner-only), opened (pragmas every
//! connection needs), and migrated (an append-only list keyed by `PRAGMA user_version`).

use anyhow::{bail, Context, Result};
use rusqlite::Connection;
use std::path::Path;

/// Schema migrations. Append only: a shipped migration is never edited, because
/// databases in the field have already run it.
const MIGRATIONS: &[&str] = &[
    // 1: the import foundation and the audit log.
    r#"
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE batches(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  file_name TEXT NOT NULL,
  sheet TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  layout TEXT NOT NULL,
  header_json TEXT NOT NULL,
  imported_at TEXT NOT NULL,
  operator TEXT NOT NULL,
  rows_read INTEGER NOT NULL DEFAULT 0,
  inserted INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0,
  replaced INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  verified INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'committed',
  undone_at TEXT,
  undone_by TEXT
);
CREATE INDEX batches_by_hash ON batches(sha256, kind);
CREATE TABLE participants(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  name_kana TEXT,
  postal_code TEXT,
  address TEXT,
  address2 TEXT,
  birth_date TEXT,
  age INTEGER,
  sex TEXT,
  phone TEXT,
  channel TEXT NOT NULL,
  email TEXT,
  batch_id INTEGER NOT NULL,
  updated_batch_id INTEGER
) WITHOUT ROWID;
CREATE TABLE participant_history(
  id INTEGER PRIMARY KEY,
  participant_id TEXT NOT NULL,
  batch_id INTEGER NOT NULL,
  old_json TEXT NOT NULL,
  changed_at TEXT NOT NULL
);
CREATE TABLE steps(
  participant_id TEXT NOT NULL,
  date TEXT NOT NULL,
  steps INTEGER NOT NULL,
  batch_id INTEGER NOT NULL,
  src_row INTEGER NOT NULL,
  PRIMARY KEY(participant_id, date)
) WITHOUT ROWID;
CREATE TABLE steps_history(
  id INTEGER PRIMARY KEY,
  participant_id TEXT NOT NULL,
  date TEXT NOT NULL,
  steps INTEGER NOT NULL,
  batch_id INTEGER NOT NULL,
  src_row INTEGER NOT NULL,
  replaced_by INTEGER NOT NULL,
  replaced_at TEXT NOT NULL
);
CREATE TABLE rejected_rows(
  id INTEGER PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  sheet TEXT NOT NULL,
  row_no INTEGER NOT NULL,
  raw_json TEXT NOT NULL
);
CREATE TABLE problems(
  id INTEGER PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  sheet TEXT NOT NULL,
  row_no INTEGER,
  cell TEXT,
  column_name TEXT,
  raw TEXT,
  code TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE TABLE audit_log(
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  operator TEXT NOT NULL,
  command TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE exports(
  id INTEGER PRIMARY KEY,
  audit_seq INTEGER NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  at TEXT NOT NULL
);
"#,
];

/// The schema version this build writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

fn configure(conn: &Connection) -> Result<()> {
    // WAL lets readers and one writer work at once and keeps a killed import from
    // damaging the file; secure_delete overwrites deleted content so erasure is real at
    // the application level; the busy timeout makes concurrent writers wait, not fail.
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON; \
         PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;",
    )?;
    Ok(())
}

/// Create a new database file, readable by its owner only. Refuses to overwrite.
pub fn create(path: &Path) -> Result<Connection> {
    if path.exists() {
        bail!(
            "{}: データベースが既にあります。上書きはしません (the database already exists; \
             use another --db path, or erase the old one through close-out)",
            path.display()
        );
    }
    crate::output::create_private(path).with_context(|| {
        format!(
            "{}: データベースを作れません (cannot create)",
            path.display()
        )
    })?;
    let mut conn = Connection::open(path)?;
    // Set before the first table, so it holds for the file's life. Large pages make
    // the bulk work (a long step sheet is millions of rows in one transaction) cheaper:
    // fewer pages to split, balance, checksum and copy through the WAL. Measured on a
    // 3.5M-row import: 3.9 s at 4 KiB pages, 3.4 s at 32 KiB, 3.25 s at 64 KiB, with
    // export and undo unchanged (examples/bench.rs).
    conn.execute_batch("PRAGMA page_size=65536")?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Open an existing database, migrating it forward if this build is newer.
pub fn open(path: &Path) -> Result<Connection> {
    if !path.exists() {
        bail!(
            "{}: データベースがありません。先に `stepcard init --program program.toml` を実行するか、\
             --db で場所を指定してください (no database here; run init first or pass --db)",
            path.display()
        );
    }
    let mut conn = Connection::open(path)
        .with_context(|| format!("{}: データベースを開けません", path.display()))?;
    configure(&conn)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == 0 {
        bail!(
            "{}: stepcard のデータベースではありません (not a stepcard database)",
            path.display()
        );
    }
    if version > schema_version() {
        bail!(
            "{}: この stepcard より新しい版で作られたデータベースです (schema {version} > {}); stepcard を更新してください",
            path.display(),
            schema_version()
        );
    }
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("schema migration {} failed", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
        .optional()?)
}

pub fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key,value) VALUES(?1,?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        [key, value],
    )?;
    Ok(())
}

/// `BEGIN IMMEDIATE`: take the write lock up front so concurrent importers queue on the
/// busy timeout instead of failing with "database is locked" on upgrade.
pub fn begin_write(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>> {
    Ok(conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
}
