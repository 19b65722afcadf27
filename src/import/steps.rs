//! Step sheets (long and card layouts) into the `steps` table: every cell validated
//! (`validate::steps`) with its place and code, and stored (`db::steps`): duplicates
//! skipped, a day keyed twice in the file with differing values refused on every row,
//! conflicts refused unless `--replace` (the old value kept in history), and the whole
//! file one transaction.
//!
//! The hot path (long CSV) does no per-row allocation for ASCII cells: cells are borrowed
//! from the reader's reused row, the date is written into a reused buffer, and rows go
//! through one prepared statement.

use super::header::Header;
use super::{Counts, Layout, Problem};
use crate::db::steps::{At, Put, Refused, StepsWriter, Why};
use crate::program::Program;
use crate::sheet::Row;
use crate::validate::fields::{problem, read_participant, unknown_participant};
use crate::validate::steps::{check_layout, keyed_days, Checked, ANY_COLUMNS};
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use rusqlite::Connection;

use crate::sheet::{CellRef, Pre, Precheck};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

fn write_date(buf: &mut String, d: NaiveDate) {
    buf.clear();
    let (y, m, dd) = (d.year(), d.month(), d.day());
    let mut digits = [0u8; 10];
    let y = y.clamp(0, 9999) as u32;
    digits[0] = b'0' + (y / 1000) as u8;
    digits[1] = b'0' + (y / 100 % 10) as u8;
    digits[2] = b'0' + (y / 10 % 10) as u8;
    digits[3] = b'0' + (y % 10) as u8;
    digits[4] = b'-';
    digits[5] = b'0' + (m / 10) as u8;
    digits[6] = b'0' + (m % 10) as u8;
    digits[7] = b'-';
    digits[8] = b'0' + (dd / 10) as u8;
    digits[9] = b'0' + (dd % 10) as u8;
    buf.push_str(std::str::from_utf8(&digits).unwrap_or("0000-00-00"));
}

/// Import one step file as one batch (`verified`: it passed double-entry verification,
/// as recorded on the batch); the batch id if committed.
pub fn import_file(
    s: &mut super::Session<'_>,
    file: &std::path::Path,
    opts: &super::Options,
    layout: Option<Layout>,
    replace: bool,
    verified: bool,
) -> Result<Option<i64>> {
    let program = s.program.clone();
    let mut ids = Some(roster_ids(s.conn)?);
    let spec = super::batch::Spec {
        kind: "steps",
        columns: ANY_COLUMNS,
        card_days: true,
        verified,
    };
    let partial = opts.partial;
    super::batch::run_with(s, file, opts, &spec, &mut |conn, b| {
        let importer = StepsImporter::new(
            conn,
            program.clone(),
            ids.take().unwrap_or_default(),
            b,
            replace,
            partial,
            layout,
        )?;
        Ok(Box::new(importer))
    })
}

/// The roster's participant numbers, sorted (found by binary search, named by position).
fn roster_ids(conn: &Connection) -> Result<Arc<Vec<Box<str>>>> {
    Ok(Arc::new(crate::db::steps::participant_ids_sorted(conn)?))
}

/// Every day of the program period written `YYYY-MM-DD`, 10 bytes each, in order: a
/// prechecked row names its day by position. Empty for a period too long to tabulate.
fn period_days(program: &Program) -> String {
    let p = &program.program;
    let days = (p.end - p.start).num_days() + 1;
    let mut out = String::new();
    if !(1..=100_000).contains(&days) {
        return out;
    }
    out.reserve(days as usize * 10);
    let mut buf = String::with_capacity(10);
    for d in p.start.iter_days().take(days as usize) {
        write_date(&mut buf, d);
        out.push_str(&buf);
    }
    out
}

/// What `steps verify --import` did with the verified keying.
pub enum Verified {
    /// The content (same sheets) was already a batch: that batch is now marked verified.
    Marked { file_name: String, batch: i64 },
    /// Imported as a new batch recorded as verified (`None`: nothing committed).
    Imported(Option<i64>),
}

