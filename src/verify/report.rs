//! The verification report's content: the figures (on stdout, and the 概要 sheet), every finding
//! (`.csv`: one table; `.xlsx`: a sheet per kind, each difference highlighted with a
//! blank column for the value on the paper card, and a copy of each keyed sheet with the
//! cells to check coloured, so a reviewer can hold it against the card). The files are
//! written by `output::verify_report`.

use super::{Entry, Finding, Keying, Side, Verification};
use anyhow::Result;
use std::collections::HashMap;

/// Who verified and when, for the report's overview.
pub struct Meta {
    pub at: String,
    pub operator: String,
    pub program: String,
}

fn layout_ja(k: &Keying) -> &'static str {
    match k.layout {
        Some(crate::import::Layout::Card) => "台紙型",
        Some(crate::import::Layout::Long) => "縦型",
        None => "",
    }
}

fn sheets_of(k: &Keying) -> String {
    let names: Vec<&str> = k.sheets.iter().map(|s| s.name.as_str()).collect();
    format!("{}（{}）", names.join("、"), layout_ja(k))
}

/// `99.35%`, or `-` when neither keying has a day. Cut, not rounded, to two decimals,
/// so 19 differences in 900,000 days never show as 100.00%.
pub fn pct(p: Option<f64>) -> String {
    match p {
        Some(p) => format!("{:.2}%", floor2(p)),
        None => "-".into(),
    }
}

pub fn floor2(p: f64) -> f64 {
    (p * 100.0).floor() / 100.0
}

/// The verdict in words.
pub fn verdict(v: &Verification) -> &'static str {
    if v.agree() {
        "一致（2回の入力が一致し、値もすべて正しい）"
    } else {
        "要確認（不一致・片方のみ・値の重複・読めない入力・値の誤りのいずれかがある）"
    }
}

/// The figures, as (label, value) rows.
pub fn figures(v: &Verification) -> Vec<(&'static str, String)> {
    let o = &v.outcome;
    let same_dups = o.dups.len() - o.conflicting_dups();
    vec![
        ("1回目の入力", v.a.file_name.clone()),
        ("1回目のシート", sheets_of(&v.a)),
        ("2回目の入力", v.b.file_name.clone()),
        ("2回目のシート", sheets_of(&v.b)),
        ("1回目の件数（参加者・日）", o.first_keys.to_string()),
        ("2回目の件数（参加者・日）", o.second_keys.to_string()),
        ("照合（両方にある日）", o.matched().to_string()),
        ("一致", o.agreeing.to_string()),
        ("不一致", o.mismatches.len().to_string()),
        ("1回目のみ", o.only_first.len().to_string()),
        ("2回目のみ", o.only_second.len().to_string()),
        ("重複（値が違う）", o.conflicting_dups().to_string()),
        ("重複（同じ値）", same_dups.to_string()),
        ("読めない入力", v.reading_problems().to_string()),
        ("一致した値の誤り", v.checks.len().to_string()),
        ("一致率", pct(o.agreement_pct())),
        ("判定", verdict(v).to_string()),
    ]
}

/// The summary on stdout: one `label<TAB>value` line per figure.
pub fn print_summary(v: &Verification) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "項目\t値")?;
    for (k, val) in figures(v) {
        writeln!(out, "{k}\t{val}")?;
    }
    out.flush()?;
    Ok(())
}

/// The first findings on stderr, for an operator who did not ask for a report.
pub fn print_findings(quiet: bool, findings: &[Finding], has_report: bool) {
    if quiet {
        return;
    }
    const SHOWN: usize = 20;
    for f in findings.iter().take(SHOWN) {
        let side = |s: &Option<super::SideCell>, label: &str| {
            s.as_ref()
                .map(|c| format!(" {label} {}「{}」", c.cell, c.raw))
                .unwrap_or_default()
        };
        let who = if f.date.is_empty() {
            f.participant.clone()
        } else {
            format!("{} {}", f.participant, f.date)
        };
        let line = format!(
            "  {} {} [{}]{}{}: {}",
            f.kind.ja(),
            who.trim(),
            f.code,
            side(&f.first, "1回目"),
            side(&f.second, "2回目"),
            f.message
        );
        eprintln!("{}", crate::output::terminal_safe(&line));
    }
    if findings.len() > SHOWN {
        eprintln!(
            "  … ほか {} 件 (and {} more){}",
            findings.len() - SHOWN,
            findings.len() - SHOWN,
            if has_report {
                ""
            } else {
                ": --out 照合結果.xlsx で全件を書き出せます"
            }
        );
    }
}

