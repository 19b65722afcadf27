//! Dates and year-months as operators key them on step-card sheets.
//!
//! One cell may hold an ISO date, a slashed or dotted date, an 8-digit run,
//! a `年月日` date, a Japanese era date (`R7.5.14`, `令和元年5月1日`), or an
//! Excel serial number left behind when a sheet lost its formatting. This
//! module reads all of them into [`chrono::NaiveDate`] and prints dates back
//! in wareki for letters and labels.
//!
//! Era dates are checked against the exact first and last day of the era:
//! `平成31年5月1日` does not exist (it is `令和元年5月1日`), so it is rejected
//! rather than silently converted, because it usually means a mistyped era
//! or year. Such a date, in a year the era does have, is
//! [`DateError::Nonexistent`] and [`nonexistent_reason`] names its right form.
//! Two-digit western years are rejected as ambiguous. A trailing weekday in
//! brackets or with 曜日 (`2025/5/27（火）`, `2025年6月2日(月)`, `火曜日`), as
//! Excel date formats print it, is accepted when it is the date's weekday.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use super::normalize::{is_hyphen, normalize};

/// Why a cell could not be read as a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Not a date form we know, an era year the era never reached
    /// (`平成40年`), or a weekday that is not the date's.
    Invalid,
    /// A well-formed date that is not on the calendar (`2025-06-31`), a date
    /// outside its era in a year the era has (`平成31年5月1日`,
    /// `令和元年4月30日`, `S64.1.8`), or Excel's serial 60 (the fictitious
    /// 1900-02-29). [`nonexistent_reason`] says why and what it should be.
    Nonexistent,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateError::Invalid => "日付として読み取れません（書式が不明、または元号の範囲外です）",
            DateError::Nonexistent => "存在しない日付です（例: 6月31日、平年の2月29日）",
        })
    }
}

impl std::error::Error for DateError {}

/// (year, month, day), compared lexicographically.
type Ymd = (i32, u32, u32);

struct Era {
    name: &'static str,
    letter: char,
    first_day: Ymd,
    /// First day of the next era, i.e. exclusive end.
    next_first_day: Option<Ymd>,
}

// Meiji starts at its proclamation (1868-10-23, Gregorian); earlier 1868
// dates are not written as 明治 on anything we import.
const ERAS: [Era; 5] = [
    Era {
        name: "明治",
        letter: 'M',
        first_day: (1868, 10, 23),
        next_first_day: Some((1912, 7, 30)),
    },
    Era {
        name: "大正",
        letter: 'T',
        first_day: (1912, 7, 30),
        next_first_day: Some((1926, 12, 25)),
    },
    Era {
        name: "昭和",
        letter: 'S',
        first_day: (1926, 12, 25),
        next_first_day: Some((1989, 1, 8)),
    },
    Era {
        name: "平成",
        letter: 'H',
        first_day: (1989, 1, 8),
        next_first_day: Some((2019, 5, 1)),
    },
    Era {
        name: "令和",
        letter: 'R',
        first_day: (2019, 5, 1),
        next_first_day: None,
    },
];

impl Era {
    fn contains_day(&self, ymd: Ymd) -> bool {
        ymd >= self.first_day && self.next_first_day.is_none_or(|end| ymd < end)
    }

    /// Whether the era lasted into (western) year `y` at all: `平成31年` did
    /// (until April), `平成32年` did not.
    fn has_year(&self, y: i32) -> bool {
        y >= self.first_day.0 && self.next_first_day.is_none_or(|end| y <= end.0)
    }

    fn contains_month(&self, y: i32, m: u32) -> bool {
        // The month overlaps the era iff it does not end before the era
        // starts and does not start on or after the next era's first day.
        (y, m) >= (self.first_day.0, self.first_day.1)
            && self.next_first_day.is_none_or(|end| (y, m, 1) < end)
    }
}

/// Last serial Excel accepts (9999-12-31 in the 1900 system).
const MAX_EXCEL_SERIAL: f64 = 2_958_465.0;

/// Convert an Excel serial to a date; the fractional (time) part is ignored.
///
/// 1900 system: 1 = 1900-01-01, 60 is Lotus 1-2-3's fictitious 1900-02-29
/// (returns `None`), 61 = 1900-03-01. 1904 system: 0 = 1904-01-01.
pub fn from_excel_serial(serial: f64, is_1904: bool) -> Option<NaiveDate> {
    if !serial.is_finite() || !(0.0..=MAX_EXCEL_SERIAL).contains(&serial) {
        return None;
    }
    // In range and truncated, so the cast is exact.
    let day = serial.trunc() as i64;
    let (epoch, offset) = if is_1904 {
        (NaiveDate::from_ymd_opt(1904, 1, 1)?, day)
    } else {
        match day {
            // Serial 0 displays as 1900-01-00 and 60 as 1900-02-29; neither
            // is a real day.
            0 | 60 => return None,
            1..=59 => (NaiveDate::from_ymd_opt(1899, 12, 31)?, day),
            _ => (NaiveDate::from_ymd_opt(1899, 12, 30)?, day),
        }
    };
    epoch.checked_add_signed(chrono::Duration::try_days(offset)?)
}