/// Import the first keying as a verified batch, provided it is still the file verified
/// (`verified_sha`); if that content (same sheets) is already a batch, mark it verified.
pub fn import_verified(
    s: &mut super::Session<'_>,
    first: &std::path::Path,
    opts: &super::Options,
    layout: Option<Layout>,
    verified_sha: &str,
) -> Result<Verified> {
    let src = super::open_source(first, opts)?;
    if src.sha256 != verified_sha {
        anyhow::bail!(
            "{}: 照合の後にファイルが変わりました。もう一度ベリファイしてください。何も取り込んでいません \
             (the file changed after verification; nothing imported)",
            src.file_name
        );
    }
    let key = super::sheet_key(&super::chosen_sheets(&src, opts)?, opts.all_sheets);
    if let Some((batch, _)) =
        crate::db::batches::already_imported(s.conn, "steps", &src.sha256, &key)?
    {
        crate::db::batches::mark_verified(s.conn, batch)?;
        // A verified batch vouches for its values: the discrepancies it keys are settled.
        crate::db::quality::resolve(s.conn, batch, &crate::now())?;
        return Ok(Verified::Marked {
            file_name: src.file_name,
            batch,
        });
    }
    drop(src);
    Ok(Verified::Imported(import_file(
        s, first, opts, layout, false, true,
    )?))
}

/// State of one steps import (one batch). `'c` is the import's transaction, which the
/// store's statements borrow.
pub struct StepsImporter<'c> {
    /// The roster's participant numbers, sorted; shared with the reader's precheck.
    participants: Arc<Vec<Box<str>>>,
    /// The program period's days as text (see [`period_days`]).
    days: Arc<String>,
    /// The last participant number found in the roster: rows come card by card, so most
    /// rows repeat it and skip the lookup.
    last_known: String,
    /// Where keyed days go: inserted, or staged when the day is already stored, and
    /// settled in [`StepsImporter::finish`] once the whole file is read.
    store: StepsWriter<'c>,
    program: Program,
    replace: bool,
    /// Keep the cells of rows that may be refused at the end (`--partial` stores them).
    keep_rows: bool,
    forced: Option<Layout>,
    layout: Option<Layout>,
    /// The sheets read so far, by the number staged keyings carry.
    sheets: Vec<Header>,
    date_buf: String,
    /// The sheet and steps column of the rows the reader prechecks (set with the check).
    pre_at: (u32, u32),
    pub counts: Counts,
    /// Rows refused after the fact (a day keyed again with another value, a conflict
    /// found once the file was read), in the sheet's layout, kept with the rejected rows.
    pub extra_rejects: Vec<(String, u32, Vec<String>)>,
    now: String,
}

impl<'c> StepsImporter<'c> {
    /// An importer storing into batch `batch` on `conn` (the import's transaction).
    pub fn new(
        conn: &'c Connection,
        program: Program,
        participants: Arc<Vec<Box<str>>>,
        batch: i64,
        replace: bool,
        keep_rows: bool,
        forced: Option<Layout>,
    ) -> Result<Self> {
        Ok(StepsImporter {
            participants,
            days: Arc::new(period_days(&program)),
            last_known: String::new(),
            store: StepsWriter::new(conn, batch)?,
            program,
            replace,
            keep_rows,
            forced,
            layout: None,
            sheets: Vec::new(),
            date_buf: String::with_capacity(10),
            pre_at: (0, 0),
            counts: Counts::default(),
            extra_rejects: Vec::new(),
            now: crate::now(),
        })
    }
}

