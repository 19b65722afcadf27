//! Step sheets (long and card layouts) into the `steps` table: every cell validated with
//! its place and code, duplicates skipped, conflicts refused unless `--replace` (the old
//! value kept in history), and the whole file one transaction.
//!
//! The hot path (long CSV) does no per-row allocation for ASCII cells: cells are borrowed
//! from the reader's reused row, the date is written into a reused buffer, and rows go
//! through one prepared statement.

use super::header::{ColumnDef, Header};
use super::{Counts, Layout, Problem};
use crate::db::steps::{At, Put, Refused, StepsWriter, Why};
use crate::program::Program;
use crate::sheet::date::{
    days_in_month, from_excel_serial, parse_date, parse_year_month, DateError,
};
use crate::sheet::normalize::{float_to_int, normalize, parse_int, IntParse};
use crate::sheet::{CellRef, Row};
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use rusqlite::Connection;

use std::collections::HashSet;

pub const PARTICIPANT: ColumnDef = ColumnDef {
    key: "participant_id",
    names: &[
        "参加者番号",
        "会員番号",
        "参加者ID",
        "participant_id",
        "participant",
    ],
    required: true,
};

/// Every column a step sheet may have, for finding the header before the layout is known;
/// which of them a sheet must have depends on its layout (`check_layout`).
pub const ANY_COLUMNS: &[ColumnDef] = &[
    PARTICIPANT,
    ColumnDef {
        key: "date",
        names: &["日付", "年月日", "歩行日", "date"],
        required: false,
    },
    ColumnDef {
        key: "steps",
        names: &["歩数", "steps"],
        required: false,
    },
    ColumnDef {
        key: "year_month",
        names: &["年月", "対象年月", "year_month", "month"],
        required: false,
    },
];

/// The layout a header shows, unless `--layout` says.
pub fn detect_layout(h: &Header, forced: Option<Layout>) -> Layout {
    forced.unwrap_or(
        if h.has("year_month") || (h.has_days() && !h.has("steps")) {
            Layout::Card
        } else {
            Layout::Long
        },
    )
}

/// Checks a participant number's form; `Err(message)` when it cannot be one.
pub fn check_participant_id(id: &str) -> std::result::Result<(), &'static str> {
    if id.is_empty() {
        return Err("参加者番号が空です。台紙に印字された番号を入力してください");
    }
    if id.len() > 40
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(
            "参加者番号として読めません（英数字とハイフンのみ）。台紙の番号を確かめてください",
        );
    }
    Ok(())
}

/// One value to store, or the problem with it.
pub enum Checked {
    Ok(i64),
    Skip,
    Bad(&'static str, String),
}

/// A keyed step count from any cell.
pub fn check_steps(cell: CellRef<'_>, max: i64, empty_is_skip: bool) -> Checked {
    let parsed = match cell {
        CellRef::Empty => {
            return if empty_is_skip {
                Checked::Skip
            } else {
                Checked::Bad(
                    "steps.missing",
                    "歩数が空です。台紙の値を入力してください".into(),
                )
            }
        }
        CellRef::Number(f) => float_to_int(f),
        CellRef::Text(s) => {
            let n = normalize(s);
            if n.is_empty() {
                return if empty_is_skip {
                    Checked::Skip
                } else {
                    Checked::Bad(
                        "steps.missing",
                        "歩数が空です。台紙の値を入力してください".into(),
                    )
                };
            }
            parse_int(&n)
        }
        CellRef::Date(_) | CellRef::Bool(_) | CellRef::Error(_) => IntParse::NotANumber,
    };
    match parsed {
        IntParse::Int(v) => check_steps_value(v, max),
        IntParse::Fraction => Checked::Bad(
            "steps.not_a_number",
            "歩数に小数があります。整数で入力してください".into(),
        ),
        IntParse::NotANumber => Checked::Bad(
            "steps.not_a_number",
            "歩数が数字として読めません。数字だけを入力してください".into(),
        ),
    }
}

/// A whole number of steps against the rules: not negative, not above `max`.
pub fn check_steps_value(v: i64, max: i64) -> Checked {
    if v < 0 {
        Checked::Bad(
            "steps.negative",
            "歩数がマイナスです。台紙の値を確かめてください".into(),
        )
    } else if v > max {
        Checked::Bad(
            "steps.implausible",
            format!("1日 {max} 歩を超える値はありえないため受け付けません。台紙の値（桁の打ち間違い）を確かめてください"),
        )
    } else {
        Checked::Ok(v)
    }
}

/// A date from any cell: a date cell, an Excel serial number, or text in any keyed form.
pub fn cell_date(cell: CellRef<'_>) -> std::result::Result<NaiveDate, DateError> {
    match cell {
        CellRef::Date(d) => Ok(d),
        CellRef::Number(f) => from_excel_serial(f, false).ok_or(DateError::Invalid),
        CellRef::Text(s) => fast_iso(s).unwrap_or_else(|| parse_date(s)),
        CellRef::Empty | CellRef::Bool(_) | CellRef::Error(_) => Err(DateError::Invalid),
    }
}

/// `YYYY-MM-DD` exactly, the form generated files use: parsed without normalization.
fn fast_iso(s: &str) -> Option<std::result::Result<NaiveDate, DateError>> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return Some(Err(DateError::Invalid));
    }
    Some(NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(DateError::Nonexistent))
}

