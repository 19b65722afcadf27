//! Prize applications (景品申込み) keyed from cards: `参加者番号, 景品コード, 数量, 申込日`.
//!
//! Two kinds of outcome, kept apart on purpose:
//! - a row that cannot be an application as keyed (participant number not in the
//!   roster or malformed, prize code not a code, quantity or date unreadable) is a
//!   problem in the file like any import's: strict by default, `--partial` keeps it
//!   aside for fixing;
//! - an application that is readable but cannot be granted (prize unknown, no address
//!   to ship to, the per-person limit, points insufficient, out of stock) is a real
//!   outcome the participant must be told about: it is stored as a rejected order with
//!   its code and listed in the report, and the batch commits.
//!
//! Applications are decided in file order. The balance an application may spend is the
//! points earned on days up to and including its 申込日 (as `stepcard points --as-of
//! 申込日` shows them: bonuses of months that end by then) less the points of every
//! order accepted before it, in earlier batches and earlier in the same file. So no
//! `points --as-of D` is ever negative: the orders dated by D were each paid from what
//! had been earned by their own date, itself no more than by D.
//!
//! The file is read twice, and nothing of it is held in memory: the state lives in
//! working tables of the database inside the import's transaction
//! ([`crate::db::orders::Scratch`], dropped before the commit). The first pass notes
//! each application's participant and 申込日. Then one pass of balances: participant by
//! participant in number order (one pass over the stored days), each one's days are read
//! once, scored once into their earned points by date ([`Earnings`]), and the points
//! earned by each noted 申込日 stored, with the participant's standing (in the roster,
//! an address, the points already used). The second pass decides each row in file order
//! from those, one indexed look-up per application, and moves the standing as orders are
//! accepted; so a file not grouped by participant costs no more than one that is. A
//! participant or date met without a note (not expected) is scored on the spot and
//! stored the same way.

use super::header::Header;
use super::{Counts, Problem};
use crate::db::orders;
use crate::db::orders::{participant_days, Scratch, Standing as Kept};
use crate::db::points::participant_age;
use crate::points::{Scorer, Table};
use crate::program::Program;
use crate::sheet::Row;
use crate::validate::fields::problem;
pub use crate::validate::orders::COLUMNS;
use crate::validate::orders::{
    decide, find_prize, read_row, Application, Earnings, Refusal, Standing,
};
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use rusqlite::Connection;
use std::collections::HashMap;

/// The orders import's row handler (it borrows the import's transaction for its
/// working tables).
pub struct OrdersImporter<'c> {
    program: Program,
    scorer: Scorer,
    batch: i64,
    today: NaiveDate,
    counts: Counts,
    /// The working tables; `None` once dropped at the end.
    scratch: Option<Scratch<'c>>,
    /// Accepted quantity per prize (stored plus this file), read at the first row: one
    /// entry per prize code.
    taken: Option<HashMap<String, i64>>,
    /// The last row's refusal, for the driver (never all of them held here).
    notices: Vec<Problem>,
    /// The first pass's failure to note a row (its rows return nothing), given at its end.
    noting: Option<anyhow::Error>,
}

impl<'c> OrdersImporter<'c> {
    pub fn new(
        conn: &'c Connection,
        program: Program,
        batch: i64,
        today: NaiveDate,
    ) -> Result<Self> {
        Ok(OrdersImporter {
            scorer: Scorer::new(&program, None),
            program,
            batch,
            today,
            counts: Counts::default(),
            scratch: Some(Scratch::create(conn)?),
            taken: None,
            notices: Vec::new(),
            noting: None,
        })
    }

