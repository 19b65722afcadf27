//! Who keyed what (入力品質): the verification runs and their discrepancies, their
//! resolution by a later steps batch, the importer's refusals per keyer, and the reads
//! the quality report is built from (`crate::quality`).

use crate::quality::{
    decide, Counted, Discrepancy, Field, Keying, Kind, Loc, Refusals, Seen, Wrong,
};
use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// One verification run as recorded: who keyed each file, its content and its cells.
pub struct Run<'a> {
    pub at: &'a str,
    pub operator: &'a str,
    /// (keyed by, file, SHA-256, rows, steps cells) of the first and the second keying.
    pub first: (&'a str, &'a str, &'a str, u64, u64),
    pub second: (&'a str, &'a str, &'a str, u64, u64),
    pub agreeing: u64,
}

/// Record a verification run and its discrepancies; `None` when the same two files were
/// already verified (their discrepancies are recorded once).
pub fn record_run(conn: &Connection, r: &Run<'_>, discs: &[Discrepancy]) -> Result<Option<i64>> {
    let tx = conn.unchecked_transaction()?;
    let n = tx.execute(
        "INSERT OR IGNORE INTO verify_runs(at, operator, first_keyed_by, first_file, first_sha256, first_rows, first_cells, \
         second_keyed_by, second_file, second_sha256, second_rows, second_cells, agreeing) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
        params![
            r.at, r.operator, r.first.0, r.first.1, r.first.2, r.first.3 as i64, r.first.4 as i64,
            r.second.0, r.second.1, r.second.2, r.second.3 as i64, r.second.4 as i64, r.agreeing as i64
        ],
    )?;
    if n == 0 {
        return Ok(None);
    }
    let run = tx.last_insert_rowid();
    {
        let mut st = tx.prepare(
            "INSERT INTO verify_discrepancies(run_id, field, kind, first_participant_id, first_date, first_steps, \
             second_participant_id, second_date, second_steps) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        )?;
        let parts = |l: &Option<Loc>| match l {
            Some(l) => (
                Some(l.participant.clone()),
                Some(l.date.to_string()),
                l.steps,
            ),
            None => (None, None, None),
        };
        for d in discs {
            let (p1, d1, s1) = parts(&d.first);
            let (p2, d2, s2) = parts(&d.second);
            st.execute(params![
                run,
                d.field.code(),
                d.kind.code(),
                p1,
                d1,
                s1,
                p2,
                d2,
                s2
            ])?;
        }
    }
    tx.commit()?;
    Ok(Some(run))
}

/// What batch `batch` keyed at a participant and day: whether it keyed that
/// participant's month, and the value now stored for that day.
fn seen(conn: &Connection, batch: i64, pid: Option<&str>, date: Option<&str>) -> Result<Seen> {
    let (Some(pid), Some(date)) = (pid, date) else {
        return Ok(Seen::default());
    };
    let month = date.get(..7).unwrap_or(date);
    let keyed = conn
        .prepare_cached(
            "SELECT 1 FROM steps WHERE batch_id=?1 AND participant_id=?2 AND date >= ?3 || '-01' AND date <= ?3 || '-31'",
        )?
        .exists(params![batch, pid, month])?;
    let stored: Option<i64> = conn
        .prepare_cached("SELECT steps FROM steps WHERE participant_id=?1 AND date=?2")?
        .query_row(params![pid, date], |r| r.get(0))
        .optional()?;
    Ok(Seen { keyed, stored })
}

/// Settle the open discrepancies that batch `batch` (just imported, or just marked
/// verified) keyed again: which side was wrong. The number settled.
pub fn resolve(conn: &Connection, batch: i64, at: &str) -> Result<u64> {
    type Open = (
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let open: Vec<Open> = conn
        .prepare(
            "SELECT id, kind, first_participant_id, first_date, first_steps, second_participant_id, second_date, second_steps \
             FROM verify_discrepancies WHERE wrong IS NULL ORDER BY id",
        )?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut settled = 0;
    for (id, kind, p1, d1, s1, p2, d2, s2) in open {
        let Some(kind) = Kind::from_code(&kind) else {
            continue;
        };
        let at1 = seen(conn, batch, p1.as_deref(), d1.as_deref())?;
        let at2 = seen(conn, batch, p2.as_deref(), d2.as_deref())?;
        if let Some(w) = decide(kind, s1, s2, at1, at2) {
            conn.execute(
                "UPDATE verify_discrepancies SET wrong=?2, resolved_batch=?3, resolved_at=?4 WHERE id=?1",
                params![id, w.code(), batch, at],
            )?;
            settled += 1;
        }
    }
    Ok(settled)
}

/// An undone batch settles nothing: what it settled is open again.
pub fn reopen(conn: &Connection, batch: i64) -> Result<()> {
    conn.execute(
        "UPDATE verify_discrepancies SET wrong=NULL, resolved_batch=NULL, resolved_at=NULL WHERE resolved_batch=?1",
        [batch],
    )?;
    Ok(())
}

/// Count the importer's refusals of one keyer's file by code (once per file content).
pub fn record_refusals(
    conn: &Connection,
    keyed_by: &str,
    file_name: &str,
    sha256: &str,
    at: &str,
    by_code: &[(&str, u64)],
) -> Result<()> {
    let mut st = conn.prepare(
        "INSERT OR IGNORE INTO keying_refusals(keyed_by, sha256, code, count, file_name, at) VALUES (?1,?2,?3,?4,?5,?6)",
    )?;
    for (code, n) in by_code {
        st.execute(params![keyed_by, sha256, code, *n as i64, file_name, at])?;
    }
    Ok(())
}

/// Every keying in the order keyed: committed steps batches and both sides of each
/// verification run.
pub fn keyings(conn: &Connection) -> Result<Vec<Keying>> {
    let mut all: Vec<(String, i64, Keying)> = Vec::new();
    let mut st = conn.prepare(
        // A batch from before keyers were recorded was keyed by its operator (the default).
        "SELECT imported_at, id, coalesce(keyed_by, operator), sha256, rows_read, steps_cells FROM batches \
         WHERE kind='steps' AND status='committed'",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)? * 2,
            Keying {
                keyed_by: r.get(2)?,
                sha256: r.get(3)?,
                partner: None,
                rows: r.get::<_, i64>(4)? as u64,
                steps_cells: r.get::<_, i64>(5)? as u64,
            },
        ))
    })?;
    for r in rows {
        all.push(r?);
    }
    let mut st = conn.prepare(
        "SELECT at, id, first_keyed_by, first_sha256, first_rows, first_cells, \
         second_keyed_by, second_sha256, second_rows, second_cells FROM verify_runs",
    )?;
    let rows = st.query_map([], |r| {
        let side = |k: usize, other: usize| -> rusqlite::Result<Keying> {
            Ok(Keying {
                keyed_by: r.get(k)?,
                sha256: r.get(k + 1)?,
                partner: Some(r.get(other + 1)?),
                rows: r.get::<_, i64>(k + 2)? as u64,
                steps_cells: r.get::<_, i64>(k + 3)? as u64,
            })
        };
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            side(2, 6)?,
            side(6, 2)?,
        ))
    })?;
    for r in rows {
        let (at, id, a, b) = r?;
        all.push((at.clone(), id * 2 + 1, a));
        all.push((at, id * 2 + 1, b));
    }
    // By time; a batch and a run at the same second in the order they were made.
    all.sort_by(|x, y| (&x.0, x.1).cmp(&(&y.0, y.1)));
    Ok(all.into_iter().map(|(_, _, k)| k).collect())
}

