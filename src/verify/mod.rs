//! Double-entry verification (ベリファイ): two keyings of the same cards, each read
//! exactly as `steps import` reads a sheet (same header finding, layouts, cell
//! normalization, dates), matched by participant and day and compared by meaning, so
//! `８，０００` and `8000`, or `R7.8.4` and `2025-08-04`, agree. Values both keyings agree
//! on are still checked (roster, period, plausibility): a double miss is still a miss.
//!
//! Linear in time and flat in memory whatever the size: each keying's days are kept as
//! compact entries (a participant index, not the number; the keyed text only where it
//! differs from the number), sorted in bounded runs spilled to a temporary file
//! ([`spill`]), and the two sorted streams are merged by (participant, day). Only what
//! is reported (differences, duplicates, problems) is held, plus one name per
//! participant.

pub mod discrepancies;
pub mod report;
pub mod spill;

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
use std::path::{Path, PathBuf};

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

/// The participant numbers seen in either keying, each once, by index (the index is
/// the order of first sighting; both keyings share it so their entries compare by
/// index).
pub use crate::ids::Ids;

/// One keyed day: who (an index into [`Ids`]), when, the steps, and where it stands in
/// the file. Kept small, since a keying's days pass through a sort.
#[derive(Debug, Clone)]
pub struct Entry {
    pub pid: u32,
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
    /// The keyed days, until [`Verification::new`] merges them.
    entries: spill::Store,
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
/// Participant numbers go into `ids`, shared by both keyings.
pub fn read_keying(
    path: &Path,
    side: Side,
    opts: &Options,
    forced: Option<Layout>,
    ids: &mut Ids,
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
            entries: spill::Store::default(),
            problems: Vec::new(),
            header_problems: Vec::new(),
        },
        forced,
        out: Vec::new(),
        ids,
    };
    walk(&mut src.book, &sheets, ANY_COLUMNS, true, opts, &mut r)?;
    r.k.entries.finish()?;
    Ok(r.k)
}

/// A keying as its sheets are walked.
struct KeyingReader<'a> {
    k: Keying,
    forced: Option<Layout>,
    out: Vec<Problem>,
    ids: &'a mut Ids,
}

impl Visit for KeyingReader<'_> {
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
            Some(Ok(id)) => Some((self.ids.intern(id.as_ref()), id.to_string())),
            Some(Err(p)) => {
                out.push(p);
                None
            }
            None => None,
        };
        if let Some((pid, _)) = &pid {
            let entries = &mut k.entries;
            let mut num = String::new();
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
                    Val::Int(v) => {
                        use std::fmt::Write;
                        num.clear();
                        let _ = write!(num, "{v}");
                        (raw != num.as_str()).then(|| raw.into())
                    }
                    _ => Some(raw.into()),
                };
                // Columns fit: the reader refuses data beyond column 512.
                entries.push(Entry {
                    pid: *pid,
                    date: d.date,
                    val,
                    raw,
                    sheet: sheet_idx,
                    row: row.number(),
                    col: d.col as u16,
                    date_col: d.date_col as u16,
                    pid_col,
                })
            })?;
        }
        out.extend(outside);
        for p in out.drain(..) {
            let pid = pid.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
            k.problems.push((p, pid));
        }
        Ok(())
    }
}

/// The same participant and day keyed again in one file (`later`, after `kept`).
#[derive(Debug, Clone)]
pub struct Dup {
    pub side: Side,
    pub kept: Entry,
    pub later: Entry,
    pub same: bool,
}

/// How two keyings compare. Agreeing days are only counted; what differs is kept, each
/// list in (participant, date) order.
#[derive(Debug, Default)]
pub struct Outcome {
    pub agreeing: u64,
    /// (first keying, second keying).
    pub mismatches: Vec<(Entry, Entry)>,
    pub only_first: Vec<Entry>,
    pub only_second: Vec<Entry>,
    pub dups: Vec<Dup>,
    /// Distinct (participant, day) keys in each keying.
    pub first_keys: u64,
    pub second_keys: u64,
}

impl Outcome {
    pub fn matched(&self) -> u64 {
        self.agreeing + self.mismatches.len() as u64
    }
    /// Keys in either keying.
    pub fn union(&self) -> u64 {
        self.matched() + self.only_first.len() as u64 + self.only_second.len() as u64
    }
    /// Agreeing days as a share of the days either keying has (`None` when neither has
    /// any): a day keyed only once counts against agreement, as a differing one does.
    pub fn agreement_pct(&self) -> Option<f64> {
        let n = self.union();
        (n > 0).then(|| self.agreeing as f64 * 100.0 / n as f64)
    }
    pub fn conflicting_dups(&self) -> usize {
        self.dups.iter().filter(|d| !d.same).count()
    }
}