    fn scratch(&mut self) -> Result<&mut Scratch<'c>> {
        self.scratch
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("orders import: working tables already dropped"))
    }

    /// Accepted quantity of a prize so far.
    fn taken(&mut self, conn: &Connection, code: &str) -> Result<&mut i64> {
        if self.taken.is_none() {
            self.taken = Some(orders::accepted_by_prize(conn)?);
        }
        Ok(self
            .taken
            .get_or_insert_with(HashMap::new)
            .entry(code.to_string())
            .or_insert(0))
    }

    /// A participant's standing from the stored roster and orders, with their band
    /// table (`None`: not in the roster).
    fn read_person(&self, conn: &Connection, pid: &str) -> Result<(Kept, Option<Table>)> {
        let Some((postal, address)) = crate::db::participants::postal_and_address(conn, pid)?
        else {
            return Ok((
                Kept {
                    known: false,
                    has_address: false,
                    used: 0,
                },
                None,
            ));
        };
        let filled = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        let age = participant_age(conn, &self.scorer, pid)?;
        Ok((
            Kept {
                known: true,
                has_address: filled(&postal) && filled(&address),
                used: orders::points_used(conn, pid)?,
            },
            Some(self.scorer.table_for(age)),
        ))
    }

    /// A participant's stored days (one query), scored into their earned points by date.
    fn earnings_of(&self, conn: &Connection, pid: &str, table: Table) -> Result<Earnings> {
        let start = self.program.program.start;
        let end = self.program.program.end;
        let days: Vec<(u16, u32)> = participant_days(conn, pid)?
            .into_iter()
            .filter(|(d, _)| *d >= start && *d <= end)
            .map(|(d, steps)| {
                (
                    u16::try_from((d - start).num_days()).unwrap_or(u16::MAX),
                    u32::try_from(steps.max(0)).unwrap_or(u32::MAX),
                )
            })
            .collect();
        Ok(Earnings::new(&self.scorer, table, end, &days))
    }

    /// The one pass of balances, after the first pass: each noted participant in number
    /// order, their standing stored, their days read and scored once, and the points
    /// earned by each noted 申込日 stored.
    fn score_noted(&mut self, conn: &Connection) -> Result<()> {
        let mut scratch = self.scratch.take();
        let res = match scratch.as_mut() {
            Some(s) => s.each_noted(|s, pid, days| {
                let (kept, table) = self.read_person(conn, pid)?;
                s.put_standing(pid, &kept)?;
                let Some(table) = table else {
                    return Ok(());
                };
                let e = self.earnings_of(conn, pid, table)?;
                for &day in days {
                    let on = NaiveDate::from_num_days_from_ce_opt(day);
                    s.put_earned(pid, day, on.map(|d| e.by(d)).unwrap_or(0))?;
                }
                Ok(())
            }),
            None => Ok(()),
        };
        self.scratch = scratch;
        res
    }

    /// A participant's standing and the points earned by `on`; scored and stored on the
    /// spot when not noted by the first pass (not expected).
    fn standing(&mut self, conn: &Connection, pid: &str, on: NaiveDate) -> Result<(Kept, i64)> {
        let day = on.num_days_from_ce();
        let found = self.scratch()?.look(pid, day)?;
        if let Some((kept, Some(earned))) = found {
            return Ok((kept, earned));
        }
        let (read, table) = self.read_person(conn, pid)?;
        let kept = match found {
            Some((kept, _)) => kept,
            None => {
                self.scratch()?.put_standing(pid, &read)?;
                read
            }
        };
        let earned = match table {
            Some(t) if kept.known => self.earnings_of(conn, pid, t)?.by(on),
            _ => 0,
        };
        if kept.known {
            self.scratch()?.put_earned(pid, day, earned)?;
        }
        Ok((kept, earned))
    }

    /// Accepted quantity of a limited prize (its place in the program) for a participant.
    fn had(&mut self, conn: &Connection, pid: &str, place: u32, code: &str) -> Result<i64> {
        if let Some(n) = self.scratch()?.had(pid, place)? {
            return Ok(n);
        }
        let n = orders::accepted_quantity(conn, pid, code)?;
        self.scratch()?.set_had(pid, place, n)?;
        Ok(n)
    }

    /// Read a row into an application, or report why it cannot be one.
    fn read(
        &self,
        conn: &Connection,
        h: &Header,
        row: &Row,
        out: &mut Vec<Problem>,
    ) -> Result<Option<Application>> {
        let mut known = |pid: &str| crate::db::participants::exists(conn, pid);
        read_row(h, row, &self.program, self.today, &mut known, out)
    }

    /// Decide one readable application: `Ok(cost)` accepted, or the rejection.
    fn decide(&mut self, conn: &Connection, a: &Application) -> Result<Result<i64, Refusal>> {
        let pid = a.pid.as_str();
        let prize = match find_prize(&self.program, &a.code) {
            Ok(p) => p.clone(),
            Err(r) => return Ok(Err(r)),
        };
        let place = self
            .program
            .prizes
            .iter()
            .position(|p| p.code == prize.code)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(u32::MAX);
        let (person, earned) = self.standing(conn, pid, a.applied_on)?;
        if !person.known {
            // Checked when the row was read; not reachable.
            return Ok(Err((
                "participant.unknown",
                format!("参加者番号 {pid} は名簿にありません"),
                prize.points * a.quantity,
            )));
        }
        let had = if prize.per_person.is_some() {
            self.had(conn, pid, place, &prize.code)?
        } else {
            0
        };
        let taken = *self.taken(conn, &prize.code)?;
        let standing = Standing {
            has_address: person.has_address,
            balance: earned - person.used,
            had,
            taken,
        };
        let decision = decide(&prize, a.quantity, &standing);
        if let Ok(cost) = decision {
            // Accepted: the balance, the stock and the per-person count move now, so
            // the next rows of this file see them.
            self.scratch()?.spend(pid, cost)?;
            *self.taken(conn, &prize.code)? += a.quantity;
            if prize.per_person.is_some() {
                self.scratch()?.set_had(pid, place, had + a.quantity)?;
            }
        }
        Ok(decision)
    }
}

