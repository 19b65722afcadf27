//! Validation: what is wrong with a keyed value, said once. The problem record (code,
//! place, message) every reader produces, and the one table of problem codes: what each
//! means, whether its keyed value may be personal data (never printed on the terminal),
//! and whether it is a refusal to tell a participant rather than a mistake in the file.
//! A new code is one new line in [`CODES`]; a unit test finds any code used in the
//! source that the table lacks.

pub mod fields;
pub mod header;
pub mod orders;
pub mod postal;
pub mod roster;
pub mod steps;
pub mod survey;

use crate::sheet::cell_name;

/// One problem code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    /// What it means, in a few words, for operators.
    pub meaning: &'static str,
    /// The keyed value may be personal data (a name, kana, postal code, address, birth
    /// date, phone, email; or a stray cell whose content is unknown): it is never
    /// printed on the terminal or in `batches show`; the `--errors` report has it.
    pub personal: bool,
    /// Not a mistake in the file but an application refused (told to the participant):
    /// the row is stored with it, and the import goes on.
    pub refusal: bool,
}

const fn code(code: &'static str, meaning: &'static str) -> Code {
    Code {
        code,
        meaning,
        personal: false,
        refusal: false,
    }
}

const fn personal(code: &'static str, meaning: &'static str) -> Code {
    Code {
        code,
        meaning,
        personal: true,
        refusal: false,
    }
}

const fn refusal(code: &'static str, meaning: &'static str) -> Code {
    Code {
        code,
        meaning,
        personal: false,
        refusal: true,
    }
}

/// Every problem code stepcard reports.
pub const CODES: &[Code] = &[
    // The header and the sheet.
    code("header.not_found", "見出し行が見つからない"),
    code("header.missing_column", "必須の列がない"),
    code("header.unknown_column", "この形式にない列がある"),
    code("header.forbidden_column", "集めてはいけない列がある"),
    code("header.duplicate_column", "同じ列が二つある"),
    code("header.layout_mixed", "縦型と台紙型のシートが混ざっている"),
    personal("cell.outside_header", "見出しのない列に値がある"),
    // Participants and dates, in every kind of file.
    code("participant.unknown", "名簿にない参加者番号"),
    code("participant.id_invalid", "参加者番号として読めない"),
    code("participant.duplicate", "同じ参加者がファイルに二度ある"),
    code(
        "participant.changed",
        "登録済みの内容と違う（--update で受け入れ）",
    ),
    code("date.invalid", "日付として読めない"),
    code("date.nonexistent", "存在しない日付"),
    code("date.out_of_period", "事業期間の外の日付"),
    code("date.future", "未来の日付"),
    // Steps.
    code("steps.missing", "歩数が空"),
    code("steps.not_a_number", "歩数が数字として読めない"),
    code("steps.negative", "歩数がマイナス"),
    code("steps.implausible", "ありえない歩数"),
    code(
        "steps.duplicate_conflict",
        "同じ日がファイルに二度以上あり、値が違う（どれも取り込まない）",
    ),
    code("steps.conflict", "登録済みの値と違う（--replace で置換）"),
    // The roster.
    personal("name.missing", "氏名が空"),
    personal("name_kana.invalid", "フリガナがカタカナでない"),
    personal("postal_code.invalid", "郵便番号として読めない"),
    personal("postal_code.missing", "郵便番号がない"),
    personal("address.missing", "住所がない"),
    personal(
        "postal_code.unknown",
        "日本郵便の郵便番号データにない郵便番号",
    ),
    personal(
        "address.postal_mismatch",
        "住所の都道府県・市区町村が郵便番号の地域と合わない",
    ),
    personal("birth_date.invalid", "生年月日として読めない"),
    personal("birth_date.missing", "生年月日も年齢もない"),
    code("age.invalid", "年齢として読めない"),
    code("sex.invalid", "性別として読めない"),
    personal("phone.invalid", "電話番号として読めない"),
    personal("phone.missing", "電話番号がない"),
    personal("email.invalid", "メールアドレスとして読めない"),
    personal(
        "email.not_allowed",
        "台紙の参加者のメールアドレスは集められない",
    ),
    code("channel.invalid", "利用区分として読めない"),
    personal(
        "text.newline",
        "セルの中に改行がある（CSV の引用符の閉じ忘れ）",
    ),
    personal("text.control_character", "制御文字がある"),
    personal("text.too_long", "欄の上限の文字数を超える"),
    // Prize applications: mistakes in the file, then refusals.
    code("prize.code_invalid", "景品コードとして読めない"),
    code("quantity.invalid", "数量として読めない"),
    code("quantity.missing", "数量が空"),
    refusal("prize.unknown", "景品コードがプログラムにない"),
    refusal("participant.no_address", "住所がなく発送できない"),
    refusal("prize.per_person_limit", "1人あたりの上限を超える"),
    refusal("points.insufficient", "ポイントが足りない"),
    refusal("prize.out_of_stock", "在庫が足りない"),
    // Questionnaires.
    code("survey.timing_invalid", "事前・事後として読めない"),
    code("survey.answer_invalid", "回答として読めない"),
    code("survey.conflict", "登録済みの回答と違う"),
    code(
        "survey.duplicate_conflict",
        "同じアンケートがファイルに二度以上あり、回答が違う",
    ),
    // Double-entry verification.
    code("verify.mismatch", "2回の入力の値が違う"),
    code("verify.only_in_first", "1回目の入力にだけある"),
    code("verify.only_in_second", "2回目の入力にだけある"),
    code("verify.duplicate", "同じ日が一方の入力に二度ある"),
    // Carrier files (names and addresses as the carrier takes them).
    personal("length.too_long", "運送会社の欄に収まらない"),
    personal("format.half_width", "半角にできない文字がある"),
    personal("cp932.unencodable", "Shift_JIS にない文字がある"),
    personal(
        "csv.formula",
        "表計算ソフトが式として実行する文字（= + - @）で始まる",
    ),
    personal("csv.control_char", "改行・タブなどの制御文字がある"),
    personal(
        "address.prefecture_missing",
        "住所に都道府県がなく郵便番号からも決まらない",
    ),
];

