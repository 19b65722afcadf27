//! The one local SQLite file: how it is created (owner-only), opened (pragmas every
//! connection needs), and migrated (an append-only list keyed by `PRAGMA user_version`).

pub mod audit;
pub mod batches;
pub mod cipher;
pub mod closeout;
pub mod handling;
pub mod mailings;
pub mod orders;
pub mod participants;
pub mod points;
pub mod prizes;
pub mod quality;
pub mod report;
pub mod shipments;
pub mod status;
pub mod steps;
pub mod survey;

use anyhow::{bail, Context, Result};
use rusqlite::Connection;
use std::path::Path;

/// What undoing a batch did.
#[derive(Debug, Default)]
pub struct Undone {
    pub removed: usize,
    /// Values the batch had replaced or changed, put back.
    pub restored: usize,
    /// Participants whose points the undo may change.
    pub affected: Vec<String>,
}

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
    // 2: prize applications (景品申込み). Every application keyed is kept, accepted or
    // rejected with its code, so the participant can be told; `points` is what an
    // accepted order uses (rejected: what it would have cost). `shipment_id` is set
    // when the order is shipped.
    r#"
CREATE TABLE orders(
  id INTEGER PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  sheet TEXT NOT NULL,
  row_no INTEGER NOT NULL,
  participant_id TEXT NOT NULL,
  prize_code TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  applied_on TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
  code TEXT,
  message TEXT,
  points INTEGER NOT NULL,
  shipment_id INTEGER
);
CREATE INDEX orders_by_participant ON orders(participant_id, status);
CREATE INDEX orders_by_batch ON orders(batch_id);
CREATE INDEX orders_by_prize ON orders(prize_code, status);
"#,
    // 3: the audit chain's control values (last sequence number and head hash), which
    // every append now keeps in `meta` so entries cut off the end are detected. A
    // database made before takes them from its log as it stands.
    r#"
INSERT OR REPLACE INTO meta(key, value)
  SELECT 'audit_last_seq', CAST(max(seq) AS TEXT) FROM audit_log HAVING count(*) > 0;
INSERT OR REPLACE INTO meta(key, value)
  SELECT 'audit_head', hash FROM audit_log ORDER BY seq DESC LIMIT 1;
"#,
    // 4: shipments and the participation-guidance mailing (参加案内). A shipment is made
    // of the accepted orders whose `shipment_id` it sets, in the same transaction that
    // records the file written (its SHA-256). A guidance mailing records each
    // participant it reached, so no one is mailed twice unless a resend is asked for.
    r#"
CREATE TABLE shipments(
  id INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,
  operator TEXT NOT NULL,
  format TEXT NOT NULL,
  file_sha256 TEXT NOT NULL,
  orders INTEGER NOT NULL,
  participants INTEGER NOT NULL,
  quantity INTEGER NOT NULL
);
CREATE INDEX orders_by_shipment ON orders(shipment_id);
CREATE TABLE mailings(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('guidance')),
  created_at TEXT NOT NULL,
  operator TEXT NOT NULL,
  format TEXT NOT NULL,
  file_sha256 TEXT NOT NULL,
  participants INTEGER NOT NULL,
  resend INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE guidance_mailed(
  participant_id TEXT NOT NULL,
  mailing_id INTEGER NOT NULL REFERENCES mailings(id),
  mailed_at TEXT NOT NULL,
  resend INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(participant_id, mailing_id)
) WITHOUT ROWID;
"#,
    // 5: questionnaire answers (事前・事後アンケート), one row per participant, timing and
    // declared question; the answer in its canonical form (`1`..`5`, はい/いいえ, or
    // the choice's text). A different answer keyed later is a conflict, never an
    // overwrite, so there is no history table.
    r#"
