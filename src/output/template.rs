//! Entry workbooks (入力用シート, `stepcard template`): the keying sheet of one month in
//! the layout the importer reads, so what the operator keys imports back unchanged.
//!
//! - card layout: `参加者番号, 氏名（確認用）, 年月, 1日 … 31日`, one row per participant,
//!   the number and month pre-filled; long layout: `参加者番号, 氏名（確認用）, 日付, 歩数`,
//!   one row per participant and open day, everything but 歩数 pre-filled;
//! - the name is there for the operator to hold the card against the row; its heading
//!   ends in （確認用）, which every reader takes as a column read as nothing (never
//!   stored, never copied into a report);
//! - days that do not exist in the month, or fall outside the program period, are grey
//!   and locked; every day cell to key carries Excel data validation (a whole number
//!   0…max_daily_steps, with a Japanese input and error message);
//! - the sheet is protected (no column added, removed, renamed or moved; locked cells
//!   cannot even be selected, so Tab and Enter go from one cell to key to the next),
//!   the panes frozen below the header and right of the month, A4 one page wide
//!   (landscape for the card's 34 columns, upright for the long layout's 4) with the
//!   title and heading rows repeated on every page.

use super::xlsx::{self, EntryStyles, Fit, Page, Styles};
use crate::sheet::date::days_in_month;
use crate::validate::steps::Layout;
use anyhow::Result;
use chrono::NaiveDate;
use rust_xlsxwriter::{DocProperties, Workbook, Worksheet};

/// The heading of the name column: read as nothing by every reader.
pub const NAME_HEADING: &str = "氏名（確認用）";
/// The row (0-based) of the heading; the title and the note are above it.
pub const HEADER_ROW: u32 = 2;

/// Rows tall enough to key and to read against a card.
const ROW_HEIGHT: f64 = 20.0;

/// What one entry workbook holds.
pub struct Template<'a> {
    pub program: &'a str,
    pub year: i32,
    pub month: u32,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub max_steps: i64,
    pub layout: Layout,
    /// Which keying of a double entry (1回目, 2回目), if any.
    pub copy: Option<u32>,
    /// Participant number and name, in the order to key.
    pub rows: &'a [(String, String)],
    /// The workbook's creation time (`crate::now()`), so a rewrite is the same file.
    pub created_at: &'a str,
}

/// The days of the month that can be keyed (exist, and fall inside the program period).
pub fn open_days(year: i32, month: u32, start: NaiveDate, end: NaiveDate) -> Vec<u32> {
    (1..=days_in_month(year, month))
        .filter(|&d| {
            NaiveDate::from_ymd_opt(year, month, d).is_some_and(|x| x >= start && x <= end)
        })
        .collect()
}

fn title(t: &Template<'_>) -> String {
    let first = NaiveDate::from_ymd_opt(t.year, t.month, 1).unwrap_or(t.start);
    let wareki = crate::sheet::date::wareki(first);
    let era_month = wareki.strip_suffix("1日").unwrap_or(&wareki);
    format!(
        "{}　歩数入力シート　{}年{}月（{era_month}）{}",
        t.program,
        t.year,
        t.month,
        t.copy
            .map(|n| format!("　{n}回目の入力"))
            .unwrap_or_default()
    )
}

fn note(t: &Template<'_>, open: &[u32]) -> String {
    let max = super::thousands(t.max_steps);
    let days = match (open.first(), open.last()) {
        (Some(a), Some(b)) => format!("入力できる日は {a}日〜{b}日。"),
        _ => String::new(),
    };
    let closed = match t.layout {
        Layout::Card => "灰色の欄はその月にない日か事業期間",
        Layout::Long => "その月の日のうち事業期間",
    };
    format!(
        "{days}{closed}（{}〜{}）の外の日は入力できません。歩数は 0〜{max} の整数。\
         台紙に記入のない日は空欄のまま。{NAME_HEADING}は台紙と行を照らし合わせるためのもので、取り込みません。\
         行・列の追加・削除・並べ替えはできません（シートは保護されています）。",
        t.start, t.end
    )
}