/// [`from_excel_serial`] with the reason: serial 60 (Excel's fictitious
/// 1900-02-29) is [`DateError::Nonexistent`], other unusable serials
/// [`DateError::Invalid`].
pub fn excel_serial_date(serial: f64, is_1904: bool) -> Result<NaiveDate, DateError> {
    if !is_1904 && serial.is_finite() && serial.trunc() == 60.0 {
        return Err(DateError::Nonexistent);
    }
    from_excel_serial(serial, is_1904).ok_or(DateError::Invalid)
}

/// `YYYY-MM-DD` exactly, the form generated files and the database use: parsed without
/// normalization (the import's fast path and every stored date read back).
pub fn iso_exact(s: &str) -> Option<Result<NaiveDate, DateError>> {
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

/// Days in month `m` of year `y` (proleptic Gregorian); 0 if `m` is not 1..=12.
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Parse a date cell in any form operators key (see module docs).
///
/// Full-width input is accepted; a trailing time (`2025-05-14 00:00:00`,
/// `2025/05/14 0:00`, `2025-05-14T00:00`) is ignored.
pub fn parse_date(s: &str) -> Result<NaiveDate, DateError> {
    let n = normalize(s);
    let body = strip_time(&n)?;
    let (body, weekday) = strip_weekday(body);
    let date = if is_all_digits(body) {
        parse_digit_run_date(body)
    } else {
        let parts = parse_parts(body).ok_or(DateError::Invalid)?;
        let day = parts.day.ok_or(DateError::Invalid)?;
        resolve_date(&parts, day)
    }?;
    match weekday {
        Some(w) if w != date.weekday().num_days_from_monday() => Err(DateError::Invalid),
        _ => Ok(date),
    }
}

/// Why a date cell that is [`DateError::Nonexistent`] does not exist, with
/// its right form where there is one, as a Japanese sentence for the
/// `date.nonexistent` message: `平成31年5月1日` → "…令和元年5月1日 です…".
/// `s` is the cell as shown (a numeric cell's text, `60`, is Excel's
/// fictitious 1900-02-29). `None` when `s` is not such a date.
pub fn nonexistent_reason(s: &str) -> Option<String> {
    let n = normalize(s);
    if n == "60" {
        return Some(
            "Excel の日付番号 60 は 1900年2月29日 を表しますが、この日は実在しません\
             （Excel の古い誤りです）。正しい日付を入力してください"
                .to_string(),
        );
    }
    let body = strip_time(&n).ok()?;
    let (body, _) = strip_weekday(body);
    if is_all_digits(body) {
        let y = i32::try_from(digits_value(body.get(..4))?).ok()?;
        let m = digits_value(body.get(4..6))?;
        let d = digits_value(body.get(6..))?;
        return past_month_end(y, m, d);
    }
    let parts = parse_parts(body)?;
    let d = parts.day?;
    let y = parts.year.western().ok()?;
    if let Some(why) = past_month_end(y, parts.month, d) {
        return Some(why);
    }
    let Year::Era(era, n) = parts.year else {
        return None;
    };
    let (m, date) = (parts.month, NaiveDate::from_ymd_opt(y, parts.month, d)?);
    if era.contains_day((y, m, d)) || !era.has_year(y) {
        return None;
    }
    let keyed = format!("{}{}年{m}月{d}日", era.name, era_year_text(n));
    let right = wareki(date);
    let bound = if (y, m, d) < era.first_day {
        let (fy, fm, fd) = era.first_day;
        format!(
            "{}は {} から始まります",
            era.name,
            wareki(NaiveDate::from_ymd_opt(fy, fm, fd)?)
        )
    } else {
        let last = era
            .next_first_day
            .and_then(|(ny, nm, nd)| NaiveDate::from_ymd_opt(ny, nm, nd))?
            .pred_opt()?;
        format!("{}は {} までです", era.name, wareki(last))
    };
    Some(format!(
        "{keyed} という日はありません（{bound}）。この日は {right} です。{right} と入力してください"
    ))
}

/// `元` for year 1, the number otherwise.
fn era_year_text(n: u32) -> String {
    if n == 1 {
        "元".to_string()
    } else {
        n.to_string()
    }
}

/// "2025年6月は30日までです…" for a day past the end of a real month.
fn past_month_end(y: i32, m: u32, d: u32) -> Option<String> {
    let last = days_in_month(y, m);
    ((1..=12).contains(&m) && d > last && d <= 31).then(|| {
        format!("{y}年{m}月は{last}日までで、{d}日はありません。台紙の日付を確かめてください")
    })
}

/// A trailing weekday as Excel date formats print it: `(火)`, `(火曜)`,
/// `(火曜日)`, `火曜日`, `火曜` (full-width brackets are ASCII after NFKC).
/// Returns the date part and the weekday (0 = Monday).
fn strip_weekday(s: &str) -> (&str, Option<u32>) {
    const DAYS: [char; 7] = ['月', '火', '水', '木', '金', '土', '日'];
    let t = s.trim_end();
    let (inner, bracketed) = match t.strip_suffix(')') {
        Some(r) => match r.rfind('(') {
            Some(i) => (&r[i + 1..], Some(&r[..i])),
            None => return (s, None),
        },
        None => (t, None),
    };
    let core = inner.trim();
    let core = core
        .strip_suffix("曜日")
        .or_else(|| core.strip_suffix('曜'))
        .map_or((core, false), |c| (c, true));
    let (day_text, had_yobi) = core;
    // Without brackets only `X曜日`/`X曜` counts; the date part must remain.
    if bracketed.is_none() && !had_yobi {
        return (s, None);
    }
    let day_text = day_text.trim_end();
    let Some(c) = day_text.chars().next_back() else {
        return (s, None);
    };
    let Some(w) = DAYS.iter().position(|&d| d == c) else {
        return (s, None);
    };
    let before_day = &day_text[..day_text.len() - c.len_utf8()];
    let rest = match bracketed {
        Some(before) if before_day.trim().is_empty() => before,
        Some(_) => return (s, None),
        None => before_day,
    };
    let rest = rest.trim_end();
    if rest.is_empty() {
        return (s, None);
    }
    // `w` < 7.
    (rest, Some(w as u32))
}

/// Parse the card layout's 年月 cell into (year, month).
///
/// Accepts year-month forms (`2025-05`, `202505`, `2025年5月`, `R7.5`,
/// `令和元年5月`) and any full [`parse_date`] form, because Excel likes to
/// turn a month cell into the first day of that month.
pub fn parse_year_month(s: &str) -> Result<(i32, u32), DateError> {
    let n = normalize(s);
    let body = strip_time(&n)?;
    if is_all_digits(body) {
        if body.len() == 6 {
            let y = digits_value(body.get(..4)).ok_or(DateError::Invalid)?;
            let m = digits_value(body.get(4..)).ok_or(DateError::Invalid)?;
            let y = western_year(y)?;
            if !(1..=12).contains(&m) {
                return Err(DateError::Invalid);
            }
            return Ok((y, m));
        }
        return parse_digit_run_date(body).map(|d| (d.year(), d.month()));
    }
    let parts = parse_parts(body).ok_or(DateError::Invalid)?;
    if let Some(day) = parts.day {
        return resolve_date(&parts, day).map(|d| (d.year(), d.month()));
    }
    let y = parts.year.western()?;
    if !(1..=12).contains(&parts.month) {
        return Err(DateError::Invalid);
    }
    if let Year::Era(era, _) = parts.year {
        if !era.contains_month(y, parts.month) {
            return Err(if era.has_year(y) {
                DateError::Nonexistent
            } else {
                DateError::Invalid
            });
        }
    }
    Ok((y, parts.month))
}

/// Format a date in wareki, e.g. `令和7年5月14日`, `令和元年5月1日`.
///
/// Dates before Meiji fall back to `YYYY年M月D日`.
pub fn wareki(d: NaiveDate) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    match ERAS.iter().rev().find(|e| e.contains_day((y, m, day))) {
        Some(era) => match y.checked_sub(era.first_day.0) {
            Some(0) => format!("{}元年{}月{}日", era.name, m, day),
            Some(n) => format!("{}{}年{}月{}日", era.name, n.saturating_add(1), m, day),
            None => format!("{y}年{m}月{day}日"),
        },
        None => format!("{y}年{m}月{day}日"),
    }
}

