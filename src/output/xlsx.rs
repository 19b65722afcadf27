//! The one xlsx layer every document is written through: one set of [`Styles`], one
//! A4 page setup ([`page`]: paper, orientation, fit to width, margins, repeated header
//! rows, header and footer), one [`write_table`], the marked sheet copy
//! ([`copy_sheet_marked`]), and the fixed creation time that makes a rewritten
//! document the same file byte for byte. A document file (`verify_report.rs`,
//! `certificate.rs`, `evaluation.rs`, `handling_report.rs`, `shiplist.rs`,
//! `labels.rs`, the exports of [`super::TableWriter`]) decides what goes where; how a
//! cell or a page looks is decided here.

use super::Value;
use anyhow::Result;
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatAlign, FormatBorder, Worksheet};

/// A font and its size. `family` is the font family Excel records (1 Roman, 3 Modern,
/// 0 unset) so another program substitutes a like face where the font is missing.
#[derive(Debug, Clone, Copy)]
pub struct Font {
    pub name: &'static str,
    pub family: u8,
    pub size: f64,
}

/// The documents' sans-serif face (on every current Japanese Windows and Office).
pub const GOTHIC: Font = Font {
    name: "游ゴシック",
    family: 0,
    size: 10.0,
};
/// A certificate's serif face: ＭＳ 明朝 (as Windows names it, full-width ＭＳ) is on
/// every Japanese Windows; family Roman lets LibreOffice and others substitute a
/// Mincho (Noto Serif CJK JP, IPA明朝) where it is missing.
pub const MINCHO: Font = Font {
    name: "ＭＳ 明朝",
    family: 1,
    size: 10.5,
};
/// Hashes, codes and file names: fixed width, so a 64-digit hash lines up.
pub const MONO: &str = "Consolas";

const HEAD_FILL: u32 = 0xDDEBF7;
const LABEL_FILL: u32 = 0xF2F2F2;
const BORDER: u32 = 0x808080;

/// How a cell looks, by what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A framed table cell.
    Plain,
    /// A total or subtotal row: bold on grey.
    Strong,
    /// Long text wrapped, top aligned (the row is made tall enough).
    Wrap,
    /// A hash, code or path in a fixed-width face.
    Mono,
    /// A mark such as ＊ or －, centred.
    Mark,
    /// Centred and strong.
    MarkStrong,
    /// Something to correct (a difference, an unreadable value, a broken record).
    Red,
    /// Something present on one side only.
    Orange,
    /// Something noted but harmless (a duplicate with the same value).
    Blue,
    /// A blank framed cell for the reviewer to fill in.
    Fill,
}

const TONES: [Tone; 10] = [
    Tone::Plain,
    Tone::Strong,
    Tone::Wrap,
    Tone::Mono,
    Tone::Mark,
    Tone::MarkStrong,
    Tone::Red,
    Tone::Orange,
    Tone::Blue,
    Tone::Fill,
];

/// The number formats documents use.
pub const INT: &str = "#,##0";
pub const PCT1: &str = "0.0%";
pub const PCT2: &str = "0.00%";
pub const SIGNED: &str = "+#,##0;-#,##0;0";
pub const DEC2: &str = "0.00";
pub const DEC1: &str = "0.0";
pub const SIGNED_DEC2: &str = "+0.00;-0.00;0.00";
const NUMBERS: [&str; 7] = [INT, PCT1, PCT2, SIGNED, DEC2, SIGNED_DEC2, DEC1];