/// A year-month from any cell (a month cell Excel turned into a date is that month).
pub fn cell_year_month(cell: CellRef<'_>) -> std::result::Result<(i32, u32), DateError> {
    match cell {
        CellRef::Date(d) => Ok((d.year(), d.month())),
        CellRef::Number(f) => from_excel_serial(f, false)
            .map(|d| (d.year(), d.month()))
            .ok_or(DateError::Invalid),
        CellRef::Text(s) => parse_year_month(s),
        CellRef::Empty | CellRef::Bool(_) | CellRef::Error(_) => Err(DateError::Invalid),
    }
}

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

/// The header problems for the layout a sheet is in (or was forced to). `seen` carries
/// the layout of the sheets read before, so one file cannot mix layouts.
pub fn check_layout(h: &Header, forced: Option<Layout>, seen: &mut Option<Layout>) -> Vec<Problem> {
    let layout = detect_layout(h, forced);
    if let Some(prev) = *seen {
        if prev != layout {
            return vec![header_problem(
                    h,
                    None,
                    "header.layout_mixed",
                    "一つの取込みに縦型（日付・歩数）と台紙型（年月・1〜31）のシートが混ざっています。別々に取り込んでください"
                        .into(),
                )];
        }
    }
    *seen = Some(layout);
    let mut out = Vec::new();
    let (required, foreign): (&[&str], &[&str]) = match layout {
        Layout::Long => (&["date", "steps"], &["year_month"]),
        Layout::Card => (&["year_month"], &["date", "steps"]),
    };
    for key in required {
        if !h.has(key) {
            let name = ANY_COLUMNS
                .iter()
                .find(|d| d.key == *key)
                .map(|d| d.names[0])
                .unwrap_or(key);
            out.push(header_problem(
                    h,
                    None,
                    "header.missing_column",
                    format!("必須の列「{name}」がありません。見出し行（{} 行目）に追加してください (missing column)", h.row),
                ));
        }
    }
    for key in foreign {
        if let Some(c) = h.col(key) {
            out.push(header_problem(
                h,
                Some(c),
                "header.unknown_column",
                format!(
                    "列「{}」はこの形式（{}）にはない列です",
                    h.heading(c),
                    layout_ja(layout)
                ),
            ));
        }
    }
    match layout {
        Layout::Card if !h.has_days() => out.push(header_problem(
            h,
            None,
            "header.missing_column",
            "台紙型には日付の列（1〜31 または 1日〜31日）が必要です".into(),
        )),
        Layout::Long => {
            if let Some(c) = h.days.iter().flatten().next() {
                out.push(header_problem(
                    h,
                    Some(*c),
                    "header.unknown_column",
                    format!(
                        "列「{}」は縦型（参加者番号・日付・歩数）にはない列です",
                        h.heading(*c)
                    ),
                ));
            }
        }
        Layout::Card => {}
    }
    out
}

/// One day a step-sheet row keys: the cell holding the steps, the cell that dates it
/// (the 日付 cell in the long layout, the day cell itself on a card), the date, and the
/// steps as read.
pub struct KeyedDay {
    pub col: usize,
    pub date_col: usize,
    pub date: NaiveDate,
    pub steps: Checked,
}