fn is_all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Value of a short run of ASCII digits; `None` if missing or overflowing.
fn digits_value(s: Option<&str>) -> Option<u32> {
    s?.bytes().try_fold(0u32, |acc, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

fn western_year(y: u32) -> Result<i32, DateError> {
    match i32::try_from(y) {
        Ok(y) if (1..=9999).contains(&y) => Ok(y),
        _ => Err(DateError::Invalid),
    }
}

/// `YYYYMMDD`, or a 5-digit Excel (1900 system) serial.
fn parse_digit_run_date(s: &str) -> Result<NaiveDate, DateError> {
    match s.len() {
        8 => {
            let y = digits_value(s.get(..4)).ok_or(DateError::Invalid)?;
            let m = digits_value(s.get(4..6)).ok_or(DateError::Invalid)?;
            let d = digits_value(s.get(6..)).ok_or(DateError::Invalid)?;
            make_date(western_year(y)?, m, d)
        }
        5 => match digits_value(Some(s)).ok_or(DateError::Invalid)? {
            60 => Err(DateError::Nonexistent),
            n => from_excel_serial(f64::from(n), false).ok_or(DateError::Invalid),
        },
        _ => Err(DateError::Invalid),
    }
}

/// Month/day out of range is a malformed cell; a day past the month's end
/// is a real-looking date that is not on the calendar.
fn make_date(y: i32, m: u32, d: u32) -> Result<NaiveDate, DateError> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(DateError::Invalid);
    }
    if d > days_in_month(y, m) {
        return Err(DateError::Nonexistent);
    }
    NaiveDate::from_ymd_opt(y, m, d).ok_or(DateError::Invalid)
}

