//! The hash-chained audit log. Every command appends one entry: time, operator, command,
//! counts, and each file written with its SHA-256, never personal data. Each entry's
//! hash covers its canonical form and the previous entry's hash, so editing, removing or
//! reordering an entry breaks the chain at that entry.

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value as Json;

use crate::output::{sha256_hex, FileRecord};

/// The hash the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a command reports for its audit entry.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Detail {
    pub status: String,
    pub counts: serde_json::Map<String, Json>,
    pub files: Vec<FileRecord>,
    /// Input files read, by name and SHA-256.
    pub files_read: Vec<serde_json::Value>,
    pub args: serde_json::Map<String, Json>,
}

impl Detail {
    pub fn count(&mut self, key: &str, n: impl Into<Json>) {
        self.counts.insert(key.to_string(), n.into());
    }
    pub fn arg(&mut self, key: &str, v: impl Into<Json>) {
        self.args.insert(key.to_string(), v.into());
    }
    pub fn files_read_push(&mut self, name: &str, sha256: &str) {
        self.files_read
            .push(serde_json::json!({ "name": name, "sha256": sha256 }));
    }
    pub fn file(&mut self, f: FileRecord) {
        self.files.push(f);
    }
}

fn canonical(
    seq: i64,
    at: &str,
    operator: &str,
    command: &str,
    detail: &str,
    prev: &str,
) -> String {
    // Fields separated by a newline, with the JSON detail as stored: a fixed form that
    // `verify` can recompute byte for byte.
    format!("{seq}\n{at}\n{operator}\n{command}\n{detail}\n{prev}")
}

/// Append an entry in its own statement (callers put it in their transaction when the
/// entry must commit with the work).
pub fn append(
    conn: &Connection,
    at: &str,
    operator: &str,
    command: &str,
    detail: &Detail,
) -> Result<i64> {
    if !conn.is_autocommit() {
        // The caller's transaction holds the write lock: the entry commits with it.
        return append_in(conn, at, operator, command, detail);
    }
    // On its own, reading the chain's head and appending to it must be one write
    // transaction, taken up front: otherwise two commands finishing at once both read
    // the same head, and the second fails on the sequence number (or forks the chain).
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let seq = append_in(&tx, at, operator, command, detail)?;
    tx.commit()?;
    Ok(seq)
}

fn append_in(
    conn: &Connection,
    at: &str,
    operator: &str,
    command: &str,
    detail: &Detail,
) -> Result<i64> {
    let (last_seq, prev): (i64, String) = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, GENESIS.to_string()));
    let seq = last_seq + 1;
    let detail_json = serde_json::to_string(detail)?;
    let hash = sha256_hex(canonical(seq, at, operator, command, &detail_json, &prev).as_bytes());
    conn.execute(
        "INSERT INTO audit_log(seq, at, operator, command, detail, prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7)",
        rusqlite::params![seq, at, operator, command, detail_json, prev, hash],
    )?;
    for f in &detail.files {
        conn.execute(
            "INSERT INTO exports(audit_seq, path, sha256, bytes, at) VALUES (?1,?2,?3,?4,?5)",
            rusqlite::params![seq, f.path, f.sha256, f.bytes as i64, at],
        )?;
    }
    Ok(seq)
}

/// The chain's state.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub entries: i64,
    pub head: String,
    /// The first entry found wrong, with what is wrong with it.
    pub broken: Option<(i64, String)>,
}

pub fn verify(conn: &Connection) -> Result<Verification> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, operator, command, detail, prev_hash, hash FROM audit_log ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_string();
    let mut n = 0i64;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let at: String = r.get(1)?;
        let operator: String = r.get(2)?;
        let command: String = r.get(3)?;
        let detail: String = r.get(4)?;
        let prev_hash: String = r.get(5)?;
        let hash: String = r.get(6)?;
        n += 1;
        let broken = if seq != expected_seq {
            Some((
                expected_seq,
                format!(
                    "記録 {expected_seq} がありません（削除されています）(entry {expected_seq} is missing; the next is {seq})"
                ),
            ))
        } else if prev_hash != prev {
            Some((
                seq,
                format!(
                    "記録 {seq} の前記録ハッシュが一致しません（順序の入替えか削除）(entry {seq} does not chain to entry {}: reordered or an entry removed)",
                    seq - 1
                ),
            ))
        } else if sha256_hex(
            canonical(seq, &at, &operator, &command, &detail, &prev_hash).as_bytes(),
        ) != hash
        {
            Some((
                seq,
                format!("記録 {seq} の内容が書き換えられています (entry {seq} was changed)"),
            ))
        } else {
            None
        };
        if broken.is_some() {
            return Ok(Verification {
                entries: n,
                head: hash,
                broken,
            });
        }
        prev = hash;
        expected_seq += 1;
    }
    Ok(Verification {
        entries: n,
        head: prev,
        broken: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, at TEXT, operator TEXT, command TEXT, detail TEXT, prev_hash TEXT, hash TEXT);
             CREATE TABLE exports(id INTEGER PRIMARY KEY, audit_seq INTEGER, path TEXT, sha256 TEXT, bytes INTEGER, at TEXT);",
        )
        .unwrap();
        for i in 0..4 {
            let mut d = Detail::default();
            d.count("rows", i);
            append(
                &c,
                "2025-06-01T10:00:00+09:00",
                "山田 太郎",
                "steps import",
                &d,
            )
            .unwrap();
        }
        c
    }

    #[test]
    fn intact_chain_verifies() {
        let v = verify(&db()).unwrap();
        assert_eq!(v.entries, 4);
        assert!(v.broken.is_none());
        assert_eq!(v.head.len(), 64);
    }

    #[test]
    fn edit_delete_reorder_are_named() {
        let c = db();
        c.execute("UPDATE audit_log SET operator='x' WHERE seq=2", [])
            .unwrap();
        assert_eq!(verify(&c).unwrap().broken.unwrap().0, 2);

        let c = db();
        c.execute("DELETE FROM audit_log WHERE seq=3", []).unwrap();
        assert_eq!(verify(&c).unwrap().broken.unwrap().0, 3);

        let c = db();
        // Swap the contents of entries 2 and 3, keeping their sequence numbers.
        c.execute_batch(
            "UPDATE audit_log SET seq=100 WHERE seq=2; UPDATE audit_log SET seq=2 WHERE seq=3; UPDATE audit_log SET seq=3 WHERE seq=100;",
        )
        .unwrap();
        assert_eq!(verify(&c).unwrap().broken.unwrap().0, 2);
    }
}
