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
//! The file is read twice. The first pass only notes each application's participant
//! and 申込日; then, participant by participant in number order (one pass over the
//! stored days), each one's days are read once, scored once into their earned points
//! by date ([`Earnings`]), and the points earned by each noted 申込日 kept (a number
//! per application, not the days). The second pass decides each row in file order from
//! those, so a file not grouped by participant costs no more than one that is.
//! A participant met without a noted date (not expected) is scored on the spot, the
//! earnings of at most [`DAYS_KEPT`] participants held at a time.

use super::header::Header;
use super::{Counts, Problem};
use crate::db::orders;
use crate::db::orders::participant_days;
use crate::db::points::participant_age;
use crate::ids::Ids;
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

/// How many participants' earnings are held at once (10 bytes a day that earns, about
/// 3.6 KB for a year): only participants met without a noted date (not expected).
pub const DAYS_KEPT: usize = 1_000;

#[derive(Clone, Copy)]
struct Person {
    has_address: bool,
    /// Points of accepted orders, kept current as this file's orders are accepted.
    used: i64,
    table: Table,
}

/// What is known of one participant of the file, by their number's index.
#[derive(Clone, Copy)]
enum Slot {
    /// Not looked up yet.
    Unread,
    /// Not in the roster.
    Unknown,
    Known(Person),
}

/// The orders import's row handler.
pub struct OrdersImporter {
    program: Program,
    scorer: Scorer,
    batch: i64,
    today: NaiveDate,
    counts: Counts,
    /// The participant numbers met in the file, each held once, and an index for each:
    /// the importer's state is kept in arrays and small keys by that index instead of in
    /// maps keyed by strings.
    ids: Ids,
    /// By participant index.
    people: Vec<Slot>,
    /// Earned points by date of recently seen participants met without a noted date.
    earnings: HashMap<u32, Earnings>,
    /// Accepted quantity per prize (stored plus this file), read at the first row.
    taken: Option<HashMap<String, i64>>,
    /// Accepted quantity per participant and prize, for prizes with a per-person limit
    /// (participant index, prize's place in the program).
    had: HashMap<(u32, u32), i64>,
    /// The first pass's applications: (participant index, 申込日 as days from the common
    /// era), sorted and unique once the first pass is over, and beside it the points
    /// earned by each.
    noted: Vec<(u32, i32)>,
    noted_earned: Vec<i64>,
    /// The last row's refusal, for the driver (never all of them held here).
    notices: Vec<Problem>,
}

