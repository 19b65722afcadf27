//! Mailing labels laid out on a physical A4 label sheet (宛名ラベル).
//!
//! The sheet is drawn with the spreadsheet's own grid: page margins are 0 and the label
//! sheet's top and left margins are spacer rows and columns, so every position is a sum
//! of row heights and column widths that this file computes from millimetres. Each
//! label is a 3×3 block (padding, the text cell, padding); gaps between labels are
//! spacer columns and rows; a page break follows each sheet of labels. Paper A4, scale
//! 100 %, no fit-to-page, no gridlines, print area set.
//!
//! Sizes are rounded to whole pixels at 96 dpi, the unit Excel stores. Boundaries are
//! rounded from their cumulative position, not span by span, so the error never
//! accumulates: every label edge is within half a pixel (0.13 mm) of where the label
//! sheet has it. Row heights in the file are points (3/4 of a pixel).
//!
//! Text: the postal code with 〒, the address (wrapped at sensible points), the
//! building/方書, the name with 様, and the participant number small. The sizes shrink
//! together until everything fits the label's text box, down to [`MIN_ADDRESS_PT`];
//! a label that still does not fit is reported (participant and line) and the file is
//! not written. Widths are estimated from character classes with margins chosen to be
//! wider than MS ゴシック (what Japanese Windows prints with) and than the fallback fonts
//! LibreOffice uses, so the spreadsheet never wraps a line the estimate did not.

use super::address::{split_building, wrap_by};
pub use crate::layout::{
    Builtin, Layout, BUILTIN, MAX_OFFSET_MM, PAD_MM, PAPER_H_MM, PAPER_W_MM, SAFE_MM,
};
use anyhow::{bail, Result};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook};

/// The font the labels ask for (every Japanese Windows has it; fixed-width, so the
/// estimate is exact there).
pub const FONT: &str = "ＭＳ ゴシック";
/// The workbook's default font, which sets the unit of column widths (see `render_xlsx`).
pub const DEFAULT_FONT: &str = "Courier New";
pub const DEFAULT_FONT_PT: f64 = 10.0;
/// Courier New 10 at 96 dpi: the digit width and the cell padding Excel adds, in pixels.
pub const DIGIT_PX: u32 = 8;
pub const CELL_PADDING_PX: u32 = 5;
pub const BASE_POSTAL_PT: f64 = 10.0;
pub const BASE_ADDRESS_PT: f64 = 11.0;
pub const BASE_NAME_PT: f64 = 14.0;
pub const ID_PT: f64 = 7.0;
/// The smallest address size before a label is reported as not fitting.
pub const MIN_ADDRESS_PT: f64 = 7.0;
/// Line height as a multiple of the font size: LibreOffice with Noto Sans CJK measured
/// 1.46 em (16.1 pt for 11 pt); MS ゴシック in Excel is smaller.
pub const LINE_SPACING: f64 = 1.5;
/// What a cell keeps for itself inside its box (Excel ≈ 2 px each side).
const CELL_INSET_W_MM: f64 = 1.6;
const CELL_INSET_H_PT: f64 = 3.0;
/// Excel allows 1,023 manual page breaks in a sheet.
const MAX_PAGES: usize = 1024;

/// The most labels one `.xlsx` holds when its first label is at `start_at` (Excel's
/// limit on page breaks): `labels` splits a longer run into several files.
pub fn labels_per_file(layout: &Layout, start_at: usize) -> usize {
    (MAX_PAGES * layout.per_page()).saturating_sub(start_at.saturating_sub(1))
}

/// A built-in layout or the program file's custom one, by name.
pub fn find_layout(name: &str, program: &crate::program::Program) -> Option<Layout> {
    if let Some(b) = BUILTIN.iter().find(|b| b.name == name) {
        return Some(b.layout());
    }
    let l = program.labels.as_ref()?;
    if l.layout.as_deref() != Some(name) {
        return None;
    }
    Some(Layout {
        name: name.to_string(),
        cols: l.cols?,
        rows: l.rows?,
        width_mm: l.width_mm?,
        height_mm: l.height_mm?,
        left_mm: l.left_mm?,
        top_mm: l.top_mm?,
        gap_x_mm: l.gap_x_mm,
        gap_y_mm: l.gap_y_mm,
    })
}

/// Millimetres to pixels at 96 dpi (the unit Excel keeps column widths and row heights in).
pub fn mm_to_px(mm: f64) -> f64 {
    mm / 25.4 * 96.0
}

pub fn px_to_mm(px: f64) -> f64 {
    px * 25.4 / 96.0
}

/// Millimetres to points (row heights are points: 1/72 inch).
pub fn mm_to_pt(mm: f64) -> f64 {
    mm / 25.4 * 72.0
}

/// A column width in pixels as Excel shows it, in characters of the default font
/// (`digit` pixels per digit, `padding` pixels of cell padding), to 1/256 of a
/// character. Calibri 11: 7 and 5; the labels' Courier New 10: 8 and 5.
pub fn col_width_chars(px: u32, digit: u32, padding: u32) -> f64 {
    let (px, d, p) = (f64::from(px), f64::from(digit), f64::from(padding));
    let chars = if px < d + p {
        px / (d + p)
    } else {
        (px - p) / d
    };
    (chars * 256.0).round() / 256.0
}