/// The one set of cell styles, in one font.
pub struct Styles {
    pub font: Font,
    /// Unframed text in the document's font.
    pub base: Format,
    /// A document's title.
    pub title: Format,
    /// A section heading.
    pub heading: Format,
    /// A small note under a title or table, wrapped.
    pub note: Format,
    /// A table's heading cell: bold, centred, on blue.
    pub head: Format,
    /// A row label on the left of a two-column sheet: bold on grey.
    pub label: Format,
    tones: Vec<(Tone, Format)>,
    /// (format code, tone) -> the numeric format.
    numbers: Vec<(&'static str, Tone, Format)>,
}

impl Styles {
    pub fn new(font: Font) -> Styles {
        let mut base = Format::new()
            .set_font_name(font.name)
            .set_font_size(font.size)
            .set_align(FormatAlign::VerticalCenter);
        if font.family != 0 {
            base = base.set_font_family(font.family).set_font_charset(128);
        }
        let cell = base
            .clone()
            .set_border(FormatBorder::Thin)
            .set_border_color(Color::RGB(BORDER));
        let strong = |f: Format| f.set_bold().set_background_color(Color::RGB(LABEL_FILL));
        let tone = |t: Tone| match t {
            Tone::Plain => cell.clone(),
            Tone::Strong => strong(cell.clone()),
            Tone::Wrap => cell.clone().set_text_wrap().set_align(FormatAlign::Top),
            Tone::Mono => cell
                .clone()
                .set_font_name(MONO)
                .set_font_size(font.size - 1.0)
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            Tone::Mark => cell.clone().set_align(FormatAlign::Center),
            Tone::MarkStrong => strong(cell.clone().set_align(FormatAlign::Center)),
            Tone::Red => cell
                .clone()
                .set_background_color(Color::RGB(0xFFC7CE))
                .set_font_color(Color::RGB(0x9C0006))
                .set_bold(),
            Tone::Orange => cell
                .clone()
                .set_background_color(Color::RGB(0xFFEB9C))
                .set_font_color(Color::RGB(0x9C5700)),
            Tone::Blue => cell
                .clone()
                .set_background_color(Color::RGB(HEAD_FILL))
                .set_font_color(Color::RGB(0x1F4E78)),
            Tone::Fill => base
                .clone()
                .set_border(FormatBorder::Thin)
                .set_border_color(Color::RGB(BORDER)),
        };
        let tones: Vec<(Tone, Format)> = TONES.iter().map(|t| (*t, tone(*t))).collect();
        let numbers = NUMBERS
            .iter()
            .flat_map(|code| {
                TONES
                    .iter()
                    .map(move |t| (*code, *t, tone(*t).set_num_format(*code)))
                    .collect::<Vec<_>>()
            })
            .collect();
        Styles {
            font,
            title: base
                .clone()
                .set_bold()
                .set_font_size(font.size + 4.0)
                .set_align(FormatAlign::Bottom),
            heading: base.clone().set_bold().set_font_size(font.size + 1.0),
            note: base
                .clone()
                .set_font_size(font.size - 1.0)
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            head: cell
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_background_color(Color::RGB(HEAD_FILL)),
            label: strong(cell.clone()).set_text_wrap(),
            base,
            tones,
            numbers,
        }
    }

    /// The text format of a tone.
    pub fn tone(&self, t: Tone) -> &Format {
        self.tones
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, f)| f)
            .unwrap_or(&self.tones[0].1)
    }

    /// A number format (one of the codes above, else [`INT`]) in a tone.
    pub fn number(&self, code: &str, t: Tone) -> &Format {
        self.numbers
            .iter()
            .find(|(c, k, _)| *c == code && *k == t)
            .or_else(|| self.numbers.iter().find(|(c, k, _)| *c == INT && *k == t))
            .map(|(_, _, f)| f)
            .unwrap_or(&self.tones[0].1)
    }
}

/// How a sheet prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// One page wide, as many pages long as needed (tables).
    Width,
    /// The whole sheet on one page (a certificate).
    OnePage,
    /// Actual size, 100 %, no margins (a label sheet: every millimetre counts).
    ActualSize,
}

/// A sheet's page setup. Every sheet a person prints is A4.
#[derive(Debug, Clone)]
pub struct Page {
    pub landscape: bool,
    pub fit: Fit,
    /// Rows repeated at the top of every printed page (0-based, inclusive).
    pub repeat_rows: Option<(u32, u32)>,
    /// Rows (and columns) kept in view when scrolling.
    pub freeze: Option<(u32, u16)>,
    /// The header's left part (the document and program); the right part is the
    /// sheet's name, the footer the page number. None: no header or footer.
    pub title: Option<String>,
    pub gridlines: bool,
}

