//! What the handling-status report reads from the database: the `exports` index, and
//! the rows every table holds now with the breakdowns the report shows beside them.

use anyhow::Result;
use rusqlite::Connection;

/// One row of the `exports` index.
#[derive(Debug, Clone)]
pub struct IndexedExport {
    pub seq: i64,
    pub at: String,
    pub path: String,
    pub sha256: String,
    pub bytes: i64,
}

/// The `exports` index in audit order.
pub fn exports_index(conn: &Connection) -> Result<Vec<IndexedExport>> {
    let mut stmt = conn
        .prepare("SELECT audit_seq, at, path, sha256, bytes FROM exports ORDER BY audit_seq, id")?;
    let rows = stmt.query_map([], |r| {
        Ok(IndexedExport {
            seq: r.get(0)?,
            at: r.get(1)?,
            path: r.get(2)?,
            sha256: r.get(3)?,
            bytes: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every table of the database (SQLite's own left out), by name.
pub fn table_names(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

/// Rows in one table (named as `table_names` gives it).
pub fn row_count(conn: &Connection, table: &str) -> Result<i64> {
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    Ok(conn.query_row(&format!("SELECT count(*) FROM {quoted}"), [], |r| r.get(0))?)
}

/// Participants per channel (利用区分), channels in descending order.
pub fn participants_by_channel(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT channel, count(*) FROM participants GROUP BY channel ORDER BY channel DESC",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// People with stored steps, and the first and last date stored.
pub fn steps_span(conn: &Connection) -> Result<(i64, Option<String>, Option<String>)> {
    Ok(conn.query_row(
        "SELECT count(DISTINCT participant_id), min(date), max(date) FROM steps",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// Batches no longer committed (undone).
pub fn undone_batches(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM batches WHERE status <> 'committed'",
        [],
        |r| r.get(0),
    )?)
}
