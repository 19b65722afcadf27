//! The import error report (`--errors FILE`): one row per problem, and in `.xlsx` a
//! copy of each input sheet with the problem cells highlighted.

use crate::output::{FileRecord, TableWriter, Value};
use crate::sheet::{Book, ReadOptions};
use crate::validate::Problem;
use anyhow::Result;
use std::path::Path;

pub const ERROR_HEADERS: [&str; 8] = [
    "ファイル",
    "シート",
    "セル",
    "行",
    "列",
    "値",
    "コード",
    "内容",
];

/// The most problems an `.xlsx` report lists: beyond them a workbook is too slow to
/// open and too big to hold while writing. The full list goes to a CSV beside it.
pub const XLSX_MAX_PROBLEMS: usize = 100_000;

/// Runs its argument over every problem in order; may be called more than once.
pub type EachProblem<'a> = dyn FnMut(&mut dyn FnMut(&Problem) -> Result<()>) -> Result<()> + 'a;

/// Where the full list of an `.xlsx` report cut at [`XLSX_MAX_PROBLEMS`] goes:
/// `誤り.xlsx` → `誤り_全件.csv`.
pub fn full_list_path(out: &Path) -> std::path::PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!("{stem}_全件.csv"))
}

/// The full error report for problems read back from a spool, never all held: a
/// `.csv` report takes every problem as it comes; an `.xlsx` one the first
/// [`XLSX_MAX_PROBLEMS`], saying on its first sheet how many there were and where the
/// full list is (a CSV written beside it). The records of every file written.
pub fn write_error_report_streamed(
    out: &Path,
    file_name: &str,
    total: u64,
    each: &mut EachProblem<'_>,
    input: Option<(&Path, &ReadOptions)>,
) -> Result<Vec<FileRecord>> {
    let fmt = crate::output::TableFormat::from_path(out)?;
    if fmt != crate::output::TableFormat::Xlsx {
        return Ok(vec![write_error_csv(out, file_name, each)?]);
    }
    let mut recs = Vec::new();
    let full = if total > XLSX_MAX_PROBLEMS as u64 {
        let full = full_list_path(out);
        recs.push(write_error_csv(&full, file_name, each)?);
        Some(full)
    } else {
        None
    };
    let cut = full.as_deref().map(|f| (total, f));
    recs.insert(
        0,
        write_error_xlsx(out, file_name, total, each, cut, input)?,
    );
    Ok(recs)
}

fn write_error_csv(out: &Path, file_name: &str, each: &mut EachProblem<'_>) -> Result<FileRecord> {
    let mut w = TableWriter::create(out)?;
    w.sheet("誤り", &ERROR_HEADERS)?;
    each(&mut |p| w.row(&problem_row(file_name, p)))?;
    Ok(w.finish()?.expect("file writer returns a record"))
}

fn problem_row(file_name: &str, p: &Problem) -> Vec<Value> {
    vec![
        file_name.into(),
        p.sheet.as_str().into(),
        p.cell().into(),
        p.row.map(i64::from).into(),
        p.column.as_str().into(),
        p.raw.as_str().into(),
        p.code.into(),
        p.message.as_str().into(),
    ]
}

/// The problem list's column widths (Excel units): file, sheet, cell, row, column,
/// value, code, message.
const WIDTHS: [f64; 8] = [24.0, 10.0, 6.0, 6.0, 10.0, 14.0, 22.0, 56.0];

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// How many problem cells of the input copy carry a note with the problem (the rest
/// are coloured only): notes are held whole until the workbook is saved.
const MAX_NOTES: usize = 2_000;

/// The cells of one input sheet to colour, and the notes to put on some of them.
#[derive(Default)]
struct SheetMarks {
    cells: std::collections::HashMap<(u32, usize), Option<String>>,
    rows: std::collections::HashSet<u32>,
}

