//! The points read model: the stored steps streamed through the pure scoring of
//! `crate::points` (ordered by participant and date, one pass, nothing loaded whole),
//! and the points accepted orders used.

use crate::points::{parse_iso, rules_age, Score, Scorer, Summary, Tally};
use crate::program::Program;
use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::Connection;
use std::collections::HashMap;

/// Points used by accepted orders, per participant (orders applied on or before
/// `as_of` when given).
pub fn used_points(conn: &Connection, as_of: Option<NaiveDate>) -> Result<HashMap<String, i64>> {
    let as_of = as_of.map(|d| d.format("%Y-%m-%d").to_string());
    let mut stmt = conn.prepare(
        "SELECT participant_id, SUM(points) FROM orders WHERE status='accepted' \
         AND (?1 IS NULL OR applied_on <= ?1) GROUP BY participant_id",
    )?;
    let map = stmt
        .query_map([as_of], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<HashMap<String, i64>>>()?;
    Ok(map)
}

/// Every participant's summary, in participant order, streaming the steps table once
/// (ordered by its key, so SQLite reads it in place with no sort). Participants with no
/// steps get a line too. Three cursors run side by side in participant order (the
/// roster, the steps, the points used), merged as they go: nothing grows with the
/// number of participants.
pub fn for_each_participant(
    conn: &Connection,
    scorer: &Scorer,
    as_of: Option<NaiveDate>,
    mut f: impl FnMut(Summary) -> Result<()>,
) -> Result<()> {
    let start = scorer.start();
    let mut people_stmt =
        conn.prepare("SELECT id, birth_date, age FROM participants ORDER BY id")?;
    let mut people_rows = people_stmt.query([])?;
    let next_person = |rows: &mut rusqlite::Rows<'_>| -> Result<Option<(String, Option<u32>)>> {
        Ok(match rows.next()? {
            Some(r) => {
                let bd: Option<String> = r.get(1)?;
                let age: Option<i64> = r.get(2)?;
                Some((r.get::<_, String>(0)?, rules_age(bd.as_deref(), age, start)))
            }
            None => None,
        })
    };
    let mut person = next_person(&mut people_rows)?;
    let as_of = as_of.map(|d| d.format("%Y-%m-%d").to_string());
    let mut used_stmt = conn.prepare(
        "SELECT participant_id, SUM(points) FROM orders WHERE status='accepted' \
         AND (?1 IS NULL OR applied_on <= ?1) GROUP BY participant_id ORDER BY participant_id",
    )?;
    let mut used = UsedCursor::new(used_stmt.query([as_of])?)?;
    let mut summary = |pid: String, score: Score| -> Result<()> {
        let used = used.take(&pid)?;
        f(Summary {
            participant_id: pid,
            score,
            used,
        })
    };

    let mut current: Option<(String, Tally<'_>)> = None;
    each_step(conn, |pid, date, steps| {
        if current.as_ref().is_none_or(|(p, _)| p != pid) {
            if let Some((p, t)) = current.take() {
                summary(p, t.finish())?;
            }
            // Participants with no steps before this one.
            while person.as_ref().is_some_and(|(p, _)| p.as_str() < pid) {
                if let Some((p, age)) = person.take() {
                    summary(p, scorer.tally(scorer.table_for(age)).finish())?;
                }
                person = next_person(&mut people_rows)?;
            }
            let age = match &person {
                Some((p, age)) if p == pid => {
                    let age = *age;
                    person = next_person(&mut people_rows)?;
                    age
                }
                // Steps of someone not in the roster (not reachable through the
                // imports, which check the roster): scored with the standard table.
                _ => None,
            };
            current = Some((pid.to_string(), scorer.tally(scorer.table_for(age))));
        }
        if let (Some(d), Some((_, t))) = (parse_iso(date), current.as_mut()) {
            t.add(d, steps);
        }
        Ok(())
    })?;
    if let Some((p, t)) = current.take() {
        summary(p, t.finish())?;
    }
    while let Some((p, age)) = person.take() {
        summary(p, scorer.tally(scorer.table_for(age)).finish())?;
        person = next_person(&mut people_rows)?;
    }
    Ok(())
}

/// The points accepted orders used, per participant in participant order (read through
/// the orders' participant index, nothing held), asked for in increasing order.
struct UsedCursor<'c> {
    rows: rusqlite::Rows<'c>,
    next: Option<(String, i64)>,
}

impl<'c> UsedCursor<'c> {
    fn new(mut rows: rusqlite::Rows<'c>) -> Result<Self> {
        let next = Self::read(&mut rows)?;
        Ok(UsedCursor { rows, next })
    }