/// Drop a trailing clock time (`␣0:00`, `␣00:00:00.000`, `T00:00`, `␣AM`).
fn strip_time(s: &str) -> Result<&str, DateError> {
    let Some(colon) = s.find(':') else {
        return Ok(s);
    };
    let bytes = s.as_bytes();
    let mut start = colon;
    while start > 0 && bytes.get(start - 1).is_some_and(u8::is_ascii_digit) {
        start -= 1;
    }
    // `start` sits on an ASCII byte, so both halves are on char boundaries.
    let (Some(date), Some(time)) = (s.get(..start), s.get(start..)) else {
        return Err(DateError::Invalid);
    };
    if start == colon || !is_clock(time) {
        return Err(DateError::Invalid);
    }
    if let Some(d) = date.strip_suffix(['T', 't']) {
        if d.ends_with(|c: char| c.is_ascii_digit()) {
            return Ok(d);
        }
        return Err(DateError::Invalid);
    }
    if date.ends_with(char::is_whitespace) {
        return Ok(date.trim_end());
    }
    Err(DateError::Invalid)
}

/// `H:MM`, `H:MM:SS` or `H:MM:SS.fff`, optionally followed by AM/PM.
fn is_clock(t: &str) -> bool {
    let mut words = t.split_whitespace();
    let Some(clock) = words.next() else {
        return false;
    };
    match words.next() {
        None => {}
        Some(w) if w.eq_ignore_ascii_case("am") || w.eq_ignore_ascii_case("pm") => {}
        Some(_) => return false,
    }
    if words.next().is_some() {
        return false;
    }
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let mut fields = clock.split(':');
    let (Some(h), Some(m)) = (fields.next(), fields.next()) else {
        return false;
    };
    if !digits(h, 1, 2) || !digits(m, 2, 2) {
        return false;
    }
    match (fields.next(), fields.next()) {
        (None, _) => true,
        (Some(sec), None) => match sec.split_once('.') {
            Some((whole, frac)) => digits(whole, 2, 2) && digits(frac, 1, 9),
            None => digits(sec, 2, 2),
        },
        (Some(_), Some(_)) => false,
    }
}

