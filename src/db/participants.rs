//! The `participants` table: the roster as stored, its history, and the reads other
//! parts need (the set of participant numbers rows are checked against).

use anyhow::Result;
use rusqlite::Connection;
use std::collections::HashSet;

/// The stored participant numbers, for checking rows against the roster.
pub fn ids(conn: &Connection) -> Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT id FROM participants")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<HashSet<String>>>()?;
    Ok(ids)
}