/// The table's line for a code.
pub fn lookup(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

/// What a code means to operators (empty for a code not in the table).
pub fn meaning(code: &str) -> &'static str {
    lookup(code).map(|c| c.meaning).unwrap_or("")
}

/// Whether a problem's keyed value may be personal data (see [`Code::personal`]). A
/// code not in the table is treated as personal: nothing unknown is printed.
pub fn raw_is_personal(code: &str) -> bool {
    lookup(code).is_none_or(|c| c.personal)
}

/// The codes of refusals (see [`Code::refusal`]).
pub fn refusals() -> impl Iterator<Item = &'static Code> {
    CODES.iter().filter(|c| c.refusal)
}

/// A problem's keyed value as shown on the terminal: `「8,000」`, or nothing when it is
/// empty or may be personal data.
pub fn shown_raw(code: &str, raw: &str) -> String {
    if raw.is_empty() || raw_is_personal(code) {
        String::new()
    } else {
        format!("「{raw}」")
    }
}

/// The line said once when values were left off the terminal.
pub const RAW_WITHHELD: &str = "（氏名・住所・電話番号などの個人情報の値は画面に出しません。--errors FILE の一覧で確かめてください） (personal values are not printed; see the --errors report)";

/// One problem with one cell (or row, or the header), with a stable code.
#[derive(Debug, Clone)]
pub struct Problem {
    pub sheet: String,
    pub row: Option<u32>,
    pub col: Option<usize>,
    /// The column as headed in the file.
    pub column: String,
    /// The cell's value as keyed.
    pub raw: String,
    pub code: &'static str,
    pub message: String,
}

impl Problem {
    /// `Sheet1!C12`, `Sheet1!12` (a whole row) or `Sheet1` (the sheet).
    pub fn place(&self) -> String {
        match (self.row, self.col) {
            (Some(r), Some(c)) => format!("{}!{}", self.sheet, cell_name(r, c)),
            (Some(r), None) => format!("{}!{}行目", self.sheet, r),
            _ => self.sheet.clone(),
        }
    }
    pub fn cell(&self) -> String {
        match (self.row, self.col) {
            (Some(r), Some(c)) => cell_name(r, c),
            _ => String::new(),
        }
    }
}

/// Sheets for unit tests of the rules: CSV text read as any import reads it.
#[cfg(test)]
pub(crate) mod testing {
    use super::header::{find_header, ColumnDef, Header};
    use crate::sheet::{Book, ReadOptions, Row};

    /// The header and the rows below it of `csv`, found with `defs`.
    pub fn sheet(csv: &str, defs: &[ColumnDef], card_days: bool) -> (Header, Vec<Row>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, csv).unwrap();
        let mut book = Book::open(&path, &ReadOptions::default()).unwrap();
        let name = book.sheet_names()[0].clone();
        let mut src = book.rows(&name).unwrap();
        let mut row = Row::new();
        let h = find_header(src.as_mut(), &mut row, &name, defs, card_days, &[])
            .unwrap()
            .unwrap_or_else(|p| panic!("no header: {p:?}"));
        let mut rows = Vec::new();
        while src.next_row(&mut row).unwrap() {
            rows.push(row.clone());
        }
        (h, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for c in CODES {
            assert!(seen.insert(c.code), "{} listed twice", c.code);
            assert!(!c.meaning.is_empty(), "{}", c.code);
            assert!(!(c.personal && c.refusal), "{}", c.code);
        }
    }

    #[test]
    fn personal_values_are_withheld() {
        assert!(raw_is_personal("name.missing"));
        assert!(raw_is_personal("address.missing"));
        assert!(raw_is_personal("cell.outside_header"));
        assert!(!raw_is_personal("steps.implausible"));
        assert!(raw_is_personal("no.such_code"));
        assert_eq!(shown_raw("steps.negative", "-5"), "「-5」");
        assert_eq!(shown_raw("phone.invalid", "03-1234"), "");
    }

    /// Every code the source reports is in the table: a string literal shaped like a
    /// code (`kind.what`) whose kind is one the table knows, and that is not a file name.
    #[test]
    fn every_code_in_the_source_is_in_the_table() {
        let kinds: std::collections::HashSet<&str> = CODES
            .iter()
            .filter_map(|c| c.code.split('.').next())
            .collect();
        // Literals shaped like codes that are not: program-file keys.
        const NOT_CODES: &[&str] = &["points.bands"];
        const FILES: &[&str] = &[
            "csv", "tsv", "txt", "xlsx", "xls", "ods", "pdf", "db", "toml", "json", "zip", "xml",
        ];
        let mut missing = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                for lit in text.split('"').skip(1).step_by(2) {
                    let Some((kind, what)) = lit.split_once('.') else {
                        continue;
                    };
                    let shaped = !what.is_empty()
                        && lit
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
                        && !what.contains('.');
                    if shaped
                        && kinds.contains(kind)
                        && !FILES.contains(&what)
                        && !NOT_CODES.contains(&lit)
                        && lookup(lit).is_none()
                    {
                        missing.push(format!("{}: {lit}", p.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "codes missing from CODES: {missing:?}");
    }
}
