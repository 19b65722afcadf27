//! Storage of the audit log (`audit_log`, `exports`, and the chain's control values in
//! `meta`). The chain's rules (what is hashed, how a break is named) are in
//! `crate::audit`; this file only reads and writes rows.

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};

use crate::output::FileRecord;

/// `meta` keys holding the chain's last sequence number and head hash.
pub const META_LAST_SEQ: &str = "audit_last_seq";
pub const META_HEAD: &str = "audit_head";

/// One row of `audit_log` as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub seq: i64,
    pub at: String,
    pub operator: String,
    pub command: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Run `f` so that everything it writes lands together or not at all. Outside a
/// transaction it takes the write lock first (`BEGIN IMMEDIATE`), so two commands
/// finishing at once queue on the busy timeout instead of racing for the same sequence
/// number; inside the caller's transaction it is a savepoint that commits with the work.
pub fn atomically<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let own = conn.is_autocommit();
    conn.execute_batch(if own {
        "BEGIN IMMEDIATE"
    } else {
        "SAVEPOINT audit_append"
    })?;
    match f() {
        Ok(v) => {
            conn.execute_batch(if own {
                "COMMIT"
            } else {
                "RELEASE audit_append"
            })?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch(if own {
                "ROLLBACK"
            } else {
                "ROLLBACK TO audit_append; RELEASE audit_append"
            });
            Err(e)
        }
    }
}

/// Store an entry, the files it records, and move the control values on to it.
pub fn insert(conn: &Connection, e: &Stored, files: &[FileRecord]) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_log(seq, at, operator, command, detail, prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7)",
        rusqlite::params![e.seq, e.at, e.operator, e.command, e.detail, e.prev_hash, e.hash],
    )?;
    for f in files {
        conn.execute(
            "INSERT INTO exports(audit_seq, path, sha256, bytes, at) VALUES (?1,?2,?3,?4,?5)",
            rusqlite::params![e.seq, f.path, f.sha256, f.bytes as i64, e.at],
        )?;
    }
    super::meta_set(conn, META_LAST_SEQ, &e.seq.to_string())?;
    super::meta_set(conn, META_HEAD, &e.hash)?;
    Ok(())
}

/// The last row in the table: its sequence number and hash.
pub fn last(conn: &Connection) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The control values: the last sequence number (when it reads as one) and head hash.
pub fn control(conn: &Connection) -> Result<(Option<i64>, Option<String>)> {
    let last = super::meta_get(conn, META_LAST_SEQ)?.and_then(|s| s.trim().parse().ok());
    Ok((last, super::meta_get(conn, META_HEAD)?))
}

/// Every entry in order. The log holds one entry per command: small enough to hold.
pub fn all(conn: &Connection) -> Result<Vec<Stored>> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, operator, command, detail, prev_hash, hash FROM audit_log ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Stored {
            seq: r.get(0)?,
            at: r.get(1)?,
            operator: r.get(2)?,
            command: r.get(3)?,
            detail: r.get(4)?,
            prev_hash: r.get(5)?,
            hash: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
