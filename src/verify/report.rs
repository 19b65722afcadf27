//! The verification report: the figures (on stdout, and the 概要 sheet), every finding
//! (`.csv`: one table; `.xlsx`: a sheet per kind, each difference highlighted with a
//! blank column for the value on the paper card, and a copy of each keyed sheet with the
//! cells to check coloured, so a reviewer can hold it against the card).

use super::{Entry, Finding, Keying, Side, Verification};
use crate::output::{FileRecord, TableFormat, TableWriter, Value};
use crate::sheet::Book;
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

/// Who verified and when, for the report's overview.
pub struct Meta {
    pub at: String,
    pub operator: String,
    pub program: String,
}

fn layout_ja(k: &Keying) -> &'static str {
    match k.layout {
        Some(crate::cli::Layout::Card) => "台紙型",
        Some(crate::cli::Layout::Long) => "縦型",
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

fn floor2(p: f64) -> f64 {
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
        ("一致", o.agreeing.len().to_string()),
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
        eprintln!(
            "  {} {} [{}]{}{}: {}",
            f.kind.ja(),
            who.trim(),
            f.code,
            side(&f.first, "1回目"),
            side(&f.second, "2回目"),
            f.message
        );
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

pub const CSV_HEADERS: [&str; 11] = [
    "区分",
    "参加者番号",
    "日付",
    "1回目 セル",
    "1回目 入力値",
    "1回目 正規化値",
    "2回目 セル",
    "2回目 入力値",
    "2回目 正規化値",
    "コード",
    "内容",
];

/// Write the report (`.csv` or `.xlsx`, by extension).
pub fn write(
    out: &Path,
    v: &Verification,
    findings: &[Finding],
    meta: &Meta,
) -> Result<FileRecord> {
    match TableFormat::from_path(out)? {
        TableFormat::Csv => write_csv(out, findings),
        TableFormat::Xlsx => write_xlsx(out, v, findings, meta),
    }
}

fn write_csv(out: &Path, findings: &[Finding]) -> Result<FileRecord> {
    let mut w = TableWriter::create(out)?;
    w.sheet("照合結果", &CSV_HEADERS)?;
    for f in findings {
        let side = |s: &Option<super::SideCell>| -> [Value; 3] {
            match s {
                Some(c) => [
                    c.cell.as_str().into(),
                    c.raw.as_str().into(),
                    c.norm.as_str().into(),
                ],
                None => [Value::Empty, Value::Empty, Value::Empty],
            }
        };
        let mut row: Vec<Value> = vec![
            f.kind.ja().into(),
            f.participant.as_str().into(),
            f.date.as_str().into(),
        ];
        row.extend(side(&f.first));
        row.extend(side(&f.second));
        row.push(f.code.into());
        row.push(f.message.as_str().into());
        w.row(&row)?;
    }
    Ok(w.finish()?.expect("file writer returns a record"))
}

/// How a cell in a copied input sheet is marked.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Duplicate,
    OnlyHere,
    Wrong,
}

/// (row, col) -> the strongest mark and every note, for one sheet.
type SheetMarks = HashMap<(u32, usize), (Mark, Vec<String>)>;

#[derive(Default)]
struct Marks {
    cells: HashMap<String, SheetMarks>,
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
fn marks(v: &Verification) -> (Marks, Marks) {
    let (a, b, o) = (&v.a, &v.b, &v.outcome);
    let (mut ma, mut mb) = (Marks::default(), Marks::default());
    for &(i, j) in &o.mismatches {
        let (ea, eb) = (&a.entries[i], &b.entries[j]);
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
    for &i in &o.only_first {
        let e = &a.entries[i];
        ma.entry(
            a,
            e,
            e.col(),
            Mark::OnlyHere,
            "1回目のみ: 2回目にこの日の入力がありません".into(),
        );
    }
    for &j in &o.only_second {
        let e = &b.entries[j];
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
        let (kept, later) = (&k.entries[d.kept], &k.entries[d.later]);
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
        for (k, e, m) in [
            (a, &a.entries[c.pair.0], &mut ma),
            (b, &b.entries[c.pair.1], &mut mb),
        ] {
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

fn write_xlsx(
    out: &Path,
    v: &Verification,
    findings: &[Finding],
    meta: &Meta,
) -> Result<FileRecord> {
    use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook, Worksheet};
    let mut wb = Workbook::new();
    let head = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xD9D9D9))
        .set_border(FormatBorder::Thin);
    let red = Format::new()
        .set_background_color(Color::RGB(0xFFC7CE))
        .set_font_color(Color::RGB(0x9C0006))
        .set_bold();
    let orange = Format::new()
        .set_background_color(Color::RGB(0xFFEB9C))
        .set_font_color(Color::RGB(0x9C5700));
    let blue = Format::new()
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_font_color(Color::RGB(0x1F4E78));
    let to_fill = Format::new()
        .set_border(FormatBorder::Thin)
        .set_border_color(Color::RGB(0x808080));
    let plain = Format::new();
    let wrap = Format::new()
        .set_text_wrap()
        .set_align(rust_xlsxwriter::FormatAlign::Top);
    let pct_fmt = Format::new()
        .set_num_format("0.00%")
        .set_bold()
        .set_align(rust_xlsxwriter::FormatAlign::Left);

    let setup = |ws: &mut Worksheet, name: &str, headers: &[&str], widths: &[f64]| -> Result<()> {
        ws.set_name(name)?;
        for (c, h) in headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &head)?;
        }
        for (c, w) in widths.iter().enumerate() {
            ws.set_column_width(c as u16, *w)?;
        }
        ws.set_freeze_panes(1, 0)?;
        ws.set_landscape();
        ws.set_paper_size(9);
        ws.set_print_fit_to_pages(1, 0);
        ws.set_repeat_rows(0, 0)?;
        Ok(())
    };
    let (a, b, o) = (&v.a, &v.b, &v.outcome);

    // Which keyed sheets are copied with their cells coloured: those with something to
    // check, unless so long that a copy would not help (the lists give every cell).
    let (ma, mb) = marks(v);
    let mut copies: Vec<(&Keying, &super::SheetInfo, &SheetMarks)> = Vec::new();
    let mut not_copied: Vec<String> = Vec::new();
    for (k, m) in [(a, &ma), (b, &mb)] {
        for info in &k.sheets {
            if let Some(cells) = m.cells.get(&info.name) {
                if info.last_row <= MAX_COPY_ROWS {
                    copies.push((k, info, cells));
                } else {
                    not_copied.push(format!("{}「{}」", k.side.ja(), info.name));
                }
            }
        }
    }

    // 概要: the figures, the files and what the colours mean.
    {
        let ws = wb.add_worksheet();
        setup(ws, "概要", &["項目", "値"], &[30.0, 90.0])?;
        ws.set_landscape();
        let mut rows: Vec<(&str, String)> = vec![
            ("事業", meta.program.clone()),
            ("照合日時", meta.at.clone()),
            ("照合者（取扱者）", meta.operator.clone()),
        ];
        rows.extend(figures(v));
        rows.push(("1回目の SHA-256", a.sha256.clone()));
        rows.push(("2回目の SHA-256", b.sha256.clone()));
        if !not_copied.is_empty() {
            rows.push((
                "写していないシート",
                format!(
                    "{}: {MAX_COPY_ROWS} 行を超えるため色付きの写しを作っていません。各一覧のセル番地で確かめてください",
                    not_copied.join("、")
                ),
            ));
        }
        let mut r = 1u32;
        for (k, val) in &rows {
            ws.write_string(r, 0, *k)?;
            match (*k, o.agreement_pct()) {
                ("一致率", Some(p)) => {
                    ws.write_number_with_format(r, 1, floor2(p) / 100.0, &pct_fmt)?;
                }
                ("判定", _) => {
                    let f = if v.agree() { &blue } else { &red };
                    ws.write_string_with_format(r, 1, val, f)?;
                }
                _ => {
                    ws.write_string(r, 1, val)?;
                }
            }
            r += 1;
        }
        r += 1;
        for (k, val) in [
            (
                "一致率の計算",
                "一致 ÷（照合 ＋ 1回目のみ ＋ 2回目のみ）。片方にしかない日も一致しなかった日として数えます",
            ),
            (
                "表記の違い",
                "全角・半角、桁区切り、和暦・西暦などの書き方の違いは一致として扱います（取込みと同じ正規化）",
            ),
        ] {
            ws.write_string(r, 0, k)?;
            ws.write_string(r, 1, val)?;
            r += 1;
        }
        r += 1;
        ws.write_string_with_format(r, 0, "色の意味", &head)?;
        ws.write_string_with_format(r, 1, "", &head)?;
        r += 1;
        for (f, what) in [
            (
                &red,
                "台紙と照らして直す値（不一致、値の違う重複、読めない入力、一致した値の誤り）",
            ),
            (&orange, "片方の入力にしかない日"),
            (&blue, "同じ値の重複（取込みでは1件として扱う）"),
        ] {
            ws.write_string_with_format(r, 0, "セルの色", f)?;
            ws.write_string(r, 1, what)?;
            r += 1;
        }
        ws.write_string_with_format(r, 0, "（空欄・枠）", &to_fill)?;
        ws.write_string(
            r,
            1,
            "「台紙の値」「確認者・メモ」: 台紙を見た人が正しい値と名前を書く欄",
        )?;
    }

    // One sheet per kind of finding, the values to check coloured, with blank framed
    // columns for the value on the paper card and who checked it.
    let val = |v: &super::Val, f: Style| match v {
        super::Val::Int(n) => C::Num(*n as f64, f),
        super::Val::Bad(_) => C::Text(v.shown(), f),
    };
    let fill = || [C::Blank(Style::Fill), C::Blank(Style::Fill)];

    let mismatch_rows: Vec<Vec<C>> = o
        .mismatches
        .iter()
        .map(|&(i, j)| {
            let (ea, eb) = (&a.entries[i], &b.entries[j]);
            let diff = match (&ea.val, &eb.val) {
                (super::Val::Int(x), super::Val::Int(y)) => C::Num((y - x) as f64, Style::Plain),
                _ => C::Blank(Style::Plain),
            };
            let mut row = vec![
                C::Text(ea.participant.to_string(), Style::Plain),
                C::Text(ea.date.to_string(), Style::Plain),
                C::Text(a.place(ea), Style::Plain),
                C::Text(ea.raw().into_owned(), Style::Red),
                val(&ea.val, Style::Red),
                C::Text(b.place(eb), Style::Plain),
                C::Text(eb.raw().into_owned(), Style::Red),
                val(&eb.val, Style::Red),
                diff,
            ];
            row.extend(fill());
            row
        })
        .collect();
    let only_rows: Vec<Vec<C>> = o
        .only_first
        .iter()
        .map(|&i| (a, &a.entries[i], Side::Second))
        .chain(
            o.only_second
                .iter()
                .map(|&j| (b, &b.entries[j], Side::First)),
        )
        .map(|(k, e, missing)| {
            let mut row = vec![
                C::Text(e.participant.to_string(), Style::Plain),
                C::Text(e.date.to_string(), Style::Plain),
                C::Text(k.side.ja().into(), Style::Plain),
                C::Text(k.place(e), Style::Plain),
                C::Text(e.raw().into_owned(), Style::Orange),
                val(&e.val, Style::Orange),
                C::Text(missing.ja().into(), Style::Plain),
            ];
            row.extend(fill());
            row
        })
        .collect();
    let dup_rows: Vec<Vec<C>> = o
        .dups
        .iter()
        .map(|d| {
            let k = v.keying(d.side);
            let (kept, later) = (&k.entries[d.kept], &k.entries[d.later]);
            let f = if d.same { Style::Blue } else { Style::Red };
            let mut row = vec![
                C::Text(d.side.ja().into(), Style::Plain),
                C::Text(later.participant.to_string(), Style::Plain),
                C::Text(later.date.to_string(), Style::Plain),
                C::Text(k.place(kept), Style::Plain),
                val(&kept.val, f),
                C::Text(k.place(later), Style::Plain),
                val(&later.val, f),
                C::Text(
                    if d.same {
                        "同じ値（取込みでは1件として扱う）".into()
                    } else {
                        "値が違う（steps.duplicate_conflict）: 一方を消す".into()
                    },
                    f,
                ),
            ];
            row.extend(fill());
            row
        })
        .collect();
    let check_rows: Vec<Vec<C>> = findings
        .iter()
        .filter(|f| matches!(f.kind, super::Kind::Reading(_) | super::Kind::Check))
        .map(|f| {
            let mut row = vec![
                C::Text(f.kind.ja().into(), Style::Plain),
                C::Text(f.participant.clone(), Style::Plain),
                C::Text(f.date.clone(), Style::Plain),
            ];
            for side in [&f.first, &f.second] {
                match side {
                    Some(s) => {
                        row.push(C::Text(s.cell.clone(), Style::Plain));
                        row.push(C::Text(s.raw.clone(), Style::Red));
                    }
                    None => row.extend([C::Blank(Style::Plain), C::Blank(Style::Plain)]),
                }
            }
            row.push(C::Text(f.code.into(), Style::Plain));
            row.push(C::Text(f.message.clone(), Style::Wrap));
            row
        })
        .collect();
    let styles = Styles {
        red: &red,
        orange: &orange,
        blue: &blue,
        fill: &to_fill,
        plain: &plain,
        wrap: &wrap,
    };
    let tables: [Table; 4] = [
        (
            "不一致",
            &[
                "参加者番号",
                "日付",
                "1回目 セル",
                "1回目 入力値",
                "1回目 正規化値",
                "2回目 セル",
                "2回目 入力値",
                "2回目 正規化値",
                "差（2回目−1回目）",
                "台紙の値",
                "確認者・メモ",
            ],
            mismatch_rows,
        ),
        (
            "片方のみ",
            &[
                "参加者番号",
                "日付",
                "ある方",
                "セル",
                "入力値",
                "正規化値",
                "ない方",
                "台紙の値",
                "確認者・メモ",
            ],
            only_rows,
        ),
        (
            "重複",
            &[
                "入力",
                "参加者番号",
                "日付",
                "先のセル",
                "先の値",
                "後のセル",
                "後の値",
                "判定",
                "台紙の値",
                "確認者・メモ",
            ],
            dup_rows,
        ),
        (
            "検査",
            &[
                "区分",
                "参加者番号",
                "日付",
                "1回目 セル",
                "1回目 値",
                "2回目 セル",
                "2回目 値",
                "コード",
                "内容",
            ],
            check_rows,
        ),
    ];
    for (name, headers, rows) in &tables {
        let ws = wb.add_worksheet();
        setup(ws, name, headers, &[])?;
        write_table(ws, headers, rows, &styles)?;
    }

    // The copies, so a reviewer can hold the keyed sheet against the paper card.
    let mut used: Vec<String> = ["概要", "不一致", "片方のみ", "重複", "検査"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut books: [Option<Book>; 2] = [None, None];
    for (k, info, cells) in copies {
        let slot = &mut books[usize::from(k.side == Side::Second)];
        if slot.is_none() {
            *slot = Some(Book::open(&k.path, &k.read_opts)?);
        }
        let Some(book) = slot.as_mut() else {
            continue;
        };
        let header_row = info.header_row;
        let name = sheet_name(&format!("{}_{}", k.side.ja(), info.name), &used);
        used.push(name.clone());
        let ws = wb.add_worksheet();
        ws.set_name(&name)?;
        ws.set_landscape();
        ws.set_paper_size(9);
        ws.set_print_fit_to_pages(1, 0);
        let mut src = book.rows(&info.name)?;
        crate::output::copy_sheet_marked(
            ws,
            src.as_mut(),
            MAX_COPY_ROWS,
            header_row,
            Some(&head),
            Some(&plain),
            |r, c| {
                cells
                    .get(&(r, c))
                    .map(|(mark, notes)| crate::output::Marked {
                        format: match mark {
                            Mark::Wrong => &red,
                            Mark::OnlyHere => &orange,
                            Mark::Duplicate => &blue,
                        },
                        note: Some(notes.join("\n")),
                    })
            },
        )?;
        ws.set_freeze_panes(header_row, 1)?;
        ws.set_repeat_rows(header_row - 1, header_row - 1)?;
    }
    let bytes = wb.save_to_buffer()?;
    crate::output::write_bytes(out, &bytes)
}

/// A findings sheet: name, headers, rows.
type Table<'h> = (&'h str, &'h [&'h str], Vec<Vec<C>>);

