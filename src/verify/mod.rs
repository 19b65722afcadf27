//! Double-entry verification (ベリファイ): two keyings of the same cards, each read
//! exactly as `steps import` reads a sheet (same header finding, layouts, cell
//! normalization, dates), matched by participant and day and compared by meaning, so
//! `８，０００` and `8000`, or `R7.8.4` and `2025-08-04`, agree. Values both keyings agree
//! on are still checked (roster, period, plausibility): a double miss is still a miss.
//!
//! Both keyings are held in memory as a list of entries and a map keyed by (participant,
//! day). That suits verification, which is done on a day's or a month's keying (a few
//! thousand to a few hundred thousand entries), not on a whole program year at once.

pub mod report;

use crate::import::walk::{walk, Visit};
use crate::import::{chosen_sheets, open_source, Layout, Options, Problem};
use crate::program::Program;
use crate::sheet::normalize::normalize;
use crate::sheet::{cell_name, ReadOptions, Row};
use crate::validate::fields::read_participant;
use crate::validate::header::Header;
use crate::validate::steps::{check_layout, check_steps_value, keyed_days, Checked, ANY_COLUMNS};
use anyhow::Result;
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Which keying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    First,
    Second,
}

impl Side {
    pub fn ja(self) -> &'static str {
        match self {
            Side::First => "1回目",
            Side::Second => "2回目",
        }
    }
}

/// Steps as read: a whole number, or, when the cell is not one, what it said (boxed:
/// rare, and it keeps every entry small).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    Bad(Box<BadVal>),
}

/// A steps cell that is not a whole number of steps.
#[derive(Debug, Clone, PartialEq)]
pub struct BadVal {
    pub code: &'static str,
    pub message: String,
    /// The cell after normalization (NFKC, trimmed), for comparing and showing.
    pub norm: String,
}

impl Val {
    /// Same meaning: equal numbers, or the same text after normalization.
    pub fn same(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Bad(a), Val::Bad(b)) => a.norm == b.norm,
            (Val::Int(_), Val::Bad(_)) | (Val::Bad(_), Val::Int(_)) => false,
        }
    }

    /// The normalized value as shown in reports.
    pub fn shown(&self) -> String {
        match self {
            Val::Int(v) => v.to_string(),
            Val::Bad(b) if b.norm.is_empty() => "（空）".to_string(),
            Val::Bad(b) => b.norm.clone(),
        }
    }
}

/// One keyed day: who, when, the steps, and where it stands in the file. Kept small
/// (the participant number is shared by the days of a row), since a keying is held in
/// memory whole.
#[derive(Debug, Clone)]
pub struct Entry {
    pub participant: Rc<str>,
    pub date: NaiveDate,
    pub val: Val,
    /// The steps cell as keyed, when that is not simply the number (most cells are).
    raw: Option<Box<str>>,
    /// Index into [`Keying::sheets`].
    pub sheet: u32,
    pub row: u32,
    /// The steps cell.
    pub col: u16,
    /// The cell that dates the entry (日付 in the long layout; the day cell on a card).
    pub date_col: u16,
    pub pid_col: u16,
}

impl Entry {
    /// The steps cell as keyed.
    pub fn raw(&self) -> std::borrow::Cow<'_, str> {
        match (&self.raw, &self.val) {
            (Some(r), _) => std::borrow::Cow::Borrowed(r),
            (None, v) => std::borrow::Cow::Owned(v.shown()),
        }
    }
    pub fn col(&self) -> usize {
        usize::from(self.col)
    }
    pub fn date_col(&self) -> usize {
        usize::from(self.date_col)
    }
    pub fn pid_col(&self) -> usize {
        usize::from(self.pid_col)
    }
}

/// A sheet read from a keying.
#[derive(Debug, Clone)]
pub struct SheetInfo {
    pub name: String,
    /// The row the header is on.
    pub header_row: u32,
    /// The last row read.
    pub last_row: u32,
}