/// The `width` stored in the file for a column of `px` pixels: pixels over the digit
/// width, truncated to 1/256 (padding included, as Excel stores it).
pub fn col_width_stored(px: u32, digit: u32) -> f64 {
    f64::from(px * 256 / digit) / 256.0
}

/// Millimetres to a column width in characters of the labels' default font.
pub fn mm_to_col_width_chars(mm: f64) -> f64 {
    col_width_chars(mm_to_px(mm).round() as u32, DIGIT_PX, CELL_PADDING_PX)
}

/// Spans in millimetres to whole pixels, rounding each boundary from its cumulative
/// position so the rounding error never adds up.
pub fn quantize(spans_mm: &[f64]) -> Vec<u32> {
    let mut out = Vec::with_capacity(spans_mm.len());
    let mut pos = 0.0;
    let mut prev_px = 0i64;
    for s in spans_mm {
        pos += s;
        let px = mm_to_px(pos).round() as i64;
        out.push((px - prev_px).max(0) as u32);
        prev_px = px;
    }
    out
}

/// One direction of the grid: pixel sizes of every column (or of one page's rows), the
/// index of each label's text cell, and the size of that cell in millimetres.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub px: Vec<u32>,
    pub spans_mm: Vec<f64>,
    pub content: Vec<usize>,
    pub content_mm: Vec<f64>,
}

/// Lay out one axis: the sheet margin, then per label its padding, text cell and
/// padding, then the gap. The padding is [`PAD_MM`], more where the label reaches into
/// the paper's unprintable edge ([`SAFE_MM`]), moved by the printer `offset`.
pub fn axis(margin: f64, n: u32, size: f64, gap: f64, paper: f64, offset: f64) -> Axis {
    let mut spans = Vec::new();
    let mut content = Vec::new();
    let mut content_mm = Vec::new();
    let push = |spans: &mut Vec<f64>, v: f64| {
        if v > 0.005 {
            spans.push(v);
        }
    };
    push(&mut spans, margin);
    for i in 0..n {
        let a = margin + f64::from(i) * (size + gap);
        let b = a + size;
        let pad_a = (PAD_MM.max(SAFE_MM - a) + offset).max(0.0);
        let pad_b = (PAD_MM.max(SAFE_MM - (paper - b)) - offset).max(0.0);
        push(&mut spans, pad_a);
        content.push(spans.len());
        let inner = size - pad_a - pad_b;
        spans.push(inner);
        content_mm.push(inner);
        push(&mut spans, pad_b);
        if i + 1 < n {
            push(&mut spans, gap);
        }
    }
    Axis {
        px: quantize(&spans),
        spans_mm: spans,
        content,
        content_mm,
    }
}

/// The whole sheet: columns, and the rows of one page (every page repeats them).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub cols: Axis,
    pub rows: Axis,
}

pub fn grid(layout: &Layout, offset_x: f64, offset_y: f64) -> Grid {
    Grid {
        cols: axis(
            layout.left_mm,
            layout.cols,
            layout.width_mm,
            layout.gap_x_mm,
            PAPER_W_MM,
            offset_x,
        ),
        rows: axis(
            layout.top_mm,
            layout.rows,
            layout.height_mm,
            layout.gap_y_mm,
            PAPER_H_MM,
            offset_y,
        ),
    }
}

/// Estimated advance of a character in ems. Deliberately a little wide for half-width
/// characters (MS ゴシック: 0.5; the proportional fallback fonts: up to ≈ 0.95 for M, W).
pub fn char_em(c: char) -> f64 {
    match c {
        ' ' => 0.35,
        'i' | 'j' | 'l' | 'I' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' => 0.4,
        'M' | 'W' | 'm' | 'w' | '@' | '%' | '&' => 1.0,
        'A'..='Z' => 0.78,
        c if c.is_ascii() => 0.65,
        '\u{FF61}'..='\u{FF9F}' => 0.55,
        _ => 1.0,
    }
}

pub fn text_em(s: &str) -> f64 {
    s.chars().map(char_em).sum()
}

/// What one label says, before fitting.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelText {
    pub participant_id: String,
    pub postal_code: String,
    pub address: String,
    pub address2: Option<String>,
    pub name: String,
}

/// Which part of a label a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Postal,
    Address,
    Building,
    Name,
    Id,
}

