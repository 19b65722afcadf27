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
//! Applications are decided in file order. The balance is the points earned from every
//! stored day (as `stepcard points` shows without `--as-of`) less the points of orders
//! accepted before, including those accepted earlier in the same file.

use super::header::{ColumnDef, Header};
use super::{Counts, Problem};
use crate::db::orders;
use crate::points::{participant_score, Scorer};
use crate::program::Program;
use crate::sheet::normalize::{float_to_int, normalize, parse_int, IntParse};
use crate::sheet::{CellRef, Row};
use crate::validate::fields::{
    cell_date, check_participant_id, date_problem, problem, PARTICIPANT,
};
use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::Connection;
use std::collections::HashMap;

pub const COLUMNS: &[ColumnDef] = &[
    PARTICIPANT,
    ColumnDef {
        key: "prize_code",
        names: &["景品コード", "景品番号", "prize_code", "prize"],
        required: true,
    },
    ColumnDef {
        key: "quantity",
        names: &["数量", "個数", "quantity"],
        required: true,
    },
    ColumnDef {
        key: "applied_on",
        names: &["申込日", "申込年月日", "受付日", "applied_on"],
        required: true,
    },
];

/// The most of one prize a single application row may ask for.
pub const MAX_QUANTITY: i64 = 99;

/// What the participant asked for, once the row reads.
struct Application {
    pid: String,
    code: String,
    quantity: i64,
    applied_on: NaiveDate,
}

struct Person {
    has_address: bool,
    /// Earned less used, kept current as this file's orders are accepted.
    balance: i64,
}

/// The orders import's row handler.
pub struct OrdersImporter {
    program: Program,
    scorer: Scorer,
    batch: i64,
    today: NaiveDate,
    counts: Counts,
    people: HashMap<String, Option<Person>>,
    /// Accepted quantity per prize (stored plus this file), read at the first row.
    taken: Option<HashMap<String, i64>>,
    /// Accepted quantity per participant and prize.
    had: HashMap<(String, String), i64>,
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
            people: HashMap::new(),
            taken: None,
            had: HashMap::new(),
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
    fn person(&mut self, conn: &Connection, pid: &str) -> Result<Option<&mut Person>> {
        if !self.people.contains_key(pid) {
            let row = crate::db::participants::postal_and_address(conn, pid)?;
            let person = match row {
                None => None,
                Some((postal, address)) => {
                    let filled =
                        |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
                    let earned = participant_score(conn, &self.scorer, pid)?.earned();
                    let used = orders::points_used(conn, pid)?;
                    Some(Person {
                        has_address: filled(&postal) && filled(&address),
                        balance: earned - used,
                    })
                }
            };
            self.people.insert(pid.to_string(), person);
        }
        Ok(self.people.get_mut(pid).and_then(Option::as_mut))
    }

