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

/// What a batch holds, by timing (事前 first): (timing, respondents, answers). Read one
/// questionnaire at a time in the batch index's order (batch, participant, timing), which
/// needs no temporary B-tree: a `count(DISTINCT …)` builds one in memory that grows with
/// the batch (`temp_store=MEMORY`).
pub fn batch_totals(conn: &Connection, batch: i64) -> Result<Vec<(String, i64, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT timing, count(*) FROM survey_answers WHERE batch_id=?1 GROUP BY participant_id, timing",
    )?;
    let mut rows = stmt.query([batch])?;
    // (respondents, answers) for 事前 and 事後, in that order.
    let mut totals = [(0i64, 0i64); 2];
    while let Some(r) = rows.next()? {
        let post = r.get_ref(0)?.as_str()? == "事後";
        let t = &mut totals[usize::from(post)];
        t.0 += 1;
        t.1 += r.get::<_, i64>(1)?;
    }
    Ok(["事前", "事後"]
        .into_iter()
        .zip(totals)
        .filter(|(_, (people, _))| *people > 0)
        .map(|(timing, (people, answers))| (timing.to_string(), people, answers))
        .collect())
}

/// Undo a survey batch: its answers go. Answers never replace one another (a different
/// answer is a conflict), so nothing comes back. The rows removed.
pub fn undo(conn: &Connection, batch: i64) -> Result<usize> {
    Ok(conn.execute("DELETE FROM survey_answers WHERE batch_id=?1", [batch])?)
}

/// This file's first row for each participant and timing, held in a table of the
/// database itself (encrypted like the rest, in SQLite's page cache, spilled to the
/// file) instead of a map or a `temp` table, which `temp_store=MEMORY` keeps in memory:
/// either grows with the program. The table lives only inside the import's transaction:
/// created here, dropped by [`seen_drop`] before the commit (a rolled-back import takes it
/// away with everything else). `first` is the row as the import serialized it, NULL once
/// the key is poisoned (keyed twice differently). Emptied for each import.
pub fn seen_reset(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS main.survey_seen(participant_id TEXT NOT NULL, timing TEXT NOT NULL, \
         first TEXT, PRIMARY KEY(participant_id, timing)) WITHOUT ROWID; DELETE FROM main.survey_seen;",
    )?;
    Ok(())
}

/// `None`: not seen; `Some(None)`: poisoned; `Some(Some(first))`: the first row.
pub fn seen_get(conn: &Connection, pid: &str, timing: &str) -> Result<Option<Option<String>>> {
    Ok(conn
        .prepare_cached("SELECT first FROM main.survey_seen WHERE participant_id=?1 AND timing=?2")?
        .query_row(rusqlite::params![pid, timing], |r| r.get(0))
        .optional()?)
}

/// Record the first row (`Some`) or poison the key (`None`).
pub fn seen_put(conn: &Connection, pid: &str, timing: &str, first: Option<&str>) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO main.survey_seen(participant_id, timing, first) VALUES (?1,?2,?3)",
    )?
    .execute(rusqlite::params![pid, timing, first])?;
    Ok(())
}

/// The table of first rows goes before the import commits: nothing of it is kept (see
/// `db::drop_working_table`).
pub fn seen_drop(conn: &Connection) -> Result<()> {
    super::drop_working_table(conn, "main.survey_seen")
}
