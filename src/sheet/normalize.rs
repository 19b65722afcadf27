//! Cell normalization for hand-keyed step-card sheets.
//!
//! Operators key paper cards into CSV/Excel with whatever their IME produces:
//! full-width digits and letters, ideographic spaces, half-width katakana,
//! assorted dash characters. Everything read from a sheet goes through
//! [`normalize`] first, and the typed parsers here (integers, postal codes,
//! phone numbers, sex, channel, e-mail, header names) accept the forms seen
//! on real cards and reject anything ambiguous rather than guess.
//!
//! [`normalize`] runs once per cell on import, so plain ASCII cells must not
//! allocate.

use std::borrow::Cow;

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// NFKC, then trim whitespace (including U+3000, which NFKC maps to U+0020).
///
/// Full-width digits and letters become ASCII: `８，０００` -> `8,000`.
pub fn normalize(s: &str) -> Cow<'_, str> {
    let s = strip_neutralizer(s);
    // ASCII is NFKC-stable, and most cells are ASCII: skip the normalizer and
    // the allocation entirely.
    if s.is_ascii() {
        return Cow::Borrowed(s.trim());
    }
    // Many Japanese cells (names, addresses in full-width kana/kanji) are
    // already NFKC; the quick check lets those stay borrowed too.
    if is_nfkc_quick(s.chars()) == IsNormalized::Yes {
        return Cow::Borrowed(s.trim());
    }
    let n: String = s.nfkc().collect();
    let trimmed = n.trim();
    if trimmed.len() == n.len() {
        Cow::Owned(n)
    } else {
        Cow::Owned(trimmed.to_owned())
    }
}

/// A leading `'` before `= + - @` (or tab, CR) is how our own CSV exports keep a
/// spreadsheet from running a cell (and how Excel marks text): it is not part of the value,
/// so an exported file imports again as it was keyed.
fn strip_neutralizer(s: &str) -> &str {
    match s.as_bytes() {
        [b'\'', b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r', ..] => &s[1..],
        _ => s,
    }
}

/// Dash-like characters that operators key where they mean a hyphen.
///
/// NFKC already maps U+FF0D (full-width hyphen-minus) to `-` and half-width
/// `ｰ` to `ー`, but leaves the typographic dashes and the katakana prolonged
/// sound mark alone, and IMEs produce all of them in number fields.
pub fn is_hyphen(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}' // ‐ hyphen
            | '\u{2011}' // ‑ non-breaking hyphen
            | '\u{2012}' // ‒ figure dash
            | '\u{2013}' // – en dash
            | '\u{2014}' // — em dash
            | '\u{2015}' // ― horizontal bar
            | '\u{2212}' // − minus sign
            | '\u{30FC}' // ー prolonged sound mark
            | '\u{FF0D}' // － full-width hyphen-minus (in case input skipped NFKC)
            | '\u{FF70}' // ｰ half-width prolonged sound mark
    )
}

/// Result of reading an integer cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntParse {
    Int(i64),
    /// Not a number at all, or out of `i64` range.
    NotANumber,
    /// A number with a non-zero fractional part (`8000.5`): reported
    /// separately because it is a keying error, not garbage.
    Fraction,
}

/// Parse an integer from an already-normalized cell.
///
/// Accepts an optional sign, `,` as a thousands separator in its right places
/// only (`8,000`, `1,234,567`; after NFKC also `１２，３４５`), and a zero fraction
/// (`8000.0`, which Excel exports for numeric cells). Ambiguous forms are
/// [`IntParse::NotANumber`]: commas elsewhere (`1,2,3` may be three values run
/// together, `8,0000` a slip of the finger) and a dot with three digits after
/// a short integer part (`8.000` is 8000 to a European eye and 8 to Excel);
/// [`why_not_a_number`] says which, for the message.
pub fn parse_int(s: &str) -> IntParse {
    // The common cell, plain digits that fit: no sign, grouping or fraction to look at.
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 18 && b.iter().all(u8::is_ascii_digit) {
        let v = b
            .iter()
            .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
        return IntParse::Int(v);
    }
    let s = s.trim();
    let mut chars = s.chars();
    let (negative, rest) = match chars.next() {
        Some('+') => (false, chars.as_str()),
        // U+2212 survives NFKC; treat it as the minus the operator meant.
        Some('-' | '\u{2212}') => (true, chars.as_str()),
        _ => (false, s),
    };
    let (int_part, frac_part) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if !valid_grouped_digits(int_part) {
        return IntParse::NotANumber;
    }
    if let Some(f) = frac_part {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return IntParse::NotANumber;
        }
        if dot_may_group_thousands(int_part, f) {
            return IntParse::NotANumber;
        }
        if f.bytes().any(|b| b != b'0') {
            return IntParse::Fraction;
        }
    }
    // Accumulate towards the sign so that i64::MIN is representable.
    let mut acc: i64 = 0;
    for b in int_part.bytes().filter(u8::is_ascii_digit) {
        let d = i64::from(b - b'0');
        let next = acc.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        });
        match next {
            Some(v) => acc = v,
            None => return IntParse::NotANumber,
        }
    }
    IntParse::Int(acc)
}