CREATE TABLE survey_answers(
  participant_id TEXT NOT NULL,
  timing TEXT NOT NULL CHECK (timing IN ('事前', '事後')),
  question TEXT NOT NULL,
  answer TEXT NOT NULL,
  batch_id INTEGER NOT NULL,
  src_row INTEGER NOT NULL,
  PRIMARY KEY(participant_id, timing, question)
) WITHOUT ROWID;
CREATE INDEX survey_by_batch ON survey_answers(batch_id);
"#,
    // 6: pre-printed point cards (記録台紙, `stepcard cards`): each run that wrote the
    // cards, and each participant it printed cards for, so the handling report and the
    // audit know who was sent cards (they go in the participation-guidance envelope).
    // No foreign key: the close-out empties tables in name order (card_mailings before
    // cards_sent), which a reference would refuse.
    r#"
CREATE TABLE card_mailings(
  id INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,
  operator TEXT NOT NULL,
  months TEXT NOT NULL,
  file_sha256 TEXT NOT NULL,
  participants INTEGER NOT NULL,
  cards INTEGER NOT NULL
);
CREATE TABLE cards_sent(
  participant_id TEXT NOT NULL,
  mailing_id INTEGER NOT NULL,
  sent_at TEXT NOT NULL,
  cards INTEGER NOT NULL,
  PRIMARY KEY(participant_id, mailing_id)
) WITHOUT ROWID;
"#,
    // 7: who keyed what (入力品質). Each steps batch records who keyed its file and how
    // many steps cells it held; each verification run, its two keyers, their files and
    // cells, and each discrepancy (participant number, date, the two values: no name),
    // settled once a later batch stores that participant's card: which side was wrong.
    // The importer's refusals are counted per keyer and problem code.
    r#"
ALTER TABLE batches ADD COLUMN keyed_by TEXT;
ALTER TABLE batches ADD COLUMN steps_cells INTEGER NOT NULL DEFAULT 0;
CREATE TABLE verify_runs(
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  operator TEXT NOT NULL,
  first_keyed_by TEXT NOT NULL,
  first_file TEXT NOT NULL,
  first_sha256 TEXT NOT NULL,
  first_rows INTEGER NOT NULL,
  first_cells INTEGER NOT NULL,
  second_keyed_by TEXT NOT NULL,
  second_file TEXT NOT NULL,
  second_sha256 TEXT NOT NULL,
  second_rows INTEGER NOT NULL,
  second_cells INTEGER NOT NULL,
  agreeing INTEGER NOT NULL,
  UNIQUE(first_sha256, second_sha256)
);
CREATE TABLE verify_discrepancies(
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES verify_runs(id),
  field TEXT NOT NULL CHECK (field IN ('participant', 'date', 'steps')),
  kind TEXT NOT NULL CHECK (kind IN ('mismatch', 'only_first', 'only_second', 'moved')),
  first_participant_id TEXT,
  first_date TEXT,
  first_steps INTEGER,
  second_participant_id TEXT,
  second_date TEXT,
  second_steps INTEGER,
  wrong TEXT CHECK (wrong IN ('first', 'second', 'both')),
  resolved_batch INTEGER,
  resolved_at TEXT
);
CREATE INDEX verify_discrepancies_open ON verify_discrepancies(wrong, run_id);
CREATE TABLE keying_refusals(
  keyed_by TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  code TEXT NOT NULL,
  count INTEGER NOT NULL,
  file_name TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY(keyed_by, sha256, code)
) WITHOUT ROWID;
"#,
];

/// The schema version this build writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// SQLite's page cache for every connection, in KiB (`PRAGMA cache_size` takes it
/// negated): the memory a command may spend on pages, whatever the database's size.
pub(crate) const CACHE_KIB: i64 = 16384;

/// Run `f` with the page cache cut to `kib` KiB (pages beyond it are given back), then
/// restore it: for a pass that reads a table once in order while something else needs
/// the memory (the label workbook).
pub(crate) fn with_cache<T>(
    conn: &Connection,
    kib: i64,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    conn.execute_batch(&format!("PRAGMA cache_size=-{kib}"))?;
    let r = f();
    let back = conn.execute_batch(&format!("PRAGMA cache_size=-{CACHE_KIB}"));
    let t = r?;
    back?;
    Ok(t)
}