/// One keying read into entries.
#[derive(Debug)]
pub struct Keying {
    pub side: Side,
    pub path: PathBuf,
    pub file_name: String,
    pub sha256: String,
    pub read_opts: ReadOptions,
    /// The sheets read.
    pub sheets: Vec<SheetInfo>,
    pub layout: Option<Layout>,
    /// Non-blank rows read below the headers.
    pub rows: u64,
    pub entries: Vec<Entry>,
    /// Cells that could not be read into an entry, each with the row's participant
    /// number where that could be read.
    pub problems: Vec<(Problem, String)>,
    /// Problems that make the file unreadable (header, layout).
    pub header_problems: Vec<Problem>,
}

impl Keying {
    pub fn sheet_name(&self, i: u32) -> &str {
        self.sheets
            .get(i as usize)
            .map(|s| s.name.as_str())
            .unwrap_or("")
    }
    /// `Sheet!C12` of an entry's steps cell.
    pub fn place(&self, e: &Entry) -> String {
        self.place_at(e, e.col())
    }
    pub fn place_at(&self, e: &Entry, col: usize) -> String {
        format!("{}!{}", self.sheet_name(e.sheet), cell_name(e.row, col))
    }
    /// The file name without its folder, for short messages.
    pub fn base_name(&self) -> String {
        self.path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.file_name.clone())
    }
}

/// Read one keying through the import's reading path: the same sheet choice, header
/// detection, layout check, row reading and cell normalization as `steps import`.
pub fn read_keying(
    path: &Path,
    side: Side,
    opts: &Options,
    forced: Option<Layout>,
) -> Result<Keying> {
    let mut src = open_source(path, opts)?;
    let sheets = chosen_sheets(&src, opts)?;
    let mut r = KeyingReader {
        k: Keying {
            side,
            path: path.to_path_buf(),
            file_name: src.file_name.clone(),
            sha256: src.sha256.clone(),
            read_opts: src.opts.clone(),
            sheets: Vec::new(),
            layout: None,
            rows: 0,
            entries: Vec::new(),
            problems: Vec::new(),
            header_problems: Vec::new(),
        },
        forced,
        out: Vec::new(),
        ids: HashSet::new(),
    };
    walk(&mut src.book, &sheets, ANY_COLUMNS, true, opts, &mut r)?;
    let mut k = r.k;
    k.entries.shrink_to_fit();
    Ok(k)
}

/// A keying as its sheets are walked.
struct KeyingReader {
    k: Keying,
    forced: Option<Layout>,
    out: Vec<Problem>,
    /// One shared copy of each participant number, however many days it keys.
    ids: HashSet<Rc<str>>,
}

impl Visit for KeyingReader {
    fn header(&mut self, h: &Header) -> Result<Vec<Problem>> {
        let hp = check_layout(h, self.forced, &mut self.k.layout);
        if hp.is_empty() {
            self.k.sheets.push(SheetInfo {
                name: h.sheet.clone(),
                header_row: h.row,
                last_row: h.row,
            });
        }
        Ok(hp)
    }

    fn unreadable(&mut self, problems: Vec<Problem>) {
        self.k.header_problems.extend(problems);
    }

