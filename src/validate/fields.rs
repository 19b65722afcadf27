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

/// The most characters a text field may hold, chosen to fit the carriers' and the
/// labels' fields: 氏名 32 (a label line at 9 pt, the carriers' 32-character name
/// field), フリガナ 64, 郵便番号 10 (`〒160-0022` and a space), 住所 100 and 方書 60
/// (two label lines; the carriers split longer ones), 電話番号 20, メール 254 (the
/// longest address mail can carry).
pub const TEXT_LIMITS: &[(&str, usize)] = &[
    ("name", 32),
    ("name_kana", 64),
    ("postal_code", 10),
    ("address", 100),
    ("address2", 60),
    ("phone", 20),
    ("email", 254),
];

/// The limit for a text field's key (none for keys not in [`TEXT_LIMITS`]).
pub fn text_limit(key: &str) -> Option<usize> {
    TEXT_LIMITS.iter().find(|(k, _)| *k == key).map(|(_, n)| *n)
}

/// What is wrong with a text field's keyed value, before it is normalized: a line
/// break inside it (`text.newline`: a CSV quote left open swallows the line break and
/// the next row), any other control character (`text.control_character`: C0, DEL,
/// C1, TAB), or more than `max` characters once normalized (`text.too_long`).
/// Whitespace around the value is trimmed as always and not refused.
pub fn text_problem(raw: &str, max: usize) -> Option<(&'static str, String)> {
    let inner = raw.trim();
    if inner
        .chars()
        .any(|c| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'))
    {
        return Some((
            "text.newline",
            "セルの中に改行があります。CSV では「\"」の閉じ忘れで次の行がこのセルに入り込むとこうなります（次の参加者の行が消えています）。\
             元のファイルの引用符を直すか、改行を消してください (a line break inside the cell: in a CSV this is how an unclosed quote shows itself)"
                .into(),
        ));
    }
    if let Some(c) = inner.chars().find(|c| c.is_control()) {
        return Some((
            "text.control_character",
            format!(
                "表示できない制御文字（U+{:04X}）が入っています。消して入力し直してください (control character U+{:04X})",
                c as u32, c as u32
            ),
        ));
    }
    let n = crate::sheet::normalize::normalize(raw).chars().count();
    if n > max {
        return Some((
            "text.too_long",
            format!(
                "{n} 文字あり、この欄の上限 {max} 文字を超えています（宛名ラベル・運送会社の欄に収まりません）。\
                 入力の誤りでないか確かめ、短くしてください (too long: {n} > {max} characters)"
            ),
        ));
    }
    None
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
    fn text_fields_refuse_line_breaks_control_characters_and_lengths() {
        let code = |s: &str, max| text_problem(s, max).map(|p| p.0);
        assert_eq!(code("山田 太郎", 32), None);
        assert_eq!(code("  山田 太郎\t\r\n", 32), None);
        assert_eq!(code("山田\n太郎", 32), Some("text.newline"));
        assert_eq!(code("山田\r太郎", 32), Some("text.newline"));
        assert_eq!(code("山田\u{2028}太郎", 32), Some("text.newline"));
        for c in ['\0', '\u{7}', '\u{1b}', '\t', '\u{7f}', '\u{85}', '\u{9f}'] {
            assert_eq!(
                code(&format!("山田{c}太郎"), 32),
                Some("text.control_character"),
                "{:?}",
                c
            );
        }
        assert_eq!(code(&"あ".repeat(32), 32), None);
        assert_eq!(code(&"あ".repeat(33), 32), Some("text.too_long"));
        // Counted as stored: half-width kana normalized first.
        assert_eq!(code(&"ｱ".repeat(32), 32), None);
        assert!(text_problem("a\nb", 5).unwrap().1.contains("閉じ忘れ"));
        assert_eq!(text_limit("name"), Some(32));
        assert_eq!(text_limit("address"), Some(100));
    }

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