impl StepsImporter<'_> {
    /// The header problems for the layout this sheet is in (or was forced to).
    pub fn check_header(&mut self, h: &Header) -> Vec<Problem> {
        let out = check_layout(h, self.forced, &mut self.layout);
        if out.is_empty() {
            self.sheets.push(h.clone());
        }
        out
    }

    /// The reader-side check of a long sheet's rows (see [`Precheck`]): a row whose
    /// participant number is plain (`[A-Za-z0-9_-]`, as the full check keeps it) and in
    /// the roster, whose date is `YYYY-MM-DD` inside the period and whose steps are plain
    /// digits within the daily maximum, with nothing outside the header, is passed as
    /// (roster position, day of the period, steps). Every other row, valid or not, goes
    /// through the full checks in [`StepsImporter::row`], so every problem reads as before.
    pub fn precheck(&mut self, h: &Header) -> Option<Precheck> {
        if self.layout != Some(Layout::Long) || self.days.is_empty() {
            return None;
        }
        let (pc, dc, sc) = (h.col("participant_id")?, h.col("date")?, h.col("steps")?);
        self.pre_at = (self.sheets.len().saturating_sub(1) as u32, sc as u32);
        let width = h.width();
        let ids = self.participants.clone();
        let days = self.days.clone();
        let (start, end) = (self.program.program.start, self.program.program.end);
        let max = self.program.program.max_daily_steps;
        // Rows come card by card and day by day: the same participant as the row before
        // and the next day are tried first.
        let (last_key, last_day) = (AtomicU32::new(u32::MAX), AtomicU32::new(u32::MAX));
        Some(Arc::new(move |row: &mut Row| {
            if row.len() > width {
                return;
            }
            let (CellRef::Text(p), CellRef::Text(d), CellRef::Text(v)) =
                (row.get(pc), row.get(dc), row.get(sc))
            else {
                return;
            };
            let key = match ids.get(last_key.load(Ordering::Relaxed) as usize) {
                Some(id) if id.as_ref() == p => last_key.load(Ordering::Relaxed),
                _ => {
                    if p.is_empty()
                        || p.len() > 40
                        || !p
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    {
                        return;
                    }
                    let Ok(k) = ids.binary_search_by(|id| id.as_ref().cmp(p)) else {
                        return;
                    };
                    last_key.store(k as u32, Ordering::Relaxed);
                    k as u32
                }
            };
            let day_text = |i: u32| days.get(i as usize * 10..i as usize * 10 + 10);
            let next = last_day.load(Ordering::Relaxed).wrapping_add(1);
            let day = if day_text(next) == Some(d) {
                next
            } else {
                match crate::sheet::date::iso_exact(d) {
                    Some(Ok(date)) if date >= start && date <= end => {
                        (date - start).num_days() as u32
                    }
                    _ => return,
                }
            };
            last_day.store(day, Ordering::Relaxed);
            let b = v.as_bytes();
            if b.is_empty() || b.len() > 18 || !b.iter().all(u8::is_ascii_digit) {
                return;
            }
            let value = b
                .iter()
                .fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0'));
            if value > max {
                return;
            }
            row.set_pre(Pre { key, day, value });
        }))
    }

    /// Store a row the reader's precheck passed: nothing left to check.
    fn store_prechecked(&mut self, h: &Header, row: &Row, pre: Pre) -> Result<()> {
        self.counts.rows += 1;
        self.counts.cells += 1;
        let day = pre.day as usize * 10;
        let (Some(pid), Some(date)) = (
            self.participants.get(pre.key as usize),
            self.days.get(day..day + 10),
        ) else {
            anyhow::bail!("internal: a prechecked row out of range");
        };
        let at = At {
            sheet: self.pre_at.0,
            row: row.number(),
            col: self.pre_at.1,
        };
        let cells = || serde_json::to_string(&h.kept_cells(row)).unwrap_or_default();
        let keep: Option<&dyn Fn() -> String> = if self.keep_rows { Some(&cells) } else { None };
        if self.store.put(pid, date, pre.value, at, keep)? == Put::Inserted {
            self.counts.inserted += 1;
        }
        Ok(())
    }

    /// Validate and store one non-blank row; problems are appended to `out`.
    pub fn row(&mut self, h: &Header, row: &Row, out: &mut Vec<Problem>) -> Result<()> {
        if let Some(pre) = row.pre() {
            return self.store_prechecked(h, row, pre);
        }
        self.counts.rows += 1;
        let layout = self.layout.unwrap_or(Layout::Long);
        let Some(pid) = self.participant(h, row, out) else {
            return Ok(());
        };
        let max = self.program.program.max_daily_steps;
        keyed_days(h, layout, row, max, out, |out, k| {
            if !matches!(k.steps, Checked::Skip) {
                self.counts.cells += 1;
            }
            let steps = match k.steps {
                Checked::Ok(v) => v,
                Checked::Skip => return Ok(()),
                Checked::Bad(code, msg) => {
                    out.push(problem(h, row, k.col, code, msg));
                    return Ok(());
                }
            };
            if !self.program.in_period(k.date) {
                out.push(self.period_problem(h, row, k.date_col, k.date));
                return Ok(());
            }
            write_date(&mut self.date_buf, k.date);
            let at = At {
                sheet: self.sheets.len().saturating_sub(1) as u32,
                row: row.number(),
                col: k.col as u32,
            };
            let cells = || serde_json::to_string(&h.kept_cells(row)).unwrap_or_default();
            let keep: Option<&dyn Fn() -> String> =
                if self.keep_rows { Some(&cells) } else { None };
            if self.store.put(&pid, &self.date_buf, steps, at, keep)? == Put::Inserted {
                self.counts.inserted += 1;
            }
            Ok(())
        })
    }

    fn participant<'r>(
        &mut self,
        h: &Header,
        row: &'r Row,
        out: &mut Vec<Problem>,
    ) -> Option<std::borrow::Cow<'r, str>> {
        let id = match read_participant(h, row)? {
            Ok(id) => id,
            Err(p) => {
                out.push(p);
                return None;
            }
        };
        if id.as_ref() == self.last_known {
            return Some(id);
        }
        if self
            .participants
            .binary_search_by(|p| p.as_ref().cmp(id.as_ref()))
            .is_err()
        {
            out.push(unknown_participant(h, row, &id));
            return None;
        }
        self.last_known.clear();
        self.last_known.push_str(&id);
        Some(id)
    }

    fn period_problem(&self, h: &Header, row: &Row, col: usize, date: NaiveDate) -> Problem {
        let p = &self.program.program;
        problem(
            h,
            row,
            col,
            "date.out_of_period",
            format!(
                "{date} は事業期間（{} 〜 {}）の外です。台紙の日付を確かめてください",
                p.start, p.end
            ),
        )
    }

    /// Settle the days met twice (see `db::steps`), in file order; then refuse a
    /// `--replace` that lowers a participant's points below what their accepted orders
    /// already used (it would overdraw them).
    fn settle(&mut self, conn: &Connection, out: &mut Vec<Problem>) -> Result<()> {
        let mut refused = Vec::new();
        let res = self
            .store
            .resolve(self.replace, &self.now, |r| refused.push(r))?;
        refused.sort_by_key(|r| (r.at.sheet, r.at.row, r.at.col));
        self.counts.inserted = self.counts.inserted.saturating_sub(res.taken_back);
        self.counts.duplicates += res.duplicates;
        self.counts.replaced += res.replaced;
        let mut last_row = None;
        for r in refused {
            let h = &self.sheets[r.at.sheet as usize];
            let p = refused_problem(h, &r);
            if last_row != Some((r.at.sheet, r.at.row)) {
                last_row = Some((r.at.sheet, r.at.row));
                let cells = match &r.cells {
                    Some(json) => serde_json::from_str(json)?,
                    None => rebuilt_row(h, &r),
                };
                self.extra_rejects.push((h.sheet.clone(), r.at.row, cells));
            }
            out.push(p);
        }
        if res.replaced_participants.is_empty() {
            return Ok(());
        }
        let over = crate::db::points::overdrawn(conn, &self.program, &res.replaced_participants)?;
        if !over.is_empty() {
            anyhow::bail!(
                "--replace で歩数を置き換えると、景品の申込みで使ったポイントより獲得ポイントが少なくなる参加者がいるため、\
                 何も取り込んでいません（置換後の獲得 / 使用済み）: {}。台紙と申込みを確かめてください \
                 (replacing would leave these participants below the points their orders used)",
                over.iter()
                    .take(20)
                    .map(|(p, e, u)| format!("{p}（{e} / {u}）"))
                    .collect::<Vec<_>>()
                    .join("、")
            );
        }
        Ok(())
    }
}

