//! What `stepcard status` reads: counts of what the database holds, no personal value.

use anyhow::Result;
use rusqlite::Connection;

/// The database's holdings, counted.
#[derive(Debug, Default)]
pub struct Holdings {
    pub participants: i64,
    /// (kind, committed, undone)
    pub batches: Vec<(String, i64, i64)>,
    pub step_days: i64,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    pub orders_accepted: i64,
    pub orders_shipped: i64,
    pub orders_rejected: i64,
    pub shipments: i64,
    pub mailings: i64,
    pub guidance_mailed: i64,
    pub survey_answers: i64,
    pub copies: i64,
}

fn count(conn: &Connection, sql: &str) -> Result<i64> {
    Ok(conn.query_row(sql, [], |r| r.get(0))?)
}

pub fn holdings(conn: &Connection) -> Result<Holdings> {
    let mut h = Holdings {
        participants: count(conn, "SELECT count(*) FROM participants")?,
        step_days: count(conn, "SELECT count(*) FROM steps")?,
        orders_accepted: count(
            conn,
            "SELECT count(*) FROM orders WHERE status='accepted' AND shipment_id IS NULL",
        )?,
        orders_shipped: count(
            conn,
            "SELECT count(*) FROM orders WHERE status='accepted' AND shipment_id IS NOT NULL",
        )?,
        orders_rejected: count(conn, "SELECT count(*) FROM orders WHERE status='rejected'")?,
        shipments: count(conn, "SELECT count(*) FROM shipments")?,
        mailings: count(conn, "SELECT count(*) FROM mailings")?,
        guidance_mailed: count(
            conn,
            "SELECT count(DISTINCT participant_id) FROM guidance_mailed",
        )?,
        survey_answers: count(
            conn,
            "SELECT count(*) FROM (SELECT DISTINCT participant_id, timing FROM survey_answers)",
        )?,
        copies: count(conn, "SELECT count(*) FROM exports")?,
        ..Default::default()
    };
    (h.first_day, h.last_day) =
        conn.query_row("SELECT min(date), max(date) FROM steps", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut stmt = conn.prepare(
        "SELECT kind, sum(status='committed'), sum(status<>'committed') FROM batches \
         GROUP BY kind ORDER BY min(id)",
    )?;
    h.batches = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(h)
}
