//! The rules of a step sheet: its two layouts (long: 参加者番号・日付・歩数; card:
//! 参加者番号・年月・1〜31), which header each needs, how a steps cell reads, and the
//! days one row keys. Pure: the import and the double-entry verification both read a
//! row through [`keyed_days`], so they read a sheet alike.

use super::fields::{
    cell_date, cell_year_month, date_problem, header_problem, problem, PARTICIPANT,
};
use super::header::{ColumnDef, Header};
use super::Problem;
use crate::sheet::date::days_in_month;
use crate::sheet::normalize::{float_to_int, normalize, parse_int, why_not_a_number, IntParse};
use crate::sheet::{CellRef, Row};
use anyhow::Result;
use chrono::NaiveDate;

/// A step sheet's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 参加者番号, 日付, 歩数
    Long,
    /// 参加者番号, 年月, 1 … 31
    Card,
}

/// Every column a step sheet may have, for finding the header before the layout is known;
/// which of them a sheet must have depends on its layout (`check_layout`).
pub const ANY_COLUMNS: &[ColumnDef] = &[
    PARTICIPANT,
    ColumnDef {
        key: "date",
        names: &["日付", "年月日", "歩行日", "date"],
        required: false,
    },
    ColumnDef {
        key: "steps",
        names: &["歩数", "steps"],
        required: false,
    },
    ColumnDef {
        key: "year_month",
        names: &["年月", "対象年月", "year_month", "month"],
        required: false,
    },
];

/// The layout a header shows, unless `--layout` says.
pub fn detect_layout(h: &Header, forced: Option<Layout>) -> Layout {
    forced.unwrap_or(
        if h.has("year_month") || (h.has_days() && !h.has("steps")) {
            Layout::Card
        } else {
            Layout::Long
        },
    )
}

/// One value to store, or the problem with it.
pub enum Checked {
    Ok(i64),
    Skip,
    Bad(&'static str, String),
}

/// A keyed step count from any cell.
pub fn check_steps(cell: CellRef<'_>, max: i64, empty_is_skip: bool) -> Checked {
    let parsed = match cell {
        CellRef::Empty => return empty(empty_is_skip),
        CellRef::Number(f) => float_to_int(f),
        CellRef::Text(s) => {
            let n = normalize(s);
            if n.is_empty() {
                return empty(empty_is_skip);
            }
            parse_int(&n)
        }
        CellRef::Date(_) | CellRef::Bool(_) | CellRef::Error(_) => IntParse::NotANumber,
    };
    match parsed {
        IntParse::Int(v) => check_steps_value(v, max),
        IntParse::Fraction => Checked::Bad(
            "steps.not_a_number",
            "歩数に小数があります。整数で入力してください".into(),
        ),
        IntParse::NotANumber => Checked::Bad(
            "steps.not_a_number",
            match cell {
                CellRef::Text(s) => why_not_a_number(&normalize(s)),
                _ => None,
            }
            .map_or_else(
                || "歩数が数字として読めません。数字だけを入力してください".into(),
                |why| format!("歩数が数字として読めません: {why}"),
            ),
        ),
    }
}

/// An empty steps cell: a day left blank on a card, or a missing value in a long row.
fn empty(empty_is_skip: bool) -> Checked {
    if empty_is_skip {
        Checked::Skip
    } else {
        Checked::Bad(
            "steps.missing",
            "歩数が空です。台紙の値を入力してください".into(),
        )
    }
}

/// A whole number of steps against the rules: not negative, not above `max`.
pub fn check_steps_value(v: i64, max: i64) -> Checked {
    if v < 0 {
        Checked::Bad(
            "steps.negative",
            "歩数がマイナスです。台紙の値を確かめてください".into(),
        )
    } else if v > max {
        Checked::Bad(
            "steps.implausible",
            format!("1日 {max} 歩を超える値はありえないため受け付けません。台紙の値（桁の打ち間違い）を確かめてください"),
        )
    } else {
        Checked::Ok(v)
    }
}

/// The header problems for the layout a sheet is in (or was forced to). `seen` carries
/// the layout of the sheets read before, so one file cannot mix layouts.
pub fn check_layout(h: &Header, forced: Option<Layout>, seen: &mut Option<Layout>) -> Vec<Problem> {
    let layout = detect_layout(h, forced);
    if let Some(prev) = *seen {
        if prev != layout {
            return vec![header_problem(
                    h,
                    None,
                    "header.layout_mixed",
                    "一つの取込みに縦型（日付・歩数）と台紙型（年月・1〜31）のシートが混ざっています。別々に取り込んでください"
                        .into(),
                )];
        }
    }
    *seen = Some(layout);
    let mut out = Vec::new();
    let (required, foreign): (&[&str], &[&str]) = match layout {
        Layout::Long => (&["date", "steps"], &["year_month"]),
        Layout::Card => (&["year_month"], &["date", "steps"]),
    };
    for key in required {
        if !h.has(key) {
            let name = ANY_COLUMNS
                .iter()
                .find(|d| d.key == *key)
                .map(|d| d.names[0])
                .unwrap_or(key);
            out.push(header_problem(
                    h,
                    None,
                    "header.missing_column",
                    format!("必須の列「{name}」がありません。見出し行（{} 行目）に追加してください (missing column)", h.row),
                ));
        }
    }
    for key in foreign {
        if let Some(c) = h.col(key) {
            out.push(header_problem(
                h,
                Some(c),
                "header.unknown_column",
                format!(
                    "列「{}」はこの形式（{}）にはない列です",
                    h.heading(c),
                    layout_ja(layout)
                ),
            ));
        }
    }
    match layout {
        Layout::Card if !h.has_days() => out.push(header_problem(
            h,
            None,
            "header.missing_column",
            "台紙型には日付の列（1〜31 または 1日〜31日）が必要です".into(),
        )),
        Layout::Long => {
            if let Some(c) = h.days.iter().flatten().next() {
                out.push(header_problem(
                    h,
                    Some(*c),
                    "header.unknown_column",
                    format!(
                        "列「{}」は縦型（参加者番号・日付・歩数）にはない列です",
                        h.heading(*c)
                    ),
                ));
            }
        }
        Layout::Card => {}
    }
    out
}

pub fn layout_ja(l: Layout) -> &'static str {
    match l {
        Layout::Long => "縦型: 参加者番号・日付・歩数",
        Layout::Card => "台紙型: 参加者番号・年月・1〜31",
    }
}