/// The problem of a keying refused once the whole file was read.
fn refused_problem(h: &Header, r: &Refused) -> Problem {
    let (pid, date, steps) = (&r.participant, &r.date, r.steps);
    let (code, message) = match &r.why {
        Why::DuplicateConflict { others } => {
            let rows = others
                .iter()
                .map(|(row, _)| row.to_string())
                .collect::<Vec<_>>()
                .join("・");
            let mut values = vec![steps];
            for (_, v) in others {
                if !values.contains(v) {
                    values.push(*v);
                }
            }
            let values = values
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(" と ");
            let none = if others.len() > 1 { "どれも" } else { "どちらも" };
            (
                "steps.duplicate_conflict",
                format!(
                    "{pid} の {date} がこのファイルの {rows} 行目にもあり、値が違います（{values}）。\
                     台紙を確かめて一方を消してください（{none}取り込んでいません）"
                ),
            )
        }
        Why::Conflict { old, batch, .. } => (
            "steps.conflict",
            format!(
                "{pid} の {date} に {steps} と入力されましたが、取込み {batch} の {old} が既にあります。\
                 新しい値にするなら --replace を付けてください（旧値は履歴に残ります）\
                 ({steps} keyed, {old} already stored from batch {batch}; use --replace to keep the new value)"
            ),
        ),
    };
    let col = r.at.col as usize;
    Problem {
        sheet: h.sheet.clone(),
        row: Some(r.at.row),
        col: Some(col),
        column: h.heading(col).to_string(),
        raw: match &r.cells {
            Some(json) => serde_json::from_str::<Vec<String>>(json)
                .ok()
                .and_then(|c| c.get(col).cloned())
                .unwrap_or_else(|| steps.to_string()),
            None => steps.to_string(),
        },
        code,
        message,
    }
}