/// How a cell in a copied input sheet is marked.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    Duplicate,
    OnlyHere,
    Wrong,
}

/// (row, col) -> the strongest mark and every note, for one sheet.
pub type SheetMarks = HashMap<(u32, usize), (Mark, Vec<String>)>;

#[derive(Default)]
pub struct Marks {
    pub cells: HashMap<String, SheetMarks>,
}

impl Marks {
    fn add(&mut self, sheet: &str, row: u32, col: usize, mark: Mark, note: String) {
        let slot = self
            .cells
            .entry(sheet.to_string())
            .or_default()
            .entry((row, col))
            .or_insert((mark, Vec::new()));
        slot.0 = slot.0.max(mark);
        slot.1.push(note);
    }
    fn entry(&mut self, k: &Keying, e: &Entry, col: usize, mark: Mark, note: String) {
        self.add(k.sheet_name(e.sheet), e.row, col, mark, note);
    }
}

/// Marks on each keying's sheets for the highlighted copies.
pub fn marks(v: &Verification) -> (Marks, Marks) {
    let (a, b, o) = (&v.a, &v.b, &v.outcome);
    let (mut ma, mut mb) = (Marks::default(), Marks::default());
    for (ea, eb) in &o.mismatches {
        ma.entry(
            a,
            ea,
            ea.col(),
            Mark::Wrong,
            format!("不一致: 2回目は {}（{}）", eb.val.shown(), b.place(eb)),
        );
        mb.entry(
            b,
            eb,
            eb.col(),
            Mark::Wrong,
            format!("不一致: 1回目は {}（{}）", ea.val.shown(), a.place(ea)),
        );
    }
    for e in &o.only_first {
        ma.entry(
            a,
            e,
            e.col(),
            Mark::OnlyHere,
            "1回目のみ: 2回目にこの日の入力がありません".into(),
        );
    }
    for e in &o.only_second {
        mb.entry(
            b,
            e,
            e.col(),
            Mark::OnlyHere,
            "2回目のみ: 1回目にこの日の入力がありません".into(),
        );
    }
    for d in &o.dups {
        let (k, m) = match d.side {
            Side::First => (a, &mut ma),
            Side::Second => (b, &mut mb),
        };
        let (kept, later) = (&d.kept, &d.later);
        let mark = if d.same { Mark::Duplicate } else { Mark::Wrong };
        m.entry(
            k,
            later,
            later.col(),
            mark,
            format!(
                "重複: {} にも同じ参加者・日（{}）",
                k.place(kept),
                kept.val.shown()
            ),
        );
        m.entry(
            k,
            kept,
            kept.col(),
            mark,
            format!(
                "重複: {} にも同じ参加者・日（{}）",
                k.place(later),
                later.val.shown()
            ),
        );
    }
    for (k, m) in [(a, &mut ma), (b, &mut mb)] {
        for (p, _) in &k.problems {
            if let (Some(r), Some(c)) = (p.row, p.col) {
                m.add(
                    &p.sheet,
                    r,
                    c,
                    Mark::Wrong,
                    format!("{}: {}", p.code, p.message),
                );
            }
        }
    }
    for c in &v.checks {
        for (k, e, m) in [(a, &c.pair.0, &mut ma), (b, &c.pair.1, &mut mb)] {
            let col = match c.at {
                super::At::Steps => e.col(),
                super::At::Date => e.date_col(),
                super::At::Participant => e.pid_col(),
            };
            m.entry(k, e, col, Mark::Wrong, format!("{}: {}", c.code, c.message));
        }
    }
    (ma, mb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(pct(Some(99.354)), "99.35%");
        assert_eq!(pct(Some(146.0 * 100.0 / 147.0)), "99.31%");
        assert_eq!(pct(Some(931_764.0 * 100.0 / 931_784.0)), "99.99%");
        assert_eq!(pct(Some(100.0)), "100.00%");
        assert_eq!(pct(None), "-");
    }
}
