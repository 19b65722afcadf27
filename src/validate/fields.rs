//! Checks every kind of sheet shares: the participant number, dates from any cell, and
//! the problem records at a cell, a row or the header. Pure: cells in, values or
//! problems out.

use super::header::{ColumnDef, Header};
use super::Problem;
use crate::sheet::date::{
    excel_serial_date, from_excel_serial, parse_date, parse_year_month, DateError,
};
use crate::sheet::normalize::normalize;
use crate::sheet::{CellRef, Row};
use chrono::{Datelike, NaiveDate};

pub const PARTICIPANT: ColumnDef = ColumnDef {
    key: "participant_id",
    names: &[
        "参加者番号",
        "会員番号",
        "参加者ID",
        "participant_id",
        "participant",
    ],
    required: true,
};

/// Checks a participant number's form; `Err(message)` when it cannot be one.
pub fn check_participant_id(id: &str) -> std::result::Result<(), &'static str> {
    if id.is_empty() {
        return Err("参加者番号が空です。台紙に印字された番号を入力してください");
    }
    if id.len() > 40
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(
            "参加者番号として読めません（英数字とハイフンのみ）。台紙の番号を確かめてください",
        );
    }
    Ok(())
}

/// A date from any cell: a date cell, an Excel serial number, or text in any keyed form.
pub fn cell_date(cell: CellRef<'_>) -> std::result::Result<NaiveDate, DateError> {
    match cell {
        CellRef::Date(d) => Ok(d),
        CellRef::Number(f) => excel_serial_date(f, false),
        CellRef::Text(s) => fast_iso(s).unwrap_or_else(|| parse_date(s)),
        CellRef::Empty | CellRef::Bool(_) | CellRef::Error(_) => Err(DateError::Invalid),
    }
}

/// `YYYY-MM-DD` exactly, the form generated files use: parsed without normalization.
pub(crate) fn fast_iso(s: &str) -> Option<std::result::Result<NaiveDate, DateError>> {
    crate::sheet::date::iso_exact(s)
}

/// A year-month from any cell (a month cell Excel turned into a date is that month).
pub fn cell_year_month(cell: CellRef<'_>) -> std::result::Result<(i32, u32), DateError> {
    match cell {
        CellRef::Date(d) => Ok((d.year(), d.month())),
        CellRef::Number(f) => from_excel_serial(f, false)
            .map(|d| (d.year(), d.month()))
            .ok_or(DateError::Invalid),
        CellRef::Text(s) => parse_year_month(s),
        CellRef::Empty | CellRef::Bool(_) | CellRef::Error(_) => Err(DateError::Invalid),
    }
}

/// The participant number of a row, normalized, or the problem with its form (`None`
/// when the sheet has no participant column).
pub fn read_participant<'r>(
    h: &Header,
    row: &'r Row,
) -> Option<std::result::Result<std::borrow::Cow<'r, str>, Problem>> {
    let c = h.col("participant_id")?;
    let raw = row.raw_text(c);
    let id: std::borrow::Cow<'r, str> = match raw {
        std::borrow::Cow::Borrowed(s) => normalize(s),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(normalize(&s).into_owned()),
    };
    if let Err(msg) = check_participant_id(&id) {
        return Some(Err(problem(
            h,
            row,
            c,
            "participant.id_invalid",
            msg.into(),
        )));
    }
    Some(Ok(id))
}

/// `participant.unknown` at the row's participant cell.
pub fn unknown_participant(h: &Header, row: &Row, id: &str) -> Problem {
    problem(
        h,
        row,
        h.col("participant_id").unwrap_or(0),
        "participant.unknown",
        format!(
            "参加者番号 {id} は名簿にありません。番号を確かめるか、先に名簿を取り込んでください"
        ),
    )
}

/// A problem with the header row itself (or one of its cells).
pub fn header_problem(
    h: &Header,
    col: Option<usize>,
    code: &'static str,
    message: String,
) -> Problem {
    Problem {
        sheet: h.sheet.clone(),
        row: Some(h.row),
        col,
        column: col.map(|c| h.heading(c).to_string()).unwrap_or_default(),
        raw: col.map(|c| h.heading(c).to_string()).unwrap_or_default(),
        code,
        message,
    }
}

pub fn problem(h: &Header, row: &Row, col: usize, code: &'static str, message: String) -> Problem {
    Problem {
        sheet: h.sheet.clone(),
        row: Some(row.number()),
        col: Some(col),
        column: h.heading(col).to_string(),
        raw: row.raw_text(col).into_owned(),
        code,
        message,
    }
}

pub fn date_problem(h: &Header, row: &Row, col: usize, e: DateError) -> Problem {
    match e {
        DateError::Nonexistent => problem(
            h,
            row,
            col,
            "date.nonexistent",
            crate::sheet::date::nonexistent_reason(&row.raw_text(col)).unwrap_or_else(|| {
                "存在しない日付です（例: 6月31日）。台紙の日付を確かめてください".into()
            }),
        ),
        DateError::Invalid => problem(
            h,
            row,
            col,
            "date.invalid",
            "日付として読めません（例: 2025-05-14、2025/5/14、R7.5.14、令和7年5月14日）".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_iso_agrees_with_the_full_parser() {
        for s in [
            "2025-05-14",
            "2025-06-31",
            "2025-13-01",
            "2025-00-10",
            "2024-02-29",
            "2025-02-29",
        ] {
            let fast = fast_iso(s).unwrap();
            assert_eq!(fast.is_ok(), parse_date(s).is_ok(), "{s}");
            if let Ok(d) = fast {
                assert_eq!(
                    Ok(d),
                    parse_date(s)
                        .map_err(|_| ())
                        .map_err(|_| DateError::Invalid)
                );
            }
        }
        assert!(fast_iso("2025/05/14").is_none());
        assert!(fast_iso("２０２５-05-14").is_none());
    }

    #[test]
    fn participant_ids_are_checked() {
        assert!(check_participant_id("C000003").is_ok());
        assert!(check_participant_id("").is_err());
        assert!(check_participant_id("山田").is_err());
    }
}