/// Non-empty ASCII digits, either plain or grouped by thousands with commas:
/// a first group of 1 to 3 digits, then groups of exactly 3 (`1,234,567`).
fn valid_grouped_digits(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    if !b.contains(&b',') {
        return b.iter().all(u8::is_ascii_digit);
    }
    let mut groups = s.split(',');
    let first = groups.next().unwrap_or("");
    (1..=3).contains(&first.len())
        && first.bytes().all(|c| c.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.bytes().all(|c| c.is_ascii_digit()))
}

/// `8.000`, `12.500`: a dot followed by exactly three digits after an integer
/// part of one to three digits (no commas) reads as a thousands separator in
/// much of Europe, and as a decimal point to Excel: refused as ambiguous.
fn dot_may_group_thousands(int_part: &str, frac: &str) -> bool {
    frac.len() == 3
        && (1..=3).contains(&int_part.len())
        && int_part.bytes().all(|c| c.is_ascii_digit())
}

/// Why a normalized cell that [`parse_int`] refuses is not read as a number,
/// when the cause is a misplaced separator rather than plain garbage: a
/// Japanese sentence the caller can put in its `*.not_a_number` message.
/// `None` for cells that are simply not numbers (or that [`parse_int`] accepts).
pub fn why_not_a_number(s: &str) -> Option<&'static str> {
    if !matches!(parse_int(s), IntParse::NotANumber) {
        return None;
    }
    let s = s.trim();
    let body = s.strip_prefix(['+', '-', '\u{2212}']).unwrap_or(s);
    let (int_part, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits_and_commas = |t: &str| {
        t.bytes().any(|c| c.is_ascii_digit()) && t.bytes().all(|c| c.is_ascii_digit() || c == b',')
    };
    if int_part.contains(',') && digits_and_commas(int_part) && !valid_grouped_digits(int_part) {
        return Some(
            "区切りのカンマ（,）の位置が3桁ごとになっていないため、どの数か決められません\
             （例: 1,2,3 は 123 とも 1・2・3 とも読めます）。カンマを外して数字だけで入力してください",
        );
    }
    if let Some(f) = frac {
        if valid_grouped_digits(int_part)
            && f.bytes().all(|c| c.is_ascii_digit())
            && dot_may_group_thousands(int_part, f)
        {
            return Some(
                "点（.）の後に3桁あるため、小数点か桁区切りか決められません\
                 （例: 8.000 は 8 とも 8000 とも読めます）。区切りを付けずに数字だけで入力してください",
            );
        }
    }
    None
}

/// Classify a numeric (float) spreadsheet cell the same way as [`parse_int`].
pub fn float_to_int(f: f64) -> IntParse {
    if !f.is_finite() {
        return IntParse::NotANumber;
    }
    if f.fract() != 0.0 {
        return IntParse::Fraction;
    }
    // i64::MAX is not representable as f64 (it rounds up to 2^63), so bound
    // by 2^63 exclusive, which is exactly -(i64::MIN).
    const LIMIT: f64 = -(i64::MIN as f64);
    if !(-LIMIT..LIMIT).contains(&f) {
        return IntParse::NotANumber;
    }
    // In range and integral, so the cast is exact.
    IntParse::Int(f as i64)
}

/// Furigana as full-width katakana, name parts separated by one U+3000.
///
/// Cards are keyed in hiragana, half-width katakana or full-width katakana
/// depending on the operator; the roster stores one form.
pub fn to_fullwidth_katakana(s: &str) -> String {
    let n = normalize(s);
    let mut out = String::with_capacity(n.len());
    let mut in_space = false;
    for c in n.chars() {
        if c.is_whitespace() {
            in_space = true;
            continue;
        }
        if in_space && !out.is_empty() {
            out.push('\u{3000}');
        }
        in_space = false;
        out.push(hiragana_to_katakana(c));
    }
    out
}