impl Page {
    /// A table: landscape, one page wide, its heading row repeated and frozen, titled.
    pub fn table(title: &str) -> Page {
        Page {
            landscape: true,
            fit: Fit::Width,
            repeat_rows: Some((0, 0)),
            freeze: Some((1, 0)),
            title: Some(title.to_string()),
            gridlines: false,
        }
    }
}

/// `&` starts a code in an Excel header or footer: a literal one is doubled.
pub fn header_text(s: &str) -> String {
    s.replace('&', "&&")
}

/// Set up a sheet for printing on A4.
pub fn page(ws: &mut Worksheet, p: &Page) -> Result<()> {
    ws.set_paper_size(9); // A4
    if p.landscape {
        ws.set_landscape();
    } else {
        ws.set_portrait();
    }
    match p.fit {
        Fit::Width => {
            ws.set_print_fit_to_pages(1, 0);
            ws.set_margins(0.5, 0.5, 0.6, 0.6, 0.3, 0.3);
            ws.set_print_center_horizontally(true);
        }
        Fit::OnePage => {
            ws.set_print_fit_to_pages(1, 1);
            ws.set_margins(0.6, 0.6, 0.6, 0.5, 0.3, 0.3);
            ws.set_print_center_horizontally(true);
        }
        Fit::ActualSize => {
            ws.set_print_scale(100);
            ws.set_margins(0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        }
    }
    if let Some((a, b)) = p.repeat_rows {
        ws.set_repeat_rows(a, b)?;
    }
    if let Some((r, c)) = p.freeze {
        ws.set_freeze_panes(r, c)?;
    }
    if let Some(t) = &p.title {
        ws.set_header(format!("&L&9{}&R&9&A", header_text(t)));
        ws.set_footer("&C&9&P / &N&R&8印刷 &D &T");
    }
    ws.set_print_gridlines(p.gridlines);
    if !p.gridlines {
        ws.set_screen_gridlines(false);
    }
    Ok(())
}

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String, Tone),
    /// A number in a format code ([`INT`], [`PCT1`], …).
    Num(f64, &'static str, Tone),
    Blank(Tone),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into(), Tone::Plain)
    }
}

/// Write one cell.
pub fn write_cell(ws: &mut Worksheet, st: &Styles, r: u32, c: u16, cell: &Cell) -> Result<()> {
    match cell {
        Cell::Text(s, t) if s.is_empty() => {
            ws.write_blank(r, c, st.tone(*t))?;
        }
        Cell::Text(s, t) => {
            ws.write_string_with_format(r, c, excel_text(s), st.tone(*t))?;
        }
        Cell::Num(x, code, t) => {
            ws.write_number_with_format(r, c, *x, st.number(code, *t))?;
        }
        Cell::Blank(t) => {
            ws.write_blank(r, c, st.tone(*t))?;
        }
    }
    Ok(())
}

/// Width of text in Excel column units: a full-width character takes two.
pub fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| {
            if (c as u32) < 0x2E80 || ('\u{FF61}'..='\u{FF9F}').contains(&c) {
                1.1
            } else {
                2.0
            }
        })
        .sum()
}

/// Lines wrapped text needs in a column `width` units wide. Spreadsheets do not grow
/// rows for wrapped text written by a program, so heights are set from this estimate.
pub fn lines(text: &str, width: f64) -> u32 {
    text.split('\n')
        .map(|line| ((text_width(line) / (width - 1.0).max(1.0)).ceil() as u32).max(1))
        .sum::<u32>()
        .max(1)
}

/// The height of a row whose tallest cell needs `lines` lines.
pub fn row_height(st: &Styles, lines: u32) -> f64 {
    (st.font.size * 1.35 * lines as f64 + 3.0).max(15.0)
}

/// How a table's columns are sized.
pub enum Widths<'a> {
    /// Fixed widths in Excel units.
    Fixed(&'a [f64]),
    /// Sized to the longest text, wrapped columns capped at the given width.
    Fit { wrap: f64 },
}