    fn row(&mut self, header: &Header, row: &Row, outside: Option<Problem>) -> Result<()> {
        let k = &mut self.k;
        let layout = k.layout.unwrap_or(Layout::Long);
        let sheet_idx = k.sheets.len().saturating_sub(1) as u32;
        let pid_col = header.col("participant_id").unwrap_or(0) as u16;
        k.rows += 1;
        if let Some(info) = k.sheets.last_mut() {
            info.last_row = row.number();
        }
        let out = &mut self.out;
        let pid = match read_participant(header, row) {
            Some(Ok(id)) => Some(match self.ids.get(id.as_ref()) {
                Some(rc) => Rc::clone(rc),
                None => {
                    let rc = Rc::<str>::from(id.as_ref());
                    self.ids.insert(Rc::clone(&rc));
                    rc
                }
            }),
            Some(Err(p)) => {
                out.push(p);
                None
            }
            None => None,
        };
        if let Some(pid) = &pid {
            let entries = &mut k.entries;
            // No upper limit while reading: an implausible value is still compared
            // with the other keying, and checked for plausibility once they agree.
            keyed_days(header, layout, row, i64::MAX, out, |_, d| {
                let val = match d.steps {
                    Checked::Ok(v) => Val::Int(v),
                    Checked::Skip => return Ok(()),
                    Checked::Bad(code, message) => Val::Bad(Box::new(BadVal {
                        code,
                        message,
                        norm: normalize(&row.raw_text(d.col)).into_owned(),
                    })),
                };
                let raw = row.raw_text(d.col);
                let raw = match &val {
                    Val::Int(v) if raw == v.to_string() => None,
                    _ => Some(raw.into()),
                };
                // Columns fit: the reader refuses data beyond column 512.
                entries.push(Entry {
                    participant: pid.clone(),
                    date: d.date,
                    val,
                    raw,
                    sheet: sheet_idx,
                    row: row.number(),
                    col: d.col as u16,
                    date_col: d.date_col as u16,
                    pid_col,
                });
                Ok(())
            })?;
        }
        out.extend(outside);
        for p in out.drain(..) {
            let pid = pid.as_deref().unwrap_or("").to_string();
            k.problems.push((p, pid));
        }
        Ok(())
    }
}

/// The same participant and day keyed again in one file (`later`, after `kept`).
#[derive(Debug, Clone)]
pub struct Dup {
    pub side: Side,
    pub kept: usize,
    pub later: usize,
    pub same: bool,
}

/// How two keyings compare. Indexes are into each keying's entries; every list is in
/// (participant, date) order.
#[derive(Debug, Default)]
pub struct Outcome {
    pub agreeing: Vec<(usize, usize)>,
    pub mismatches: Vec<(usize, usize)>,
    pub only_first: Vec<usize>,
    pub only_second: Vec<usize>,
    pub dups: Vec<Dup>,
    /// Distinct (participant, day) keys in each keying.
    pub first_keys: usize,
    pub second_keys: usize,
}

impl Outcome {
    pub fn matched(&self) -> usize {
        self.agreeing.len() + self.mismatches.len()
    }
    /// Keys in either keying.
    pub fn union(&self) -> usize {
        self.matched() + self.only_first.len() + self.only_second.len()
    }
    /// Agreeing days as a share of the days either keying has (`None` when neither has
    /// any): a day keyed only once counts against agreement, as a differing one does.
    pub fn agreement_pct(&self) -> Option<f64> {
        let n = self.union();
        (n > 0).then(|| self.agreeing.len() as f64 * 100.0 / n as f64)
    }
    pub fn conflicting_dups(&self) -> usize {
        self.dups.iter().filter(|d| !d.same).count()
    }
}

type Key<'a> = (&'a str, NaiveDate);

/// First occurrence of each key, and every later occurrence as a duplicate.
fn index(k: &Keying) -> (HashMap<Key<'_>, usize>, Vec<Dup>) {
    let mut map: HashMap<Key<'_>, usize> = HashMap::with_capacity(k.entries.len());
    let mut dups = Vec::new();
    for (i, e) in k.entries.iter().enumerate() {
        match map.entry((&*e.participant, e.date)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let kept = *o.get();
                dups.push(Dup {
                    side: k.side,
                    kept,
                    later: i,
                    same: k.entries[kept].val.same(&e.val),
                });
            }
        }
    }
    (map, dups)
}

