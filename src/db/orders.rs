//! The `orders` table: prize applications as decided (accepted or rejected, with the
//! code and message of a refusal), and the sums the decisions need.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension, Statement};
use std::collections::HashMap;

/// Accepted quantity of every prize.
pub fn accepted_by_prize(conn: &Connection) -> Result<HashMap<String, i64>> {
    let mut t = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT prize_code, SUM(quantity) FROM orders WHERE status='accepted' GROUP BY prize_code",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        t.insert(r.get::<_, String>(0)?, r.get::<_, i64>(1)?);
    }
    Ok(t)
}

/// Points a participant's accepted orders used.
pub fn points_used(conn: &Connection, pid: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(points),0) FROM orders WHERE status='accepted' AND participant_id=?1",
        [pid],
        |r| r.get(0),
    )?)
}

/// One participant's stored days in date order (days that are not dates left out):
/// what an application's balance on its 申込日 is scored from.
pub fn participant_days(conn: &Connection, pid: &str) -> Result<Vec<(chrono::NaiveDate, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT date, steps FROM steps WHERE participant_id=?1 ORDER BY date")?;
    let mut rows = stmt.query([pid])?;
    let mut days = Vec::new();
    while let Some(r) = rows.next()? {
        if let Some(d) = crate::points::parse_iso(r.get_ref(0)?.as_str()?) {
            days.push((d, r.get(1)?));
        }
    }
    Ok(days)
}

/// Quantity of a prize a participant's accepted orders hold. Looked up by the
/// participant's index (`+prize_code` keeps SQLite from choosing the prize's index, which
/// would scan every accepted order of the prize for each participant).
pub fn accepted_quantity(conn: &Connection, pid: &str, prize_code: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(quantity),0) FROM orders WHERE status='accepted' AND participant_id=?1 AND +prize_code=?2",
        [pid, prize_code],
        |r| r.get(0),
    )?)
}

/// One application as decided.
pub struct NewOrder<'a> {
    pub batch: i64,
    pub sheet: &'a str,
    pub row: u32,
    pub participant: &'a str,
    pub prize_code: &'a str,
    pub quantity: i64,
    pub applied_on: &'a str,
    /// `accepted` or `rejected`.
    pub status: &'a str,
    pub code: Option<&'a str>,
    pub message: Option<&'a str>,
    pub points: i64,
}

pub fn insert(conn: &Connection, o: &NewOrder<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO orders(batch_id, sheet, row_no, participant_id, prize_code, quantity, applied_on, status, code, message, points) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    )?
    .execute(rusqlite::params![
        o.batch,
        o.sheet,
        o.row,
        o.participant,
        o.prize_code,
        o.quantity,
        o.applied_on,
        o.status,
        o.code,
        o.message,
        o.points
    ])?;
    Ok(())
}

/// An orders batch's outcome.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchTotals {
    pub accepted: i64,
    pub points: i64,
    pub quantity: i64,
    /// Rejected applications by code, in code order.
    pub rejected_by_code: Vec<(String, i64)>,
}

impl BatchTotals {
    pub fn rejected(&self) -> i64 {
        self.rejected_by_code.iter().map(|(_, n)| n).sum()
    }
}

pub fn batch_totals(conn: &Connection, batch: i64) -> Result<BatchTotals> {
    let (accepted, points, quantity): (i64, i64, i64) = conn.query_row(
        "SELECT count(*), COALESCE(SUM(points),0), COALESCE(SUM(quantity),0) FROM orders WHERE batch_id=?1 AND status='accepted'",
        [batch],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    // Counted here by code (a handful of codes) rather than by `GROUP BY code`, which
    // sorts every rejected row in a temporary b-tree held in memory (13 MB for 280,000
    // refusals). A map of strings orders codes as SQLite's BINARY collation does.
    let mut by_code: std::collections::BTreeMap<String, i64> = Default::default();
    let mut stmt =
        conn.prepare_cached("SELECT code FROM orders WHERE batch_id=?1 AND status='rejected'")?;
    let mut rows = stmt.query([batch])?;
    while let Some(r) = rows.next()? {
        let code = r.get_ref(0)?.as_str()?;
        match by_code.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                by_code.insert(code.to_string(), 1);
            }
        }
    }
    let rejected_by_code = by_code.into_iter().collect();
    Ok(BatchTotals {
        accepted,
        points,
        quantity,
        rejected_by_code,
    })
}