impl Part {
    pub fn as_ja(self) -> &'static str {
        match self {
            Part::Postal => "郵便番号",
            Part::Address => "住所",
            Part::Building => "方書",
            Part::Name => "氏名",
            Part::Id => "参加者番号",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub part: Part,
    pub text: String,
    pub size_pt: f64,
}

/// A label whose text does not fit even at the smallest size.
#[derive(Debug, Clone, PartialEq)]
pub struct NoFit {
    pub participant_id: String,
    pub part: Part,
    /// 1-based line within the part.
    pub line: usize,
    pub message: String,
}

fn half_pt(v: f64) -> f64 {
    (v * 2.0).floor() / 2.0
}

/// The lines of a label at one scale, and where they stop fitting.
fn lines_at(t: &LabelText, address_pt: f64, box_w_pt: f64) -> (Vec<Line>, Option<(Part, usize)>) {
    let k = address_pt / BASE_ADDRESS_PT;
    let postal_pt = half_pt(BASE_POSTAL_PT * k).max(MIN_ADDRESS_PT);
    let name_pt = half_pt(BASE_NAME_PT * k).max(MIN_ADDRESS_PT);
    let id_pt = ID_PT.min(address_pt);
    let (street, building) = split_building(&t.address, t.address2.as_deref());
    let mut lines = vec![Line {
        part: Part::Postal,
        text: format!("〒{}", t.postal_code),
        size_pt: postal_pt,
    }];
    let mut too_wide = None;
    let measure = |pt: f64| move |c: char| char_em(c) * pt;
    for (part, text) in [(Part::Address, Some(street)), (Part::Building, building)] {
        let Some(text) = text else { continue };
        for l in wrap_by(&text, box_w_pt, measure(address_pt)) {
            lines.push(Line {
                part,
                text: l,
                size_pt: address_pt,
            });
        }
    }
    let name = format!("{}　様", t.name.trim());
    if text_em(&name) * name_pt > box_w_pt {
        too_wide = Some((Part::Name, 1));
    }
    lines.push(Line {
        part: Part::Name,
        text: name,
        size_pt: name_pt,
    });
    lines.push(Line {
        part: Part::Id,
        text: t.participant_id.clone(),
        size_pt: id_pt,
    });
    for (i, l) in lines.iter().enumerate() {
        if too_wide.is_none() && text_em(&l.text) * l.size_pt > box_w_pt + 1e-9 {
            let n = lines[..=i].iter().filter(|x| x.part == l.part).count();
            too_wide = Some((l.part, n));
        }
    }
    (lines, too_wide)
}

/// Fit a label's text into a text box of `w_mm` × `h_mm`: the largest sizes at which
/// every line is inside the box, or which line does not fit at the smallest.
pub fn fit(t: &LabelText, w_mm: f64, h_mm: f64) -> Result<Vec<Line>, NoFit> {
    let box_w = mm_to_pt(w_mm - CELL_INSET_W_MM);
    let box_h = mm_to_pt(h_mm) - CELL_INSET_H_PT;
    let mut address_pt = BASE_ADDRESS_PT;
    loop {
        let (lines, too_wide) = lines_at(t, address_pt, box_w);
        let height: f64 = lines.iter().map(|l| l.size_pt * LINE_SPACING).sum();
        if too_wide.is_none() && height <= box_h + 1e-9 {
            return Ok(lines);
        }
        if address_pt - 0.5 < MIN_ADDRESS_PT - 1e-9 {
            let (part, line, message) = if let Some((part, n)) = too_wide {
                (
                    part,
                    n,
                    format!(
                        "{}が {:.1} mm 幅のラベルに入りません（{} pt まで縮小しても） (too wide)",
                        part.as_ja(),
                        w_mm,
                        MIN_ADDRESS_PT
                    ),
                )
            } else {
                // The first line below the box, and the address line to blame: the
                // address is what grows; the lines after it only get pushed out.
                let mut y = 0.0;
                let mut first = (Part::Id, 1usize);
                for (i, l) in lines.iter().enumerate() {
                    y += l.size_pt * LINE_SPACING;
                    if y > box_h + 1e-9 {
                        let n = lines[..=i].iter().filter(|x| x.part == l.part).count();
                        first = (l.part, n);
                        break;
                    }
                }
                let count = |p: Part| lines.iter().filter(|l| l.part == p).count();
                let (street, building) = (count(Part::Address), count(Part::Building));
                let blame = match first.0 {
                    Part::Address | Part::Building => first,
                    _ if building > street => (Part::Building, building),
                    _ => (Part::Address, street),
                };
                (
                    blame.0,
                    blame.1,
                    format!(
                        "住所と方書が {} 行になり、{}の {} 行目から下が高さ {:.1} mm のラベルに収まりません（{} pt まで縮小しても） (too many lines)",
                        street + building,
                        first.0.as_ja(),
                        first.1,
                        h_mm,
                        MIN_ADDRESS_PT
                    ),
                )
            };
            return Err(NoFit {
                participant_id: t.participant_id.clone(),
                part,
                line,
                message,
            });
        }
        address_pt -= 0.5;
    }
}

/// A label placed on the sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub page: usize,
    pub row: usize,
    pub col: usize,
    pub lines: Vec<Line>,
}

