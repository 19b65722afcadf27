//! The verification report as a file: `.csv` (one table of every finding) or `.xlsx`
//! (概要, a sheet per kind of finding with a blank column for the value on the paper
//! card, and a copy of each keyed sheet with the cells to check coloured). What it says
//! comes from `verify::report`.

use crate::output::{FileRecord, TableFormat, TableWriter, Value};
use crate::sheet::Book;
use crate::verify::report::{figures, floor2, marks, Mark, Meta, SheetMarks};
use crate::verify::{Finding, Keying, Side, Verification};
use anyhow::Result;
use std::path::Path;

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
        let side = |s: &Option<crate::verify::SideCell>| -> [Value; 3] {
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
    let mut copies: Vec<(&Keying, &crate::verify::SheetInfo, &SheetMarks)> = Vec::new();
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
    let val = |v: &crate::verify::Val, f: Style| match v {
        crate::verify::Val::Int(n) => C::Num(*n as f64, f),
        crate::verify::Val::Bad(_) => C::Text(v.shown(), f),
    };
    let fill = || [C::Blank(Style::Fill), C::Blank(Style::Fill)];

    let mismatch_rows: Vec<Vec<C>> = o
        .mismatches
        .iter()
        .map(|&(i, j)| {
            let (ea, eb) = (&a.entries[i], &b.entries[j]);
            let diff = match (&ea.val, &eb.val) {
                (crate::verify::Val::Int(x), crate::verify::Val::Int(y)) => {
                    C::Num((y - x) as f64, Style::Plain)
                }
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
        .filter(|f| {
            matches!(
                f.kind,
                crate::verify::Kind::Reading(_) | crate::verify::Kind::Check
            )
        })
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
}
