//! The `participants` table: the roster as stored, its history, and the reads other
//! parts need (the set of participant numbers rows are checked against).

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashSet;

pub use crate::validate::roster::Participant;

const COLUMNS: &str =
    "id, name, name_kana, postal_code, address, address2, birth_date, age, sex, phone, channel, email";

impl Participant {
    pub fn load(conn: &Connection, id: &str) -> rusqlite::Result<Option<Participant>> {
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM participants WHERE id=?1"),
            [id],
            Participant::from_row,
        )
        .optional()
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Participant> {
        Ok(Participant {
            id: r.get(0)?,
            name: r.get(1)?,
            name_kana: r.get(2)?,
            postal_code: r.get(3)?,
            address: r.get(4)?,
            address2: r.get(5)?,
            birth_date: r.get(6)?,
            age: r.get(7)?,
            sex: r.get(8)?,
            phone: r.get(9)?,
            channel: r.get(10)?,
            email: r.get(11)?,
        })
    }
}

/// Every stored participant in number order, each handed to `f`.
pub fn each(conn: &Connection, mut f: impl FnMut(Participant) -> Result<()>) -> Result<()> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM participants ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(Participant::from_row(r)?)?;
    }
    Ok(())
}

/// A new participant, registered by `batch`.
pub fn insert(conn: &Connection, p: &Participant, batch: i64) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO participants({COLUMNS}, batch_id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"),
        rusqlite::params![p.id, p.name, p.name_kana, p.postal_code, p.address, p.address2, p.birth_date, p.age, p.sex, p.phone, p.channel, p.email, batch],
    )?;
    Ok(())
}

/// The one write of a participant's registered values: `updated_by` is the batch that
/// changed them (`None`: the values of before any update, put back by an undo).
fn set(conn: &Connection, p: &Participant, updated_by: Option<i64>) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE participants SET name=?2, name_kana=?3, postal_code=?4, address=?5, address2=?6, birth_date=?7, \
         age=?8, sex=?9, phone=?10, channel=?11, email=?12, updated_batch_id=?13 WHERE id=?1",
        rusqlite::params![p.id, p.name, p.name_kana, p.postal_code, p.address, p.address2, p.birth_date, p.age, p.sex, p.phone, p.channel, p.email, updated_by],
    )?)
}

/// `--update`: the participant's new values, the old ones kept in history for undo.
pub fn update(
    conn: &Connection,
    p: &Participant,
    old: &Participant,
    batch: i64,
    at: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO participant_history(participant_id, batch_id, old_json, changed_at) VALUES (?1,?2,?3,?4)",
        rusqlite::params![p.id, batch, serde_json::to_string(old)?, at],
    )?;
    set(conn, p, Some(batch))?;
    Ok(())
}

/// Undo a roster batch: refused while its participants have steps, orders or answers;
/// the participants it updated get their earlier values back (a changed birth date or
/// age can change which point table applies), and those it registered go.
pub fn undo(conn: &Connection, batch: i64) -> Result<super::Undone> {
    let id = batch;
    let depending = |table: &str| -> Result<Vec<String>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT DISTINCT p.id FROM participants p JOIN {table} x ON x.participant_id = p.id \
             WHERE p.batch_id=?1 ORDER BY p.id"
        ))?;
        let ids = stmt
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    };
    for (table, what, first) in [
        ("steps", "歩数が記録されている", "歩数の取込み"),
        ("orders", "景品の申込みがある", "申込みの取込み"),
        ("survey_answers", "アンケートの回答がある", "回答の取込み"),
    ] {
        let ids = depending(table)?;
        if !ids.is_empty() {
            anyhow::bail!(
                "取込み {id} で登録した参加者 {} 名には{what}ため、取り消せません。先に{first}を取り消してください: {}",
                ids.len(),
                ids.iter().take(20).cloned().collect::<Vec<_>>().join("、")
            );
        }
    }
    let (affected, restored) = restore_updated_by(conn, id)?;
    let removed = conn.execute("DELETE FROM participants WHERE batch_id=?1", [id])?;
    Ok(super::Undone {
        removed,
        restored,
        affected,
    })
}

/// Undo a roster batch's updates: every participant it changed gets its earlier values
/// back (newest change first). The participants changed, and how many rows were restored.
fn restore_updated_by(conn: &Connection, batch: i64) -> Result<(Vec<String>, usize)> {
    let mut stmt = conn.prepare(
        "SELECT participant_id, old_json FROM participant_history WHERE batch_id=?1 ORDER BY id DESC",
    )?;
    let olds: Vec<(String, String)> = stmt
        .query_map([batch], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    drop(stmt);
    let mut changed = Vec::new();
    let mut restored = 0;
    for (pid, json) in olds {
        let p: Participant = serde_json::from_str(&json)?;
        changed.push(pid);
        restored += set(conn, &p, None)?;
    }
    conn.execute("DELETE FROM participant_history WHERE batch_id=?1", [batch])?;
    Ok((changed, restored))
}

/// The stored participant numbers, for checking rows against the roster.
pub fn ids(conn: &Connection) -> Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT id FROM participants")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<HashSet<String>>>()?;
    Ok(ids)
}

/// Whether the participant is in the roster.
pub fn exists(conn: &Connection, pid: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM participants WHERE id=?1")?
        .exists([pid])?)
}

/// A participant's postal code and address (`None`: not in the roster).
#[allow(clippy::type_complexity)]
pub fn postal_and_address(
    conn: &Connection,
    pid: &str,
) -> Result<Option<(Option<String>, Option<String>)>> {
    Ok(conn
        .query_row(
            "SELECT postal_code, address FROM participants WHERE id=?1",
            [pid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The rows of the roster file being imported, by participant number (its first row
/// for each), held in a table of the database itself (encrypted like the rest, in
/// SQLite's bounded page cache) instead of a map that grows with the roster. The table
/// lives only inside the import's transaction: created by the first row, dropped by
/// [`seen_drop`] before the commit (a rolled-back import takes it away with the rest).
pub fn seen_reset(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS main.stepcard_roster_seen(pid TEXT PRIMARY KEY, row INTEGER NOT NULL) \
         WITHOUT ROWID; DELETE FROM main.stepcard_roster_seen;",
    )?;
    Ok(())
}

/// The file's row that first named `pid`, or note `row` as that row (then `None`).
pub fn seen_first(conn: &Connection, pid: &str, row: u32) -> Result<Option<u32>> {
    let first = conn
        .prepare_cached("SELECT row FROM main.stepcard_roster_seen WHERE pid = ?1")?
        .query_row([pid], |r| r.get(0))
        .optional()?;
    if first.is_none() {
        conn.prepare_cached("INSERT INTO main.stepcard_roster_seen(pid, row) VALUES (?1, ?2)")?
            .execute(rusqlite::params![pid, row])?;
    }
    Ok(first)
}

/// The table of first rows goes before the import commits.
pub fn seen_drop(conn: &Connection) -> Result<()> {
    super::drop_working_table(conn, "main.stepcard_roster_seen")
}