/// A cell of a findings table.
enum C {
    Text(String, Style),
    Num(f64, Style),
    Blank(Style),
}

#[derive(Clone, Copy)]
enum Style {
    Plain,
    Red,
    Orange,
    Blue,
    /// A blank framed cell for the reviewer to fill in.
    Fill,
    /// Long text, wrapped in a column of bounded width.
    Wrap,
}

struct Styles<'f> {
    red: &'f rust_xlsxwriter::Format,
    orange: &'f rust_xlsxwriter::Format,
    blue: &'f rust_xlsxwriter::Format,
    fill: &'f rust_xlsxwriter::Format,
    plain: &'f rust_xlsxwriter::Format,
    wrap: &'f rust_xlsxwriter::Format,
}

impl Styles<'_> {
    fn get(&self, s: Style) -> &rust_xlsxwriter::Format {
        match s {
            Style::Plain => self.plain,
            Style::Red => self.red,
            Style::Orange => self.orange,
            Style::Blue => self.blue,
            Style::Fill => self.fill,
            Style::Wrap => self.wrap,
        }
    }
}

/// Keyed sheets longer than this are not copied into the report.
const MAX_COPY_ROWS: u32 = 20_000;

/// The width of a column of wrapped text.
const WRAP_WIDTH: usize = 60;