/// A table: the heading row at `top`, then the rows, each as tall as its tallest
/// wrapped cell; 該当なし when there are no rows; `filter` adds the spreadsheet's
/// filter buttons. Returns the row after the table.
pub fn write_table(
    ws: &mut Worksheet,
    st: &Styles,
    top: u32,
    headers: &[&str],
    rows: &[Vec<Cell>],
    widths: Widths<'_>,
    filter: bool,
) -> Result<u32> {
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, *h, &st.head)?;
    }
    let mut fit: Vec<f64> = headers.iter().map(|h| text_width(h)).collect();
    let (fixed, wrap_width) = match widths {
        Widths::Fixed(w) => (Some(w), 0.0),
        Widths::Fit { wrap } => (None, wrap),
    };
    let width_of = |c: usize, fit: &[f64]| match fixed {
        Some(w) => w.get(c).copied().unwrap_or(10.0),
        None => fit.get(c).copied().unwrap_or(10.0),
    };
    if rows.is_empty() {
        ws.write_string_with_format(top + 1, 0, "該当なし", &st.base)?;
    }
    for (n, row) in rows.iter().enumerate() {
        let r = top + 1 + n as u32;
        for (c, cell) in row.iter().enumerate() {
            write_cell(ws, st, r, c as u16, cell)?;
            let w = match cell {
                Cell::Text(s, Tone::Wrap | Tone::Mono) if fixed.is_none() => {
                    text_width(s).min(wrap_width)
                }
                Cell::Text(s, _) => text_width(s),
                Cell::Num(x, _, _) => format!("{x}").len() as f64 + 2.0,
                Cell::Blank(_) => 0.0,
            };
            if let Some(m) = fit.get_mut(c) {
                *m = m.max(w);
            }
        }
    }
    let col_width = |c: usize| match fixed {
        Some(_) => width_of(c, &fit),
        None => (fit[c] + 2.0).clamp(8.0, 90.0),
    };
    for (n, row) in rows.iter().enumerate() {
        let most = row
            .iter()
            .enumerate()
            .map(|(c, cell)| match cell {
                Cell::Text(s, Tone::Wrap | Tone::Mono) => lines(s, col_width(c)),
                _ => 1,
            })
            .max()
            .unwrap_or(1);
        if most > 1 {
            ws.set_row_height(top + 1 + n as u32, row_height(st, most))?;
        }
    }
    for c in 0..fit.len() {
        ws.set_column_width(c as u16, col_width(c))?;
    }
    let head_lines = headers
        .iter()
        .enumerate()
        .map(|(c, h)| lines(h, col_width(c)))
        .max()
        .unwrap_or(1);
    if head_lines > 1 {
        ws.set_row_height(top, row_height(st, head_lines))?;
    }
    if filter && !headers.is_empty() {
        ws.autofilter(
            top,
            0,
            top + rows.len().max(1) as u32,
            headers.len() as u16 - 1,
        )?;
    }
    Ok(top + 1 + rows.len().max(1) as u32)
}

/// A stored timestamp (`2025-10-20T10:00:00+09:00`) as the workbook's creation time
/// (2000-01-01 if it cannot be read).
pub fn created_datetime(created_at: &str) -> ExcelDateTime {
    let parsed = chrono::NaiveDateTime::parse_from_str(
        created_at.get(..19).unwrap_or(""),
        "%Y-%m-%dT%H:%M:%S",
    );
    use chrono::{Datelike, Timelike};
    parsed
        .ok()
        .and_then(|d| {
            ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                .and_then(|x| x.and_hms(d.hour() as u16, d.minute() as u8, d.second() as f64))
                .ok()
        })
        .unwrap_or_else(|| ExcelDateTime::from_ymd(2000, 1, 1).unwrap_or_default())
}

/// The most characters an Excel cell holds.
pub const EXCEL_CELL_MAX: usize = 32_767;

