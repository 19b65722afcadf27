//! Finding the header row below any title rows, and mapping its cells to the columns we
//! know. Unknown columns are refused (naming the allowed ones), columns for forbidden
//! categories are refused citing the contract, and `--ignore-column` drops one unread.

use super::Problem;
use crate::sheet::normalize::header_key;
use crate::sheet::{cell_name, Row, RowSource};
use anyhow::Result;

/// A column a sheet may carry: its key, the headings that name it (Japanese first), and
/// whether it must be there.
pub struct ColumnDef {
    pub key: &'static str,
    pub names: &'static [&'static str],
    pub required: bool,
}

/// Headings that suggest special-care personal information (要配慮個人情報) the contract
/// forbids collecting. Matched as substrings of the normalized heading.
const FORBIDDEN: &[&str] = &[
    "思想",
    "信条",
    "宗教",
    "信仰",
    "犯罪",
    "前科",
    "病歴",
    "既往",
    "人種",
    "民族",
    "門地",
    "本籍",
    "社会的身分",
    "政党",
    "組合",
    "religion",
    "creed",
    "crime",
    "criminal",
    "race",
    "ethnic",
];

/// How a header cell was understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCol {
    Known(&'static str),
    /// A card-layout day column (1..=31).
    Day(u32),
    Ignored,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub sheet: String,
    pub row: u32,
    /// The header cells as keyed, by column index (empty where blank).
    pub raw: Vec<String>,
    pub cols: Vec<Option<HeaderCol>>,
    /// Column of each known key. A handful of entries, looked up for every cell of
    /// every row: a linear scan beats hashing the key.
    by_key: Vec<(&'static str, usize)>,
    pub days: [Option<usize>; 32],
    /// The sheet has a column headed for checking only (`氏名（確認用）`): an entry
    /// workbook stepcard wrote (`stepcard template`), whose rows are pre-filled, so a
    /// blank 歩数 there is a day the card does not record, not a value left out.
    pub check_only: bool,
}

impl Header {
    pub fn col(&self, key: &str) -> Option<usize> {
        self.by_key.iter().find(|(k, _)| *k == key).map(|&(_, c)| c)
    }
    pub fn has(&self, key: &str) -> bool {
        self.col(key).is_some()
    }
    pub fn has_days(&self) -> bool {
        self.days.iter().any(Option::is_some)
    }
    /// The heading of a column as it stands in the file.
    pub fn heading(&self, col: usize) -> &str {
        self.raw.get(col).map(String::as_str).unwrap_or("")
    }
    /// A row's cells as kept for fixing (a rejected row, a copy in a report): a column
    /// read as nothing (`--ignore-column`, a check-only column) is kept empty.
    pub fn kept_cells(&self, row: &Row) -> Vec<String> {
        (0..self.width().max(row.len()))
            .map(|c| {
                if self.is_ignored(c) {
                    String::new()
                } else {
                    row.raw_text(c).into_owned()
                }
            })
            .collect()
    }
    /// Whether column `c` is read as nothing.
    pub fn is_ignored(&self, c: usize) -> bool {
        matches!(self.cols.get(c), Some(Some(HeaderCol::Ignored)))
    }
    /// The highest column index the header names.
    pub fn width(&self) -> usize {
        self.raw.len()
    }
}

/// The suffix of a heading for a column shown for checking and never read:
/// `氏名（確認用）` in the entry workbooks `stepcard template` writes.
pub const CHECK_ONLY: &str = "（確認用）";

/// Whether a normalized heading names a column for checking only (see [`CHECK_ONLY`]):
/// its cells are read as nothing, never stored, never copied into a report.
pub fn is_check_only(key: &str) -> bool {
    key.len() > header_key(CHECK_ONLY).len() && key.ends_with(&header_key(CHECK_ONLY))
}

/// A day column heading: `1`..`31`, `1日`..`31日`.
fn day_heading(key: &str) -> Option<u32> {
    let digits = key.strip_suffix('日').unwrap_or(key);
    let d: u32 = digits.parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

fn lookup(defs: &[ColumnDef], key: &str) -> Option<&'static str> {
    defs.iter()
        .find(|d| d.names.iter().any(|n| header_key(n) == key))
        .map(|d| d.key)
}

/// Whether a normalized heading (or question) names a category the contract forbids.
pub fn is_forbidden(key: &str) -> bool {
    FORBIDDEN.iter().any(|f| key.contains(f))
}

pub fn allowed_names(defs: &[ColumnDef], card_days: bool) -> String {
    let mut names: Vec<String> = defs
        .iter()
        .map(|d| {
            let en = d
                .names
                .iter()
                .find(|n| n.is_ascii())
                .copied()
                .unwrap_or(d.key);
            if en == d.names[0] {
                // A survey question headed by its code alone (`Q1`).
                en.to_string()
            } else {
                format!("{}（{}）", d.names[0], en)
            }
        })
        .collect();
    if card_days {
        names.push("1〜31（日）".to_string());
    }
    names.join("、")
}

/// Read rows until the header: the first row in which at least two cells name known
/// columns (title rows above it are skipped). Returns the header, or the problems that
/// make the sheet unreadable.
pub fn find_header(
    src: &mut dyn RowSource,
    row: &mut Row,
    sheet: &str,
    defs: &[ColumnDef],
    card_days: bool,
    ignore: &[String],
) -> Result<std::result::Result<Header, Vec<Problem>>> {
    const SCAN: u32 = 50;
    let ignore: Vec<String> = ignore.iter().map(|s| header_key(s)).collect();
    let mut scanned = 0;
    let mut hint: Option<&'static str> = None;
    while src.next_row(row)? {
        if row.is_blank() {
            continue;
        }
        scanned += 1;
        let keys: Vec<String> = (0..row.len())
            .map(|c| header_key(&row.raw_text(c)))
            .collect();
        let named = keys
            .iter()
            .filter(|k| !k.is_empty() && (lookup(defs, k).is_some() || is_forbidden(k)))
            .count();
        let days = if card_days {
            keys.iter().filter(|k| day_heading(k).is_some()).count()
        } else {
            0
        };
        if named >= 2 || (named >= 1 && days >= 28) {
            return Ok(map_header(row, sheet, &keys, defs, card_days, &ignore));
        }
        if hint.is_none() {
            hint = other_kind(&keys, defs);
        }
        if scanned >= SCAN {
            break;
        }
    }
    Ok(Err(vec![Problem {
        sheet: sheet.to_string(),
        row: None,
        col: None,
        column: String::new(),
        raw: String::new(),
        code: "header.not_found",
        message: format!(
            "見出し行が見つかりません。{}先頭 {SCAN} 行のどこかに、次の列名を並べた行を置いてください: {} \
             (no header row found)",
            hint.unwrap_or(""),
            allowed_names(defs, card_days)
        ),
    }]))
}

/// A header that belongs to another kind of sheet (a roster given to `steps import`,
/// say): the command that reads it, told with the refusal.
fn other_kind(keys: &[String], defs: &[ColumnDef]) -> Option<&'static str> {
    let has = |names: &[&str]| {
        keys.iter()
            .any(|k| names.iter().any(|n| header_key(n) == *k) && lookup(defs, k).is_none())
    };
    if has(&["氏名", "フリガナ", "住所", "郵便番号"]) {
        Some("この表は名簿のようです（氏名・住所などの列があります）。名簿は `stepcard roster import` で取り込みます。")
    } else if has(&["景品コード", "申込日"]) {
        Some("この表は景品の申込みのようです。申込みは `stepcard orders import` で取り込みます。")
    } else if has(&["回答時期"]) {
        Some("この表はアンケートの回答のようです。回答は `stepcard survey import` で取り込みます。")
    } else if has(&["歩数"]) {
        Some("この表は歩数シートのようです。歩数は `stepcard steps import` で取り込みます。")
    } else {
        None
    }
}