/// Rows under a header already written, columns sized to their content (long messages
/// capped, so a printed page stays readable), or 該当なし when there are none.
fn write_table(
    ws: &mut rust_xlsxwriter::Worksheet,
    headers: &[&str],
    rows: &[Vec<C>],
    st: &Styles<'_>,
) -> Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    if rows.is_empty() {
        ws.write_string(1, 0, "該当なし")?;
    }
    for (n, row) in rows.iter().enumerate() {
        let r = n as u32 + 1;
        let mut lines = 1;
        for (c, cell) in row.iter().enumerate() {
            let col = c as u16;
            let w = match cell {
                C::Text(s, Style::Wrap) => {
                    ws.write_string_with_format(r, col, s, st.wrap)?;
                    // Row heights are not recomputed by every viewer: set them.
                    lines = lines.max(display_width(s).div_ceil(WRAP_WIDTH));
                    WRAP_WIDTH
                }
                C::Text(s, f) => {
                    if s.is_empty() {
                        ws.write_blank(r, col, st.get(*f))?;
                    } else {
                        ws.write_string_with_format(r, col, s, st.get(*f))?;
                    }
                    display_width(s)
                }
                C::Num(x, f) => {
                    ws.write_number_with_format(r, col, *x, st.get(*f))?;
                    format!("{x}").len()
                }
                C::Blank(f) => {
                    ws.write_blank(r, col, st.get(*f))?;
                    0
                }
            };
            if let Some(m) = widths.get_mut(c) {
                *m = (*m).max(w);
            }
        }
        if lines > 1 {
            ws.set_row_height(r, 15.0 * lines as f64)?;
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, (*w as f64 * 1.1 + 2.0).clamp(8.0, 90.0))?;
    }
    ws.autofilter(
        0,
        0,
        rows.len().max(1) as u32,
        headers.len().saturating_sub(1) as u16,
    )?;
    Ok(())
}