/// One keying's sorted days, a (participant, day) group at a time: the first keying of
/// the day, and any later ones recorded as duplicates.
struct Groups {
    side: Side,
    sorted: spill::Sorted,
    peeked: Option<Entry>,
    keys: u64,
}

impl Groups {
    fn new(side: Side, store: spill::Store) -> Result<Self> {
        let mut sorted = store.sorted()?;
        let peeked = sorted.next_entry()?;
        Ok(Groups {
            side,
            sorted,
            peeked,
            keys: 0,
        })
    }

    fn head(&self) -> Option<(u32, NaiveDate)> {
        self.peeked.as_ref().map(|e| (e.pid, e.date))
    }

    /// The next day's first entry; its later keyings go to `dups`.
    fn take(&mut self, dups: &mut Vec<Dup>) -> Result<Option<Entry>> {
        let Some(first) = self.peeked.take() else {
            return Ok(None);
        };
        self.keys += 1;
        loop {
            match self.sorted.next_entry()? {
                Some(e) if (e.pid, e.date) == (first.pid, first.date) => dups.push(Dup {
                    side: self.side,
                    same: first.val.same(&e.val),
                    kept: first.clone(),
                    later: e,
                }),
                next => {
                    self.peeked = next;
                    break;
                }
            }
        }
        Ok(Some(first))
    }
}

/// What the merge does with each day both keyings agree on.
trait OnAgreed {
    fn agreed(&mut self, a: &Entry, b: &Entry);
    /// Called before the first day of each participant (in merge order) and at the end.
    fn participant_done(&mut self) {}
}

impl OnAgreed for () {
    fn agreed(&mut self, _: &Entry, _: &Entry) {}
}

/// Merge both keyings by participant and day and compare each day's steps by meaning.
/// A key keyed twice in one file is compared by its first keying; the later one is
/// listed among the duplicates. Linear: one pass over each keying's sorted days.
fn merge(a: spill::Store, b: spill::Store, ids: &Ids, on: &mut impl OnAgreed) -> Result<Outcome> {
    let mut ga = Groups::new(Side::First, a)?;
    let mut gb = Groups::new(Side::Second, b)?;
    let mut o = Outcome::default();
    let mut last_pid = None;
    loop {
        let (ha, hb) = (ga.head(), gb.head());
        let pid = match (ha, hb) {
            (None, None) => break,
            (Some(x), Some(y)) => x.min(y).0,
            (Some(x), None) | (None, Some(x)) => x.0,
        };
        if last_pid != Some(pid) {
            if last_pid.is_some() {
                on.participant_done();
            }
            last_pid = Some(pid);
        }
        match (ha, hb) {
            (Some(x), Some(y)) if x == y => {
                let (Some(ea), Some(eb)) = (ga.take(&mut o.dups)?, gb.take(&mut o.dups)?) else {
                    unreachable!("both heads were present")
                };
                if ea.val.same(&eb.val) {
                    o.agreeing += 1;
                    on.agreed(&ea, &eb);
                } else {
                    o.mismatches.push((ea, eb));
                }
            }
            (Some(x), Some(y)) if x < y => o.only_first.extend(ga.take(&mut o.dups)?),
            (Some(_), None) => o.only_first.extend(ga.take(&mut o.dups)?),
            _ => o.only_second.extend(gb.take(&mut o.dups)?),
        }
    }
    if last_pid.is_some() {
        on.participant_done();
    }
    o.first_keys = ga.keys;
    o.second_keys = gb.keys;
    // Report order: participant number as text, then day, then place.
    let by = |e: &Entry| (ids.name(e.pid), e.date, e.row, e.col);
    o.mismatches.sort_by(|x, y| by(&x.0).cmp(&by(&y.0)));
    o.only_first.sort_by(|x, y| by(x).cmp(&by(y)));
    o.only_second.sort_by(|x, y| by(x).cmp(&by(y)));
    o.dups.sort_by(|x, y| {
        (by(&x.later), x.side == Side::Second).cmp(&(by(&y.later), y.side == Side::Second))
    });
    Ok(o)
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
    pub pair: (Entry, Entry),
    pub at: At,
    pub code: &'static str,
    pub message: String,
}