/// Place every label, skipping the first `start_at - 1` positions of the first sheet,
/// and fit each into its own text box. Every label that does not fit is returned.
pub fn place(
    layout: &Layout,
    grid: &Grid,
    start_at: usize,
    texts: &[LabelText],
) -> Result<Vec<Placed>, Vec<NoFit>> {
    let per_page = layout.per_page();
    let cols = layout.cols as usize;
    let mut placed = Vec::with_capacity(texts.len());
    let mut bad = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let slot = start_at.saturating_sub(1) + i;
        let page = slot / per_page;
        let within = slot % per_page;
        let (row, col) = (within / cols, within % cols);
        match fit(t, grid.cols.content_mm[col], grid.rows.content_mm[row]) {
            Ok(lines) => placed.push(Placed {
                page,
                row,
                col,
                lines,
            }),
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() {
        Ok(placed)
    } else {
        Err(bad)
    }
}

/// The workbook's one sheet set up for `pages` pages of the grid: A4 at 100 %, no
/// gridlines, every column and row sized in pixels, a page break after each sheet.
fn label_sheet<'a>(
    wb: &'a mut Workbook,
    grid: &Grid,
    pages: usize,
    created: Option<&ExcelDateTime>,
) -> Result<&'a mut rust_xlsxwriter::Worksheet> {
    // Column widths are stored in digits of the default font. Courier New 10 has a
    // digit of exactly 8 px at 96 dpi (0.6 em × 13⅓ px) and at every other common dpi,
    // in Excel and in LibreOffice (Liberation Mono/Cousine share its metrics), so the
    // widths computed here are the widths printed. With Calibri 11, LibreOffice draws
    // columns ≈ 6 % wider than Excel.
    let normal = Format::new()
        .set_font_name(DEFAULT_FONT)
        .set_font_size(DEFAULT_FONT_PT);
    wb.set_default_format(&normal, 18, 72)?;
    if let Some(dt) = created {
        wb.set_properties(&DocProperties::new().set_creation_datetime(dt));
    }
    // Not a constant-memory sheet: rust_xlsxwriter 0.102 writes the last row twice when
    // later rows have heights set (every label sheet). A file holds at most 12,288
    // labels, so a standard sheet is bounded all the same.
    let ws = wb.add_worksheet();
    ws.set_name("ラベル")?;
    super::xlsx::page(
        ws,
        &super::xlsx::Page {
            landscape: false,
            fit: super::xlsx::Fit::ActualSize,
            repeat_rows: None,
            freeze: None,
            title: None,
            gridlines: false,
        },
    )?;
    for (c, px) in grid.cols.px.iter().enumerate() {
        ws.set_column_width_pixels(c as u16, *px)?;
    }
    let rows_per_page = grid.rows.px.len();
    for page in 0..pages {
        for (r, px) in grid.rows.px.iter().enumerate() {
            ws.set_row_height_pixels((page * rows_per_page + r) as u32, *px)?;
        }
    }
    let breaks: Vec<u32> = (1..pages).map(|p| (p * rows_per_page) as u32).collect();
    ws.set_page_breaks(&breaks)?;
    let last_row = (pages * rows_per_page).saturating_sub(1) as u32;
    let last_col = grid.cols.px.len().saturating_sub(1) as u16;
    ws.set_print_area(0, 0, last_row, last_col)?;

    Ok(ws)
}

/// A calibration sheet for `layout` (`labels --calibrate`): every label's rectangle
/// outlined where the layout puts it (no printer offset), with its column, row, size
/// and position. Printed on plain paper and held against a label sheet to the light,
/// it shows the printer's shift, to be set as `[labels] offset_x_mm / offset_y_mm`,
/// before the real run. No personal data.
pub fn render_calibration(layout: &Layout, created: &ExcelDateTime) -> Result<Vec<u8>> {
    let grid = grid(layout, 0.0, 0.0);
    let mut wb = Workbook::new();
    let ws = label_sheet(&mut wb, &grid, 1, Some(created))?;
    let frame = Format::new()
        .set_border(rust_xlsxwriter::FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_align(FormatAlign::Left)
        .set_font_name(FONT)
        .set_font_size(8);
    for r in 0..layout.rows as usize {
        for c in 0..layout.cols as usize {
            let (r0, r1) = (
                grid.rows.content[r].saturating_sub(1),
                (grid.rows.content[r] + 1).min(grid.rows.px.len() - 1),
            );
            let (c0, c1) = (
                grid.cols.content[c].saturating_sub(1),
                (grid.cols.content[c] + 1).min(grid.cols.px.len() - 1),
            );
            let x = layout.left_mm + c as f64 * (layout.width_mm + layout.gap_x_mm);
            let y = layout.top_mm + r as f64 * (layout.height_mm + layout.gap_y_mm);
            let text = format!(
                "〒 {}  {}列 {}行\n{:.1}×{:.1} mm\n左 {x:.1} mm・上 {y:.1} mm",
                layout.name,
                c + 1,
                r + 1,
                layout.width_mm,
                layout.height_mm
            );
            ws.merge_range(r0 as u32, c0 as u16, r1 as u32, c1 as u16, &text, &frame)?;
        }
    }
    Ok(wb.save_to_buffer()?)
}

/// The label sheet as an `.xlsx` of `pages` sheets, the labels placed in slot order
/// (each written as it comes). Returns the bytes
/// and the number of labels set smaller than usual.
pub fn render_xlsx(
    grid: &Grid,
    pages: usize,
    placed: impl IntoIterator<Item = Placed>,
    created: Option<&ExcelDateTime>,
) -> Result<(Vec<u8>, usize)> {
    let pages = pages.max(1);
    if pages > MAX_PAGES {
        bail!(
            "ラベルが A4 {pages} 枚になり、1 ファイルの上限 {MAX_PAGES} 枚を超えます（labels_per_file で分けてから呼ぶこと） (internal: too many sheets for one file)"
        );
    }
    let mut wb = Workbook::new();
    let ws = label_sheet(&mut wb, grid, pages, created)?;
    let rows_per_page = grid.rows.px.len();
    // Top-aligned, so that the 〒 lines of a row of labels line up whatever the length
    // of each address.
    let cell = Format::new()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_align(FormatAlign::Left)
        .set_font_name(FONT);
    let mut shrunk = 0;
    for p in placed {
        if p.lines
            .iter()
            .any(|l| l.part == Part::Address && l.size_pt < BASE_ADDRESS_PT)
        {
            shrunk += 1;
        }
        let row = p.page * rows_per_page + grid.rows.content[p.row];
        let col = grid.cols.content[p.col];
        let formats: Vec<Format> = p
            .lines
            .iter()
            .map(|l| Format::new().set_font_name(FONT).set_font_size(l.size_pt))
            .collect();
        let texts: Vec<String> = p
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if i + 1 < p.lines.len() {
                    format!("{}\n", l.text)
                } else {
                    l.text.clone()
                }
            })
            .collect();
        let segments: Vec<(&Format, &str)> = formats
            .iter()
            .zip(texts.iter())
            .map(|(f, t)| (f, t.as_str()))
            .collect();
        ws.write_rich_string_with_format(row as u32, col as u16, &segments, &cell)?;
    }
    Ok((wb.save_to_buffer()?, shrunk))
}