/// The days one row keys, in column order, each handed to `f` (with `out`, where `f`
/// puts its own problems). A date that cannot be read, a month that cannot be read and a
/// value on a day that does not exist are put in `out` here. The import and the
/// double-entry verification both read rows through this, so they read a sheet alike.
pub fn keyed_days(
    h: &Header,
    layout: Layout,
    row: &Row,
    max_steps: i64,
    out: &mut Vec<Problem>,
    mut f: impl FnMut(&mut Vec<Problem>, KeyedDay) -> Result<()>,
) -> Result<()> {
    match layout {
        Layout::Long => {
            let (Some(dc), Some(sc)) = (h.col("date"), h.col("steps")) else {
                return Ok(());
            };
            let date = match cell_date(row.get(dc)) {
                Ok(d) => d,
                Err(e) => {
                    out.push(date_problem(h, row, dc, e));
                    return Ok(());
                }
            };
            let steps = check_steps(row.get(sc), max_steps, false);
            f(
                out,
                KeyedDay {
                    col: sc,
                    date_col: dc,
                    date,
                    steps,
                },
            )
        }
        Layout::Card => {
            let Some(mc) = h.col("year_month") else {
                return Ok(());
            };
            let (y, m) = match cell_year_month(row.get(mc)) {
                Ok(ym) => ym,
                Err(_) => {
                    out.push(problem(
                        h,
                        row,
                        mc,
                        "date.invalid",
                        "年月として読めません（例: 2025-05、2025年5月、R7.5）。台紙の年月を確かめてください"
                            .into(),
                    ));
                    return Ok(());
                }
            };
            let last = days_in_month(y, m);
            for d in 1..=31u32 {
                let Some(c) = h.days[d as usize] else {
                    continue;
                };
                let steps = check_steps(row.get(c), max_steps, true);
                if let Checked::Skip = steps {
                    continue;
                }
                if d > last {
                    // A value that cannot be read is reported as such, whatever its day.
                    out.push(match steps {
                        Checked::Bad(code, msg) => problem(h, row, c, code, msg),
                        _ => problem(
                            h,
                            row,
                            c,
                            "date.nonexistent",
                            format!("{y}年{m}月{d}日は存在しない日です。台紙の欄の位置（月・日）を確かめてください"),
                        ),
                    });
                    continue;
                }
                let Some(date) = NaiveDate::from_ymd_opt(y, m, d) else {
                    continue;
                };
                f(
                    out,
                    KeyedDay {
                        col: c,
                        date_col: c,
                        date,
                        steps,
                    },
                )?;
            }
            Ok(())
        }
    }
}

/// The participant number of a row, normalized, or the problem with its form (`None`
/// when the sheet has no participant column).
pub fn read_participant<'r>(
    h: &Header,
    row: &'r Row,
) -> Option<std::result::Result<std::borrow::Cow<'r, str>, Problem>> {
    let c = h.col("participant_id")?;
    let raw = row.raw_text(c);
    let id: std::borrow::Cow<'r, str> = match raw {
        std::borrow::Cow::Borrowed(s) => normalize(s),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(normalize(&s).into_owned()),
    };
    if let Err(msg) = check_participant_id(&id) {
        return Some(Err(problem(
            h,
            row,
            c,
            "participant.id_invalid",
            msg.into(),
        )));
    }
    Some(Ok(id))
}