impl OrdersImporter {
    pub fn new(program: Program, batch: i64, today: NaiveDate) -> Self {
        OrdersImporter {
            scorer: Scorer::new(&program, None),
            program,
            batch,
            today,
            counts: Counts::default(),
            ids: Ids::default(),
            people: Vec::new(),
            earnings: HashMap::new(),
            taken: None,
            had: HashMap::new(),
            noted: Vec::new(),
            noted_earned: Vec::new(),
            notices: Vec::new(),
        }
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

    /// The participant as the decision needs them (`None`: not in the roster).
    fn person(&mut self, conn: &Connection, idx: u32, pid: &str) -> Result<Option<Person>> {
        let i = idx as usize;
        if self.people.len() <= i {
            self.people.resize(i + 1, Slot::Unread);
        }
        if let Slot::Unread = self.people[i] {
            let row = crate::db::participants::postal_and_address(conn, pid)?;
            self.people[i] = match row {
                None => Slot::Unknown,
                Some((postal, address)) => {
                    let filled =
                        |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
                    let age = participant_age(conn, &self.scorer, pid)?;
                    Slot::Known(Person {
                        has_address: filled(&postal) && filled(&address),
                        used: orders::points_used(conn, pid)?,
                        table: self.scorer.table_for(age),
                    })
                }
            };
        }
        Ok(match self.people[i] {
            Slot::Known(p) => Some(p),
            _ => None,
        })
    }

    /// Points a participant earned on days up to and including `on`.
    fn earned_by(
        &mut self,
        conn: &Connection,
        idx: u32,
        pid: &str,
        table: Table,
        on: NaiveDate,
    ) -> Result<i64> {
        if let Ok(i) = self.noted.binary_search(&(idx, on.num_days_from_ce())) {
            return Ok(self.noted_earned[i]);
        }
        if !self.earnings.contains_key(&idx) {
            if self.earnings.len() >= DAYS_KEPT {
                self.earnings.clear();
            }
            let e = self.earnings_of(conn, pid, table)?;
            self.earnings.insert(idx, e);
        }
        Ok(self.earnings[&idx].by(on))
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

    /// After the first pass: each noted participant in number order, their days read and
    /// scored once, and the points earned by each noted 申込日 kept.
    fn score_noted(&mut self, conn: &Connection) -> Result<()> {
        self.noted.sort_unstable();
        self.noted.dedup();
        self.noted.shrink_to_fit();
        self.noted_earned = vec![0; self.noted.len()];
        // Number order, so the stored days are read along their key: the indexes
        // sorted by their numbers (4 bytes a participant, the numbers not copied).
        let ids = std::mem::take(&mut self.ids);
        let mut order: Vec<u32> = (0..ids.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| ids.name(a).cmp(ids.name(b)));
        let scored = self.score_in_order(conn, &ids, &order);
        drop(order);
        self.ids = ids;
        scored
    }

    fn score_in_order(&mut self, conn: &Connection, ids: &Ids, order: &[u32]) -> Result<()> {
        for &idx in order {
            let pid = ids.name(idx);
            let first = self.noted.partition_point(|&(i, _)| i < idx);
            let last = self.noted.partition_point(|&(i, _)| i <= idx);
            if first == last {
                continue;
            }
            let Some(person) = self.person(conn, idx, pid)? else {
                continue;
            };
            let e = self.earnings_of(conn, pid, person.table)?;
            for k in first..last {
                let on = NaiveDate::from_num_days_from_ce_opt(self.noted[k].1);
                self.noted_earned[k] = on.map(|d| e.by(d)).unwrap_or(0);
            }
        }
        Ok(())
    }

    fn had(
        &mut self,
        conn: &Connection,
        idx: u32,
        pid: &str,
        prize: u32,
        code: &str,
    ) -> Result<i64> {
        if let Some(n) = self.had.get(&(idx, prize)) {
            return Ok(*n);
        }
        let n = orders::accepted_quantity(conn, pid, code)?;
        self.had.insert((idx, prize), n);
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
        let idx = self.ids.intern(pid);
        let Some(person) = self.person(conn, idx, pid)? else {
            // Checked when the row was read; not reachable.
            return Ok(Err((
                "participant.unknown",
                format!("参加者番号 {pid} は名簿にありません"),
                prize.points * a.quantity,
            )));
        };
        let had = if prize.per_person.is_some() {
            self.had(conn, idx, pid, place, &prize.code)?
        } else {
            0
        };
        let taken = *self.taken(conn, &prize.code)?;
        let earned = self.earned_by(conn, idx, pid, person.table, a.applied_on)?;
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
            if let Some(Slot::Known(p)) = self.people.get_mut(idx as usize) {
                p.used += cost;
            }
            *self.taken(conn, &prize.code)? += a.quantity;
            if prize.per_person.is_some() {
                *self.had.entry((idx, place)).or_insert(0) += a.quantity;
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

impl super::batch::RowHandler for OrdersImporter {
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
        let pid = crate::sheet::normalize::normalize(&row.raw_text(pc)).into_owned();
        let Ok(on) = crate::validate::fields::cell_date(row.get(dc)) else {
            return;
        };
        let idx = self.ids.intern(&pid);
        self.noted.push((idx, on.num_days_from_ce()));
    }

    fn after_first_pass(&mut self, conn: &Connection) -> Result<()> {
        self.score_noted(conn)
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