/// Drop a working table a command kept inside its own transaction (an import's check
/// table, a mailing's addressees), before the commit. Emptied first: a `DELETE` clears
/// the pages in place, where a `DROP` of the full table would keep every page's old
/// content in the statement journal (in memory, `temp_store=MEMORY`). `name` is the
/// caller's own constant (`main.…`), never input.
pub(crate) fn drop_working_table(conn: &Connection, name: &str) -> Result<()> {
    conn.execute_batch(&format!("DELETE FROM {name}; DROP TABLE IF EXISTS {name};"))?;
    Ok(())
}

fn configure(conn: &Connection) -> Result<()> {
    // WAL lets readers and one writer work at once and keeps a killed import from
    // damaging the file; secure_delete overwrites deleted content so erasure is real at
    // the application level; the busy timeout makes concurrent writers wait, not fail.
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    shared_journal(conn)?;
    conn.execute_batch(&format!(
        "PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; \
         PRAGMA cache_size=-{CACHE_KIB};",
    ))?;
    Ok(())
}

/// Whether `e` is SQLite's "another connection holds the lock".
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Set the journal mode; `Ok(None)` when another connection's lock prevents the change
/// (SQLite then does not wait on the busy timeout, it refuses at once).
fn set_journal_mode(conn: &Connection, mode: &str) -> Result<Option<String>> {
    match conn.query_row(&format!("PRAGMA journal_mode={mode}"), [], |r| {
        r.get::<_, String>(0)
    }) {
        Ok(m) => Ok(Some(m.to_ascii_lowercase())),
        Err(e) if is_busy(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The journal every command works in: WAL (readers go on while one command writes).
/// When a bulk import holds the database in its rollback journal (see
/// [`bulk_journal`]), the change to WAL is refused; this connection then works in the
/// rollback journal, which is as safe (its writes wait on the busy timeout), and SQLite
/// moves it to WAL by itself once the file is back in WAL. `synchronous` follows the
/// mode: NORMAL is safe against power loss only in WAL.
pub fn shared_journal(conn: &Connection) -> Result<()> {
    let wal = set_journal_mode(conn, "WAL")?.as_deref() == Some("wal");
    conn.execute_batch(match wal {
        true => "PRAGMA synchronous=NORMAL;",
        false => "PRAGMA synchronous=FULL;",
    })?;
    Ok(())
}

/// Before a bulk import: move the database to SQLite's rollback journal when no other
/// connection has it open (then `true`; call [`shared_journal`] after the import,
/// however it ends). Rows an import appends go to new pages, which a rollback journal
/// does not copy: each page is written once, where WAL writes it to the log and again
/// to the database at the checkpoint, so the import needs no disk for a second copy of
/// what it adds, and ran 5 % faster on 3.5 million rows (`examples/bench.rs`). A crash
/// leaves a hot journal that the next open rolls back: the import stays all or nothing.
/// Other commands started meanwhile wait on the busy timeout instead of reading the
/// last committed state. With another connection open the change is refused and the
/// import runs in WAL, as before.
pub fn bulk_journal(conn: &Connection) -> Result<bool> {
    if set_journal_mode(conn, "DELETE")?.as_deref() != Some("delete") {
        return Ok(false);
    }
    conn.execute_batch("PRAGMA synchronous=FULL;")?;
    Ok(true)
}

/// Whether new databases are written without encryption: a hidden switch for the tests
/// that need a database as earlier builds wrote it (the `encrypt` migration, the
/// raw-disk comparison). Never documented for operators.
pub fn encryption_off() -> bool {
    std::env::var_os("STEPCARD_TEST_NO_ENCRYPTION").is_some()
}

/// Whether the file is a plain (unencrypted) SQLite database: its first 16 bytes are
/// SQLite's magic. An SQLCipher file starts with its random salt instead.
pub fn is_plaintext(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| &head == b"SQLite format 3\0")
        .unwrap_or(false)
}

/// Key a connection with the database key before anything reads or writes the file:
/// a raw 256-bit key (SQLCipher's own PBKDF2 is skipped: the key slots' Argon2id
/// already stretched the password). A build without SQLCipher would silently ignore
/// the key and write plaintext, so its version is checked.
pub fn apply_key(conn: &Connection, key: &crate::keys::DbKey) -> Result<()> {
    let version: String = conn
        .query_row("PRAGMA cipher_version", [], |r| r.get(0))
        .unwrap_or_default();
    if version.trim().is_empty() {
        bail!("この stepcard は暗号化（SQLCipher）なしで作られています。データベースを開きません (built without SQLCipher)");
    }
    // SQLCipher cannot read the page size from an encrypted header: it is given at
    // every open (64 KiB, as plain databases use; see `create`).
    // SQLCipher logs its own failures (a page that does not decrypt) to stderr in
    // English; the operator is told in Japanese by the caller instead.
    let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\"; PRAGMA cipher_page_size = 65536;",
        key.hex()
    ))?;
    // The page HMAC the key file names (new databases: HMAC-SHA256, see
    // `keys::CIPHER_HMAC_SHA256`); without it SQLCipher's default, HMAC-SHA512.
    if let Some(alg) = key.hmac_algorithm() {
        conn.execute_batch(&format!("PRAGMA cipher_hmac_algorithm = {alg};"))?;
    }
    Ok(())
}