/// A refused keying's row rebuilt in the sheet's layout from what was stored (the row
/// itself was read long before): participant, date or month, and the day's value.
fn rebuilt_row(h: &Header, r: &Refused) -> Vec<String> {
    let mut cells = vec![String::new(); h.width()];
    let mut set = |key: Option<usize>, v: String| {
        if let Some(slot) = key.and_then(|c| cells.get_mut(c)) {
            *slot = v;
        }
    };
    set(h.col("participant_id"), r.participant.clone());
    set(h.col("date"), r.date.clone());
    set(
        h.col("year_month"),
        r.date.get(..7).unwrap_or("").to_string(),
    );
    set(Some(r.at.col as usize), r.steps.to_string());
    cells
}

impl super::batch::RowHandler for StepsImporter<'_> {
    fn refused_unread(&mut self) {
        self.counts.rows += 1;
    }

    fn header(&mut self, h: &Header) -> Vec<Problem> {
        self.check_header(h)
    }
    fn precheck(&mut self, h: &Header) -> Option<Precheck> {
        StepsImporter::precheck(self, h)
    }
    fn row(
        &mut self,
        _conn: &Connection,
        h: &Header,
        row: &Row,
        out: &mut Vec<Problem>,
    ) -> Result<()> {
        StepsImporter::row(self, h, row, out)
    }
    fn counts(&self) -> Counts {
        self.counts
    }
    fn layout(&self) -> String {
        match self.layout {
            Some(Layout::Card) => "card".into(),
            _ => "long".into(),
        }
    }
    fn extra_rejects(&mut self) -> Vec<(String, u32, Vec<String>)> {
        std::mem::take(&mut self.extra_rejects)
    }
    fn finish(&mut self, conn: &Connection, out: &mut Vec<Problem>) -> Result<()> {
        self.settle(conn, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_written_iso() {
        let mut b = String::new();
        write_date(&mut b, NaiveDate::from_ymd_opt(2025, 5, 4).unwrap());
        assert_eq!(b, "2025-05-04");
    }
}