/// A recipient's label text (a missing postal code or address is checked before, by
/// `shipping::recipient_problems`).
pub fn label_text(r: &crate::shipping::Recipient) -> LabelText {
    LabelText {
        participant_id: r.participant_id.clone(),
        postal_code: r.postal_code.clone().unwrap_or_default(),
        address: r.address.clone().unwrap_or_default(),
        address2: r.address2.clone(),
        name: r.name.clone(),
    }
}

/// The label file's bytes, its number of sheets and of labels set smaller than usual.
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub pages: usize,
    pub shrunk: usize,
}

/// The labels laid out on `layout` as an `.xlsx` (printer offset in mm, the first label
/// at position `start_at`). The caller has checked that every label fits
/// ([`FitCheck`]); one that does not all the same stops it: nothing is truncated. Each
/// label is fitted as it is written, so the fitted lines of the file are never held.
pub fn render(
    layout: &Layout,
    offset: (f64, f64),
    start_at: usize,
    texts: &[LabelText],
    created: &ExcelDateTime,
) -> Result<Rendered> {
    let grid = grid(layout, offset.0, offset.1);
    let per_page = layout.per_page();
    let cols = layout.cols as usize;
    let first = start_at.saturating_sub(1);
    let pages = match texts.len() {
        0 => 0,
        n => (first + n - 1) / per_page + 1,
    };
    let mut failed = None;
    let placed = texts.iter().enumerate().map_while(|(i, t)| {
        let slot = first + i;
        let within = slot % per_page;
        let (row, col) = (within / cols, within % cols);
        match fit(t, grid.cols.content_mm[col], grid.rows.content_mm[row]) {
            Ok(lines) => Some(Placed {
                page: slot / per_page,
                row,
                col,
                lines,
            }),
            Err(e) => {
                failed = Some(e);
                None
            }
        }
    });
    let (bytes, shrunk) = render_xlsx(&grid, pages, placed, Some(created))?;
    if let Some(e) = failed {
        return Err(no_fit_error(&[e]));
    }
    Ok(Rendered {
        bytes,
        pages,
        shrunk,
    })
}

/// The text box of each label along one axis, in millimetres from the paper's edge:
/// (start, size). Exact, not rounded to pixels: a PDF draws where it is told.
fn boxes_mm(a: &Axis) -> Vec<(f64, f64)> {
    a.content
        .iter()
        .zip(&a.content_mm)
        .map(|(&i, &size)| (a.spans_mm[..i].iter().sum(), size))
        .collect()
}

/// The labels checked for fit one at a time, in slot order as they will be laid out
/// (across files too: a file holds whole pages, so the next file's first slot is where
/// the last page ended), keeping only those that do not fit. `labels` runs it in its
/// check pass over the addressees, so a label that does not fit stops the run before
/// any file is written, however many labels there are.
pub struct FitCheck {
    grid: Grid,
    per_page: usize,
    cols: usize,
    slot: usize,
    bad: Vec<NoFit>,
}

impl FitCheck {
    pub fn new(layout: &Layout, offset: (f64, f64), start_at: usize) -> FitCheck {
        FitCheck {
            grid: grid(layout, offset.0, offset.1),
            per_page: layout.per_page().max(1),
            cols: (layout.cols as usize).max(1),
            slot: start_at.saturating_sub(1),
            bad: Vec::new(),
        }
    }

    /// Check the next label.
    pub fn check(&mut self, t: &LabelText) {
        let within = self.slot % self.per_page;
        self.slot += 1;
        let (row, col) = (within / self.cols, within % self.cols);
        if let Err(e) = fit(
            t,
            self.grid.cols.content_mm[col],
            self.grid.rows.content_mm[row],
        ) {
            self.bad.push(e);
        }
    }

    /// The refusal naming every label that did not fit, if any.
    pub fn finish(self) -> Result<()> {
        match self.bad.is_empty() {
            true => Ok(()),
            false => Err(no_fit_error(&self.bad)),
        }
    }
}

