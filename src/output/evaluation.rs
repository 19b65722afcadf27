//! Printing the evaluation report as an `.xlsx` workbook: Japanese headings, A4
//! landscape fitted to the page width, the title row repeated on every page, page
//! numbers in the footer, tables with borders, and line charts whose values sit in a
//! block below them (suppressed cells there are left empty, so a line breaks instead of
//! dropping to zero as a ＊ would make it).

use crate::output::xlsx::{self, Cell, Page, Styles, Tone};
use crate::report::{Block, Chart, Fig, Fmt, Report, Sheet, Shown, Table, HIDDEN_MARK, NONE_MARK};
use anyhow::Result;
use rust_xlsxwriter::{
    Chart as XChart, ChartEmptyCells, ChartFont, ChartFormat, ChartLegendPosition, ChartLine,
    ChartLineDashType, ChartMarker, ChartMarkerType, ChartSolidFill, ChartType, Workbook,
    Worksheet,
};

/// A chart's size in pixels and the rows it covers (at the default 20 px row).
const CHART_W: u32 = 760;
const CHART_H: u32 = 290;
const CHART_ROWS: u32 = 15;

fn num_format(f: Fmt) -> &'static str {
    match f {
        Fmt::Int => xlsx::INT,
        Fmt::Pct => xlsx::PCT1,
        Fmt::Signed => xlsx::SIGNED,
        Fmt::Dec2 => xlsx::DEC2,
        Fmt::SignedDec2 => xlsx::SIGNED_DEC2,
    }
}

fn tone(strong: bool, plain: Tone) -> Tone {
    match (strong, plain) {
        (true, Tone::Mark) => Tone::MarkStrong,
        (true, _) => Tone::Strong,
        (false, t) => t,
    }
}

/// Points a printed page holds: A4 landscape (595 pt) less the top and bottom margins
/// (0.6 in each), with a little to spare.
const PAGE_HEIGHT: f64 = 500.0;
/// The title row repeated at the top of every page after the first.
const TITLE_ROW: f64 = 24.0;
/// The default row height in points.
const ROW: f64 = 15.0;

fn note_height(t: &str, total_width: f64) -> f64 {
    let lines = (xlsx::text_width(t) * 0.9 / total_width).ceil().max(1.0);
    13.0 * lines + 2.0
}

/// A table's heading row: two lines for long headings.
fn head_height(t: &Table) -> f64 {
    let tallest = t.head.iter().map(|h| h.chars().count()).max().unwrap_or(0);
    if tallest > 6 || t.head.iter().any(|h| h.contains('\n')) {
        28.0
    } else {
        ROW
    }
}

/// How tall a block prints, in points (charts start their own page).
fn height(b: &Block, total_width: f64) -> f64 {
    match b {
        Block::Title(_) => TITLE_ROW + ROW,
        Block::Heading(_) => 2.0 * ROW,
        Block::Note(t) => note_height(t, total_width),
        Block::Table(t) => {
            let groups = if t.groups.is_empty() { 0.0 } else { ROW };
            groups + head_height(t) + ROW * t.rows.len() as f64
        }
        Block::Charts(_) | Block::PageBreak => 0.0,
    }
}

/// The workbook as bytes.
pub fn write(report: &Report) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let f = Styles::new(xlsx::GOTHIC);
    for sheet in &report.sheets {
        let ws = wb.add_worksheet();
        write_sheet(ws, report, sheet, &f)?;
    }
    let props = rust_xlsxwriter::DocProperties::new()
        .set_title(format!("{} 評価報告書", report.program_name))
        .set_author("stepcard");
    wb.set_properties(&props);
    Ok(wb.save_to_buffer()?)
}

fn write_sheet(ws: &mut Worksheet, report: &Report, sheet: &Sheet, f: &Styles) -> Result<()> {
    ws.set_name(sheet.name)?;
    let ncols = sheet.widths.len().max(1) as u16;
    for (c, w) in sheet.widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    let total_width: f64 = sheet.widths.iter().sum();
    xlsx::page(
        ws,
        &Page {
            freeze: None,
            ..Page::table(&format!("{} 評価報告書", report.program_name))
        },
    )?;

    let mut r: u32 = 0;
    let mut breaks = Vec::new();
    // What is printed on the current page so far, in points, to keep a heading with
    // the tables under it: a section that would not fit starts a new page.
    let mut used = 0.0;
    for (i, block) in sheet.blocks.iter().enumerate() {
        if let Block::Heading(_) = block {
            let section: f64 = sheet.blocks[i..]
                .iter()
                .enumerate()
                .take_while(|(k, b)| {
                    *k == 0 || !matches!(b, Block::Heading(_) | Block::PageBreak | Block::Charts(_))
                })
                .map(|(_, b)| height(b, total_width))
                .sum();
            if used > TITLE_ROW && used + section > PAGE_HEIGHT {
                breaks.push(r);
                used = TITLE_ROW;
            }
        }
        used += height(block, total_width);
        match block {
            Block::Title(t) => {
                ws.write_string_with_format(r, 0, t, &f.title)?;
                ws.set_row_height(r, TITLE_ROW)?;
                r += 2;
            }
            Block::PageBreak => {
                breaks.push(r);
                used = TITLE_ROW;
                continue;
            }
            Block::Heading(t) => {
                if breaks.last().is_none_or(|b| *b != r) {
                    r += 1;
                }
                ws.write_string_with_format(r, 0, t, &f.heading)?;
                r += 1;
            }
            Block::Note(t) => {
                if ncols > 1 {
                    ws.merge_range(r, 0, r, ncols - 1, t, &f.note)?;
                } else {
                    ws.write_string_with_format(r, 0, t, &f.note)?;
                }
                // Rows do not grow to wrapped text by themselves in every viewer.
                ws.set_row_height(r, note_height(t, total_width))?;
                r += 1;
            }
            Block::Table(t) => {
                r = write_figure_table(ws, report, t, f, r)?;
            }
            Block::Charts(charts) => {
                if r > 0 {
                    breaks.push(r);
                }
                r = write_charts(ws, report, sheet.name, charts, f, r, &mut breaks)?;
            }
        }
    }
    if !breaks.is_empty() {
        ws.set_page_breaks(&breaks)?;
    }
    Ok(())
}