fn hiragana_to_katakana(c: char) -> char {
    let cp = u32::from(c);
    // U+3041..=U+3096 are the kana letters, U+309D/U+309E the iteration
    // marks ゝゞ; each sits exactly 0x60 below its katakana counterpart.
    if (0x3041..=0x3096).contains(&cp) || (0x309D..=0x309E).contains(&cp) {
        cp.checked_add(0x60).and_then(char::from_u32).unwrap_or(c)
    } else {
        c
    }
}

/// True if `s` is a non-empty furigana made only of full-width katakana
/// (U+30A0..=U+30FF, which includes ー and ・) and U+3000 separators.
pub fn is_katakana_name(s: &str) -> bool {
    let mut any_kana = false;
    for c in s.chars() {
        match c {
            '\u{30A0}'..='\u{30FF}' => any_kana = true,
            '\u{3000}' => {}
            _ => return false,
        }
    }
    any_kana
}

/// Japanese postal code as `NNN-NNNN`.
///
/// Accepts `1600022`, `160-0022`, `〒160-0022`, `〒 160－0022`, with any
/// hyphen variant (see [`is_hyphen`]); spaces are ignored.
pub fn normalize_postal(s: &str) -> Option<String> {
    let n = normalize(s);
    let body = n.strip_prefix('〒').unwrap_or(&n);
    let mut digits = [0u8; 7];
    let mut count = 0usize;
    let mut hyphen_at: Option<usize> = None;
    for c in body.chars() {
        if c.is_ascii_digit() {
            let slot = digits.get_mut(count)?;
            *slot = c as u8;
            count += 1;
        } else if is_hyphen(c) {
            if hyphen_at.is_some() {
                return None;
            }
            hyphen_at = Some(count);
        } else if !c.is_whitespace() {
            return None;
        }
    }
    if count != 7 || hyphen_at.is_some_and(|p| p != 3) {
        return None;
    }
    let mut out = String::with_capacity(8);
    for (i, &d) in digits.iter().enumerate() {
        if i == 3 {
            out.push('-');
        }
        out.push(char::from(d));
    }
    Some(out)
}

/// Japanese phone number (10 or 11 digits, leading 0), grouped as keyed.
///
/// Hyphen variants, spaces and parentheses all become `-` separators:
/// `03(1234)5678` -> `03-1234-5678`; `09012345678` stays ungrouped.
pub fn normalize_phone(s: &str) -> Option<String> {
    let n = normalize(s);
    let mut out = String::with_capacity(n.len());
    let mut digits = 0usize;
    let mut pending_sep = false;
    let mut last_was_hyphen = false;
    let mut in_paren = false;
    let mut digits_in_paren = 0usize;
    for c in n.chars() {
        if c.is_ascii_digit() {
            if pending_sep && !out.is_empty() {
                out.push('-');
            }
            pending_sep = false;
            last_was_hyphen = false;
            out.push(c);
            digits += 1;
            if in_paren {
                digits_in_paren += 1;
            }
            if digits > 11 {
                return None;
            }
            continue;
        }
        if is_hyphen(c) {
            // A hyphen must separate digit groups, not lead the number.
            if out.is_empty() {
                return None;
            }
            last_was_hyphen = true;
        } else if c == '(' {
            if in_paren {
                return None;
            }
            in_paren = true;
            digits_in_paren = 0;
        } else if c == ')' {
            if !in_paren || digits_in_paren == 0 {
                return None;
            }
            in_paren = false;
        } else if !c.is_whitespace() {
            return None;
        }
        pending_sep = true;
    }
    if in_paren || last_was_hyphen || !(10..=11).contains(&digits) || !out.starts_with('0') {
        return None;
    }
    Some(out)
}

/// Sex as recorded on the participant roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
    Other,
    NoAnswer,
}

impl Sex {
    pub fn as_ja(&self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Other => "その他",
            Sex::NoAnswer => "無回答",
        }
    }
}

fn eq_any(s: &str, words: &[&str]) -> bool {
    words.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// Parse a sex cell; `None` for anything unrecognized (including empty).
pub fn parse_sex(s: &str) -> Option<Sex> {
    let n = normalize(s);
    let n = n.as_ref();
    if eq_any(n, &["男", "男性", "m", "male"]) {
        Some(Sex::Male)
    } else if eq_any(n, &["女", "女性", "f", "female"]) {
        Some(Sex::Female)
    } else if eq_any(n, &["その他", "other"]) {
        Some(Sex::Other)
    } else if eq_any(n, &["無回答", "回答しない", "未回答"]) {
        Some(Sex::NoAnswer)
    } else {
        None
    }
}

/// How a participant records steps: the paper card or the smartphone app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Card,
    App,
}

