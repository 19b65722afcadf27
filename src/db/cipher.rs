//! Moving a database as earlier builds wrote it (plain SQLite) into an encrypted one
//! (`stepcard encrypt`): SQLCipher's `sqlcipher_export` copies schema and rows, then
//! both are compared table by table (row counts and a SHA-256 over every row in a fixed
//! order) before the old file may be erased.

use anyhow::{bail, Result};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::path::Path;

/// One table's row count and content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDigest {
    pub table: String,
    pub rows: i64,
    pub sha256: String,
}

/// Copy every table of `old` (an open plain database) into the new file `new` (created
/// empty and owner-only by the caller), encrypted with `key`.
pub fn export_encrypted(old: &Connection, new: &Path, key: &crate::keys::DbKey) -> Result<()> {
    let version: i64 = old.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    old.execute(
        &format!("ATTACH DATABASE ?1 AS enc KEY \"x'{}'\"", key.hex()),
        [new.to_string_lossy()],
    )?;
    let res = (|| -> Result<()> {
        old.execute_batch("PRAGMA enc.cipher_page_size = 65536;")?;
        if let Some(alg) = key.hmac_algorithm() {
            old.execute_batch(&format!("PRAGMA enc.cipher_hmac_algorithm = {alg};"))?;
        }
        old.query_row("SELECT sqlcipher_export('enc')", [], |_| Ok(()))?;
        old.execute_batch(&format!("PRAGMA enc.user_version = {version};"))?;
        Ok(())
    })();
    let detached = old.execute_batch("DETACH DATABASE enc");
    res?;
    detached?;
    Ok(())
}

/// Every table's row count and a SHA-256 over its rows, each value with its type, rows
/// ordered by every column (so two copies agree whatever order they were written in).
pub fn table_digests(conn: &Connection) -> Result<Vec<TableDigest>> {
    let names: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let v = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        v
    };
    let mut out = Vec::new();
    for t in names {
        let quoted = format!("\"{}\"", t.replace('"', "\"\""));
        let mut stmt = conn.prepare(&format!("SELECT * FROM {quoted} LIMIT 0"))?;
        let n = stmt.column_count();
        let order = (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        stmt = conn.prepare(&format!("SELECT * FROM {quoted} ORDER BY {order}"))?;
        let mut rows = stmt.query([])?;
        let mut h = Sha256::new();
        let mut count = 0i64;
        while let Some(r) = rows.next()? {
            count += 1;
            for i in 0..n {
                match r.get_ref(i)? {
                    ValueRef::Null => h.update(b"N"),
                    ValueRef::Integer(v) => {
                        h.update(b"I");
                        h.update(v.to_le_bytes());
                    }
                    ValueRef::Real(v) => {
                        h.update(b"R");
                        h.update(v.to_le_bytes());
                    }
                    ValueRef::Text(b) | ValueRef::Blob(b) => {
                        h.update(b"T");
                        h.update((b.len() as u64).to_le_bytes());
                        h.update(b);
                    }
                }
            }
            h.update(b"\n");
        }
        out.push(TableDigest {
            table: t,
            rows: count,
            sha256: crate::keys::hex(&h.finalize()),
        });
    }
    Ok(out)
}

/// The tables whose copies differ, named with both counts.
pub fn differences(old: &[TableDigest], new: &[TableDigest]) -> Vec<String> {
    let mut out = Vec::new();
    for o in old {
        match new.iter().find(|n| n.table == o.table) {
            None => out.push(format!("{}: 新しいデータベースにありません", o.table)),
            Some(n) if n != o => out.push(format!(
                "{}: 件数 {} → {}、内容のハッシュが違います",
                o.table, o.rows, n.rows
            )),
            _ => {}
        }
    }
    for n in new {
        if !old.iter().any(|o| o.table == n.table) {
            out.push(format!("{}: 元のデータベースにない表です", n.table));
        }
    }
    out
}

/// Refuse to go on when the copies differ.
pub fn check_same(old: &[TableDigest], new: &[TableDigest], out: &Path) -> Result<()> {
    let diff = differences(old, new);
    if !diff.is_empty() {
        bail!(
            "{}: 暗号化した複製が元と一致しません。元のデータベースは消去していません (the encrypted copy differs; nothing erased):\n  {}",
            out.display(),
            diff.join("\n  ")
        );
    }
    Ok(())
}
