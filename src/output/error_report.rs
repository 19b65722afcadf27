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

/// Write the full error report, one row per problem. In `.xlsx` a second sheet copies
/// the input sheet with the problem cells highlighted.
pub fn write_error_report(
    out: &Path,
    file_name: &str,
    problems: &[Problem],
    input: Option<(&Path, &ReadOptions)>,
) -> Result<FileRecord> {
    let fmt = crate::output::TableFormat::from_path(out)?;
    if fmt == crate::output::TableFormat::Xlsx {
        return write_error_xlsx(out, file_name, problems, input);
    }
    let mut w = TableWriter::create(out)?;
    w.sheet("誤り", &ERROR_HEADERS)?;
    for p in problems {
        w.row(&problem_row(file_name, p))?;
    }
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

fn write_error_xlsx(
    out: &Path,
    file_name: &str,
    problems: &[Problem],
    input: Option<(&Path, &ReadOptions)>,
) -> Result<FileRecord> {
    use rust_xlsxwriter::{Color, Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("誤り")?;
    for (c, h) in ERROR_HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    let top = Format::new().set_align(rust_xlsxwriter::FormatAlign::Top);
    let wrap = Format::new()
        .set_text_wrap()
        .set_align(rust_xlsxwriter::FormatAlign::Top);
    for (i, p) in problems.iter().enumerate() {
        let r = i as u32 + 1;
        // Wrapped cells get no automatic height in every viewer: size the row to the
        // message (full-width characters count double in a 60-character column).
        let w: usize = p
            .message
            .chars()
            .map(|ch| if ch.is_ascii() { 1 } else { 2 })
            .sum();
        let lines = w.div_ceil(50).max(file_name.len().div_ceil(29)).max(1);
        ws.set_row_height(r, 13.5 * lines as f64)?;
        for (c, v) in problem_row(file_name, p).iter().enumerate() {
            let f = if c == 7 || c == 0 { &wrap } else { &top };
            crate::output::write_xlsx_value(ws, r, c as u16, v, Some(f))?;
        }
    }
    for (c, w) in [30.0, 12.0, 7.0, 5.0, 12.0, 12.0, 24.0, 60.0]
        .iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, *w)?;
    }
    // Printed on A4 landscape, one page wide, the header repeated on every page.
    ws.set_paper_size(9);
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, 0)?;
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, problems.len() as u32, 7)?;

    // A copy of each input sheet with problems, the problem cells highlighted, so the
    // operator can hold it against the paper card.
    const MAX_COPY_ROWS: u32 = 200_000;
    if let Some((path, ropts)) = input {
        let mut book = Book::open(path, ropts)?;
        let mut sheets: Vec<&str> = problems.iter().map(|p| p.sheet.as_str()).collect();
        sheets.dedup();
        sheets.sort();
        sheets.dedup();
        let red = Format::new()
            .set_background_color(Color::RGB(0xFFC7CE))
            .set_font_color(Color::RGB(0x9C0006));
        for (i, sheet) in sheets.iter().enumerate() {
            let mut marks: std::collections::HashMap<(u32, usize), Vec<&Problem>> =
                std::collections::HashMap::new();
            let mut row_marks: std::collections::HashSet<u32> = Default::default();
            for p in problems.iter().filter(|p| p.sheet == *sheet) {
                match (p.row, p.col) {
                    (Some(r), Some(c)) => marks.entry((r, c)).or_default().push(p),
                    (Some(r), None) => {
                        row_marks.insert(r);
                    }
                    _ => {}
                }
            }
            let ws = wb.add_worksheet();
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
                |r, c| match marks.get(&(r, c)) {
                    Some(ps) => Some(crate::output::Marked {
                        format: &red,
                        note: Some(
                            ps.iter()
                                .map(|p| format!("{}: {}", p.code, p.message))
                                .collect::<Vec<_>>()
                                .join("\n"),
                        ),
                    }),
                    None if row_marks.contains(&r) => Some(crate::output::Marked {
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