fn write_figure_table(
    ws: &mut Worksheet,
    report: &Report,
    t: &Table,
    f: &Styles,
    mut r: u32,
) -> Result<u32> {
    // Columns whose upper header is blank take their heading over both rows.
    let mut tall = vec![false; t.head.len()];
    if !t.groups.is_empty() {
        let mut c: u16 = 0;
        for (label, span) in &t.groups {
            let head = t.head.get(usize::from(c)).map_or("", String::as_str);
            if label.is_empty() && *span == 1 {
                ws.merge_range(r, c, r + 1, c, head, &f.head)?;
                if let Some(x) = tall.get_mut(usize::from(c)) {
                    *x = true;
                }
            } else if *span > 1 {
                ws.merge_range(r, c, r, c + span - 1, label, &f.head)?;
            } else {
                ws.write_string_with_format(r, c, label, &f.head)?;
            }
            c += span;
        }
        r += 1;
    }
    // A blank heading after a named one belongs to it (区分 over two columns).
    let mut c = 0;
    while c < t.head.len() {
        let mut end = c;
        while end + 1 < t.head.len() && t.head[end + 1].is_empty() && !tall[end + 1] {
            end += 1;
        }
        if !tall[c] {
            if end > c {
                ws.merge_range(r, c as u16, r, end as u16, &t.head[c], &f.head)?;
            } else {
                ws.write_string_with_format(r, c as u16, &t.head[c], &f.head)?;
            }
        }
        c = end + 1;
    }
    ws.set_row_height(r, head_height(t))?;
    r += 1;
    // A label in the first column heads the rows below it that leave it blank (利用区分
    // over 台紙 and アプリ): one merged cell.
    let mut i = if t.sections { 0 } else { t.rows.len() };
    while i < t.rows.len() {
        let label = match t.rows[i].cells.first() {
            Some(Fig::Text(s)) if !s.is_empty() && !t.rows[i].strong => s.clone(),
            _ => {
                i += 1;
                continue;
            }
        };
        let mut j = i;
        while j + 1 < t.rows.len()
            && !t.rows[j + 1].strong
            && matches!(t.rows[j + 1].cells.first(), Some(Fig::Text(s)) if s.is_empty())
        {
            j += 1;
        }
        if j > i {
            ws.merge_range(
                r + i as u32,
                0,
                r + j as u32,
                0,
                &label,
                f.tone(Tone::Plain),
            )?;
        }
        i = j + 1;
    }
    let merged_first = |k: usize| -> bool {
        t.sections
            && k > 0
            && !t.rows[k].strong
            && matches!(t.rows[k].cells.first(), Some(Fig::Text(s)) if s.is_empty())
            && t.rows[..k]
                .iter()
                .rev()
                .take_while(|x| !x.strong)
                .any(|x| matches!(x.cells.first(), Some(Fig::Text(s)) if !s.is_empty()))
    };
    for (k, row) in t.rows.iter().enumerate() {
        let skip_first = merged_first(k) || t.rows.get(k + 1).is_some_and(|_| merged_first(k + 1));
        for (c, fig) in row.cells.iter().enumerate() {
            if c == 0 && skip_first {
                continue;
            }
            let c = c as u16;
            let strong = row.strong;
            let cell = match report.show(fig) {
                Shown::Text(s) => Cell::Text(s, tone(strong, Tone::Plain)),
                Shown::Number(v, fmt) => Cell::Num(v, num_format(fmt), tone(strong, Tone::Plain)),
                Shown::Hidden => Cell::Text(HIDDEN_MARK.into(), tone(strong, Tone::Mark)),
                Shown::NoData => Cell::Text(NONE_MARK.into(), tone(strong, Tone::Mark)),
                Shown::Empty => Cell::Blank(tone(strong, Tone::Plain)),
            };
            xlsx::write_cell(ws, f, r, c, &cell)?;
        }
        r += 1;
    }
    Ok(r)
}

