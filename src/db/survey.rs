//! The `survey_answers` table: questionnaire answers by participant, timing (事前・事後)
//! and question, each with the batch and row that keyed it.

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};

/// The answer stored for a question, with the batch that keyed it.
pub fn stored(
    conn: &Connection,
    pid: &str,
    timing: &str,
    question: &str,
) -> Result<Option<(String, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT answer, batch_id FROM survey_answers WHERE participant_id=?1 AND timing=?2 AND question=?3",
        )?
        .query_row(rusqlite::params![pid, timing, question], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

pub fn insert(
    conn: &Connection,
    pid: &str,
    timing: &str,
    question: &str,
    answer: &str,
    batch: i64,
    row: u32,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO survey_answers(participant_id, timing, question, answer, batch_id, src_row) VALUES (?1,?2,?3,?4,?5,?6)",
    )?
    .execute(rusqlite::params![pid, timing, question, answer, batch, row])?;
    Ok(())
}

/// Take a questionnaire this batch stored back out (keyed again with other answers).
pub fn take_back(conn: &Connection, pid: &str, timing: &str, batch: i64) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM survey_answers WHERE participant_id=?1 AND timing=?2 AND batch_id=?3",
    )?
    .execute(rusqlite::params![pid, timing, batch])?;
    Ok(())
}

/// What a batch holds, by timing (事前 first): (timing, respondents, answers).
pub fn batch_totals(conn: &Connection, batch: i64) -> Result<Vec<(String, i64, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT timing, count(DISTINCT participant_id), count(*) FROM survey_answers WHERE batch_id=?1 \
         GROUP BY timing ORDER BY timing = '事後'",
    )?;
    let rows = stmt
        .query_map([batch], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Undo a survey batch: its answers go. Answers never replace one another (a different
/// answer is a conflict), so nothing comes back. The rows removed.
pub fn undo(conn: &Connection, batch: i64) -> Result<usize> {
    Ok(conn.execute("DELETE FROM survey_answers WHERE batch_id=?1", [batch])?)
}

/// This file's first row for each participant and timing, held in a temporary table
/// (on disk, in SQLite's page cache) instead of a map that grows with the program:
/// `first` is the row as the import serialized it, NULL once the key is poisoned (keyed
/// twice differently). Emptied for each import.
pub fn seen_reset(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS survey_seen(participant_id TEXT NOT NULL, timing TEXT NOT NULL, \
         first TEXT, PRIMARY KEY(participant_id, timing)) WITHOUT ROWID; DELETE FROM temp.survey_seen;",
    )?;
    Ok(())
}

/// `None`: not seen; `Some(None)`: poisoned; `Some(Some(first))`: the first row.
pub fn seen_get(conn: &Connection, pid: &str, timing: &str) -> Result<Option<Option<String>>> {
    Ok(conn
        .prepare_cached("SELECT first FROM temp.survey_seen WHERE participant_id=?1 AND timing=?2")?
        .query_row(rusqlite::params![pid, timing], |r| r.get(0))
        .optional()?)
}

/// Record the first row (`Some`) or poison the key (`None`).
pub fn seen_put(conn: &Connection, pid: &str, timing: &str, first: Option<&str>) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO temp.survey_seen(participant_id, timing, first) VALUES (?1,?2,?3)",
    )?
    .execute(rusqlite::params![pid, timing, first])?;
    Ok(())
}