/// Width of text in Excel column units: full-width characters count two.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// A valid, unused worksheet name (at most 31 characters, none of `[]:*?/\`).
fn sheet_name(want: &str, used: &[String]) -> String {
    let clean: String = want
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let base: String = clean.chars().take(31).collect();
    if !used.iter().any(|u| u == &base) {
        return base;
    }
    (2..)
        .map(|n| {
            let suffix = format!("_{n}");
            let head: String = clean.chars().take(31 - suffix.chars().count()).collect();
            format!("{head}{suffix}")
        })
        .find(|c| !used.iter().any(|u| u == c))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let used = vec!["1回目_5月".to_string()];
        assert_eq!(sheet_name("1回目_5月", &used), "1回目_5月_2");
        assert_eq!(sheet_name("a/b", &[]), "a_b");
        let long = "x".repeat(40);
        assert_eq!(sheet_name(&long, &[]).chars().count(), 31);
        assert_eq!(sheet_name(&long, &["x".repeat(31)]).chars().count(), 31);
    }

    #[test]
    fn percentages() {
        assert_eq!(pct(Some(99.354)), "99.35%");
        assert_eq!(pct(Some(146.0 * 100.0 / 147.0)), "99.31%");
        assert_eq!(pct(Some(931_764.0 * 100.0 / 931_784.0)), "99.99%");
        assert_eq!(pct(Some(100.0)), "100.00%");
        assert_eq!(pct(None), "-");
    }
}