/// Line colour, marker and dash of each series in turn: hues far apart (blue,
/// orange, green, red, purple, brown, grey), each with its own marker.
const SERIES_LOOKS: [(&str, ChartMarkerType, ChartLineDashType); 7] = [
    ("#1F77B4", ChartMarkerType::Circle, ChartLineDashType::Solid),
    ("#FF7F0E", ChartMarkerType::Square, ChartLineDashType::Solid),
    (
        "#2CA02C",
        ChartMarkerType::Triangle,
        ChartLineDashType::Dash,
    ),
    (
        "#D62728",
        ChartMarkerType::Diamond,
        ChartLineDashType::Solid,
    ),
    ("#9467BD", ChartMarkerType::X, ChartLineDashType::RoundDot),
    (
        "#8C564B",
        ChartMarkerType::Star,
        ChartLineDashType::LongDash,
    ),
    (
        "#7F7F7F",
        ChartMarkerType::Circle,
        ChartLineDashType::DashDot,
    ),
];

fn write_charts(
    ws: &mut Worksheet,
    report: &Report,
    sheet: &str,
    charts: &[Chart],
    f: &Styles,
    start: u32,
    breaks: &mut Vec<u32>,
) -> Result<u32> {
    // The values block goes below the charts, on a page of its own.
    let mut data_row = start + 1 + CHART_ROWS * charts.len() as u32;
    breaks.push(data_row);
    ws.write_string_with_format(
        data_row,
        0,
        "グラフの値（＊・－の箇所は空欄。表の値と同じものです）",
        &f.heading,
    )?;
    data_row += 1;
    for (i, chart) in charts.iter().enumerate() {
        // A band whose every value is suppressed has nothing to draw: it is left out of
        // the chart and its legend (the table above says why its cells are empty).
        let series: Vec<&(String, Vec<_>)> = chart
            .series
            .iter()
            .filter(|(_, values)| {
                values
                    .iter()
                    .any(|v| matches!(report.show(v), Shown::Number(..)))
            })
            .collect();
        let top = data_row;
        ws.write_string_with_format(top, 0, "月", &f.head)?;
        ws.set_row_height(top, 28)?;
        for (s, (name, _)) in series.iter().enumerate() {
            ws.write_string_with_format(top, s as u16 + 1, name, &f.head)?;
        }
        for (k, cat) in chart.categories.iter().enumerate() {
            let row = top + 1 + k as u32;
            ws.write_string_with_format(row, 0, cat, f.tone(Tone::Plain))?;
            for (s, (_, values)) in series.iter().enumerate() {
                let col = s as u16 + 1;
                let cell = match values.get(k).map(|v| report.show(v)) {
                    Some(Shown::Number(v, _)) => Cell::Num(v, xlsx::INT, Tone::Plain),
                    _ => Cell::Blank(Tone::Plain),
                };
                xlsx::write_cell(ws, f, row, col, &cell)?;
            }
        }
        let last = top + chart.categories.len() as u32;
        data_row = last + 2;

        let mut xc = XChart::new(ChartType::Line);
        xc.title()
            .set_name(&chart.title)
            .set_font(ChartFont::new().set_size(12).set_bold());
        xc.y_axis().set_name(&chart.y_title).set_num_format("#,##0");
        xc.legend().set_position(ChartLegendPosition::Right);
        xc.show_empty_cells_as(ChartEmptyCells::Gaps);
        xc.set_width(CHART_W).set_height(CHART_H);
        for s in 0..series.len() {
            let col = s as u16 + 1;
            // Colours a reader tells apart (and in grey print, the markers and dashes).
            let (color, marker, dash) = SERIES_LOOKS[s % SERIES_LOOKS.len()];
            xc.add_series()
                .set_name((sheet, top, col))
                .set_categories((sheet, top + 1, 0, last.max(top + 1), 0))
                .set_values((sheet, top + 1, col, last.max(top + 1), col))
                .set_format(
                    ChartFormat::new().set_line(
                        ChartLine::new()
                            .set_color(color)
                            .set_width(2.0)
                            .set_dash_type(dash),
                    ),
                )
                .set_marker(
                    ChartMarker::new().set_type(marker).set_size(6).set_format(
                        ChartFormat::new()
                            .set_solid_fill(ChartSolidFill::new().set_color(color))
                            .set_line(ChartLine::new().set_color(color)),
                    ),
                );
        }
        let at = start + 1 + CHART_ROWS * i as u32;
        if series.is_empty() {
            // Nothing to draw (no data yet, or every band suppressed): say so in its place.
            ws.write_string_with_format(
                at,
                0,
                format!(
                    "{}: 表示できる値がありません（記録がないか、すべて秘匿）",
                    chart.title
                ),
                &f.note,
            )?;
        } else {
            ws.insert_chart(at, 0, &xc)?;
        }
    }
    Ok(data_row)
}
