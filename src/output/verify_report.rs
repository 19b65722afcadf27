//! The verification report as a file: `.csv` (one table of every finding) or `.xlsx`
//! (概要, a sheet per kind of finding with a blank column for the value on the paper
//! card, and a copy of each keyed sheet with the cells to check coloured). What it says
//! comes from `verify::report`.

use crate::output::xlsx::{page, write_table, Cell, Page, Styles, Tone, Widths, GOTHIC, INT, PCT2};
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
    let mut wb = rust_xlsxwriter::Workbook::new();
    let st = Styles::new(GOTHIC);
    let title = format!("{} 2回入力の照合結果", meta.program);
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
        ws.set_name("概要")?;
        page(ws, &Page::table(&title))?;
        let mut rows: Vec<(&str, String)> = vec![
            ("事業", meta.program.clone()),
            ("照合日時", crate::shown_time(&meta.at)),
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
        let mut cells: Vec<Vec<Cell>> = rows
            .into_iter()
            .map(|(k, val)| {
                let value = match (k, o.agreement_pct()) {
                    ("一致率", Some(p)) => Cell::Num(floor2(p) / 100.0, PCT2, Tone::Strong),
                    ("判定", _) => {
                        Cell::Text(val, if v.agree() { Tone::Blue } else { Tone::Red })
                    }
                    (k, _) if k.ends_with("SHA-256") => Cell::Text(val, Tone::Mono),
                    _ => Cell::Text(val, Tone::Wrap),
                };
                vec![Cell::Text(k.into(), Tone::Strong), value]
            })
            .collect();
        cells.push(vec![Cell::Blank(Tone::Plain), Cell::Blank(Tone::Plain)]);
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
            cells.push(vec![Cell::Text(k.into(), Tone::Strong), Cell::Text(val.into(), Tone::Wrap)]);
        }
        cells.push(vec![Cell::Blank(Tone::Plain), Cell::Blank(Tone::Plain)]);
        cells.push(vec![
            Cell::Text("色の意味".into(), Tone::Strong),
            Cell::Blank(Tone::Strong),
        ]);
        for (t, what) in [
            (
                Tone::Red,
                "台紙と照らして直す値（不一致、値の違う重複、読めない入力、一致した値の誤り）",
            ),
            (Tone::Orange, "片方の入力にしかない日"),
            (Tone::Blue, "同じ値の重複（取込みでは1件として扱う）"),
        ] {
            cells.push(vec![
                Cell::Text("セルの色".into(), t),
                Cell::Text(what.into(), Tone::Wrap),
            ]);
        }
        cells.push(vec![
            Cell::Text("（空欄・枠）".into(), Tone::Fill),
            Cell::Text(
                "「台紙の値」「確認者・メモ」: 台紙を見た人が正しい値と名前を書く欄".into(),
                Tone::Wrap,
            ),
        ]);
        write_table(
            ws,
            &st,
            0,
            &["項目", "値"],
            &cells,
            Widths::Fixed(&[30.0, 90.0]),
            false,
        )?;
    }

    // One sheet per kind of finding, the values to check coloured, with blank framed
    // columns for the value on the paper card and who checked it.
    let val = |v: &crate::verify::Val, f: Tone| match v {
        crate::verify::Val::Int(n) => num(*n as f64, f),
        crate::verify::Val::Bad(_) => Cell::Text(v.shown(), f),
    };
    let fill = || [Cell::Blank(Tone::Fill), Cell::Blank(Tone::Fill)];

    let mismatch_rows: Vec<Vec<Cell>> = o
        .mismatches
        .iter()
        .map(|(ea, eb)| {
            let diff = match (&ea.val, &eb.val) {
                (crate::verify::Val::Int(x), crate::verify::Val::Int(y)) => {
                    num((y - x) as f64, Tone::Plain)
                }
                _ => Cell::Blank(Tone::Plain),
            };
            let mut row = vec![
                Cell::Text(v.pid(ea).to_string(), Tone::Plain),
                Cell::Text(ea.date.to_string(), Tone::Plain),
                Cell::Text(a.place(ea), Tone::Plain),
                Cell::Text(ea.raw().into_owned(), Tone::Red),
                val(&ea.val, Tone::Red),
                Cell::Text(b.place(eb), Tone::Plain),
                Cell::Text(eb.raw().into_owned(), Tone::Red),
                val(&eb.val, Tone::Red),
                diff,
            ];
            row.extend(fill());
            row
        })
        .collect();
    let only_rows: Vec<Vec<Cell>> = o
        .only_first
        .iter()
        .map(|e| (a, e, Side::Second))
        .chain(o.only_second.iter().map(|e| (b, e, Side::First)))
        .map(|(k, e, missing)| {
            let mut row = vec![
                Cell::Text(v.pid(e).to_string(), Tone::Plain),
                Cell::Text(e.date.to_string(), Tone::Plain),
                Cell::Text(k.side.ja().into(), Tone::Plain),
                Cell::Text(k.place(e), Tone::Plain),
                Cell::Text(e.raw().into_owned(), Tone::Orange),
                val(&e.val, Tone::Orange),
                Cell::Text(missing.ja().into(), Tone::Plain),
            ];
            row.extend(fill());
            row
        })
        .collect();
    let dup_rows: Vec<Vec<Cell>> = o
        .dups
        .iter()
        .map(|d| {
            let k = v.keying(d.side);
            let (kept, later) = (&d.kept, &d.later);
            let f = if d.same { Tone::Blue } else { Tone::Red };
            let mut row = vec![
                Cell::Text(d.side.ja().into(), Tone::Plain),
                Cell::Text(v.pid(later).to_string(), Tone::Plain),
                Cell::Text(later.date.to_string(), Tone::Plain),
                Cell::Text(k.place(kept), Tone::Plain),
                val(&kept.val, f),
                Cell::Text(k.place(later), Tone::Plain),
                val(&later.val, f),
                Cell::Text(
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
    let check_rows: Vec<Vec<Cell>> = findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                crate::verify::Kind::Reading(_) | crate::verify::Kind::Check
            )
        })
        .map(|f| {
            let mut row = vec![
                Cell::Text(f.kind.ja().into(), Tone::Plain),
                Cell::Text(f.participant.clone(), Tone::Plain),
                Cell::Text(f.date.clone(), Tone::Plain),
            ];
            for side in [&f.first, &f.second] {
                match side {
                    Some(s) => {
                        row.push(Cell::Text(s.cell.clone(), Tone::Plain));
                        row.push(Cell::Text(s.raw.clone(), Tone::Red));
                    }
                    None => row.extend([Cell::Blank(Tone::Plain), Cell::Blank(Tone::Plain)]),
                }
            }
            row.push(Cell::Text(f.code.into(), Tone::Plain));
            row.push(Cell::Text(f.message.clone(), Tone::Wrap));
            row
        })
        .collect();
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
        ws.set_name(*name)?;
        page(ws, &Page::table(&title))?;
        write_table(
            ws,
            &st,
            0,
            headers,
            rows,
            Widths::Fit { wrap: WRAP_WIDTH },
            true,
        )?;
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
        page(
            ws,
            &Page {
                repeat_rows: Some((header_row - 1, header_row - 1)),
                freeze: Some((header_row, 1)),
                ..Page::table(&title)
            },
        )?;
        let mut src = book.rows(&info.name)?;
        let columns = crate::output::copy_sheet_marked(
            ws,
            src.as_mut(),
            MAX_COPY_ROWS,
            header_row,
            Some(&st.head),
            Some(st.tone(Tone::Plain)),
            |r, c| {
                cells
                    .get(&(r, c))
                    .map(|(mark, notes)| crate::output::Marked {
                        format: match mark {
                            Mark::Wrong => st.tone(Tone::Red),
                            Mark::OnlyHere => st.tone(Tone::Orange),
                            Mark::Duplicate => st.tone(Tone::Blue),
                        },
                        note: Some(notes.join("\n")),
                    })
            },
        )?;
        // A card sheet (number, month, 31 days) printed one page wide shrinks past
        // reading: two pages wide, the number columns repeated on each. A long sheet
        // (a few columns) prints portrait, more rows to the page.
        if columns > 20 {
            ws.set_print_fit_to_pages(2, 0);
            ws.set_repeat_columns(0, 1)?;
        } else if columns <= 8 {
            ws.set_portrait();
        }
    }
    let bytes = wb.save_to_buffer()?;
    crate::output::write_bytes(out, &bytes)
}

/// A number as the findings tables show it.
fn num(x: f64, t: Tone) -> Cell {
    Cell::Num(x, INT, t)
}

/// A findings sheet: name, headers, rows.
type Table<'h> = (&'h str, &'h [&'h str], Vec<Vec<Cell>>);

/// Keyed sheets longer than this are not copied into the report.
const MAX_COPY_ROWS: u32 = 20_000;

/// The width of a column of wrapped text.
const WRAP_WIDTH: f64 = 60.0;

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