#[derive(Clone, Copy)]
enum Year {
    Western(u32),
    Era(&'static Era, u32),
}

impl Year {
    fn western(self) -> Result<i32, DateError> {
        match self {
            Year::Western(y) => western_year(y),
            Year::Era(era, n) => {
                let n = i32::try_from(n).map_err(|_| DateError::Invalid)?;
                let y = era
                    .first_day
                    .0
                    .checked_add(n)
                    .and_then(|y| y.checked_sub(1))
                    .ok_or(DateError::Invalid)?;
                u32::try_from(y)
                    .map_err(|_| DateError::Invalid)
                    .and_then(western_year)
            }
        }
    }
}

struct Parts {
    year: Year,
    month: u32,
    day: Option<u32>,
}

fn resolve_date(p: &Parts, day: u32) -> Result<NaiveDate, DateError> {
    let y = p.year.western()?;
    let date = make_date(y, p.month, day)?;
    if let Year::Era(era, _) = p.year {
        if !era.contains_day((y, p.month, day)) {
            return Err(if era.has_year(y) {
                DateError::Nonexistent
            } else {
                DateError::Invalid
            });
        }
    }
    Ok(date)
}

/// Minimal cursor over a normalized cell; never slices inside a char.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let mut it = self.rest.chars();
        let c = it.next()?;
        self.rest = it.as_str();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn eat_str(&mut self, p: &str) -> bool {
        match self.rest.strip_prefix(p) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    /// A run of 1..=`max` ASCII digits as (value, length). A longer run is
    /// rejected outright rather than split, so `20255.14` is not `2025`+`5`.
    fn number(&mut self, max: usize) -> Option<(u32, usize)> {
        let len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > max {
            return None;
        }
        let value = digits_value(self.rest.get(..len))?;
        self.rest = self.rest.get(len..)?;
        Some((value, len))
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

fn eat_era(c: &mut Cursor<'_>) -> Option<&'static Era> {
    if let Some(era) = ERAS.iter().find(|e| c.eat_str(e.name)) {
        return Some(era);
    }
    // A bare letter (`R7.5.25`, `R.7.6.4`) or the era name's first kanji
    // (`令7.5.25`, `平31.4.30`) only counts as an era when a year follows, so
    // stray letters stay Invalid instead of being read as eras.
    let mut probe = *c;
    let letter = probe.bump()?;
    let era = ERAS
        .iter()
        .find(|e| e.letter.eq_ignore_ascii_case(&letter) || e.name.starts_with(letter))?;
    probe.skip_ws();
    if probe.eat('.') {
        probe.skip_ws();
    }
    if probe
        .peek()
        .is_some_and(|d| d.is_ascii_digit() || d == '元')
    {
        *c = probe;
        Some(era)
    } else {
        None
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sep {
    Kanji,
    Char(char),
}

/// `[era] year sep month [sep day]` with sep one of `-` (any hyphen), `/`,
/// `.` used consistently, or `年 月 [日]`. Whitespace is allowed between
/// tokens.
fn parse_parts(s: &str) -> Option<Parts> {
    let mut c = Cursor { rest: s.trim() };
    let era = eat_era(&mut c);
    c.skip_ws();
    let year = match era {
        Some(era) => {
            let n = if c.eat('元') { 1 } else { c.number(4)?.0 };
            if n == 0 {
                return None;
            }
            Year::Era(era, n)
        }
        None => match c.number(4)? {
            (y, 4) => Year::Western(y),
            _ => return None,
        },
    };
    c.skip_ws();
    let sep = match c.bump()? {
        '年' => Sep::Kanji,
        '/' => Sep::Char('/'),
        '.' => Sep::Char('.'),
        h if is_hyphen(h) => Sep::Char('-'),
        _ => return None,
    };
    c.skip_ws();
    let (month, _) = c.number(2)?;
    c.skip_ws();
    let day = match sep {
        Sep::Kanji => {
            // `2025年5` is tolerated as a month, but a day needs its 月:
            // `2025年5 14` is not a form we accept.
            let had_month_mark = c.eat('月');
            c.skip_ws();
            if c.is_empty() {
                None
            } else {
                if !had_month_mark {
                    return None;
                }
                let (d, _) = c.number(2)?;
                c.skip_ws();
                c.eat('日');
                Some(d)
            }
        }
        Sep::Char(sep) => {
            if c.is_empty() {
                None
            } else {
                let next = c.bump()?;
                let same = next == sep || (sep == '-' && is_hyphen(next));
                if !same {
                    return None;
                }
                c.skip_ws();
                Some(c.number(2)?.0)
            }
        }
    };
    c.skip_ws();
    if !c.is_empty() {
        return None;
    }
    Some(Parts { year, month, day })
}

#[cfg(test)]
mod tests {
    use super::super::normalize::{normalize, parse_int};
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn western_forms() {
        let want = ymd(2025, 5, 14);
        for s in [
            "2025-05-14",
            "2025-5-14",
            "2025/5/14",
            "2025/05/14",
            "2025.5.14",
            "20250514",
            "2025年5月14日",
            "2025年05月14日",
            "2025 年 5 月 14 日",
            "2025年5月14",
            "2025ー05ー14",
            " 2025/5/14 ",
        ] {
            assert_eq!(parse_date(s), Ok(want), "{s:?}");
        }
    }

    #[test]
    fn fullwidth_forms() {
        let want = ymd(2025, 5, 14);
        for s in [
            "２０２５－０５－１４",
            "２０２５／５／１４",
            "２０２５年５月１４日",
            "\u{3000}2025/5/14\u{3000}",
            "Ｒ７．５．１４",
            "令和７年５月１４日",
            "２０２５０５１４",
        ] {
            assert_eq!(parse_date(s), Ok(want), "{s:?}");
        }
        // ㍻ is a single compatibility character that NFKC expands to 平成.
        assert_eq!(parse_date("㍻30年5月14日"), Ok(ymd(2018, 5, 14)));
    }

    #[test]
    fn trailing_time_is_ignored() {
        let want = ymd(2025, 5, 14);
        for s in [
            "2025-05-14 00:00:00",
            "2025/05/14 0:00",
            "2025/5/14 12:34:56.789",
            "2025-05-14T00:00:00",
            "2025/5/14 0:00 AM",
            "R7.5.14 0:00",
            "2025年5月14日 9:30",
        ] {
            assert_eq!(parse_date(s), Ok(want), "{s:?}");
        }
        for s in [
            "2025-05-14 0:0",
            "2025-05-14 :00",
            "2025-05-1400:00",
            "2025-05-14 00:00 xyz",
            "2025-05-14 00:00:00:00",
            "0:00",
        ] {
            assert_eq!(parse_date(s), Err(DateError::Invalid), "{s:?}");
        }
    }

    #[test]
    fn era_forms() {
        let cases = [
            ("R7.5.14", ymd(2025, 5, 14)),
            ("R7/5/14", ymd(2025, 5, 14)),
            ("R07-05-14", ymd(2025, 5, 14)),
            ("r7.5.14", ymd(2025, 5, 14)),
            ("R 7.5.14", ymd(2025, 5, 14)),
            ("令和7年5月14日", ymd(2025, 5, 14)),
            ("令和 7 年 5 月 14 日", ymd(2025, 5, 14)),
            ("R7年5月14日", ymd(2025, 5, 14)),
            ("令和元年5月14日", ymd(2019, 5, 14)),
            ("R元.5.14", ymd(2019, 5, 14)),
            ("H30/5/14", ymd(2018, 5, 14)),
            ("h30.5.14", ymd(2018, 5, 14)),
            ("平成30年5月14日", ymd(2018, 5, 14)),
            ("S64.1.7", ymd(1989, 1, 7)),
            ("昭和64年1月7日", ymd(1989, 1, 7)),
            ("S50.10.10", ymd(1975, 10, 10)),
            ("T15.12.24", ymd(1926, 12, 24)),
            ("大正15年12月24日", ymd(1926, 12, 24)),
            ("大正元年7月30日", ymd(1912, 7, 30)),
            ("M45.7.29", ymd(1912, 7, 29)),
            ("明治45年7月29日", ymd(1912, 7, 29)),
            ("明治元年10月23日", ymd(1868, 10, 23)),
            ("昭和元年12月25日", ymd(1926, 12, 25)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_date(s), Ok(want), "{s:?}");
        }
    }

    #[test]
    fn era_boundaries() {
        assert_eq!(parse_date("昭和64年1月7日"), Ok(ymd(1989, 1, 7)));
        assert_eq!(parse_date("昭和64年1月8日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("平成元年1月8日"), Ok(ymd(1989, 1, 8)));
        assert_eq!(parse_date("H1.1.8"), Ok(ymd(1989, 1, 8)));
        assert_eq!(parse_date("平成元年1月7日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("平成31年4月30日"), Ok(ymd(2019, 4, 30)));
        assert_eq!(parse_date("平成31年5月1日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("H31.5.1"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("平成32年1月1日"), Err(DateError::Invalid));
        assert_eq!(parse_date("令和元年5月1日"), Ok(ymd(2019, 5, 1)));
        assert_eq!(parse_date("令和元年4月30日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("R1.4.30"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("昭和65年1月1日"), Err(DateError::Invalid));
        assert_eq!(parse_date("大正15年12月25日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("昭和元年12月24日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("明治45年7月30日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("大正元年7月29日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("明治元年10月22日"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("S64.1.8"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("平成33年1月1日"), Err(DateError::Invalid));
        assert_eq!(parse_year_month("平成31年5月"), Err(DateError::Nonexistent));
        assert_eq!(parse_year_month("平成33年5月"), Err(DateError::Invalid));

        assert_eq!(wareki(ymd(1989, 1, 7)), "昭和64年1月7日");
        assert_eq!(wareki(ymd(1989, 1, 8)), "平成元年1月8日");
        assert_eq!(wareki(ymd(2019, 4, 30)), "平成31年4月30日");
        assert_eq!(wareki(ymd(2019, 5, 1)), "令和元年5月1日");
    }

    #[test]
    fn trailing_weekday_and_era_abbreviations() {
        let cases = [
            ("2025/5/27（火）", ymd(2025, 5, 27)),
            ("2025/5/27(火)", ymd(2025, 5, 27)),
            ("2025年6月2日(月)", ymd(2025, 6, 2)),
            ("2025年6月2日 (月)", ymd(2025, 6, 2)),
            ("2025年6月2日月曜日", ymd(2025, 6, 2)),
            ("2025年6月1日日曜日", ymd(2025, 6, 1)),
            ("2025/6/2 月曜日", ymd(2025, 6, 2)),
            ("2025/5/27（火曜日）", ymd(2025, 5, 27)),
            ("2025/5/27(火曜)", ymd(2025, 5, 27)),
            ("2025/5/27(火) 0:00", ymd(2025, 5, 27)),
            ("令和7年5月27日（火）", ymd(2025, 5, 27)),
            ("令7.5.25", ymd(2025, 5, 25)),
            ("R.7.6.4", ymd(2025, 6, 4)),
            ("r.7.6.4", ymd(2025, 6, 4)),
            ("平31.4.30", ymd(2019, 4, 30)),
            ("H.31.4.30", ymd(2019, 4, 30)),
            ("S.64.1.7", ymd(1989, 1, 7)),
            ("昭64.1.7", ymd(1989, 1, 7)),
            ("大15.12.24", ymd(1926, 12, 24)),
            ("明45.7.29", ymd(1912, 7, 29)),
            ("令元.5.1", ymd(2019, 5, 1)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_date(s), Ok(want), "{s:?}");
        }
        // A weekday that is not the date's: one of the two is mistyped.
        for s in ["2025/5/27（水）", "2025年6月2日(火)", "2025/5/27水曜日"] {
            assert_eq!(parse_date(s), Err(DateError::Invalid), "{s:?}");
        }
        for s in [
            "(火)",
            "火曜日",
            "2025/5/27(",
            "2025/5/27)",
            "2025/5/27(火",
            "2025/5/27(x)",
        ] {
            assert!(parse_date(s).is_err(), "{s:?}");
        }
        // Unchanged: a day mark is not a weekday.
        assert_eq!(parse_date("2025年6月1日"), Ok(ymd(2025, 6, 1)));
    }

    #[test]
    fn nonexistent_dates_name_their_right_form() {
        let cases = [
            ("平成31年5月1日", "令和元年5月1日"),
            ("令和元年4月30日", "平成31年4月30日"),
            ("S64.1.8", "平成元年1月8日"),
            ("昭和64年1月8日", "平成元年1月8日"),
            ("平成元年1月7日", "昭和64年1月7日"),
            ("H31.5.1", "令和元年5月1日"),
        ];
        for (s, right) in cases {
            assert_eq!(parse_date(s), Err(DateError::Nonexistent), "{s:?}");
            let why = nonexistent_reason(s).unwrap_or_default();
            assert!(
                why.contains(&format!("この日は {right} です")),
                "{s:?}: {why}"
            );
        }
        let why = nonexistent_reason("平成31年5月1日").unwrap_or_default();
        assert!(
            why.starts_with(
                "平成31年5月1日 という日はありません（平成は 平成31年4月30日 までです）"
            ),
            "{why}"
        );
        let why = nonexistent_reason("令和元年4月30日").unwrap_or_default();
        assert!(
            why.contains("令和は 令和元年5月1日 から始まります"),
            "{why}"
        );
        let why = nonexistent_reason("2025-06-31").unwrap_or_default();
        assert!(why.contains("2025年6月は30日まで"), "{why}");
        assert!(nonexistent_reason("60")
            .unwrap_or_default()
            .contains("1900年2月29日"));
        assert_eq!(nonexistent_reason("2025-06-30"), None);
        assert_eq!(nonexistent_reason("abc"), None);
        // Excel serial 60 is the fictitious 1900-02-29.
        assert_eq!(excel_serial_date(60.0, false), Err(DateError::Nonexistent));
        assert_eq!(excel_serial_date(60.5, false), Err(DateError::Nonexistent));
        assert_eq!(excel_serial_date(61.0, false), Ok(ymd(1900, 3, 1)));
        assert_eq!(excel_serial_date(-1.0, false), Err(DateError::Invalid));
        assert_eq!(excel_serial_date(60.0, true), Ok(ymd(1904, 3, 1)));
    }

    #[test]
    fn wareki_output() {
        assert_eq!(wareki(ymd(2025, 5, 14)), "令和7年5月14日");
        assert_eq!(wareki(ymd(2020, 1, 1)), "令和2年1月1日");
        assert_eq!(wareki(ymd(1926, 12, 25)), "昭和元年12月25日");
        assert_eq!(wareki(ymd(1926, 12, 24)), "大正15年12月24日");
        assert_eq!(wareki(ymd(1912, 7, 30)), "大正元年7月30日");
        assert_eq!(wareki(ymd(1912, 7, 29)), "明治45年7月29日");
        assert_eq!(wareki(ymd(1868, 10, 23)), "明治元年10月23日");
        assert_eq!(wareki(ymd(1868, 10, 22)), "1868年10月22日");
    }

    #[test]
    fn wareki_round_trips() {
        let mut d = ymd(1868, 10, 23);
        let end = ymd(2035, 12, 31);
        while d <= end {
            assert_eq!(parse_date(&wareki(d)), Ok(d), "{d}");
            d += chrono::Duration::days(5);
        }
        for d in [
            ymd(1912, 7, 29),
            ymd(1912, 7, 30),
            ymd(1926, 12, 24),
            ymd(1926, 12, 25),
            ymd(1989, 1, 7),
            ymd(1989, 1, 8),
            ymd(2019, 4, 30),
            ymd(2019, 5, 1),
        ] {
            assert_eq!(parse_date(&wareki(d)), Ok(d), "{d}");
        }
    }

    #[test]
    fn nonexistent_dates() {
        for s in [
            "2025-06-31",
            "2025/6/31",
            "20250631",
            "2025-02-29",
            "2025年2月29日",
            "令和7年2月29日",
            "R7.6.31",
            "1900-02-29",
            "2023-04-31",
        ] {
            assert_eq!(parse_date(s), Err(DateError::Nonexistent), "{s:?}");
        }
        assert_eq!(parse_date("2024-02-29"), Ok(ymd(2024, 2, 29)));
        assert_eq!(parse_date("2000-02-29"), Ok(ymd(2000, 2, 29)));
        assert_eq!(parse_date("令和6年2月29日"), Ok(ymd(2024, 2, 29)));
    }

    #[test]
    fn invalid_strings() {
        for s in [
            "",
            " ",
            "abc",
            "25/5/14",
            "25-05-14",
            "025-05-14",
            "5/14",
            "2025",
            "2025-05",
            "2025年5月",
            "2025-13-01",
            "2025-00-10",
            "2025-05-00",
            "2025-05-32",
            "2025-5/14",
            "2025/5/14/1",
            "2025-05-14 abc",
            "2025/5/14日",
            "20255.14",
            "2025年5 14",
            "0000-01-01",
            "R0.1.1",
            "R00.1.1",
            "R7",
            "R7.5",
            "R",
            "X7.5.14",
            "R99999999999.1.1",
            "R9999.1.1",
            "令和",
            "年月日",
            "2025年月日",
            "1234567",
            "123456789",
            "202505",
            "00000",
            "１２",
            "😀",
            "2025😀05😀14",
        ] {
            assert_eq!(parse_date(s), Err(DateError::Invalid), "{s:?}");
        }
    }

    #[test]
    fn excel_serials() {
        assert_eq!(from_excel_serial(45809.0, false), Some(ymd(2025, 6, 1)));
        assert_eq!(from_excel_serial(45809.75, false), Some(ymd(2025, 6, 1)));
        assert_eq!(from_excel_serial(1.0, false), Some(ymd(1900, 1, 1)));
        assert_eq!(from_excel_serial(59.0, false), Some(ymd(1900, 2, 28)));
        assert_eq!(from_excel_serial(60.0, false), None);
        assert_eq!(from_excel_serial(61.0, false), Some(ymd(1900, 3, 1)));
        assert_eq!(from_excel_serial(0.0, false), None);
        assert_eq!(
            from_excel_serial(2_958_465.0, false),
            Some(ymd(9999, 12, 31))
        );
        assert_eq!(from_excel_serial(2_958_466.0, false), None);
        assert_eq!(from_excel_serial(-1.0, false), None);
        assert_eq!(from_excel_serial(-0.5, false), None);
        assert_eq!(from_excel_serial(f64::NAN, false), None);
        assert_eq!(from_excel_serial(f64::INFINITY, false), None);

        assert_eq!(from_excel_serial(0.0, true), Some(ymd(1904, 1, 1)));
        assert_eq!(from_excel_serial(44347.0, true), Some(ymd(2025, 6, 1)));
        assert_eq!(
            from_excel_serial(45809.0 - 1462.0, true),
            Some(ymd(2025, 6, 1))
        );
        assert_eq!(from_excel_serial(-1.0, true), None);
        assert_eq!(from_excel_serial(f64::NAN, true), None);

        assert_eq!(parse_date("45809"), Ok(ymd(2025, 6, 1)));
        assert_eq!(parse_date("４５８０９"), Ok(ymd(2025, 6, 1)));
        assert_eq!(parse_date("45000"), Ok(ymd(2023, 3, 15)));
        assert_eq!(parse_date("00060"), Err(DateError::Nonexistent));
        assert_eq!(parse_date("00061"), Ok(ymd(1900, 3, 1)));
    }

    #[test]
    fn year_month_forms() {
        for s in [
            "2025-05",
            "2025-5",
            "2025/5",
            "2025.5",
            "202505",
            "2025年5月",
            "2025年 5月",
            "2025年5",
            "R7.5",
            "R7/5",
            "R07-05",
            "令和7年5月",
            "２０２５年５月",
            "Ｒ７．５",
            // Excel turned the month cell into a date.
            "2025-05-01",
            "2025/5/1",
            "2025-05-31",
            "2025-05-01 00:00:00",
            "20250501",
            "令和7年5月1日",
            "45778",
        ] {
            assert_eq!(parse_year_month(s), Ok((2025, 5)), "{s:?}");
        }
        assert_eq!(parse_year_month("2025-06-01"), Ok((2025, 6)));
        assert_eq!(parse_year_month("2025/6/1"), Ok((2025, 6)));
        assert_eq!(parse_year_month("45809"), Ok((2025, 6)));
        assert_eq!(parse_year_month("令和元年5月"), Ok((2019, 5)));
        assert_eq!(parse_year_month("H31.4"), Ok((2019, 4)));
        assert_eq!(parse_year_month("平成31年4月"), Ok((2019, 4)));
        assert_eq!(parse_year_month("昭和64年1月"), Ok((1989, 1)));
        assert_eq!(parse_year_month("平成元年1月"), Ok((1989, 1)));
        assert_eq!(parse_year_month("大正元年7月"), Ok((1912, 7)));
        assert_eq!(parse_year_month("明治45年7月"), Ok((1912, 7)));
    }

    #[test]
    fn year_month_rejects() {
        for s in [
            "",
            "abc",
            "2025",
            "2025-13",
            "2025-00",
            "202513",
            "202500",
            "000005",
            "25-05",
            "25/5",
            "R7",
            "平成32年5月",
            "2025-05-14-01",
            "2025年5月14日14",
            "年月",
        ] {
            assert_eq!(parse_year_month(s), Err(DateError::Invalid), "{s:?}");
        }
        assert_eq!(parse_year_month("2025-06-31"), Err(DateError::Nonexistent));
        // Months the era has a year for but not the month: the operator is told the era.
        for s in [
            "令和元年4月",
            "平成31年5月",
            "H31.5",
            "昭和64年2月",
            "昭和64年12月1日",
        ] {
            assert_eq!(parse_year_month(s), Err(DateError::Nonexistent), "{s:?}");
        }
    }

    #[test]
    fn days_in_month_values() {
        assert_eq!(days_in_month(2025, 1), 31);
        assert_eq!(days_in_month(2025, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2025, 4), 30);
        assert_eq!(days_in_month(2025, 6), 30);
        assert_eq!(days_in_month(2025, 12), 31);
        assert_eq!(days_in_month(2025, 0), 0);
        assert_eq!(days_in_month(2025, 13), 0);
        assert_eq!(days_in_month(i32::MIN, 2), 29);
    }

    #[test]
    fn error_display_is_japanese() {
        assert!(DateError::Invalid.to_string().contains("日付"));
        assert!(DateError::Nonexistent.to_string().contains("存在しない"));
    }

    #[test]
    fn weird_inputs_do_not_panic() {
        let fragments = [
            "",
            " ",
            "\u{3000}",
            "0",
            "00",
            "1",
            "12",
            "2025",
            "20250514",
            "45809",
            "99999999999999999999999999",
            "-",
            "ー",
            "－",
            "/",
            ".",
            ",",
            ":",
            "T",
            "R",
            "H",
            "元",
            "年",
            "月",
            "日",
            "令和",
            "昭和",
            "㍻",
            "R99999999999.1.1",
            "年月日",
            "😀",
            "👨‍👩‍👧",
            "e\u{301}",
            "\u{0}",
            "\u{FEFF}",
            "ｶﾞ",
            "８，０００",
            "+",
            "9223372036854775808",
            "0:00",
            "12:34:56.7890123456",
        ];
        let long_digits = "9".repeat(5000);
        let mut inputs: Vec<String> = vec![long_digits.clone(), format!("R{long_digits}.1.1")];
        for a in fragments {
            for b in fragments {
                inputs.push(format!("{a}{b}"));
                inputs.push(format!("{a}.{b}.{a}"));
            }
        }
        assert!(inputs.len() > 300);
        for s in &inputs {
            let _ = parse_date(s);
            let _ = parse_year_month(s);
            let n = normalize(s);
            let _ = parse_int(&n);
            let _ = parse_int(s);
            let _ = super::super::normalize::to_fullwidth_katakana(s);
            let _ = super::super::normalize::normalize_postal(s);
            let _ = super::super::normalize::normalize_phone(s);
            let _ = super::super::normalize::header_key(s);
        }
    }
}