/// A rejected application of a batch, to be told to the participant.
pub struct Rejected {
    pub sheet: String,
    pub row: i64,
    pub participant: String,
    pub prize_code: String,
    pub quantity: i64,
    pub code: String,
    pub message: String,
}

/// A batch's rejected applications in sheet and row order.
pub fn rejected_in_batch(conn: &Connection, batch: i64) -> Result<Vec<Rejected>> {
    let mut stmt = conn.prepare(
        "SELECT sheet, row_no, participant_id, prize_code, quantity, code, message FROM orders \
         WHERE batch_id=?1 AND status='rejected' ORDER BY sheet, row_no, id",
    )?;
    let rows = stmt
        .query_map([batch], |r| {
            Ok(Rejected {
                sheet: r.get(0)?,
                row: r.get(1)?,
                participant: r.get(2)?,
                prize_code: r.get(3)?,
                quantity: r.get(4)?,
                code: r.get(5)?,
                message: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Undo an orders batch: refused while any of its orders has shipped; the rows removed.
pub fn undo(conn: &Connection, batch: i64) -> Result<usize> {
    let shipped: i64 = conn.query_row(
        "SELECT count(*) FROM orders WHERE batch_id=?1 AND shipment_id IS NOT NULL",
        [batch],
        |r| r.get(0),
    )?;
    if shipped > 0 {
        anyhow::bail!(
            "取込み {batch} の申込みのうち {shipped} 件は発送済みのため、取り消せません (orders already shipped)"
        );
    }
    Ok(conn.execute("DELETE FROM orders WHERE batch_id=?1", [batch])?)
}

/// The orders import's working state, kept in tables of the database itself (encrypted
/// like the rest, in SQLite's bounded page cache, spilled to the file) instead of maps
/// or `temp` tables (which `temp_store=MEMORY` keeps in memory): nothing of the import
/// grows in memory with participants or applications. The tables live only inside the
/// import's transaction: made by [`Scratch::create`], emptied and dropped by
/// [`scratch_drop`] before the commit (a refused or failed import rolls them back with
/// everything else), so nothing of them is ever committed.
///
/// - `stepcard_orders_need`: the first pass's (participant, 申込日) pairs;
/// - `stepcard_orders_earned`: the points each participant earned by each of them;
/// - `stepcard_orders_standing`: each participant as the decisions need them (in the
///   roster, an address to ship to, the points of their accepted orders so far);
/// - `stepcard_orders_had`: accepted quantity per participant and limited prize.
///
/// Days are days from the common era.
pub struct Scratch<'c> {
    conn: &'c Connection,
    /// Dropped with its table once the first pass is scored.
    note: Option<Statement<'c>>,
    put_standing: Statement<'c>,
    put_earned: Statement<'c>,
    look: Statement<'c>,
    spend: Statement<'c>,
    had_get: Statement<'c>,
    had_set: Statement<'c>,
}

/// One participant as the decisions need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// In the roster.
    pub known: bool,
    /// A postal code and an address to ship to.
    pub has_address: bool,
    /// Points of accepted orders, stored and of this file so far.
    pub used: i64,
}

const SCRATCH: [&str; 4] = [
    "stepcard_orders_need",
    "stepcard_orders_earned",
    "stepcard_orders_standing",
    "stepcard_orders_had",
];

impl<'c> Scratch<'c> {
    /// The tables, empty (inside the import's transaction).
    pub fn create(conn: &'c Connection) -> Result<Self> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS main.stepcard_orders_need(pid TEXT NOT NULL, day INTEGER NOT NULL, \
             PRIMARY KEY(pid, day)) WITHOUT ROWID; \
             CREATE TABLE IF NOT EXISTS main.stepcard_orders_earned(pid TEXT NOT NULL, day INTEGER NOT NULL, \
             earned INTEGER NOT NULL, PRIMARY KEY(pid, day)) WITHOUT ROWID; \
             CREATE TABLE IF NOT EXISTS main.stepcard_orders_standing(pid TEXT NOT NULL PRIMARY KEY, \
             known INTEGER NOT NULL, has_address INTEGER NOT NULL, used INTEGER NOT NULL) WITHOUT ROWID; \
             CREATE TABLE IF NOT EXISTS main.stepcard_orders_had(pid TEXT NOT NULL, prize INTEGER NOT NULL, \
             n INTEGER NOT NULL, PRIMARY KEY(pid, prize)) WITHOUT ROWID; \
             DELETE FROM main.stepcard_orders_need; DELETE FROM main.stepcard_orders_earned; \
             DELETE FROM main.stepcard_orders_standing; DELETE FROM main.stepcard_orders_had;",
        )?;
        Ok(Scratch {
            conn,
            note: Some(conn.prepare(
                "INSERT OR IGNORE INTO main.stepcard_orders_need(pid, day) VALUES (?1, ?2)",
            )?),
            put_standing: conn.prepare(
                "INSERT OR REPLACE INTO main.stepcard_orders_standing(pid, known, has_address, used) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?,
            put_earned: conn.prepare(
                "INSERT OR REPLACE INTO main.stepcard_orders_earned(pid, day, earned) VALUES (?1, ?2, ?3)",
            )?,
            look: conn.prepare(
                "SELECT s.known, s.has_address, s.used, e.earned FROM main.stepcard_orders_standing s \
                 LEFT JOIN main.stepcard_orders_earned e ON e.pid = s.pid AND e.day = ?2 WHERE s.pid = ?1",
            )?,
            spend: conn.prepare(
                "UPDATE main.stepcard_orders_standing SET used = used + ?2 WHERE pid = ?1",
            )?,
            had_get: conn
                .prepare("SELECT n FROM main.stepcard_orders_had WHERE pid = ?1 AND prize = ?2")?,
            had_set: conn.prepare(
                "INSERT OR REPLACE INTO main.stepcard_orders_had(pid, prize, n) VALUES (?1, ?2, ?3)",
            )?,
        })
    }

    /// The first pass: an application of `pid` dated `day` (each pair kept once).
    pub fn note(&mut self, pid: &str, day: i32) -> Result<()> {
        if let Some(s) = self.note.as_mut() {
            s.execute(params![pid, day])?;
        }
        Ok(())
    }

    /// The noted pairs participant by participant, in participant number order and each
    /// one's days in order, to `f` (one participant's days held at a time); the pairs are
    /// then dropped.
    pub fn each_noted(
        &mut self,
        mut f: impl FnMut(&mut Self, &str, &[i32]) -> Result<()>,
    ) -> Result<()> {
        self.note = None;
        {
            let conn = self.conn;
            let mut stmt =
                conn.prepare("SELECT pid, day FROM main.stepcard_orders_need ORDER BY pid, day")?;
            let mut rows = stmt.query([])?;
            let mut pid = String::new();
            let mut days: Vec<i32> = Vec::new();
            while let Some(r) = rows.next()? {
                let p = r.get_ref(0)?.as_str()?;
                if p != pid {
                    if !days.is_empty() {
                        f(self, &pid, &days)?;
                    }
                    pid.clear();
                    pid.push_str(p);
                    days.clear();
                }
                days.push(r.get(1)?);
            }
            if !days.is_empty() {
                f(self, &pid, &days)?;
            }
        }
        super::drop_working_table(self.conn, "main.stepcard_orders_need")?;
        Ok(())
    }

    pub fn put_standing(&mut self, pid: &str, s: &Standing) -> Result<()> {
        self.put_standing
            .execute(params![pid, s.known, s.has_address, s.used])?;
        Ok(())
    }

    pub fn put_earned(&mut self, pid: &str, day: i32, earned: i64) -> Result<()> {
        self.put_earned.execute(params![pid, day, earned])?;
        Ok(())
    }

    /// A participant's standing and the points they earned by `day` (`None`: not noted).
    pub fn look(&mut self, pid: &str, day: i32) -> Result<Option<(Standing, Option<i64>)>> {
        Ok(self
            .look
            .query_row(params![pid, day], |r| {
                Ok((
                    Standing {
                        known: r.get(0)?,
                        has_address: r.get(1)?,
                        used: r.get(2)?,
                    },
                    r.get(3)?,
                ))
            })
            .optional()?)
    }

    /// An accepted order's points added to what the participant used.
    pub fn spend(&mut self, pid: &str, points: i64) -> Result<()> {
        self.spend.execute(params![pid, points])?;
        Ok(())
    }

    /// Accepted quantity of a prize (its place in the program) for a participant, when
    /// known here.
    pub fn had(&mut self, pid: &str, prize: u32) -> Result<Option<i64>> {
        Ok(self
            .had_get
            .query_row(params![pid, prize], |r| r.get(0))
            .optional()?)
    }

    pub fn set_had(&mut self, pid: &str, prize: u32, n: i64) -> Result<()> {
        self.had_set.execute(params![pid, prize, n])?;
        Ok(())
    }
}

/// The orders import's working tables go before it commits (see [`Scratch`]). Emptied
/// first: a plain `DELETE` clears the pages in place, where a `DROP` of a full table would
/// keep every page's old content in the statement journal (in memory).
pub fn scratch_drop(conn: &Connection) -> Result<()> {
    for t in scratch_tables(conn)? {
        if SCRATCH.contains(&t.as_str()) {
            super::drop_working_table(conn, &format!("main.{t}"))?;
        }
    }
    Ok(())
}

/// The orders import's working tables present in the database (none, but during an import).
pub fn scratch_tables(conn: &Connection) -> Result<Vec<String>> {
    Ok(super::handling::table_names(conn)?
        .into_iter()
        .filter(|n| n.starts_with("stepcard_orders_"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_notes_each_pair_once_scores_by_participant_and_leaves_nothing() {
        let conn = Connection::open_in_memory().unwrap();
        let mut s = Scratch::create(&conn).unwrap();
        for (pid, day) in [("P2", 9), ("P1", 5), ("P2", 3), ("P1", 5), ("P10", 1)] {
            s.note(pid, day).unwrap();
        }
        let mut seen = Vec::new();
        s.each_noted(|s, pid, days| {
            seen.push((pid.to_string(), days.to_vec()));
            let used = days.len() as i64;
            s.put_standing(
                pid,
                &Standing {
                    known: pid != "P10",
                    has_address: true,
                    used,
                },
            )?;
            days.iter()
                .try_for_each(|&d| s.put_earned(pid, d, i64::from(d) * 10))
        })
        .unwrap();
        // Number order (as text), each one's days in order, duplicates once.
        assert_eq!(
            seen,
            vec![
                ("P1".to_string(), vec![5]),
                ("P10".to_string(), vec![1]),
                ("P2".to_string(), vec![3, 9])
            ]
        );
        assert_eq!(scratch_tables(&conn).unwrap().len(), 3, "need dropped");
        // Noting after the scoring is a no-op.
        s.note("P3", 1).unwrap();

        let p2 = |used| Standing {
            known: true,
            has_address: true,
            used,
        };
        assert_eq!(s.look("P2", 9).unwrap(), Some((p2(2), Some(90))));
        assert_eq!(s.look("P2", 4).unwrap(), Some((p2(2), None)));
        assert_eq!(s.look("P3", 1).unwrap(), None);
        s.spend("P2", 40).unwrap();
        assert_eq!(s.look("P2", 3).unwrap(), Some((p2(42), Some(30))));
        assert_eq!(s.had("P2", 0).unwrap(), None);
        s.set_had("P2", 0, 1).unwrap();
        s.set_had("P2", 0, 2).unwrap();
        assert_eq!(s.had("P2", 0).unwrap(), Some(2));
        assert_eq!(s.had("P2", 1).unwrap(), None);

        drop(s);
        scratch_drop(&conn).unwrap();
        assert!(scratch_tables(&conn).unwrap().is_empty());
        // Made again empty, as a new import finds them.
        let mut s = Scratch::create(&conn).unwrap();
        assert_eq!(s.look("P2", 9).unwrap(), None);
    }
}
