//! The one way a file's chosen sheets are read, for every import and for double-entry
//! verification alike: find each sheet's header (skipping sheets without one under
//! `--all-sheets`), let the kind check it, then hand over every non-blank row below it
//! with the first cell that has data under no heading.

use super::header::{find_header, ColumnDef, Header};
use super::{Options, Problem};
use crate::sheet::{Book, Row};
use anyhow::Result;

/// What a reader of sheets (an import's driver, a verification) does at each step.
pub trait Visit {
    /// The kind's check of a found header; problems make the sheet unreadable.
    fn header(&mut self, h: &Header) -> Result<Vec<Problem>>;
    /// Problems that make a sheet (or, with no sheet read, the file) unreadable.
    fn unreadable(&mut self, problems: Vec<Problem>);
    /// A sheet without a header, passed over under `--all-sheets`.
    fn skipped(&mut self, _sheet: &str) {}
    /// One non-blank row below the header; `outside` is a cell with data under no
    /// heading (refused: it would be dropped silently).
    fn row(&mut self, h: &Header, row: &Row, outside: Option<Problem>) -> Result<()>;
    /// A check for the reader to run on this sheet's rows where they are parsed (see
    /// [`crate::sheet::Precheck`]): a row it passes is neither blank nor has a cell
    /// outside the header, and comes to [`Visit::row`] with its verdict.
    fn precheck(&mut self, _h: &Header) -> Option<crate::sheet::Precheck> {
        None
    }
}

/// Read `sheets` of `book` through `v`; the number of sheets read. When no sheet could
/// be read and no header problem says why, `header.not_found` does.
pub fn walk<V: Visit + ?Sized>(
    book: &mut Book,
    sheets: &[String],
    columns: &[ColumnDef],
    card_days: bool,
    opts: &Options,
    v: &mut V,
) -> Result<usize> {
    let mut read = 0;
    let mut unreadable = false;
    for sheet in sheets {
        let mut rows = book.rows(sheet)?;
        let mut row = Row::new();
        let header = match find_header(
            rows.as_mut(),
            &mut row,
            sheet,
            columns,
            card_days,
            &opts.ignore_column,
        )? {
            Ok(h) => h,
            Err(ps) => {
                if opts.all_sheets && ps.iter().all(|p| p.code == "header.not_found") {
                    v.skipped(sheet);
                } else {
                    unreadable = true;
                    v.unreadable(ps);
                }
                continue;
            }
        };
        let hp = v.header(&header)?;
        if !hp.is_empty() {
            unreadable = true;
            v.unreadable(hp);
            continue;
        }
        read += 1;
        if let Some(check) = v.precheck(&header) {
            rows.set_precheck(check);
        }
        let width = header.width();
        while rows.next_row(&mut row)? {
            if row.pre().is_some() {
                v.row(&header, &row, None)?;
                continue;
            }
            if row.is_blank() {
                continue;
            }
            v.row(&header, &row, outside_header(sheet, &row, width))?;
        }
    }
    if read == 0 && !unreadable {
        v.unreadable(vec![Problem {
            sheet: sheets.join("、"),
            row: None,
            col: None,
            column: String::new(),
            raw: String::new(),
            code: "header.not_found",
            message: "見出しのあるシートがありません (no sheet with a header)".into(),
        }]);
    }
    Ok(read)
}

/// Cells with data under no heading would be dropped silently: the first such cell of
/// a row is refused.
pub fn outside_header(sheet: &str, row: &Row, width: usize) -> Option<Problem> {
    (width..row.len())
        .find(|&c| !row.raw_text(c).trim().is_empty())
        .map(|c| Problem {
            sheet: sheet.to_string(),
            row: Some(row.number()),
            col: Some(c),
            column: String::new(),
            raw: row.raw_text(c).into_owned(),
            code: "cell.outside_header",
            message: "見出しのない列に値があります。見出しを付けるか、値を消してください".into(),
        })
}