/// Match the keyings by participant and day and compare each day's steps by meaning. A
/// key keyed twice in one file is compared by its first keying; the later one is listed
/// among the duplicates.
pub fn compare(a: &Keying, b: &Keying) -> Outcome {
    let (ia, mut dups) = index(a);
    let (ib, dups_b) = index(b);
    dups.extend(dups_b);
    let mut o = Outcome {
        first_keys: ia.len(),
        second_keys: ib.len(),
        ..Outcome::default()
    };
    for (key, &i) in &ia {
        match ib.get(key) {
            Some(&j) if a.entries[i].val.same(&b.entries[j].val) => o.agreeing.push((i, j)),
            Some(&j) => o.mismatches.push((i, j)),
            None => o.only_first.push(i),
        }
    }
    for (key, &j) in &ib {
        if !ia.contains_key(key) {
            o.only_second.push(j);
        }
    }
    let key = |e: &Entry| (e.participant.clone(), e.date, e.row, e.col);
    o.agreeing.sort_by_cached_key(|&(i, _)| key(&a.entries[i]));
    o.mismatches
        .sort_by_cached_key(|&(i, _)| key(&a.entries[i]));
    o.only_first.sort_by_cached_key(|&i| key(&a.entries[i]));
    o.only_second.sort_by_cached_key(|&j| key(&b.entries[j]));
    o.dups.extend(dups);
    o.dups.sort_by_cached_key(|d| {
        let k = if d.side == Side::First { a } else { b };
        (key(&k.entries[d.later]), d.side == Side::Second)
    });
    o
}

/// Which cell of an entry a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Participant,
    Date,
    Steps,
}

/// A problem with a value both keyings agree on.
#[derive(Debug, Clone)]
pub struct Check {
    /// The agreeing pair (first, second).
    pub pair: (usize, usize),
    pub at: At,
    pub code: &'static str,
    pub message: String,
}

/// Validate what both keyings agree on, as the import would: the participant is on the
/// roster (reported once per participant), the day is in the program period, and the
/// steps are plausible.
pub fn check_agreed(
    a: &Keying,
    outcome: &Outcome,
    program: &Program,
    roster: &HashSet<String>,
) -> Vec<Check> {
    let mut out = Vec::new();
    let mut unknown: HashMap<&str, usize> = HashMap::new();
    for &(i, _) in &outcome.agreeing {
        let p = &*a.entries[i].participant;
        if !roster.contains(p) {
            *unknown.entry(p).or_default() += 1;
        }
    }
    let mut told: HashSet<&str> = HashSet::new();
    let rules = &program.program;
    for &(i, j) in &outcome.agreeing {
        let e = &a.entries[i];
        let pid = &*e.participant;
        if let Some(n) = unknown.get(pid) {
            if told.insert(pid) {
                out.push(Check {
                    pair: (i, j),
                    at: At::Participant,
                    code: "participant.unknown",
                    message: format!(
                        "参加者番号 {pid} は名簿にありません（2回の入力がどちらもこの番号で、{n} 日分あります）。\
                         台紙の番号を確かめるか、先に名簿を取り込んでください"
                    ),
                });
            }
        }
        if !program.in_period(e.date) {
            out.push(Check {
                pair: (i, j),
                at: At::Date,
                code: "date.out_of_period",
                message: format!(
                    "{} は事業期間（{} 〜 {}）の外です（2回の入力がどちらもこの日付です）。台紙の日付を確かめてください",
                    e.date, rules.start, rules.end
                ),
            });
        }
        let bad = match &e.val {
            Val::Int(v) => match check_steps_value(*v, rules.max_daily_steps) {
                Checked::Bad(code, message) => Some((code, message)),
                Checked::Ok(_) | Checked::Skip => None,
            },
            Val::Bad(b) => Some((b.code, b.message.clone())),
        };
        if let Some((code, message)) = bad {
            out.push(Check {
                pair: (i, j),
                at: At::Steps,
                code,
                message: format!("{message}（2回の入力がどちらもこの値です）"),
            });
        }
    }
    out
}