    fn read(rows: &mut rusqlite::Rows<'c>) -> Result<Option<(String, i64)>> {
        Ok(match rows.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?)),
            None => None,
        })
    }

    /// The points `pid` used (0 when none); ids below it are passed over.
    fn take(&mut self, pid: &str) -> Result<i64> {
        while let Some((p, n)) = &self.next {
            match p.as_str().cmp(pid) {
                std::cmp::Ordering::Less => self.next = Self::read(&mut self.rows)?,
                std::cmp::Ordering::Equal => {
                    let n = *n;
                    self.next = Self::read(&mut self.rows)?;
                    return Ok(n);
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        Ok(0)
    }
}

/// The rules age of one stored participant (`None` also when not in the roster).
pub fn participant_age(conn: &Connection, scorer: &Scorer, pid: &str) -> Result<Option<u32>> {
    use rusqlite::OptionalExtension;
    let row: Option<(Option<String>, Option<i64>)> = conn
        .query_row(
            "SELECT birth_date, age FROM participants WHERE id=?1",
            [pid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(bd, age)| rules_age(bd.as_deref(), age, scorer.start())))
}

/// One participant's score from the stored steps.
pub fn participant_score(conn: &Connection, scorer: &Scorer, pid: &str) -> Result<Score> {
    let age = participant_age(conn, scorer, pid)?;
    let mut t = scorer.tally(scorer.table_for(age));
    let mut stmt =
        conn.prepare_cached("SELECT date, steps FROM steps WHERE participant_id=?1 ORDER BY date")?;
    let mut rows = stmt.query([pid])?;
    while let Some(r) = rows.next()? {
        if let Some(d) = parse_iso(r.get_ref(0)?.as_str()?) {
            t.add(d, r.get(1)?);
        }
    }
    Ok(t.finish())
}

/// Participants among `pids` whose earned points (all stored days) are below the points
/// their accepted orders used: `(participant, earned, used)`, in id order. The guard
/// an undo runs inside its transaction, after taking the rows out.
pub fn overdrawn(
    conn: &Connection,
    program: &Program,
    pids: &[String],
) -> Result<Vec<(String, i64, i64)>> {
    let scorer = Scorer::new(program, None);
    let mut out = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT COALESCE(SUM(points),0) FROM orders WHERE status='accepted' AND participant_id=?1",
    )?;
    let mut pids: Vec<&String> = pids.iter().collect();
    pids.sort();
    pids.dedup();
    for pid in pids {
        let used: i64 = stmt.query_row([pid], |r| r.get(0))?;
        if used == 0 {
            continue;
        }
        let earned = participant_score(conn, &scorer, pid)?.earned();
        if earned < used {
            out.push((pid.clone(), earned, used));
        }
    }
    Ok(out)
}

/// Every stored day as `(participant, date, steps)`, ordered by the table's key (read in
/// place, no sort, nothing held).
pub fn each_step(
    conn: &Connection,
    mut f: impl FnMut(&str, &str, i64) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn
        .prepare("SELECT participant_id, date, steps FROM steps ORDER BY participant_id, date")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(r.get_ref(0)?.as_str()?, r.get_ref(1)?.as_str()?, r.get(2)?)?;
    }
    Ok(())
}

/// One stored day of a participant's ledger.
#[derive(Debug, Clone)]
pub struct LedgerDay {
    pub date: String,
    pub steps: i64,
    pub batch: i64,
}

/// One participant's stored days, in date order (a year at most: held whole).
pub fn ledger_days(conn: &Connection, pid: &str) -> Result<Vec<LedgerDay>> {
    let mut stmt = conn
        .prepare("SELECT date, steps, batch_id FROM steps WHERE participant_id=?1 ORDER BY date")?;
    let rows = stmt.query_map([pid], |r| {
        Ok(LedgerDay {
            date: r.get(0)?,
            steps: r.get(1)?,
            batch: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One order of a participant's ledger.
#[derive(Debug, Clone)]
pub struct LedgerOrder {
    pub applied_on: String,
    pub prize_code: String,
    pub quantity: i64,
    pub accepted: bool,
    /// The rejection's code.
    pub code: Option<String>,
    pub points: i64,
    pub batch: i64,
}

/// One participant's orders applied on or before `as_of` (all when `None`), in the
/// order they were applied.
pub fn ledger_orders(
    conn: &Connection,
    pid: &str,
    as_of: Option<NaiveDate>,
) -> Result<Vec<LedgerOrder>> {
    let mut stmt = conn.prepare(
        "SELECT applied_on, prize_code, quantity, status, code, points, batch_id FROM orders \
         WHERE participant_id=?1 AND (?2 IS NULL OR applied_on <= ?2) ORDER BY applied_on, id",
    )?;
    let rows = stmt.query_map(rusqlite::params![pid, as_of.map(|d| d.to_string())], |r| {
        Ok(LedgerOrder {
            applied_on: r.get(0)?,
            prize_code: r.get(1)?,
            quantity: r.get(2)?,
            accepted: r.get::<_, String>(3)? == "accepted",
            code: r.get(4)?,
            points: r.get(5)?,
            batch: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