/// One day a step-sheet row keys: the cell holding the steps, the cell that dates it
/// (the 日付 cell in the long layout, the day cell itself on a card), the date, and the
/// steps as read.
pub struct KeyedDay {
    pub col: usize,
    pub date_col: usize,
    pub date: NaiveDate,
    pub steps: Checked,
}

/// The days one row keys, in column order, each handed to `f` (with `out`, where `f`
/// puts its own problems). A date that cannot be read, a month that cannot be read and a
/// value on a day that does not exist are put in `out` here. The import and the
/// double-entry verification both read rows through this, so they read a sheet alike.
pub fn keyed_days(
    h: &Header,
    layout: Layout,
    row: &Row,
    max_steps: i64,
    out: &mut Vec<Problem>,
    mut f: impl FnMut(&mut Vec<Problem>, KeyedDay) -> Result<()>,
) -> Result<()> {
    match layout {
        Layout::Long => {
            let (Some(dc), Some(sc)) = (h.col("date"), h.col("steps")) else {
                return Ok(());
            };
            let date = match cell_date(row.get(dc)) {
                Ok(d) => d,
                Err(e) => {
                    out.push(date_problem(h, row, dc, e));
                    return Ok(());
                }
            };
            // A pre-filled row of an entry workbook left blank: the card has no value.
            let steps = check_steps(row.get(sc), max_steps, h.check_only);
            f(
                out,
                KeyedDay {
                    col: sc,
                    date_col: dc,
                    date,
                    steps,
                },
            )
        }
        Layout::Card => {
            let Some(mc) = h.col("year_month") else {
                return Ok(());
            };
            let (y, m) = match cell_year_month(row.get(mc)) {
                Ok(ym) => ym,
                Err(_) => {
                    out.push(problem(
                        h,
                        row,
                        mc,
                        "date.invalid",
                        "年月として読めません（例: 2025-05、2025年5月、R7.5）。台紙の年月を確かめてください"
                            .into(),
                    ));
                    return Ok(());
                }
            };
            let last = days_in_month(y, m);
            for d in 1..=31u32 {
                let Some(c) = h.days[d as usize] else {
                    continue;
                };
                let steps = check_steps(row.get(c), max_steps, true);
                if let Checked::Skip = steps {
                    continue;
                }
                if d > last {
                    // A value that cannot be read is reported as such, whatever its day.
                    out.push(match steps {
                        Checked::Bad(code, msg) => problem(h, row, c, code, msg),
                        _ => problem(
                            h,
                            row,
                            c,
                            "date.nonexistent",
                            format!("{y}年{m}月{d}日は存在しない日です。台紙の欄の位置（月・日）を確かめてください"),
                        ),
                    });
                    continue;
                }
                let Some(date) = NaiveDate::from_ymd_opt(y, m, d) else {
                    continue;
                };
                f(
                    out,
                    KeyedDay {
                        col: c,
                        date_col: c,
                        date,
                        steps,
                    },
                )?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_checks() {
        assert!(matches!(
            check_steps(CellRef::Text("８，０００"), 60000, false),
            Checked::Ok(8000)
        ));
        assert!(matches!(
            check_steps(CellRef::Number(8000.0), 60000, false),
            Checked::Ok(8000)
        ));
        assert!(matches!(
            check_steps(CellRef::Number(7999.5), 60000, false),
            Checked::Bad("steps.not_a_number", _)
        ));
        assert!(matches!(
            check_steps(CellRef::Text("-5"), 60000, false),
            Checked::Bad("steps.negative", _)
        ));
        assert!(matches!(
            check_steps(CellRef::Text("80000"), 60000, false),
            Checked::Bad("steps.implausible", _)
        ));
        assert!(matches!(
            check_steps(CellRef::Text("abc"), 60000, false),
            Checked::Bad("steps.not_a_number", _)
        ));
        assert!(matches!(
            check_steps(CellRef::Empty, 60000, true),
            Checked::Skip
        ));
        assert!(matches!(
            check_steps(CellRef::Empty, 60000, false),
            Checked::Bad("steps.missing", _)
        ));
    }

    /// The (column, date, steps) a row keys, and the codes of its problems.
    fn keyed(csv: &str) -> (Vec<(usize, String, i64)>, Vec<&'static str>) {
        let (h, rows) = crate::validate::testing::sheet(csv, ANY_COLUMNS, true);
        let mut seen = None;
        assert!(check_layout(&h, None, &mut seen).is_empty());
        let mut out = Vec::new();
        let mut days = Vec::new();
        keyed_days(&h, seen.unwrap(), &rows[0], 60000, &mut out, |out, k| {
            match k.steps {
                Checked::Ok(v) => days.push((k.col, k.date.to_string(), v)),
                Checked::Bad(code, _) => {
                    out.push(problem(&h, &rows[0], k.col, code, String::new()))
                }
                Checked::Skip => {}
            }
            Ok(())
        })
        .unwrap();
        (days, out.iter().map(|p| p.code).collect())
    }

    #[test]
    fn a_card_row_keys_each_filled_day_of_its_month() {
        let (days, problems) = keyed("参加者番号,年月,1,2,30,31\nC1,R7.6,8000,,abc,9000\n");
        assert_eq!(days, [(2, "2025-06-01".to_string(), 8000)]);
        // June has no 31st; an unreadable value is reported as such whatever its day.
        assert_eq!(problems, ["steps.not_a_number", "date.nonexistent"]);
    }

    #[test]
    fn a_long_row_keys_one_day() {
        let (days, problems) = keyed("参加者番号,日付,歩数\nC1,R7.6.3,\"8,000\"\n");
        assert_eq!(
            (days, problems),
            (vec![(2, "2025-06-03".to_string(), 8000)], vec![])
        );
        let (days, problems) = keyed("参加者番号,日付,歩数\nC1,2025-06-31,100\n");
        assert!(days.is_empty());
        assert_eq!(problems, ["date.nonexistent"]);
    }

    #[test]
    fn one_file_cannot_mix_layouts() {
        let (long, _) = crate::validate::testing::sheet(
            "参加者番号,日付,歩数\nC1,2025-06-01,1\n",
            ANY_COLUMNS,
            true,
        );
        let (card, _) =
            crate::validate::testing::sheet("参加者番号,年月,1\nC1,2025-06,1\n", ANY_COLUMNS, true);
        let mut seen = None;
        assert!(check_layout(&long, None, &mut seen).is_empty());
        assert_eq!(
            check_layout(&card, None, &mut seen)[0].code,
            "header.layout_mixed"
        );
    }
}