impl Channel {
    pub fn as_ja(&self) -> &'static str {
        match self {
            Channel::Card => "台紙",
            Channel::App => "アプリ",
        }
    }
}

/// Parse a participation-channel cell; `None` if unrecognized.
pub fn parse_channel(s: &str) -> Option<Channel> {
    let n = normalize(s);
    let n = n.as_ref();
    if eq_any(
        n,
        &[
            "台紙",
            "紙",
            "紙台紙",
            "カード",
            "紙カード",
            "card",
            "paper",
        ],
    ) {
        Some(Channel::Card)
    } else if eq_any(
        n,
        &["アプリ", "app", "スマホ", "スマートフォン", "smartphone"],
    ) {
        Some(Channel::App)
    } else {
        None
    }
}

/// Deliberately simple e-mail shape check: one `@`, non-empty local part,
/// a dotted domain, no whitespace. Deliverability is not our concern.
pub fn is_email(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// Key used to match column headers: normalized, all whitespace removed,
/// ASCII lowercased (`参加者 番号` -> `参加者番号`).
pub fn header_key(s: &str) -> String {
    normalize(s)
        .chars()
        // A UTF-8 BOM or zero-width space on the first header cell is
        // invisible in Excel but would otherwise break the match.
        .filter(|&c| !c.is_whitespace() && c != '\u{FEFF}' && c != '\u{200B}')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralized_export_cells_read_back() {
        assert_eq!(normalize("'-1"), "-1");
        assert_eq!(normalize("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(normalize("'abc"), "'abc");
        assert_eq!(normalize("'"), "'");
    }

    #[test]
    fn normalize_ascii_is_borrowed_and_trimmed() {
        assert!(matches!(normalize("  8000 "), Cow::Borrowed("8000")));
        assert!(matches!(normalize(""), Cow::Borrowed("")));
    }

    #[test]
    fn normalize_nfkc_stable_japanese_is_borrowed() {
        assert!(matches!(normalize("佐藤 太郎"), Cow::Borrowed("佐藤 太郎")));
    }

    #[test]
    fn normalize_fullwidth() {
        assert_eq!(normalize("８，０００"), "8,000");
        assert_eq!(normalize("ＡＢＣ１２３"), "ABC123");
        assert_eq!(normalize("\u{3000}佐藤\u{3000}"), "佐藤");
        assert_eq!(normalize("\u{3000}\u{3000}"), "");
        assert_eq!(normalize("ｻﾄｳ"), "サトウ");
        assert_eq!(normalize("ｶﾞ"), "ガ");
        assert_eq!(normalize("－５"), "-5");
    }

    #[test]
    fn parse_int_forms() {
        assert_eq!(parse_int(&normalize("８，０００")), IntParse::Int(8000));
        assert_eq!(parse_int("8000"), IntParse::Int(8000));
        assert_eq!(parse_int("12,345,678"), IntParse::Int(12_345_678));
        assert_eq!(parse_int("1,234,567"), IntParse::Int(1_234_567));
        assert_eq!(parse_int(&normalize("１２，３４５")), IntParse::Int(12_345));
        assert_eq!(parse_int("-1,000"), IntParse::Int(-1000));
        assert_eq!(parse_int("8000.000"), IntParse::Int(8000));
        assert_eq!(parse_int("1,000.000"), IntParse::Int(1000));
        assert_eq!(parse_int("-5"), IntParse::Int(-5));
        assert_eq!(parse_int("+5"), IntParse::Int(5));
        assert_eq!(parse_int("\u{2212}5"), IntParse::Int(-5));
        assert_eq!(parse_int("0"), IntParse::Int(0));
        assert_eq!(parse_int("-0"), IntParse::Int(0));
        assert_eq!(parse_int("007"), IntParse::Int(7));
        assert_eq!(parse_int("8000.0"), IntParse::Int(8000));
        assert_eq!(parse_int("8000.00"), IntParse::Int(8000));
        assert_eq!(parse_int("8,000.0"), IntParse::Int(8000));
        assert_eq!(parse_int("8000.5"), IntParse::Fraction);
        assert_eq!(parse_int("8000.50"), IntParse::Fraction);
        assert_eq!(parse_int("-0.5"), IntParse::Fraction);
        assert_eq!(parse_int("9223372036854775807"), IntParse::Int(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), IntParse::Int(i64::MIN));
    }

    #[test]
    fn parse_int_rejects() {
        for s in [
            "",
            "abc",
            "8千",
            "+",
            "-",
            "--5",
            "+-5",
            ",8000",
            "8000,",
            "8,,000",
            "8,0000",
            "1,2,3",
            "12,34",
            "1234,567",
            "8.000",
            "-8.000",
            "12.500",
            "8000.",
            ".5",
            "8.0.0",
            "8.0,0",
            "1e5",
            "8 000",
            "0x10",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_int(s), IntParse::NotANumber, "{s:?}");
        }
    }

    #[test]
    fn misplaced_separators_say_why() {
        for s in ["1,2,3", "8,0000", "12,34", "1234,567", "1,2,3.0"] {
            let why = why_not_a_number(s).unwrap_or_default();
            assert!(why.contains("カンマ"), "{s:?}: {why}");
        }
        for s in ["8.000", "-8.000", "12.500", "999.000"] {
            let why = why_not_a_number(s).unwrap_or_default();
            assert!(why.contains("小数点か桁区切りか"), "{s:?}: {why}");
        }
        for s in ["8,000", "8000", "8.0", "abc", "", "8.5", "8千", "1e5"] {
            assert_eq!(why_not_a_number(s), None, "{s:?}");
        }
    }

    #[test]
    fn float_to_int_cases() {
        assert_eq!(float_to_int(8000.0), IntParse::Int(8000));
        assert_eq!(float_to_int(-3.0), IntParse::Int(-3));
        assert_eq!(float_to_int(-0.0), IntParse::Int(0));
        assert_eq!(float_to_int(8000.5), IntParse::Fraction);
        assert_eq!(float_to_int(f64::NAN), IntParse::NotANumber);
        assert_eq!(float_to_int(f64::INFINITY), IntParse::NotANumber);
        assert_eq!(float_to_int(f64::NEG_INFINITY), IntParse::NotANumber);
        assert_eq!(float_to_int(1e19), IntParse::NotANumber);
        assert_eq!(float_to_int(i64::MAX as f64), IntParse::NotANumber);
        assert_eq!(float_to_int(i64::MIN as f64), IntParse::Int(i64::MIN));
    }

    #[test]
    fn katakana_conversion() {
        assert_eq!(to_fullwidth_katakana("ｻﾄｳ ﾀﾛｳ"), "サトウ\u{3000}タロウ");
        assert_eq!(
            to_fullwidth_katakana("さとう　たろう"),
            "サトウ\u{3000}タロウ"
        );
        assert_eq!(
            to_fullwidth_katakana("  さとう \u{3000}  たろう  "),
            "サトウ\u{3000}タロウ"
        );
        assert_eq!(
            to_fullwidth_katakana("ｶﾞｯｺｳ ﾀﾞｲｽｹ"),
            "ガッコウ\u{3000}ダイスケ"
        );
        assert_eq!(to_fullwidth_katakana("ゔぁ ゝ"), "ヴァ\u{3000}ヽ");
        assert_eq!(to_fullwidth_katakana("ｺｰﾋｰ"), "コーヒー");
        assert_eq!(to_fullwidth_katakana("サトウ"), "サトウ");
        assert_eq!(to_fullwidth_katakana(""), "");
    }

    #[test]
    fn katakana_name_check() {
        assert!(is_katakana_name("サトウ\u{3000}タロウ"));
        assert!(is_katakana_name("コーヒー"));
        assert!(!is_katakana_name("サトウ タロウ"));
        assert!(!is_katakana_name("さとう"));
        assert!(!is_katakana_name("佐藤"));
        assert!(!is_katakana_name("ｻﾄｳ"));
        assert!(!is_katakana_name(""));
        assert!(!is_katakana_name("\u{3000}"));
    }

    #[test]
    fn postal_codes() {
        for s in [
            "1600022",
            "160-0022",
            "〒160-0022",
            "〒 160－0022",
            "１６０－００２２",
            "160ー0022",
            "160‐0022",
            "160‑0022",
            "160–0022",
            "160—0022",
            "160−0022",
            " 160 - 0022 ",
        ] {
            assert_eq!(normalize_postal(s).as_deref(), Some("160-0022"), "{s:?}");
        }
        for s in [
            "",
            "160002",
            "16000222",
            "1600-022",
            "16-00022",
            "160--0022",
            "160-0022-",
            "abc-defg",
            "〒",
            "160_0022",
        ] {
            assert_eq!(normalize_postal(s), None, "{s:?}");
        }
    }

    #[test]
    fn phones() {
        let ok = [
            ("03-1234-5678", "03-1234-5678"),
            ("03(1234)5678", "03-1234-5678"),
            ("(03)1234-5678", "03-1234-5678"),
            ("０３（１２３４）５６７８", "03-1234-5678"),
            ("03 1234 5678", "03-1234-5678"),
            ("0312345678", "0312345678"),
            ("090-1234-5678", "090-1234-5678"),
            ("09012345678", "09012345678"),
            ("090ー1234ー5678", "090-1234-5678"),
            ("090−1234−5678", "090-1234-5678"),
            ("0120-123-456", "0120-123-456"),
        ];
        for (input, want) in ok {
            assert_eq!(normalize_phone(input).as_deref(), Some(want), "{input:?}");
        }
        for s in [
            "",
            "3-1234-5678",
            "123456789",
            "031234567",
            "090123456789",
            "-03-1234-5678",
            "03-1234-5678-",
            "03((1234)5678",
            "03)1234(5678",
            "03()12345678",
            "03(1234-5678",
            "+81-3-1234-5678",
            "03-1234-567x",
        ] {
            assert_eq!(normalize_phone(s), None, "{s:?}");
        }
    }

    #[test]
    fn sex_parsing() {
        for s in ["男", "男性", "M", "m", "male", "Male", "Ｍ", " 男 "] {
            assert_eq!(parse_sex(s), Some(Sex::Male), "{s:?}");
        }
        for s in ["女", "女性", "F", "f", "female", "FEMALE"] {
            assert_eq!(parse_sex(s), Some(Sex::Female), "{s:?}");
        }
        for s in ["その他", "other", "Other"] {
            assert_eq!(parse_sex(s), Some(Sex::Other), "{s:?}");
        }
        for s in ["無回答", "回答しない", "未回答"] {
            assert_eq!(parse_sex(s), Some(Sex::NoAnswer), "{s:?}");
        }
        for s in ["", "x", "男女", "1"] {
            assert_eq!(parse_sex(s), None, "{s:?}");
        }
        assert_eq!(Sex::Male.as_ja(), "男");
        assert_eq!(Sex::Female.as_ja(), "女");
        assert_eq!(Sex::Other.as_ja(), "その他");
        assert_eq!(Sex::NoAnswer.as_ja(), "無回答");
    }

    #[test]
    fn channel_parsing() {
        for s in ["台紙", "紙", "card", "CARD", "カード", "ｶｰﾄﾞ", "paper"] {
            assert_eq!(parse_channel(s), Some(Channel::Card), "{s:?}");
        }
        for s in ["アプリ", "ｱﾌﾟﾘ", "app", "App", "スマホ"] {
            assert_eq!(parse_channel(s), Some(Channel::App), "{s:?}");
        }
        assert_eq!(parse_channel(""), None);
        assert_eq!(parse_channel("web"), None);
        assert_eq!(Channel::Card.as_ja(), "台紙");
        assert_eq!(Channel::App.as_ja(), "アプリ");
    }

    #[test]
    fn emails() {
        assert!(is_email("taro@example.jp"));
        assert!(is_email("a.b+c@mail.example.co.jp"));
        for s in [
            "",
            "taro",
            "@example.jp",
            "taro@",
            "taro@example",
            "taro@@example.jp",
            "ta@ro@example.jp",
            "taro @example.jp",
            "taro@.example.jp",
            "taro@example.jp.",
            "taro@example..jp",
        ] {
            assert!(!is_email(s), "{s:?}");
        }
    }

    #[test]
    fn header_keys() {
        assert_eq!(header_key("参加者 番号"), "参加者番号");
        assert_eq!(header_key(" Participant_ID "), "participant_id");
        assert_eq!(header_key("参加者\u{3000}番号"), "参加者番号");
        assert_eq!(header_key("\u{FEFF}参加者番号"), "参加者番号");
        assert_eq!(header_key("ＩＤ"), "id");
        assert_eq!(header_key("フリ ガナ"), "フリガナ");
        assert_eq!(header_key("ﾌﾘｶﾞﾅ"), "フリガナ");
    }
}