/// Text as an xlsx cell can hold it: a value over Excel's 32,767 characters is cut, and
/// the cut is marked at its end with how long the value was, so nobody takes it for the
/// whole. Cut rather than refused: these workbooks are lists for people (the error
/// report, rejected rows, a roster export), and refusing would withhold the very list
/// that says which cell is wrong; the whole value stays in the CSV forms and the
/// database.
pub fn excel_text(s: &str) -> std::borrow::Cow<'_, str> {
    // Counted in UTF-16 units, as Excel counts: a character outside the BMP takes two.
    if s.len() <= EXCEL_CELL_MAX || s.encode_utf16().count() <= EXCEL_CELL_MAX {
        return std::borrow::Cow::Borrowed(s);
    }
    let total = s.chars().count();
    let mark = format!(
        "…［以下略: 全 {total} 文字。Excel のセルは 32,767 文字までのため切りました。全文は CSV で書き出してください (cut: {total} characters)］"
    );
    let room = EXCEL_CELL_MAX - mark.encode_utf16().count();
    let mut used = 0;
    let mut end = 0;
    for (i, ch) in s.char_indices() {
        used += ch.len_utf16();
        if used > room {
            break;
        }
        end = i + ch.len_utf8();
    }
    std::borrow::Cow::Owned(format!("{}{mark}", &s[..end]))
}

/// Write one value into an xlsx cell: text always as a string (never a formula), numbers
/// as numbers, nothing for an empty value.
pub fn write_xlsx_value(
    ws: &mut rust_xlsxwriter::Worksheet,
    r: u32,
    c: u16,
    v: &Value,
    format: Option<&rust_xlsxwriter::Format>,
) -> Result<()> {
    match (v, format) {
        (Value::Empty, _) => {}
        (Value::Text(s), None) => {
            ws.write_string(r, c, excel_text(s))?;
        }
        (Value::Text(s), Some(f)) => {
            ws.write_string_with_format(r, c, excel_text(s), f)?;
        }
        (Value::Int(i), None) => {
            ws.write_number(r, c, *i as f64)?;
        }
        (Value::Int(i), Some(f)) => {
            ws.write_number_with_format(r, c, *i as f64, f)?;
        }
        (Value::Float(x), None) => {
            ws.write_number(r, c, *x)?;
        }
        (Value::Float(x), Some(f)) => {
            ws.write_number_with_format(r, c, *x, f)?;
        }
    }
    Ok(())
}

/// An entry workbook's cells: a cell to key (framed, unlocked under the sheet's
/// protection) and a cell not to key (grey, locked: a day that does not exist or falls
/// outside the program period, and every pre-filled cell).
pub struct EntryStyles {
    pub open: Format,
    pub closed: Format,
    /// A pre-filled, locked cell (participant number, name, month, date).
    pub given: Format,
    /// A heading of a column that cannot be keyed.
    pub closed_head: Format,
}

const CLOSED_FILL: u32 = 0xBFBFBF;

impl EntryStyles {
    pub fn new(st: &Styles) -> EntryStyles {
        let framed = st
            .base
            .clone()
            .set_border(FormatBorder::Thin)
            .set_border_color(Color::RGB(BORDER));
        EntryStyles {
            open: framed
                .clone()
                .set_unlocked()
                .set_num_format("0")
                .set_align(FormatAlign::Right),
            closed: framed
                .clone()
                .set_locked()
                .set_background_color(Color::RGB(CLOSED_FILL))
                .set_pattern(rust_xlsxwriter::FormatPattern::Solid),
            given: framed.set_locked(),
            closed_head: st
                .head
                .clone()
                .set_locked()
                .set_background_color(Color::RGB(CLOSED_FILL)),
        }
    }
}

/// Excel data validation of a whole number `min..=max`, with the input message shown
/// when the cell is selected and the error shown (the value refused) when it is not
/// one. Excel caps a title at 32 characters and a message at 255.
pub fn whole_number_validation(
    min: i32,
    max: i32,
    input: (&str, &str),
    error: (&str, &str),
) -> Result<rust_xlsxwriter::DataValidation> {
    use rust_xlsxwriter::{DataValidation, DataValidationErrorStyle, DataValidationRule};
    Ok(DataValidation::new()
        .allow_whole_number(DataValidationRule::Between(min, max))
        .ignore_blank(true)
        .set_input_title(input.0)?
        .set_input_message(input.1)?
        .set_error_title(error.0)?
        .set_error_message(error.1)?
        .set_error_style(DataValidationErrorStyle::Stop))
}