/// Validates what both keyings agree on, as the import would: the participant is on the
/// roster (reported once per participant), the day is in the program period, and the
/// steps are plausible. A participant's days arrive together, so only that
/// participant's checks are held until it is done.
struct Checker<'a> {
    program: &'a Program,
    /// Whether a participant number is on the roster (asked once per participant, so
    /// the roster is never held).
    roster: &'a mut dyn FnMut(&str) -> Result<bool>,
    /// The first failure to ask it, returned once the merge is over.
    failed: Option<anyhow::Error>,
    ids: &'a Ids,
    out: Vec<Check>,
    /// The current participant: its first agreed pair when it is not on the roster, its
    /// agreed days, and its other checks.
    unknown: Option<(Entry, Entry)>,
    days: usize,
    group: Vec<Check>,
}

impl OnAgreed for Checker<'_> {
    fn agreed(&mut self, e: &Entry, f: &Entry) {
        let rules = &self.program.program;
        if self.days == 0 {
            let on_roster = match (self.roster)(self.ids.name(e.pid)) {
                Ok(known) => known,
                Err(err) => {
                    self.failed.get_or_insert(err);
                    true
                }
            };
            if !on_roster {
                self.unknown = Some((e.clone(), f.clone()));
            }
        }
        self.days += 1;
        if !self.program.in_period(e.date) {
            self.group.push(Check {
                pair: (e.clone(), f.clone()),
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
            self.group.push(Check {
                pair: (e.clone(), f.clone()),
                at: At::Steps,
                code,
                message: format!("{message}（2回の入力がどちらもこの値です）"),
            });
        }
    }

    fn participant_done(&mut self) {
        if let Some(pair) = self.unknown.take() {
            let pid = self.ids.name(pair.0.pid);
            let n = self.days;
            self.out.push(Check {
                pair,
                at: At::Participant,
                code: "participant.unknown",
                message: format!(
                    "参加者番号 {pid} は名簿にありません（2回の入力がどちらもこの番号で、{n} 日分あります）。\
                     台紙の番号を確かめるか、先に名簿を取り込んでください"
                ),
            });
        }
        self.out.append(&mut self.group);
        self.days = 0;
    }
}

/// Both keyings, how they compare, and what is wrong with what they agree on.
pub struct Verification {
    pub a: Keying,
    pub b: Keying,
    pub ids: Ids,
    pub outcome: Outcome,
    pub checks: Vec<Check>,
}

impl Verification {
    pub fn new(
        mut a: Keying,
        mut b: Keying,
        ids: Ids,
        program: &Program,
        roster: &mut dyn FnMut(&str) -> Result<bool>,
    ) -> Result<Self> {
        let ea = std::mem::take(&mut a.entries);
        let eb = std::mem::take(&mut b.entries);
        let mut checker = Checker {
            program,
            roster,
            failed: None,
            ids: &ids,
            out: Vec::new(),
            unknown: None,
            days: 0,
            group: Vec::new(),
        };
        let outcome = merge(ea, eb, &ids, &mut checker)?;
        if let Some(err) = checker.failed {
            return Err(err);
        }
        let mut checks = checker.out;
        // Participants in number order (the merge goes by first sighting); within one,
        // the order the checks were found in.
        checks.sort_by(|x, y| ids.name(x.pair.0.pid).cmp(ids.name(y.pair.0.pid)));
        Ok(Verification {
            a,
            b,
            ids,
            outcome,
            checks,
        })
    }

    /// The participant number of an entry.
    pub fn pid(&self, e: &Entry) -> &str {
        self.ids.name(e.pid)
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
        for (ea, eb) in &o.mismatches {
            out.push(Finding {
                kind: Kind::Mismatch,
                participant: self.pid(ea).to_string(),
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
        for e in &o.only_first {
            out.push(Finding {
                kind: Kind::OnlyFirst,
                participant: self.pid(e).to_string(),
                date: e.date.to_string(),
                first: side_of(a, e),
                second: None,
                code: "verify.only_in_first",
                message: "1回目にだけあり、2回目にはこの参加者・日の入力がありません。台紙を見て、入力漏れか余分な入力かを確かめてください".into(),
            });
        }
        for e in &o.only_second {
            out.push(Finding {
                kind: Kind::OnlySecond,
                participant: self.pid(e).to_string(),
                date: e.date.to_string(),
                first: None,
                second: side_of(b, e),
                code: "verify.only_in_second",
                message: "2回目にだけあり、1回目にはこの参加者・日の入力がありません。台紙を見て、入力漏れか余分な入力かを確かめてください".into(),
            });
        }
        for d in &o.dups {
            let k = self.keying(d.side);
            let (kept, later) = (&d.kept, &d.later);
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
                participant: self.pid(later).to_string(),
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
            let (ea, eb) = (&c.pair.0, &c.pair.1);
            let at = |k: &Keying, e: &Entry| {
                let (col, raw) = match c.at {
                    At::Steps => (e.col(), e.raw().into_owned()),
                    At::Date => (e.date_col(), e.date.to_string()),
                    At::Participant => (e.pid_col(), self.pid(e).to_string()),
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
                participant: self.pid(ea).to_string(),
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

    /// A keying of the given days, its store spilling every `chunk` entries.
    fn keying(side: Side, ids: &mut Ids, chunk: usize, entries: &[(&str, u32, Val)]) -> Keying {
        let mut store = spill::Store::with_chunk(chunk);
        for (r, (p, d, v)) in entries.iter().enumerate() {
            store
                .push(Entry {
                    pid: ids.intern(p),
                    date: NaiveDate::from_ymd_opt(2025, 10, *d).unwrap(),
                    val: v.clone(),
                    raw: None,
                    sheet: 0,
                    row: r as u32 + 2,
                    col: 2,
                    date_col: 1,
                    pid_col: 0,
                })
                .unwrap();
        }
        // As `read_keying` leaves it: a store that spilled holds nothing in memory.
        store.finish().unwrap();
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
            entries: store,
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

    fn program() -> Program {
        Program::parse(
            include_str!("../../examples/program.toml"),
            "examples/program.toml",
        )
        .unwrap()
    }

    fn verify(
        chunk: usize,
        a: &[(&str, u32, Val)],
        b: &[(&str, u32, Val)],
        roster: &[&str],
    ) -> Verification {
        let mut ids = Ids::default();
        let ka = keying(Side::First, &mut ids, chunk, a);
        let kb = keying(Side::Second, &mut ids, chunk, b);
        let roster: std::collections::HashSet<String> =
            roster.iter().map(|s| s.to_string()).collect();
        Verification::new(ka, kb, ids, &program(), &mut |p| Ok(roster.contains(p))).unwrap()
    }

    /// (participant, day, row) of each entry, to compare outcomes.
    fn at(v: &Verification, e: &Entry) -> (String, u32, u32) {
        (v.pid(e).to_string(), chrono::Datelike::day(&e.date), e.row)
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

    fn kinds_a() -> Vec<(&'static str, u32, Val)> {
        use Val::Int;
        vec![
            ("C2", 1, Int(7000)),
            ("C1", 1, Int(8000)),
            ("C1", 2, Int(5000)),
            ("C1", 3, Int(100)),
            ("C2", 1, Int(7000)),
        ]
    }

    fn kinds_b() -> Vec<(&'static str, u32, Val)> {
        use Val::Int;
        vec![
            ("C3", 9, Int(1)),
            ("C2", 1, Int(7000)),
            ("C1", 2, Int(5800)),
            ("C1", 1, Int(8000)),
            ("C3", 9, Int(2)),
        ]
    }

    #[test]
    fn each_kind_of_difference_is_found() {
        // In memory, and spilled in runs of two entries (three runs a keying): the
        // same outcome.
        for chunk in [spill::CHUNK, 3, 2, 1] {
            let v = verify(chunk, &kinds_a(), &kinds_b(), &["C1", "C2", "C3"]);
            let o = &v.outcome;
            assert_eq!(o.agreeing, 2, "chunk {chunk}");
            let mm: Vec<_> = o
                .mismatches
                .iter()
                .map(|(x, y)| (at(&v, x), at(&v, y)))
                .collect();
            assert_eq!(
                mm,
                [(("C1".into(), 2, 4), ("C1".into(), 2, 4))],
                "chunk {chunk}"
            );
            let only_a: Vec<_> = o.only_first.iter().map(|e| at(&v, e)).collect();
            assert_eq!(only_a, [("C1".into(), 3, 5)]);
            let only_b: Vec<_> = o.only_second.iter().map(|e| at(&v, e)).collect();
            assert_eq!(only_b, [("C3".into(), 9, 2)]);
            assert_eq!(o.dups.len(), 2);
            assert!(o.dups[0].same && o.dups[0].side == Side::First);
            assert_eq!((o.dups[0].kept.row, o.dups[0].later.row), (2, 6));
            assert!(!o.dups[1].same && o.dups[1].side == Side::Second);
            assert_eq!((o.dups[1].kept.row, o.dups[1].later.row), (2, 6));
            assert_eq!(o.conflicting_dups(), 1);
            assert_eq!((o.first_keys, o.second_keys), (4, 4));
            // 2 agree out of 5 days keyed in either file.
            assert_eq!(o.agreement_pct(), Some(40.0));
        }
    }

    #[test]
    fn spilled_text_comes_back_whole() {
        let mut ids = Ids::default();
        let mut store = spill::Store::with_chunk(1);
        let mut e = Entry {
            pid: ids.intern("C1"),
            date: NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
            val: bad("八千"),
            raw: Some("八千 ".into()),
            sheet: 3,
            row: 70_000,
            col: 31,
            date_col: 30,
            pid_col: 0,
        };
        store.push(e.clone()).unwrap();
        e.date = NaiveDate::from_ymd_opt(2025, 9, 30).unwrap();
        e.val = Val::Int(-5);
        e.raw = None;
        store.push(e).unwrap();
        let mut s = store.sorted().unwrap();
        let first = s.next_entry().unwrap().unwrap();
        assert_eq!(
            (first.val.clone(), first.raw()),
            (Val::Int(-5), "-5".into())
        );
        let second = s.next_entry().unwrap().unwrap();
        assert_eq!(second.raw(), "八千 ");
        assert!(
            matches!(&second.val, Val::Bad(b) if b.norm == "八千" && b.code == "steps.not_a_number")
        );
        assert_eq!(
            (second.sheet, second.row, second.col, second.date_col),
            (3, 70_000, 31, 30)
        );
        assert!(s.next_entry().unwrap().is_none());
    }

    #[test]
    fn no_days_is_no_percentage() {
        let v = verify(spill::CHUNK, &[], &[], &[]);
        assert_eq!(v.outcome.agreement_pct(), None);
    }

    #[test]
    fn agreed_values_are_still_checked() {
        let days = [
            ("Z9", 3, Val::Int(1)),
            ("C1", 1, Val::Int(8000)),
            ("C1", 2, Val::Int(80000)),
            ("Z9", 4, Val::Int(1)),
            ("C1", 5, bad("八千")),
        ];
        for chunk in [spill::CHUNK, 2] {
            let v = verify(chunk, &days, &days, &["C1"]);
            let codes: Vec<&str> = v.checks.iter().map(|c| c.code).collect();
            assert_eq!(
                codes,
                [
                    "steps.implausible",
                    "steps.not_a_number",
                    "participant.unknown"
                ]
            );
            assert!(v.checks[2].message.contains("2 日分"));
            assert!(!v.agree());
            assert_eq!(v.outcome.agreement_pct(), Some(100.0));
        }
    }

    /// Each difference as a discrepancy of a field kind (`discrepancies.rs`).
    #[test]
    fn differences_get_their_field_kind() {
        use crate::quality::{Field, Kind};
        use Val::Int;
        let a = [
            ("C1", 1, Int(5000)),
            ("C1", 2, Int(8000)),
            ("C1", 5, Int(9000)),
            ("C2", 5, Int(3400)),
            ("C2", 6, Int(3500)),
        ];
        let b = [
            ("C1", 1, Int(5000)),
            ("C1", 2, Int(800)),
            ("C1", 6, Int(9000)),
            ("C3", 5, Int(3400)),
        ];
        let v = verify(spill::CHUNK, &a, &b, &["C1", "C2", "C3"]);
        type At = Option<(String, u32)>;
        let got: Vec<(Field, Kind, At, At)> = super::discrepancies::discrepancies(&v)
            .into_iter()
            .map(|d| {
                let at = |l: Option<crate::quality::Loc>| {
                    l.map(|l| (l.participant, chrono::Datelike::day(&l.date)))
                };
                (d.field, d.kind, at(d.first), at(d.second))
            })
            .collect();
        let p = |s: &str, d| Some((s.to_string(), d));
        assert_eq!(
            got,
            [
                (Field::Steps, Kind::Mismatch, p("C1", 2), p("C1", 2)),
                (Field::Date, Kind::Moved, p("C1", 5), p("C1", 6)),
                (Field::Participant, Kind::Moved, p("C2", 5), p("C3", 5)),
                (Field::Steps, Kind::OnlyFirst, p("C2", 6), None),
            ]
        );
    }
}