/// The data validation of a day cell.
fn validation(max: i64) -> Result<rust_xlsxwriter::DataValidation> {
    let max_text = super::thousands(max);
    xlsx::whole_number_validation(
        0,
        i32::try_from(max).unwrap_or(i32::MAX),
        (
            "歩数",
            &format!(
                "台紙のこの日の歩数を 0〜{max_text} の整数で入力してください。記入のない日は空欄のままにします。"
            ),
        ),
        (
            "入力できない値です",
            &format!(
                "1日の歩数は 0〜{max_text} の整数です。台紙の値と桁数を確かめてください（小数・マイナス・{max_text} を超える値は入力できません）。"
            ),
        ),
    )
}

/// The workbook's bytes.
pub fn write(t: &Template<'_>) -> Result<Vec<u8>> {
    let st = Styles::new(xlsx::GOTHIC);
    let es = EntryStyles::new(&st);
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title(title(t))
            .set_creation_datetime(&xlsx::created_datetime(t.created_at)),
    );
    // Written row by row (constant memory): a sheet of 100,000 participants is never
    // held as cells.
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name(format!("{}月", t.month))?;
    let open = open_days(t.year, t.month, t.start, t.end);
    // The sheet's default height, not one per row: in constant memory a height set on
    // the last row is written again as an empty row of its own.
    ws.set_default_row_height(ROW_HEIGHT);
    ws.write_string_with_format(0, 0, title(t), &st.title)?;
    ws.set_row_height(0, 24)?;
    // The note wraps across the card's 34 columns in two lines, the long layout's 4 in five.
    ws.set_row_height(
        1,
        match t.layout {
            Layout::Card => 42,
            Layout::Long => 72,
        },
    )?;
    match t.layout {
        Layout::Card => card(ws, t, &st, &es, &open)?,
        Layout::Long => long(ws, t, &st, &es, &open)?,
    }
    xlsx::page(
        ws,
        &Page {
            // A card row is 34 columns wide; the long layout's 4 columns fit upright.
            landscape: t.layout == Layout::Card,
            fit: Fit::Width,
            repeat_rows: Some((0, HEADER_ROW)),
            freeze: Some((HEADER_ROW + 1, 3)),
            title: Some(title(t)),
            gridlines: false,
        },
    )?;
    xlsx::protect_layout(ws);
    Ok(wb.save_to_buffer()?)
}

/// The month as its cells say it (`2025年6月`), which the card reader reads as that month.
fn month_text(t: &Template<'_>) -> String {
    format!("{}年{}月", t.year, t.month)
}

fn card(
    ws: &mut Worksheet,
    t: &Template<'_>,
    st: &Styles,
    es: &EntryStyles,
    open: &[u32],
) -> Result<()> {
    let h = HEADER_ROW;
    // The note spans the row so it wraps across the page, not inside one column.
    ws.merge_range(1, 0, 1, 33, &note(t, open), &st.note)?;
    for (c, head) in ["参加者番号", NAME_HEADING, "年月"].iter().enumerate() {
        ws.write_string_with_format(h, c as u16, *head, &st.head)?;
    }
    for d in 1..=31u32 {
        let f = if open.contains(&d) {
            &st.head
        } else {
            &es.closed_head
        };
        ws.write_string_with_format(h, 2 + d as u16, format!("{d}日"), f)?;
    }
    let month = month_text(t);
    for (i, (pid, name)) in t.rows.iter().enumerate() {
        let r = h + 1 + i as u32;
        ws.write_string_with_format(r, 0, xlsx::excel_text(pid), &es.given)?;
        ws.write_string_with_format(r, 1, xlsx::excel_text(name), &es.given)?;
        ws.write_string_with_format(r, 2, &month, &es.given)?;
        for d in 1..=31u32 {
            let f = if open.contains(&d) {
                &es.open
            } else {
                &es.closed
            };
            ws.write_blank(r, 2 + d as u16, f)?;
        }
    }
    if !t.rows.is_empty() {
        let last = h + t.rows.len() as u32;
        let dv = validation(t.max_steps)?;
        // One rule per run of open days (a period that starts mid-month leaves the
        // first days out).
        for (a, b) in runs(open) {
            ws.add_data_validation(h + 1, 2 + a as u16, last, 2 + b as u16, &dv)?;
        }
    }
    ws.set_column_width(0, 10.0)?;
    ws.set_column_width(1, 13.0)?;
    ws.set_column_width(2, 9.5)?;
    for d in 1..=31u16 {
        ws.set_column_width(2 + d, 5.6)?;
    }
    Ok(())
}