fn no_fit_error(bad: &[NoFit]) -> anyhow::Error {
    anyhow::anyhow!(
        "ラベル {} 枚に文字が収まりません。切り詰めずに止め、ファイルは書き出していません (labels that do not fit; nothing written):\n{}\n\
         大きいラベル用紙（--layout a4-12 など）を使うか、名簿の住所・方書（建物名）を分けて roster import --update で取り込み直してください。",
        bad.len(),
        bad.iter()
            .map(|b| format!("  - {}「{}」{} 行目: {} (label.does_not_fit)", b.participant_id, b.part.as_ja(), b.line, b.message))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// Draw a label's fitted lines top-aligned in its text box, as the `.xlsx` labels set
/// them: each line in a band of [`LINE_SPACING`] times its size, the text centred in it.
fn draw_label(pdf: &mut super::pdf::Pdf, x: f64, y: f64, lines: &[Line]) {
    let mut top = y;
    for l in lines {
        let band = super::pdf::pt_to_mm(l.size_pt * LINE_SPACING);
        let em = super::pdf::pt_to_mm(l.size_pt);
        pdf.text(
            x + CELL_INSET_W_MM / 2.0,
            top + (band - em) / 2.0,
            l.size_pt,
            &l.text,
        );
        top += band;
    }
}

/// The labels as a PDF drawn with the label sheet's geometry in millimetres (printer
/// offset applied, the first label at position `start_at`), one A4 page per sheet,
/// any number of sheets in one file, written page by page. Labels that do not fit stop
/// it before anything is written.
pub fn write_pdf(
    path: &std::path::Path,
    layout: &Layout,
    offset: (f64, f64),
    start_at: usize,
    texts: &mut dyn Iterator<Item = LabelText>,
) -> Result<(super::FileRecord, Rendered, usize)> {
    let grid = grid(layout, offset.0, offset.1);
    let (xs, ys) = (boxes_mm(&grid.cols), boxes_mm(&grid.rows));
    let per_page = layout.per_page();
    let cols = layout.cols as usize;
    // Drawn as they come, page by page, nothing kept per label. The caller checked the
    // fit beforehand ([`FitCheck`]); a label that does not fit all the same stops the
    // drawing, the rest are only checked, and the unfinished file is removed (its
    // pending record told as not written).
    let mut pdf = super::pdf::Pdf::create(path, "宛名ラベル")?;
    let mut bad = Vec::new();
    let (mut shrunk, mut n) = (0, 0);
    let mut page = usize::MAX;
    for t in texts {
        let slot = start_at.saturating_sub(1) + n;
        n += 1;
        let within = slot % per_page;
        let (row, col) = (within / cols, within % cols);
        let lines = match fit(&t, xs[col].1, ys[row].1) {
            Ok(lines) => lines,
            Err(e) => {
                bad.push(e);
                continue;
            }
        };
        if !bad.is_empty() {
            continue;
        }
        if slot / per_page != page {
            page = slot / per_page;
            pdf.page()?;
        }
        if lines
            .iter()
            .any(|l| l.part == Part::Address && l.size_pt < BASE_ADDRESS_PT)
        {
            shrunk += 1;
        }
        draw_label(&mut pdf, xs[col].0, ys[row].0, &lines);
    }
    if !bad.is_empty() {
        drop(pdf);
        return Err(no_fit_error(&bad));
    }
    let pages = pdf.page_count();
    let rec = pdf.finish()?;
    Ok((
        rec,
        Rendered {
            bytes: Vec::new(),
            pages,
            shrunk,
        },
        n,
    ))
}

/// The calibration sheet as a PDF (`labels --calibrate --out cal.pdf`): every label's
/// rectangle outlined exactly where the layout puts it (no printer offset), with its
/// column, row, size and position. No personal data.
pub fn write_calibration_pdf(path: &std::path::Path, layout: &Layout) -> Result<super::FileRecord> {
    let mut pdf = super::pdf::Pdf::create(path, "ラベル調整用シート")?;
    pdf.page()?;
    for r in 0..layout.rows as usize {
        for c in 0..layout.cols as usize {
            let x = layout.left_mm + c as f64 * (layout.width_mm + layout.gap_x_mm);
            let y = layout.top_mm + r as f64 * (layout.height_mm + layout.gap_y_mm);
            pdf.rect(x, y, layout.width_mm, layout.height_mm, 0.3);
            let pad = PAD_MM.max(SAFE_MM - x).max(SAFE_MM - y);
            let text = [
                format!("〒 {}  {}列 {}行", layout.name, c + 1, r + 1),
                format!("{:.1}×{:.1} mm", layout.width_mm, layout.height_mm),
                format!("左 {x:.1} mm・上 {y:.1} mm"),
            ];
            pdf.lines(x + pad, y + pad, 8.0, 1.4, &text);
        }
    }
    pdf.finish()
}

/// The columns of the mail-merge CSV.
pub const CSV_HEADERS: [&str; 6] = ["参加者番号", "郵便番号", "住所", "方書", "氏名", "敬称"];

/// One mail-merge row: the address split as on the labels.
pub fn csv_row(t: &LabelText) -> Vec<super::Value> {
    let (street, building) = split_building(&t.address, t.address2.as_deref());
    vec![
        super::Value::Text(t.participant_id.clone()),
        super::Value::Text(t.postal_code.clone()),
        super::Value::Text(street),
        building.into(),
        super::Value::Text(t.name.clone()),
        super::Value::Text("様".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a4_12() -> Layout {
        BUILTIN[0].layout()
    }

    #[test]
    fn unit_conversions() {
        assert_eq!(mm_to_px(25.4), 96.0);
        assert_eq!(mm_to_pt(25.4), 72.0);
        assert!((px_to_mm(96.0) - 25.4).abs() < 1e-9);
        // Excel's default column with Calibri 11: 64 px = 8.43 characters.
        assert!((col_width_chars(64, 7, 5) - 8.43).abs() < 0.01);
        assert_eq!(col_width_chars(12, 7, 5), 1.0);
        assert_eq!(col_width_chars(6, 7, 5), 0.5);
        // With Courier New 10: 72 px = 8.375 characters; 86.4 mm = 327 px = 40.25.
        assert_eq!(col_width_chars(72, 8, 5), 8.375);
        assert_eq!(mm_to_col_width_chars(86.4), 40.25);
        assert_eq!(col_width_stored(327, 8), 40.875);
        assert_eq!(col_width_stored(70, 8), 8.75);
    }

    #[test]
    fn quantizing_never_accumulates_error() {
        let spans = vec![0.3; 1000];
        let px = quantize(&spans);
        let mut pos = 0u32;
        for (i, p) in px.iter().enumerate() {
            pos += p;
            let exact = mm_to_px(0.3 * (i + 1) as f64);
            assert!((f64::from(pos) - exact).abs() <= 0.5 + 1e-6, "{i}");
        }
    }

    #[test]
    fn every_builtin_fits_on_a4() {
        for b in BUILTIN {
            let l = b.layout();
            assert!(l.check().is_empty(), "{}: {:?}", b.name, l.check());
            let g = grid(&l, 0.0, 0.0);
            let w: u32 = g.cols.px.iter().sum();
            let h: u32 = g.rows.px.iter().sum();
            assert!(px_to_mm(f64::from(w)) <= PAPER_W_MM + 0.14, "{}", b.name);
            assert!(px_to_mm(f64::from(h)) <= PAPER_H_MM + 0.14, "{}", b.name);
            assert_eq!(g.cols.content.len(), b.cols as usize);
            assert_eq!(g.rows.content.len(), b.rows as usize);
        }
    }

    /// The left edge (mm) of span `i` of an axis, from its pixel sizes.
    fn edge_mm(a: &Axis, i: usize) -> f64 {
        px_to_mm(f64::from(a.px[..i].iter().sum::<u32>()))
    }

    #[test]
    fn a4_12_labels_start_where_the_sheet_has_them() {
        let g = grid(&a4_12(), 0.0, 0.0);
        // Columns: margin, then (pad, text, pad) per label; no gap on this sheet.
        assert_eq!(g.cols.content, vec![2, 5]);
        assert_eq!(g.cols.px.len(), 7);
        // Label 1 starts at 18.6 mm, label 2 at 18.6 + 86.4 mm.
        assert!((edge_mm(&g.cols, 1) - 18.6).abs() <= 0.14);
        assert!((edge_mm(&g.cols, 4) - 105.0).abs() <= 0.14);
        // Text 3 mm inside each label.
        assert!((edge_mm(&g.cols, 2) - 21.6).abs() <= 0.14);
        assert!((edge_mm(&g.cols, 5) - 108.0).abs() <= 0.14);
        // Rows: label k (0-based) starts at 21.2 + k × 42.3 mm.
        for k in 0..6 {
            let top = edge_mm(&g.rows, 1 + 3 * k);
            assert!(
                (top - (21.2 + 42.3 * k as f64)).abs() <= 0.14,
                "row {k}: {top}"
            );
        }
        // Row heights are whole pixels: multiples of 0.75 pt.
        for px in &g.rows.px {
            let pt = f64::from(*px) * 0.75;
            assert_eq!((pt / 0.75).fract(), 0.0);
        }
        assert!((g.cols.content_mm[0] - 80.4).abs() < 1e-9);
        assert!((g.rows.content_mm[0] - 36.3).abs() < 1e-9);
    }

    #[test]
    fn edge_labels_keep_text_out_of_the_unprintable_border() {
        let a4_21 = BUILTIN.iter().find(|b| b.name == "a4-21").unwrap();
        let g = grid(&a4_21.layout(), 0.0, 0.0); // no side margin
                                                 // First column: no margin span; the padding is 5 mm, not 3.
        assert_eq!(g.cols.content[0], 1);
        assert!((g.cols.spans_mm[0] - SAFE_MM).abs() < 1e-9);
        assert!((g.cols.content_mm[1] - 64.0).abs() < 1e-9);
        assert!((g.cols.content_mm[0] - 62.0).abs() < 1e-9);
    }

    #[test]
    fn a4_24_is_the_hisago_elm012_sheet() {
        let a4_24 = BUILTIN.iter().find(|b| b.name == "a4-24").unwrap();
        let g = grid(&a4_24.layout(), 0.0, 0.0);
        // Each label's left edge is 6.0 + 66.0 k mm, its top 12.9 + 33.9 k mm (to the
        // pixel), so the text cell starts one padding further in.
        for k in 0..3 {
            let edge = edge_mm(&g.cols, g.cols.content[k] - 1);
            assert!(
                (edge - (6.0 + 66.0 * k as f64)).abs() <= 0.14,
                "col {k}: {edge}"
            );
        }
        for k in 0..8 {
            let edge = edge_mm(&g.rows, g.rows.content[k] - 1);
            assert!(
                (edge - (12.9 + 33.9 * k as f64)).abs() <= 0.14,
                "row {k}: {edge}"
            );
        }
    }

    #[test]
    fn the_calibration_sheet_outlines_every_label() {
        let created = ExcelDateTime::from_ymd(2025, 5, 1).unwrap();
        for b in BUILTIN {
            let bytes = render_calibration(&b.layout(), &created).unwrap();
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            let mut xml = String::new();
            std::io::Read::read_to_string(
                &mut z.by_name("xl/worksheets/sheet1.xml").unwrap(),
                &mut xml,
            )
            .unwrap();
            assert_eq!(
                xml.matches("<mergeCell ").count(),
                (b.cols * b.rows) as usize,
                "{}",
                b.name
            );
        }
    }

    #[test]
    fn label_text_is_top_aligned() {
        let created = ExcelDateTime::from_ymd(2025, 5, 1).unwrap();
        let t = text("東京都新宿区西新宿2-8-1", None, "山田 太郎");
        let r = render(&a4_12(), (0.0, 0.0), 1, &[t], &created).unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(r.bytes)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut z.by_name("xl/styles.xml").unwrap(), &mut xml).unwrap();
        assert!(xml.contains("vertical=\"top\""), "{xml}");
        assert!(!xml.contains("vertical=\"center\""), "{xml}");
    }

    #[test]
    fn the_printer_offset_moves_text_inside_the_padding() {
        let g = grid(&a4_12(), 1.5, -1.0);
        assert!((edge_mm(&g.cols, 2) - 23.1).abs() <= 0.14);
        assert!((edge_mm(&g.rows, 2) - (21.2 + 2.0)).abs() <= 0.14);
        // The label grid itself does not move.
        assert!((edge_mm(&g.cols, 4) - 105.0).abs() <= 0.14);
    }

    #[test]
    fn impossible_geometry_is_named() {
        let mut l = a4_12();
        l.rows = 7;
        assert!(l.check()[0].starts_with("height_mm:"), "{:?}", l.check());
        l.rows = 6;
        l.width_mm = 100.0;
        assert!(l.check()[0].starts_with("width_mm:"), "{:?}", l.check());
        l.width_mm = -1.0;
        assert!(l.check()[0].starts_with("width_mm:"));
    }

    fn text(address: &str, address2: Option<&str>, name: &str) -> LabelText {
        LabelText {
            participant_id: "C000001".into(),
            postal_code: "162-0041".into(),
            address: address.into(),
            address2: address2.map(str::to_string),
            name: name.into(),
        }
    }

    #[test]
    fn a_usual_label_keeps_its_full_sizes() {
        let lines = fit(
            &text(
                "東京都新宿区早稲田鶴巻町27番8号 みどりレジデンス406号室",
                None,
                "井上 恵子",
            ),
            80.4,
            36.3,
        )
        .unwrap();
        let parts: Vec<(Part, &str, f64)> = lines
            .iter()
            .map(|l| (l.part, l.text.as_str(), l.size_pt))
            .collect();
        assert_eq!(
            parts,
            vec![
                (Part::Postal, "〒162-0041", 10.0),
                (Part::Address, "東京都新宿区早稲田鶴巻町27番8号", 11.0),
                (Part::Building, "みどりレジデンス406号室", 11.0),
                (Part::Name, "井上 恵子　様", 14.0),
                (Part::Id, "C000001", 7.0),
            ]
        );
    }

    #[test]
    fn long_addresses_wrap_then_shrink() {
        let long = "北海道札幌市中央区北一条西2丁目1番地 札幌市役所本庁舎別館東側入口前郵便受付センター気付";
        let lines = fit(&text(long, None, "山田 太郎"), 62.0, 27.9).unwrap();
        let addr: Vec<&Line> = lines
            .iter()
            .filter(|l| matches!(l.part, Part::Address | Part::Building))
            .collect();
        assert!(addr.len() >= 3, "{lines:?}");
        assert!(addr[0].size_pt < 11.0 && addr[0].size_pt >= MIN_ADDRESS_PT);
        let joined: String = addr.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(joined.replace(' ', ""), long.replace(' ', ""));
        for l in &lines {
            assert!(text_em(&l.text) * l.size_pt <= mm_to_pt(62.0 - 1.6) + 1e-9);
        }
    }

    #[test]
    fn a_label_that_cannot_fit_names_the_line() {
        let huge = "東京都新宿区".repeat(20);
        let e = fit(&text(&huge, None, "山田 太郎"), 62.0, 27.9).unwrap_err();
        assert_eq!(e.participant_id, "C000001");
        assert_eq!(e.part, Part::Address);
        assert!(e.message.contains("収まりません"), "{}", e.message);
        let wide = "寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末食う寝る処に住む処";
        let e = fit(&text("東京都新宿区1-1", None, wide), 62.0, 27.9).unwrap_err();
        assert_eq!((e.part, e.line), (Part::Name, 1));
    }

    #[test]
    fn start_at_skips_used_labels_and_pages_follow() {
        let l = a4_12();
        let g = grid(&l, 0.0, 0.0);
        let texts: Vec<LabelText> = (0..12)
            .map(|_| text("東京都新宿区西新宿2-8-1", None, "山田 太郎"))
            .collect();
        let placed = place(&l, &g, 5, &texts).unwrap();
        assert_eq!((placed[0].page, placed[0].row, placed[0].col), (0, 2, 0));
        assert_eq!((placed[7].page, placed[7].row, placed[7].col), (0, 5, 1));
        assert_eq!((placed[8].page, placed[8].row, placed[8].col), (1, 0, 0));
    }
}