/// Protect a sheet so its layout cannot change: no column or row inserted, deleted or
/// formatted, locked cells not even selectable (Tab and Enter go from one cell to key
/// to the next). No password: a supervisor can lift it from Excel's menu, on purpose.
pub fn protect_layout(ws: &mut Worksheet) {
    let opts = rust_xlsxwriter::ProtectionOptions {
        select_locked_cells: false,
        select_unlocked_cells: true,
        ..Default::default()
    };
    ws.protect_with_options(&opts);
}

/// A cell of a copied sheet marked for a reviewer: its colour and an optional note.
pub struct Marked<'f> {
    pub format: &'f rust_xlsxwriter::Format,
    pub note: Option<String>,
}

/// Copy a keyed sheet into `ws` cell for cell, as text, at the positions Excel shows,
/// with the cells `mark` names coloured (and noted), so a reviewer can hold it against
/// the paper card. The row `header_row` (0: none) takes `head`; columns are sized to
/// their text from the header down. Stops after `max_rows`.
pub fn copy_sheet_marked<'f>(
    ws: &mut rust_xlsxwriter::Worksheet,
    src: &mut dyn crate::sheet::RowSource,
    max_rows: u32,
    header_row: u32,
    head: Option<&rust_xlsxwriter::Format>,
    plain: Option<&rust_xlsxwriter::Format>,
    mut mark: impl FnMut(u32, usize) -> Option<Marked<'f>>,
) -> Result<usize> {
    let mut widths: Vec<usize> = Vec::new();
    let mut row = crate::sheet::Row::new();
    // Columns headed for checking only (`氏名（確認用）` of an entry workbook) are read
    // as nothing: below their heading they are copied empty, so no name reaches a report.
    let mut check_only: Vec<usize> = Vec::new();
    while src.next_row(&mut row)? {
        let r = row.number();
        if r > max_rows {
            break;
        }
        let hidden_before = check_only.len();
        for c in 0..row.len() {
            let t = row.raw_text(c);
            if check_only[..hidden_before].contains(&c) {
                continue;
            }
            if crate::validate::header::is_check_only(&crate::sheet::normalize::header_key(&t))
                && !check_only.contains(&c)
            {
                check_only.push(c);
            }
            if widths.len() <= c {
                widths.resize(c + 1, 0);
            }
            if r >= header_row {
                let w = t.chars().map(|ch| if ch.is_ascii() { 1 } else { 2 }).sum();
                widths[c] = widths[c].max(w);
            }
            let (er, ec) = (r - 1, c as u16);
            let (format, note) = match mark(r, c) {
                Some(m) => (Some(m.format), m.note),
                None if r == header_row => (head, None),
                None => (plain, None),
            };
            match format {
                Some(f) if t.is_empty() => {
                    ws.write_blank(er, ec, f)?;
                }
                Some(f) => {
                    ws.write_string_with_format(er, ec, excel_text(&t), f)?;
                }
                None if !t.is_empty() => {
                    ws.write_string(er, ec, excel_text(&t))?;
                }
                None => {}
            }
            if let Some(n) = note {
                ws.insert_note(
                    er,
                    ec,
                    &rust_xlsxwriter::Note::new(n).set_author("stepcard"),
                )?;
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, (*w as f64 + 2.0).clamp(5.0, 30.0))?;
    }
    Ok(widths.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_over_excels_cell_limit_is_cut_with_a_mark() {
        assert_eq!(excel_text("abc"), "abc");
        let exact = "a".repeat(EXCEL_CELL_MAX);
        assert_eq!(excel_text(&exact), exact);
        for long in [
            "a".repeat(EXCEL_CELL_MAX + 1),
            "あ".repeat(100_000),
            "😀".repeat(20_000),
        ] {
            let cut = excel_text(&long);
            assert!(cut.encode_utf16().count() <= EXCEL_CELL_MAX);
            assert!(cut.contains("以下略"), "{}", &cut[cut.len() - 200..]);
            assert!(cut.contains(&format!("全 {} 文字", long.chars().count())));
        }
    }

    #[test]
    fn wrapped_lines_count_full_width_double() {
        assert_eq!(lines("abc", 10.0), 1);
        assert_eq!(lines("あいうえおかきくけこ", 10.0), 3);
        assert_eq!(lines("a\nb", 10.0), 2);
        assert_eq!(lines("", 10.0), 1);
    }
}