fn long(
    ws: &mut Worksheet,
    t: &Template<'_>,
    st: &Styles,
    es: &EntryStyles,
    open: &[u32],
) -> Result<()> {
    let h = HEADER_ROW;
    ws.merge_range(1, 0, 1, 3, &note(t, open), &st.note)?;
    for (c, head) in ["参加者番号", NAME_HEADING, "日付", "歩数"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(h, c as u16, *head, &st.head)?;
    }
    let mut r = h;
    for (pid, name) in t.rows {
        for &d in open {
            r += 1;
            let date = format!("{}-{:02}-{d:02}", t.year, t.month);
            ws.write_string_with_format(r, 0, xlsx::excel_text(pid), &es.given)?;
            ws.write_string_with_format(r, 1, xlsx::excel_text(name), &es.given)?;
            ws.write_string_with_format(r, 2, &date, &es.given)?;
            ws.write_blank(r, 3, &es.open)?;
        }
    }
    if r > h {
        ws.add_data_validation(h + 1, 3, r, 3, &validation(t.max_steps)?)?;
    }
    for (c, w) in [11.0, 15.0, 12.0, 10.0].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    Ok(())
}

/// The rows below the heading a template needs, and whether they fit in one sheet
/// (Excel's 1,048,576 rows).
pub fn data_rows(layout: Layout, participants: usize, open_days: usize) -> (u64, bool) {
    let n = match layout {
        Layout::Card => participants as u64,
        Layout::Long => participants as u64 * open_days as u64,
    };
    (n, n + u64::from(HEADER_ROW) < 1_048_576)
}

/// Runs of consecutive days: `[1,2,3,7,8]` → `[(1,3),(7,8)]`.
fn runs(days: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((_, b)) if *b + 1 == d => *b = d,
            _ => out.push((d, d)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn open_days_follow_the_month_and_the_period() {
        let (s, e) = (ymd(2025, 5, 14), ymd(2026, 3, 31));
        assert_eq!(open_days(2025, 6, s, e).len(), 30);
        assert_eq!(open_days(2025, 7, s, e).len(), 31);
        assert_eq!(open_days(2026, 2, s, e).len(), 28);
        assert_eq!(open_days(2024, 2, ymd(2024, 1, 1), e).len(), 29);
        assert_eq!(open_days(2025, 5, s, e), (14..=31).collect::<Vec<_>>());
        assert!(open_days(2026, 4, s, e).is_empty());
        assert_eq!(
            open_days(2026, 3, s, ymd(2026, 3, 20)),
            (1..=20).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_sheet_holds_at_most_excels_rows() {
        assert_eq!(data_rows(Layout::Card, 100_000, 31), (100_000, true));
        assert_eq!(data_rows(Layout::Long, 33_000, 31), (1_023_000, true));
        assert_eq!(data_rows(Layout::Long, 34_000, 31), (1_054_000, false));
        assert!(data_rows(Layout::Card, 1_048_573, 31).1);
        assert!(!data_rows(Layout::Card, 1_048_574, 31).1);
    }

    #[test]
    fn runs_of_days() {
        assert_eq!(runs(&[1, 2, 3, 7, 8]), [(1, 3), (7, 8)]);
        assert_eq!(runs(&[14]), [(14, 14)]);
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn the_title_names_the_month_in_both_calendars() {
        let rows = [];
        let t = Template {
            program: "P",
            year: 2025,
            month: 6,
            start: ymd(2025, 5, 14),
            end: ymd(2026, 3, 31),
            max_steps: 60000,
            layout: Layout::Card,
            copy: Some(2),
            rows: &rows,
            created_at: "2025-06-01T09:00:00+09:00",
        };
        assert_eq!(
            title(&t),
            "P　歩数入力シート　2025年6月（令和7年6月）　2回目の入力"
        );
    }
}