/// Create a new database file, readable by its owner only, encrypted with `key` from
/// its first write (temp storage in memory, WAL encrypted with it). Refuses to
/// overwrite.
pub fn create(path: &Path, key: &crate::keys::DbKey) -> Result<Connection> {
    if path.exists() {
        bail!(
            "{0}: データベースが既にあります。上書きはしません。新しい事業なら別の名前を --db で指定してください\
             （例: `stepcard --db 2026年度.db init --program program.toml`）。前の事業のデータは、\
             契約終了の手続き（`stepcard --db {0} close-out …`）で返還・消去してください \
             (the database already exists; use another --db path, or erase the old one through close-out)",
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
    if encryption_off() {
        // Set before the first table, so it holds for the file's life. Large pages make
        // the bulk work (a long step sheet is millions of rows in one transaction)
        // cheaper: fewer pages to split, balance, checksum and copy through the WAL.
        // Measured on a 3.5M-row import: 3.9 s at 4 KiB pages, 3.4 s at 32 KiB, 3.25 s
        // at 64 KiB, with export and undo unchanged (examples/bench.rs). An encrypted
        // database gets the same size from `apply_key`.
        conn.execute_batch("PRAGMA page_size=65536")?;
    } else {
        apply_key(&conn, key)?;
    }
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// The refusal of a database as earlier builds wrote it (unencrypted).
pub fn refuse_plaintext(path: &Path) -> Result<()> {
    if is_plaintext(path) && !encryption_off() {
        bail!(
            "{}: 暗号化されていないデータベースです（以前の版の stepcard で作られたもの）。個人情報を守るため、このままでは開きません。\
             取扱責任者が `stepcard encrypt --db {} --out 新しいデータベース` で暗号化した複製を作り（照合の上、元のファイルは消去されます）、\
             以後はそちらを --db に指定してください (an unencrypted database: convert it with `stepcard encrypt --db OLD --out NEW`)",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// What must hold before a password is asked: the database exists, its files (and key
/// slots) are owner-only, and it is not an unencrypted one from an earlier build.
pub fn preflight(path: &Path) -> Result<()> {
    if !path.exists() {
        bail!(
            "{}: データベースがありません。先に `stepcard init --program program.toml` を実行するか、\
             --db で場所を指定してください (no database here; run init first or pass --db)",
            path.display()
        );
    }
    refuse_loose_modes(path)?;
    refuse_plaintext(path)
}

/// Open an existing database with its key, migrating it forward if this build is newer.
/// `None` opens a plain database (the hidden switch, or `encrypt` reading the old one).
pub fn open(path: &Path, key: Option<&crate::keys::DbKey>) -> Result<Connection> {
    if key.is_some() {
        preflight(path)?;
    } else if !path.exists() {
        bail!(
            "{}: データベースがありません (no database here)",
            path.display()
        );
    } else {
        refuse_loose_modes(path)?;
    }
    let mut conn = Connection::open(path)
        .with_context(|| format!("{}: データベースを開けません", path.display()))?;
    if let Some(key) = key.filter(|_| !is_plaintext(path)) {
        apply_key(&conn, key)?;
    }
    if conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .is_err()
    {
        bail!(
            "{}: データベースを読めません。鍵ファイルと組でないか、壊れています (the database does not open with this key file)",
            path.display()
        );
    }
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

/// The database and its sidecars (`-wal`, `-shm`, `-journal`) must be readable by their
/// owner only, and so must its key slots (`.keys`). A looser mode is refused, with the fix, rather than tightened quietly:
/// someone made it so (the tool never does), the data may already have been read, and
/// the supervisor should know before anyone carries on.
pub fn refuse_loose_modes(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut loose = Vec::new();
        for suffix in ["", "-wal", "-shm", "-journal", ".keys"] {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(suffix);
            let p = path.with_file_name(name);
            if let Ok(m) = std::fs::metadata(&p) {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    loose.push((p, mode));
                }
            }
        }
        if !loose.is_empty() {
            bail!(
                "{}: データベースのファイルが所有者以外にも読める設定になっています（{}）。個人情報を守るため開きません。\
                 取扱責任者に報告し、`chmod 600 {}` で所有者だけに戻してから、もう一度実行してください \
                 (the database files are readable by others; run the chmod shown, then try again)",
                path.display(),
                loose
                    .iter()
                    .map(|(p, m)| format!("{} {:o}", p.display(), m))
                    .collect::<Vec<_>>()
                    .join("、"),
                loose
                    .iter()
                    .map(|(p, _)| shell_quote(&p.display().to_string()))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    Ok(())
}

#[cfg(unix)]
fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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

/// A second handle on the same SQLite connection, for the recorder of copies that the
/// file writer calls while a command holds `conn` (its writes join the command's open
/// transaction, if any, as the audit log's savepoint does). The alias must be dropped
/// before `conn`; it never closes the connection itself.
pub fn alias(conn: &Connection) -> Result<Connection> {
    // SAFETY: `from_handle` makes a non-owning wrapper of the same `sqlite3*`; both are
    // used from this thread only, and the caller drops the alias first (cmd::Ctx).
    Ok(unsafe { Connection::from_handle(conn.handle())? })
}

pub fn meta_delete(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key=?1", [key])?;
    Ok(())
}

/// `meta` key set when a close-out starts (the database's real path and the start
/// time): the database itself says a close-out is under way, whatever path opens it.
pub const META_CLOSEOUT: &str = "closeout_started";

/// `BEGIN IMMEDIATE`: take the write lock up front so concurrent importers queue on the
/// busy timeout instead of failing with "database is locked" on upgrade.
pub fn begin_write(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>> {
    Ok(conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_log_gets_its_control_values() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        for _ in 0..3 {
            crate::audit::append(&c, "t", "山田 太郎", "init", &Default::default()).unwrap();
        }
        // As a version-1 build left it: entries, no control values.
        c.execute("DELETE FROM meta", []).unwrap();
        assert!(crate::audit::verify(&c).unwrap().broken.is_some());
        migrate(&mut c).unwrap();
        let v = crate::audit::verify(&c).unwrap();
        assert!(v.broken.is_none(), "{:?}", v.broken);
        assert_eq!(v.entries, 3);
    }

    #[test]
    fn an_empty_log_gets_no_control_values() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        assert_eq!(meta_get(&c, crate::audit::META_LAST_SEQ).unwrap(), None);
        assert_eq!(meta_get(&c, crate::audit::META_HEAD).unwrap(), None);
    }
}