/// Both keyings, how they compare, and what is wrong with what they agree on.
pub struct Verification {
    pub a: Keying,
    pub b: Keying,
    pub outcome: Outcome,
    pub checks: Vec<Check>,
}

impl Verification {
    pub fn new(a: Keying, b: Keying, program: &Program, roster: &HashSet<String>) -> Self {
        let outcome = compare(&a, &b);
        let checks = check_agreed(&a, &outcome, program, roster);
        Verification {
            a,
            b,
            outcome,
            checks,
        }
    }

    pub fn keying(&self, side: Side) -> &Keying {
        match side {
            Side::First => &self.a,
            Side::Second => &self.b,
        }
    }

    pub fn reading_problems(&self) -> usize {
        self.a.problems.len() + self.b.problems.len()
    }

    /// The keyings agree and every value is valid: nothing differs, nothing is keyed
    /// only once, nothing is keyed twice with two values, every cell could be read and
    /// every agreed value passes the checks. (A day keyed twice with the same value is
    /// listed but does not count against agreement: the import takes it once.)
    pub fn agree(&self) -> bool {
        let o = &self.outcome;
        o.mismatches.is_empty()
            && o.only_first.is_empty()
            && o.only_second.is_empty()
            && o.conflicting_dups() == 0
            && self.reading_problems() == 0
            && self.checks.is_empty()
    }

    /// Every finding, one row each, in report order: differences, days keyed once,
    /// duplicates, cells that could not be read, problems with agreed values.
    pub fn findings(&self) -> Vec<Finding> {
        let (a, b, o) = (&self.a, &self.b, &self.outcome);
        let mut out = Vec::new();
        let side_of = |k: &Keying, e: &Entry| Some(SideCell::of(k, e));
        for &(i, j) in &o.mismatches {
            let (ea, eb) = (&a.entries[i], &b.entries[j]);
            out.push(Finding {
                kind: Kind::Mismatch,
                participant: ea.participant.to_string(),
                date: ea.date.to_string(),
                first: side_of(a, ea),
                second: side_of(b, eb),
                code: "verify.mismatch",
                message: format!(
                    "値が違います（1回目 {}、2回目 {}）。台紙を見て、誤っている方の入力を直してください",
                    ea.val.shown(),
                    eb.val.shown()
                ),
            });
        }
        for &i in &o.only_first {
            let e = &a.entries[i];
            out.push(Finding {
                kind: Kind::OnlyFirst,
                participant: e.participant.to_string(),
                date: e.date.to_string(),
                first: side_of(a, e),
                second: None,
                code: "verify.only_in_first",
                message: "1回目にだけあり、2回目にはこの参加者・日の入力がありません。台紙を見て、入力漏れか余分な入力かを確かめてください".into(),
            });
        }
        for &j in &o.only_second {
            let e = &b.entries[j];
            out.push(Finding {
                kind: Kind::OnlySecond,
                participant: e.participant.to_string(),
                date: e.date.to_string(),
                first: None,
                second: side_of(b, e),
                code: "verify.only_in_second",
                message: "2回目にだけあり、1回目にはこの参加者・日の入力がありません。台紙を見て、入力漏れか余分な入力かを確かめてください".into(),
            });
        }
        for d in &o.dups {
            let k = self.keying(d.side);
            let (kept, later) = (&k.entries[d.kept], &k.entries[d.later]);
            let cell = side_of(k, later);
            let (first, second) = match d.side {
                Side::First => (cell, None),
                Side::Second => (None, cell),
            };
            let (code, message) = if d.same {
                (
                    "verify.duplicate",
                    format!(
                        "{}の {} と同じ参加者・日で、値も同じです（{}）。取込みでは1件として扱います。二重に入力していないか確かめてください",
                        d.side.ja(),
                        k.place(kept),
                        kept.val.shown()
                    ),
                )
            } else {
                (
                    "steps.duplicate_conflict",
                    format!(
                        "{}の {} にも同じ参加者・日があり、値が違います（{} と {}）。台紙を確かめて一方を消してください",
                        d.side.ja(),
                        k.place(kept),
                        kept.val.shown(),
                        later.val.shown()
                    ),
                )
            };
            out.push(Finding {
                kind: Kind::Duplicate(d.side),
                participant: later.participant.to_string(),
                date: later.date.to_string(),
                first,
                second,
                code,
                message,
            });
        }
        for k in [a, b] {
            for (p, pid) in &k.problems {
                let cell = Some(SideCell {
                    cell: p.place(),
                    raw: p.raw.clone(),
                    norm: String::new(),
                });
                let (first, second) = match k.side {
                    Side::First => (cell, None),
                    Side::Second => (None, cell),
                };
                out.push(Finding {
                    kind: Kind::Reading(k.side),
                    participant: pid.clone(),
                    date: String::new(),
                    first,
                    second,
                    code: p.code,
                    message: p.message.clone(),
                });
            }
        }
        for c in &self.checks {
            let (ea, eb) = (&a.entries[c.pair.0], &b.entries[c.pair.1]);
            let at = |k: &Keying, e: &Entry| {
                let (col, raw) = match c.at {
                    At::Steps => (e.col(), e.raw().into_owned()),
                    At::Date | At::Participant => {
                        let col = if c.at == At::Date {
                            e.date_col()
                        } else {
                            e.pid_col()
                        };
                        let shown = if c.at == At::Date {
                            e.date.to_string()
                        } else {
                            e.participant.to_string()
                        };
                        (col, shown)
                    }
                };
                Some(SideCell {
                    cell: k.place_at(e, col),
                    raw,
                    norm: if c.at == At::Steps {
                        e.val.shown()
                    } else {
                        String::new()
                    },
                })
            };
            out.push(Finding {
                kind: Kind::Check,
                participant: ea.participant.to_string(),
                date: ea.date.to_string(),
                first: at(a, ea),
                second: at(b, eb),
                code: c.code,
                message: c.message.clone(),
            });
        }
        out
    }
}