fn map_header(
    row: &Row,
    sheet: &str,
    keys: &[String],
    defs: &[ColumnDef],
    card_days: bool,
    ignore: &[String],
) -> std::result::Result<Header, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut h = Header {
        sheet: sheet.to_string(),
        row: row.number(),
        raw: (0..row.len())
            .map(|c| row.raw_text(c).trim().to_string())
            .collect(),
        cols: vec![None; keys.len()],
        by_key: Vec::new(),
        days: [None; 32],
        check_only: false,
    };
    let problem = |col: usize, code: &'static str, message: String| Problem {
        sheet: sheet.to_string(),
        row: Some(row.number()),
        col: Some(col),
        column: row.raw_text(col).trim().to_string(),
        raw: row.raw_text(col).trim().to_string(),
        code,
        message,
    };
    for (c, key) in keys.iter().enumerate() {
        if key.is_empty() {
            continue;
        }
        if ignore.iter().any(|i| i == key) {
            h.cols[c] = Some(HeaderCol::Ignored);
            continue;
        }
        if is_forbidden(key) {
            problems.push(problem(
                c,
                "header.forbidden_column",
                format!(
                    "列「{}」は思想・信条・宗教・犯罪歴・病歴などの要配慮情報にあたるおそれがあり、\
                     契約（個人情報取扱特記事項）により収集できません。この列をファイルから削除してください \
                     (the contract forbids collecting this category)",
                    h.raw[c]
                ),
            ));
            continue;
        }
        if is_check_only(key) {
            h.cols[c] = Some(HeaderCol::Ignored);
            h.check_only = true;
            continue;
        }
        if let Some(k) = lookup(defs, key) {
            if let Some(first) = h.col(k) {
                problems.push(problem(
                    c,
                    "header.duplicate_column",
                    format!(
                        "列「{}」が {} 列と重複しています。どちらかを削除してください (duplicate column)",
                        h.raw[c],
                        cell_name(row.number(), first)
                    ),
                ));
            } else {
                h.by_key.push((k, c));
                h.cols[c] = Some(HeaderCol::Known(k));
            }
            continue;
        }
        if card_days {
            if let Some(d) = day_heading(key) {
                if let Some(first) = h.days[d as usize] {
                    problems.push(problem(
                        c,
                        "header.duplicate_column",
                        format!(
                            "{d}日の列が {} 列と重複しています (duplicate day column)",
                            cell_name(row.number(), first)
                        ),
                    ));
                } else {
                    h.days[d as usize] = Some(c);
                    h.cols[c] = Some(HeaderCol::Day(d));
                }
                continue;
            }
        }
        problems.push(problem(
            c,
            "header.unknown_column",
            format!(
                "列「{}」は取り込める列ではありません。使える列: {}。不要なら --ignore-column \"{}\" で読まずに捨てられます \
                 (unknown column)",
                h.raw[c],
                allowed_names(defs, card_days),
                h.raw[c]
            ),
        ));
    }
    for d in defs.iter().filter(|d| d.required) {
        if !h.has(d.key) {
            problems.push(Problem {
                sheet: sheet.to_string(),
                row: Some(row.number()),
                col: None,
                column: d.names[0].to_string(),
                raw: String::new(),
                code: "header.missing_column",
                message: format!(
                    "必須の列「{}」がありません。見出し行（{} 行目）に追加してください (missing column)",
                    d.names[0],
                    row.number()
                ),
            });
        }
    }
    if problems.is_empty() {
        Ok(h)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_headings() {
        assert_eq!(day_heading("1"), Some(1));
        assert_eq!(day_heading("31日"), Some(31));
        assert_eq!(day_heading("32"), None);
        assert_eq!(day_heading("0日"), None);
        assert_eq!(day_heading("歩数"), None);
    }

    #[test]
    fn check_only_headings() {
        assert!(is_check_only(&header_key("氏名（確認用）")));
        assert!(is_check_only(&header_key("氏名(確認用)")));
        assert!(!is_check_only(&header_key("（確認用）")));
        assert!(!is_check_only(&header_key("氏名")));
    }

    #[test]
    fn forbidden_words_match_inside_headings() {
        assert!(is_forbidden(&header_key("宗教・信条")));
        assert!(is_forbidden(&header_key("犯罪歴")));
        assert!(is_forbidden(&header_key("Religion")));
        assert!(!is_forbidden(&header_key("参加者番号")));
        assert!(!is_forbidden(&header_key("住所")));
    }
}