/// `participant.unknown` at the row's participant cell.
pub fn unknown_participant(h: &Header, row: &Row, id: &str) -> Problem {
    problem(
        h,
        row,
        h.col("participant_id").unwrap_or(0),
        "participant.unknown",
        format!(
            "参加者番号 {id} は名簿にありません。番号を確かめるか、先に名簿を取り込んでください"
        ),
    )
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
    let mut ids = Some(crate::db::participants::ids(s.conn)?);
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
    participants: HashSet<String>,
    /// The last participant number found in the roster: rows come card by card, so most
    /// rows repeat it and skip the set lookup.
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
        participants: HashSet<String>,
        batch: i64,
        replace: bool,
        keep_rows: bool,
        forced: Option<Layout>,
    ) -> Result<Self> {
        Ok(StepsImporter {
            participants,
            last_known: String::new(),
            store: StepsWriter::new(conn, batch)?,
            program,
            replace,
            keep_rows,
            forced,
            layout: None,
            sheets: Vec::new(),
            date_buf: String::with_capacity(10),
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

    /// Validate and store one non-blank row; problems are appended to `out`.
    pub fn row(&mut self, h: &Header, row: &Row, out: &mut Vec<Problem>) -> Result<()> {
        self.counts.rows += 1;
        let layout = self.layout.unwrap_or(Layout::Long);
        let Some(pid) = self.participant(h, row, out) else {
            return Ok(());
        };
        let max = self.program.program.max_daily_steps;
        keyed_days(h, layout, row, max, out, |out, k| {
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
            let width = h.width();
            let cells = || {
                let cells: Vec<String> = (0..width.max(row.len()))
                    .map(|c| row.raw_text(c).into_owned())
                    .collect();
                serde_json::to_string(&cells).unwrap_or_default()
            };
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
        if !self.participants.contains(id.as_ref()) {
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
        let over = crate::points::overdrawn(conn, &self.program, &res.replaced_participants)?;
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

fn layout_ja(l: Layout) -> &'static str {
    match l {
        Layout::Long => "縦型: 参加者番号・日付・歩数",
        Layout::Card => "台紙型: 参加者番号・年月・1〜31",
    }
}

impl super::batch::RowHandler for StepsImporter<'_> {
    fn header(&mut self, h: &Header) -> Vec<Problem> {
        self.check_header(h)
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

/// A problem with the header row itself (or one of its cells).
pub fn header_problem(
    h: &Header,
    col: Option<usize>,
    code: &'static str,
    message: String,
) -> Problem {
    Problem {
        sheet: h.sheet.clone(),
        row: Some(h.row),
        col,
        column: col.map(|c| h.heading(c).to_string()).unwrap_or_default(),
        raw: col.map(|c| h.heading(c).to_string()).unwrap_or_default(),
        code,
        message,
    }
}

pub fn problem(h: &Header, row: &Row, col: usize, code: &'static str, message: String) -> Problem {
    Problem {
        sheet: h.sheet.clone(),
        row: Some(row.number()),
        col: Some(col),
        column: h.heading(col).to_string(),
        raw: row.raw_text(col).into_owned(),
        code,
        message,
    }
}

pub fn date_problem(h: &Header, row: &Row, col: usize, e: DateError) -> Problem {
    match e {
        DateError::Nonexistent => problem(
            h,
            row,
            col,
            "date.nonexistent",
            "存在しない日付です（例: 6月31日）。台紙の日付を確かめてください".into(),
        ),
        DateError::Invalid => problem(
            h,
            row,
            col,
            "date.invalid",
            "日付として読めません（例: 2025-05-14、2025/5/14、R7.5.14、令和7年5月14日）".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_iso_agrees_with_the_full_parser() {
        for s in [
            "2025-05-14",
            "2025-06-31",
            "2025-13-01",
            "2025-00-10",
            "2024-02-29",
            "2025-02-29",
        ] {
            let fast = fast_iso(s).unwrap();
            assert_eq!(fast.is_ok(), parse_date(s).is_ok(), "{s}");
            if let Ok(d) = fast {
                assert_eq!(
                    Ok(d),
                    parse_date(s)
                        .map_err(|_| ())
                        .map_err(|_| DateError::Invalid)
                );
            }
        }
        assert!(fast_iso("2025/05/14").is_none());
        assert!(fast_iso("２０２５-05-14").is_none());
    }

    #[test]
    fn date_is_written_iso() {
        let mut b = String::new();
        write_date(&mut b, NaiveDate::from_ymd_opt(2025, 5, 4).unwrap());
        assert_eq!(b, "2025-05-04");
    }

    #[test]
    fn steps_checks() {
        assert!(matches!(
            check_steps(CellRef::Text("８，０００"), 60000, false),
            Checked::Ok(8000)
        ));
        assert!(matches!(
            check_steps(CellRef::Number(8000.0), 60000, false),
            Checked::Ok(8000)
        ));
        assert!(matches!(
            check_steps(CellRef::Number(7999.5), 60000, false),
            Checked::Bad("steps.not_a_number", _)
        ));
        assert!(matches!(
            check_steps(CellRef::Text("-5"), 60000, false),
            Checked::Bad("steps.negative", _)
        ));
        assert!(matches!(
            check_steps(CellRef::Text("80000"), 60000, false),
            Checked::Bad("steps.implausible", _)
        ));
        assert!(matches!(
            check_steps(CellRef::Text("abc"), 60000, false),
            Checked::Bad("steps.not_a_number", _)
        ));
        assert!(matches!(
            check_steps(CellRef::Empty, 60000, true),
            Checked::Skip
        ));
        assert!(matches!(
            check_steps(CellRef::Empty, 60000, false),
            Checked::Bad("steps.missing", _)
        ));
    }

    #[test]
    fn participant_ids_are_checked() {
        assert!(check_participant_id("C000003").is_ok());
        assert!(check_participant_id("").is_err());
        assert!(check_participant_id("山田").is_err());
    }
}