/// Every discrepancy with its two keyers and, once settled, the side that was wrong.
pub fn counted(conn: &Connection) -> Result<Vec<Counted>> {
    let mut st = conn.prepare(
        "SELECT d.field, r.first_keyed_by, r.second_keyed_by, d.wrong FROM verify_discrepancies d \
         JOIN verify_runs r ON r.id = d.run_id ORDER BY d.id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (field, a, b, wrong) = r?;
        out.push(Counted {
            field: Field::from_code(&field).unwrap_or(Field::Steps),
            first_keyed_by: a,
            second_keyed_by: b,
            wrong: wrong.as_deref().and_then(Wrong::from_code),
        });
    }
    Ok(out)
}

/// The refusals per keyer and code.
pub fn refusals(conn: &Connection) -> Result<Vec<Refusals>> {
    let mut st = conn.prepare(
        "SELECT keyed_by, code, sum(count) FROM keying_refusals GROUP BY keyed_by, code ORDER BY keyed_by, code",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Refusals {
            keyed_by: r.get(0)?,
            code: r.get(1)?,
            count: r.get::<_, i64>(2)? as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many verification runs were recorded.
pub fn runs(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT count(*) FROM verify_runs", [], |r| {
        r.get::<_, i64>(0)
    })? as u64)
}

/// The whole report, read from the database.
pub fn quality(conn: &Connection) -> Result<crate::quality::Quality> {
    Ok(crate::quality::build(
        &keyings(conn)?,
        &counted(conn)?,
        &refusals(conn)?,
        runs(conn)?,
    ))
}