/// The counts an orders batch records in its audit entry (no participant numbers).
pub fn audit_counts(conn: &Connection, batch: i64, d: &mut crate::audit::Detail) -> Result<()> {
    let t = orders::batch_totals(conn, batch)?;
    d.count("orders_accepted", t.accepted);
    d.count("orders_rejected", t.rejected());
    d.count("points_used", t.points);
    for (code, n) in &t.rejected_by_code {
        d.count(&format!("rejected.{code}"), *n);
    }
    Ok(())
}

impl super::batch::RowHandler for OrdersImporter<'_> {
    fn refused_unread(&mut self) {
        self.counts.rows += 1;
    }

    fn audit_counts(
        &self,
        conn: &Connection,
        batch: i64,
        d: &mut crate::audit::Detail,
    ) -> Result<()> {
        audit_counts(conn, batch, d)
    }

    fn header(&mut self, _h: &Header) -> Vec<Problem> {
        Vec::new()
    }

    fn prepass(&self) -> bool {
        true
    }

    fn prepass_row(&mut self, h: &Header, row: &Row) {
        let (Some(pc), Some(dc)) = (h.col("participant_id"), h.col("applied_on")) else {
            return;
        };
        if self.noting.is_some() {
            return;
        }
        let pid = crate::sheet::normalize::normalize(&row.raw_text(pc)).into_owned();
        let Ok(on) = crate::validate::fields::cell_date(row.get(dc)) else {
            return;
        };
        let day = on.num_days_from_ce();
        if let Err(e) = self.scratch().and_then(|s| s.note(&pid, day)) {
            self.noting = Some(e);
        }
    }

    fn after_first_pass(&mut self, conn: &Connection) -> Result<()> {
        if let Some(e) = self.noting.take() {
            return Err(e);
        }
        self.score_noted(conn)
    }

    /// The working tables go before the commit (nothing of them is kept).
    fn finish(&mut self, conn: &Connection, _out: &mut Vec<Problem>) -> Result<()> {
        self.scratch = None;
        orders::scratch_drop(conn)
    }

    fn row(
        &mut self,
        conn: &Connection,
        h: &Header,
        row: &Row,
        out: &mut Vec<Problem>,
    ) -> Result<()> {
        self.counts.rows += 1;
        let Some(a) = self.read(conn, h, row, out)? else {
            return Ok(());
        };
        let decision = self.decide(conn, &a)?;
        let (status, code, message, points) = match &decision {
            Ok(cost) => ("accepted", None, None, *cost),
            Err((code, msg, cost)) => ("rejected", Some(*code), Some(msg.as_str()), *cost),
        };
        orders::insert(
            conn,
            &orders::NewOrder {
                batch: self.batch,
                sheet: &h.sheet,
                row: row.number(),
                participant: &a.pid,
                prize_code: &a.code,
                quantity: a.quantity,
                applied_on: &a.applied_on.format("%Y-%m-%d").to_string(),
                status,
                code,
                message,
                points,
            },
        )?;
        match decision {
            Ok(_) => self.counts.inserted += 1,
            Err((code, msg, _)) => {
                let col = match code {
                    "participant.no_address" => h.col("participant_id"),
                    "prize.per_person_limit" => h.col("quantity"),
                    _ => h.col("prize_code"),
                }
                .unwrap_or(0);
                self.notices.push(problem(
                    h,
                    row,
                    col,
                    code,
                    format!(
                        "参加者 {} の申込み（{}）を受け付けられません: {msg}。参加者にお知らせください",
                        a.pid, a.applied_on
                    ),
                ));
            }
        }
        Ok(())
    }

    fn counts(&self) -> Counts {
        self.counts
    }

    fn layout(&self) -> String {
        "orders".into()
    }

    fn notices(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.notices)
    }
}