fn write_error_xlsx(
    out: &Path,
    file_name: &str,
    total: u64,
    each: &mut EachProblem<'_>,
    cut: Option<(u64, &Path)>,
    input: Option<(&Path, &ReadOptions)>,
) -> Result<FileRecord> {
    use crate::output::xlsx::{self, Tone};
    use rust_xlsxwriter::{Color, Format, Workbook};
    let mut wb = Workbook::new();
    let st = xlsx::Styles::new(xlsx::GOTHIC);
    let bold = st.heading.clone();
    // Written row by row to disk (constant memory): a report of 100,000 problems is
    // never held as cells.
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name("誤り")?;
    // A list cut short says so above its header, with where the full list is.
    let top_row: u32 = match cut {
        Some((total, full)) => {
            let name = full
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            ws.write_string_with_format(
                0,
                0,
                format!(
                    "誤りは全部で {total} 件あります。この表には最初の {} 件だけを載せています。全件の一覧は同じフォルダの「{name}」にあります \
                     ({total} problems; the first {} are listed here, all of them in {name})",
                    XLSX_MAX_PROBLEMS, XLSX_MAX_PROBLEMS
                ),
                &bold,
            )?;
            1
        }
        None => 0,
    };
    for (c, h) in ERROR_HEADERS.iter().enumerate() {
        ws.write_string_with_format(top_row, c as u16, *h, &st.head)?;
    }
    // Bordered cells, text wrapped in the file, value and message columns, each row as
    // tall as its longest wrapped cell.
    let top = st.tone(Tone::Wrap).clone();
    let wrap = top.clone();
    let number = st.number(xlsx::INT, Tone::Wrap).clone();
    let listed = total.min(XLSX_MAX_PROBLEMS as u64) as u32;
    let mut marks: Vec<(String, SheetMarks)> = Vec::new();
    let mut notes = 0usize;
    let mut i = 0u32;
    each(&mut |p| {
        if i >= listed {
            return Ok(());
        }
        let r = i + 1 + top_row;
        i += 1;
        // Wrapped cells get no automatic height in every viewer: size the row to its
        // tallest wrapped cell.
        let row = problem_row(file_name, p);
        let lines = row
            .iter()
            .zip(WIDTHS)
            .map(|(v, w)| match v {
                Value::Text(t) => xlsx::lines(t, w),
                _ => 1,
            })
            .max()
            .unwrap_or(1);
        if lines > 1 {
            ws.set_row_height(r, xlsx::row_height(&st, lines))?;
        }
        for (c, v) in row.iter().enumerate() {
            let f = match (c, v) {
                (_, Value::Int(_)) => &number,
                (7 | 0 | 5, _) => &wrap,
                _ => &top,
            };
            crate::output::write_xlsx_value(ws, r, c as u16, v, Some(f))?;
        }
        // Where the problem is on the input copy.
        let m = match marks.iter().position(|(s, _)| *s == p.sheet) {
            Some(k) => &mut marks[k].1,
            None => {
                marks.push((p.sheet.clone(), SheetMarks::default()));
                &mut marks.last_mut().expect("just pushed").1
            }
        };
        match (p.row, p.col) {
            (Some(r), Some(c)) => {
                let note = m.cells.entry((r, c)).or_default();
                if notes < MAX_NOTES || note.is_some() {
                    let line = format!("{}: {}", p.code, p.message);
                    match note {
                        Some(n) => {
                            n.push('\n');
                            n.push_str(&line);
                        }
                        None => {
                            notes += 1;
                            *note = Some(line);
                        }
                    }
                }
            }
            (Some(r), None) => {
                m.rows.insert(r);
            }
            _ => {}
        }
        Ok(())
    })?;
    for (c, w) in WIDTHS.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    if top_row == 0 {
        ws.set_row_height(0, xlsx::row_height(&st, 1) + 4.0)?;
    }
    // Printed on A4 landscape, one page wide, the header repeated on every page, the
    // title (which file, how many problems, when) at the top of each page.
    xlsx::page(
        ws,
        &xlsx::Page {
            repeat_rows: Some((top_row, top_row)),
            freeze: Some((top_row + 1, 0)),
            ..xlsx::Page::table(&format!(
                "取込みの誤り一覧　{}　{total} 件　{}",
                base_name(file_name),
                crate::shown_time(&crate::now())
            ))
        },
    )?;
    ws.autofilter(top_row, 0, listed + top_row, 7)?;

    // A copy of each input sheet with problems, the problem cells highlighted, so the
    // operator can hold it against the paper card.
    const MAX_COPY_ROWS: u32 = 200_000;
    if let Some((path, ropts)) = input {
        let mut book = Book::open(path, ropts)?;
        marks.sort_by(|a, b| a.0.cmp(&b.0));
        let red = Format::new()
            .set_background_color(Color::RGB(0xFFC7CE))
            .set_font_color(Color::RGB(0x9C0006));
        for (i, (sheet, m)) in marks.iter_mut().enumerate() {
            let ws = wb.add_worksheet_with_constant_memory()?;
            let name: String = format!("入力{}_{}", i + 1, sheet)
                .chars()
                .take(31)
                .collect();
            let name: String = name
                .chars()
                .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
                .collect();
            ws.set_name(&name)?;
            ws.set_paper_size(9);
            ws.set_landscape();
            ws.set_print_fit_to_pages(1, 0);
            let mut src = book.rows(sheet)?;
            crate::output::copy_sheet_marked(
                ws,
                src.as_mut(),
                MAX_COPY_ROWS,
                0,
                None,
                None,
                |r, c| match m.cells.get_mut(&(r, c)) {
                    Some(note) => Some(crate::output::Marked {
                        format: &red,
                        note: note.take(),
                    }),
                    None if m.rows.contains(&r) => Some(crate::output::Marked {
                        format: &red,
                        note: None,
                    }),
                    None => None,
                },
            )?;
        }
    }
    let bytes = wb.save_to_buffer()?;
    crate::output::write_bytes(out, &bytes)
}