/// The kind of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mismatch,
    OnlyFirst,
    OnlySecond,
    Duplicate(Side),
    Reading(Side),
    Check,
}

impl Kind {
    pub fn ja(self) -> &'static str {
        match self {
            Kind::Mismatch => "不一致",
            Kind::OnlyFirst => "1回目のみ",
            Kind::OnlySecond => "2回目のみ",
            Kind::Duplicate(Side::First) => "重複（1回目）",
            Kind::Duplicate(Side::Second) => "重複（2回目）",
            Kind::Reading(Side::First) => "読めない入力（1回目）",
            Kind::Reading(Side::Second) => "読めない入力（2回目）",
            Kind::Check => "一致した値の誤り",
        }
    }
}

/// One keying's side of a finding.
#[derive(Debug, Clone)]
pub struct SideCell {
    /// `Sheet!C12`
    pub cell: String,
    pub raw: String,
    pub norm: String,
}

impl SideCell {
    fn of(k: &Keying, e: &Entry) -> SideCell {
        SideCell {
            cell: k.place(e),
            raw: e.raw().into_owned(),
            norm: e.val.shown(),
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    pub participant: String,
    pub date: String,
    pub first: Option<SideCell>,
    pub second: Option<SideCell>,
    pub code: &'static str,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keying(side: Side, entries: &[(&str, u32, Val)]) -> Keying {
        Keying {
            side,
            path: PathBuf::from("k.csv"),
            file_name: "k.csv".into(),
            sha256: String::new(),
            read_opts: ReadOptions::default(),
            sheets: vec![SheetInfo {
                name: "k".into(),
                header_row: 1,
                last_row: 1 + entries.len() as u32,
            }],
            layout: Some(Layout::Long),
            rows: entries.len() as u64,
            entries: entries
                .iter()
                .enumerate()
                .map(|(r, (p, d, v))| Entry {
                    participant: Rc::from(*p),
                    date: NaiveDate::from_ymd_opt(2025, 10, *d).unwrap(),
                    val: v.clone(),
                    raw: None,
                    sheet: 0,
                    row: r as u32 + 2,
                    col: 2,
                    date_col: 1,
                    pid_col: 0,
                })
                .collect(),
            problems: Vec::new(),
            header_problems: Vec::new(),
        }
    }

    fn bad(norm: &str) -> Val {
        Val::Bad(Box::new(BadVal {
            code: "steps.not_a_number",
            message: String::new(),
            norm: norm.into(),
        }))
    }

    #[test]
    fn values_compare_by_meaning() {
        assert!(Val::Int(8000).same(&Val::Int(8000)));
        assert!(!Val::Int(8000).same(&Val::Int(8800)));
        assert!(bad("八千").same(&bad("八千")));
        assert!(!bad("八千").same(&bad("8千")));
        assert!(!Val::Int(8000).same(&bad("8000x")));
        assert_eq!(bad("").shown(), "（空）");
    }

    #[test]
    fn each_kind_of_difference_is_found() {
        use Val::Int;
        let a = keying(
            Side::First,
            &[
                ("C1", 1, Int(8000)),
                ("C1", 2, Int(5000)),
                ("C1", 3, Int(100)),
                ("C2", 1, Int(7000)),
                ("C2", 1, Int(7000)),
            ],
        );
        let b = keying(
            Side::Second,
            &[
                ("C2", 1, Int(7000)),
                ("C1", 2, Int(5800)),
                ("C1", 1, Int(8000)),
                ("C3", 9, Int(1)),
                ("C3", 9, Int(2)),
            ],
        );
        let o = compare(&a, &b);
        assert_eq!(o.agreeing, vec![(0, 2), (3, 0)]);
        assert_eq!(o.mismatches, vec![(1, 1)]);
        assert_eq!(o.only_first, vec![2]);
        assert_eq!(o.only_second, vec![3]);
        assert_eq!(o.dups.len(), 2);
        assert!(o.dups[0].same && o.dups[0].side == Side::First);
        assert!(!o.dups[1].same && o.dups[1].side == Side::Second);
        assert_eq!(o.conflicting_dups(), 1);
        assert_eq!((o.first_keys, o.second_keys), (4, 4));
        // 2 agree out of 5 days keyed in either file.
        assert_eq!(o.agreement_pct(), Some(40.0));
    }

    #[test]
    fn no_days_is_no_percentage() {
        let a = keying(Side::First, &[]);
        let b = keying(Side::Second, &[]);
        assert_eq!(compare(&a, &b).agreement_pct(), None);
    }

    #[test]
    fn agreed_values_are_still_checked() {
        let program = Program::parse(
            include_str!("../../examples/program.toml"),
            "examples/program.toml",
        )
        .unwrap();
        let roster: HashSet<String> = ["C1".to_string()].into();
        let a = keying(
            Side::First,
            &[
                ("C1", 1, Val::Int(8000)),
                ("C1", 2, Val::Int(80000)),
                ("Z9", 3, Val::Int(1)),
                ("Z9", 4, Val::Int(1)),
                ("C1", 5, bad("八千")),
            ],
        );
        let b = keying(
            Side::Second,
            &[
                ("C1", 1, Val::Int(8000)),
                ("C1", 2, Val::Int(80000)),
                ("Z9", 3, Val::Int(1)),
                ("Z9", 4, Val::Int(1)),
                ("C1", 5, bad("八千")),
            ],
        );
        let v = Verification::new(a, b, &program, &roster);
        let codes: Vec<&str> = v.checks.iter().map(|c| c.code).collect();
        assert_eq!(
            codes,
            [
                "steps.implausible",
                "steps.not_a_number",
                "participant.unknown"
            ]
        );
        assert!(!v.agree());
        assert_eq!(v.outcome.agreement_pct(), Some(100.0));
    }
}
