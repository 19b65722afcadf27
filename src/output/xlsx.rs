//! The one xlsx layer every document is written through: the styles, A4 page setup
//! (paper, orientation, fit to width, repeated header rows, header and footer), the
//! table writer, the marked sheet copy, and the fixed creation time that makes a
//! rewritten document the same file byte for byte.

use rust_xlsxwriter::ExcelDateTime;

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