    fn had(&mut self, conn: &Connection, pid: &str, code: &str) -> Result<i64> {
        let key = (pid.to_string(), code.to_string());
        if let Some(n) = self.had.get(&key) {
            return Ok(*n);
        }
        let n = orders::accepted_quantity(conn, pid, code)?;
        self.had.insert(key, n);
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
        let before = out.len();
        let (Some(pc), Some(zc), Some(qc), Some(dc)) = (
            h.col("participant_id"),
            h.col("prize_code"),
            h.col("quantity"),
            h.col("applied_on"),
        ) else {
            return Ok(None);
        };
        let pid = normalize(&row.raw_text(pc)).into_owned();
        if let Err(msg) = check_participant_id(&pid) {
            out.push(problem(h, row, pc, "participant.id_invalid", msg.into()));
        } else if !known_participant(conn, &pid)? {
            out.push(problem(
                h,
                row,
                pc,
                "participant.unknown",
                format!("参加者番号 {pid} は名簿にありません。申込書の番号を確かめてください"),
            ));
        }
        let code = normalize(&row.raw_text(zc)).to_ascii_uppercase();
        if code.is_empty() {
            out.push(problem(
                h,
                row,
                zc,
                "prize.code_invalid",
                "景品コードが空です。申込書の景品コードを入力してください".into(),
            ));
        } else if code.len() > 20
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            out.push(problem(
                h,
                row,
                zc,
                "prize.code_invalid",
                format!(
                    "景品コードとして読めません（英数字）。使えるコード: {}",
                    self.codes()
                ),
            ));
        }
        let quantity = match row.get(qc) {
            CellRef::Empty => None,
            CellRef::Number(f) => Some(float_to_int(f)),
            CellRef::Text(s) => {
                let n = normalize(s);
                (!n.is_empty()).then(|| parse_int(n.trim_end_matches(['個', '点'])))
            }
            _ => Some(IntParse::NotANumber),
        };
        let quantity = match quantity {
            Some(IntParse::Int(q)) if (1..=MAX_QUANTITY).contains(&q) => q,
            None => {
                out.push(problem(
                    h,
                    row,
                    qc,
                    "quantity.missing",
                    "数量が空です。申込書の数量（ふつうは 1）を入力してください".into(),
                ));
                0
            }
            Some(_) => {
                out.push(problem(
                    h,
                    row,
                    qc,
                    "quantity.invalid",
                    format!("数量は 1〜{MAX_QUANTITY} の整数で入力してください"),
                ));
                0
            }
        };
        let applied_on = match cell_date(row.get(dc)) {
            Ok(d) if d < self.program.program.start => {
                out.push(problem(
                    h,
                    row,
                    dc,
                    "date.out_of_period",
                    format!(
                        "申込日 {d} が事業の開始日 {} より前です。申込書の日付を確かめてください",
                        self.program.program.start
                    ),
                ));
                None
            }
            Ok(d) if d > self.today => {
                out.push(problem(
                    h,
                    row,
                    dc,
                    "date.future",
                    format!(
                        "申込日 {d} は今日（{}）より後です。申込書の日付を確かめてください",
                        self.today
                    ),
                ));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                out.push(date_problem(h, row, dc, e));
                None
            }
        };
        if out.len() > before {
            return Ok(None);
        }
        Ok(applied_on.map(|applied_on| Application {
            pid,
            code,
            quantity,
            applied_on,
        }))
    }

    fn codes(&self) -> String {
        self.program
            .prizes
            .iter()
            .map(|p| p.code.as_str())
            .collect::<Vec<_>>()
            .join("、")
    }

    /// Decide one readable application: `Ok(cost)` accepted, or the rejection.
    fn decide(
        &mut self,
        conn: &Connection,
        a: &Application,
    ) -> Result<std::result::Result<i64, (&'static str, String, i64)>> {
        let pid = a.pid.as_str();
        let Some(prize) = self
            .program
            .prizes
            .iter()
            .find(|p| p.code.eq_ignore_ascii_case(&a.code))
            .cloned()
        else {
            return Ok(Err((
                "prize.unknown",
                format!(
                    "景品コード {} はこの事業の景品にありません（あるコード: {}）",
                    a.code,
                    self.codes()
                ),
                0,
            )));
        };
        let cost = prize.points * a.quantity;
        let what = format!("{}「{}」× {}", prize.code, prize.name, a.quantity);
        let Some(person) = self.person(conn, pid)? else {
            // Checked when the row was read; not reachable.
            return Ok(Err((
                "participant.unknown",
                format!("参加者番号 {pid} は名簿にありません"),
                cost,
            )));
        };
        if !person.has_address {
            return Ok(Err((
                "participant.no_address",
                format!("{what}: 名簿に郵便番号・住所がないため発送できません。住所を確かめ、名簿を更新してから申し込み直してもらってください"),
                cost,
            )));
        }
        let balance = person.balance;
        if let Some(limit) = prize.per_person {
            let had = self.had(conn, pid, &prize.code)?;
            if had + a.quantity > limit {
                return Ok(Err((
                    "prize.per_person_limit",
                    format!(
                        "{what}: この景品は 1 人 {limit} 個までで、既に {had} 個を受け付けています"
                    ),
                    cost,
                )));
            }
        }
        if balance < cost {
            return Ok(Err((
                "points.insufficient",
                format!("{what}: {cost} ポイントが必要ですが、残高は {balance} ポイントです"),
                cost,
            )));
        }
        let taken = *self.taken(conn, &prize.code)?;
        if taken + a.quantity > prize.stock {
            return Ok(Err((
                "prize.out_of_stock",
                format!(
                    "{what}: 在庫 {} 個のうち残りは {} 個です",
                    prize.stock,
                    (prize.stock - taken).max(0)
                ),
                cost,
            )));
        }
        // Accepted: the balance, the stock and the per-person count move now, so the
        // next rows of this file see them.
        if let Some(p) = self.people.get_mut(pid).and_then(Option::as_mut) {
            p.balance -= cost;
        }
        *self.taken(conn, &prize.code)? += a.quantity;
        *self
            .had
            .entry((pid.to_string(), prize.code.clone()))
            .or_insert(0) += a.quantity;
        Ok(Ok(cost))
    }
}

fn known_participant(conn: &Connection, pid: &str) -> Result<bool> {
    crate::db::participants::exists(conn, pid)
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
