//! CP932 (Shift_JIS as Windows and the carriers' slip software read it): what can be
//! encoded, how long a value is in bytes, and which characters only some printers and
//! carrier systems show. Used before anything is written, so a name the carrier file
//! cannot hold is reported with its participant instead of being replaced by `?`.
//!
//! The encoder is `encoding_rs::SHIFT_JIS` (the WHATWG Shift_JIS, which is CP932
//! including the NEC and IBM extensions). Six characters differ between the JIS X 0208
//! mapping and Microsoft's: a WAVE DASH `〜` keyed on a Mac is the same JIS character as
//! CP932's `～`. [`jis_compat`] maps those six to their CP932 form; that is the same
//! character under the other mapping table, not a replacement, and the count is shown.

use std::borrow::Cow;

/// The JIS X 0208 code points whose CP932 mapping is another Unicode character.
const JIS_TO_CP932: [(char, char); 6] = [
    ('\u{301C}', '\u{FF5E}'), // 〜 WAVE DASH -> ～ FULLWIDTH TILDE
    ('\u{2014}', '\u{2015}'), // — EM DASH -> ― HORIZONTAL BAR
    ('\u{2016}', '\u{2225}'), // ‖ DOUBLE VERTICAL LINE -> ∥ PARALLEL TO
    ('\u{00A2}', '\u{FFE0}'), // ¢ -> ￠
    ('\u{00A3}', '\u{FFE1}'), // £ -> ￡
    ('\u{00AC}', '\u{FFE2}'), // ¬ -> ￢
];

/// The text with the six JIS/CP932 mapping differences resolved to CP932's form.
pub fn jis_compat(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| JIS_TO_CP932.iter().any(|(j, _)| *j == c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                JIS_TO_CP932
                    .iter()
                    .find(|(j, _)| *j == c)
                    .map(|(_, w)| *w)
                    .unwrap_or(c)
            })
            .collect(),
    )
}

/// How many characters [`jis_compat`] changes.
pub fn jis_compat_count(s: &str) -> usize {
    s.chars()
        .filter(|c| JIS_TO_CP932.iter().any(|(j, _)| j == c))
        .count()
}

/// A character CP932 cannot hold, with its 1-based position in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unencodable {
    pub ch: char,
    pub pos: usize,
}

impl Unencodable {
    pub fn code_point(&self) -> String {
        format!("U+{:04X}", self.ch as u32)
    }
}

fn encodes(c: char) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4];
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf));
    (!bad).then(|| bytes.into_owned())
}

/// Every character of `s` that CP932 cannot encode (after [`jis_compat`]).
pub fn unencodable(s: &str) -> Vec<Unencodable> {
    jis_compat(s)
        .chars()
        .enumerate()
        .filter(|(_, c)| !c.is_ascii() && encodes(*c).is_none())
        .map(|(i, ch)| Unencodable { ch, pos: i + 1 })
        .collect()
}

/// Length in CP932 bytes (after [`jis_compat`]); a character that cannot be encoded
/// counts as 2, as it would if the operator replaced it with a JIS character.
pub fn byte_len(s: &str) -> usize {
    jis_compat(s)
        .chars()
        .map(|c| {
            if c.is_ascii() {
                1
            } else {
                encodes(c).map(|b| b.len()).unwrap_or(2)
            }
        })
        .sum()
}

/// Encode text already checked with [`unencodable`]. Returns None if a character
/// cannot be encoded after all (the caller reports; nothing is replaced).
pub fn encode(s: &str) -> Option<Vec<u8>> {
    let text = jis_compat(s);
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(&text);
    (!bad).then(|| bytes.into_owned())
}

/// Characters from the NEC special row and the IBM extensions (①, ㈱, Ⅰ, 髙, 﨑 …):
/// valid CP932, but outside JIS X 0208, so some carrier systems and printers show
/// them as blanks. Reported as a warning.
pub fn vendor_chars(s: &str) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in jis_compat(s).chars() {
        let vendor = !c.is_ascii()
            && encodes(c).is_some_and(|b| {
                matches!(b.first(), Some(0x87 | 0xED | 0xEE | 0xFA | 0xFB | 0xFC))
            });
        if vendor && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_outside_cp932_are_found_with_their_position() {
        assert_eq!(
            unencodable("𠮷田 太郎"),
            vec![Unencodable { ch: '𠮷', pos: 1 }]
        );
        let found: Vec<char> = unencodable("1丁目😀㉑繫é").iter().map(|u| u.ch).collect();
        assert_eq!(found, vec!['😀', '㉑', '繫', 'é']);
        assert_eq!(unencodable("𠮷")[0].code_point(), "U+20BB7");
        assert!(unencodable("東京都新宿区西新宿2-8-1 ①㈱髙﨑ｱ～−").is_empty());
    }

    #[test]
    fn the_jis_wave_dash_is_the_cp932_tilde() {
        assert!(unencodable("1〜3").is_empty());
        assert_eq!(jis_compat("1〜3—"), "1～3―");
        assert_eq!(jis_compat_count("1〜3—x"), 2);
        assert_eq!(encode("〜").unwrap(), vec![0x81, 0x60]);
    }

    #[test]
    fn lengths_are_counted_in_cp932_bytes() {
        assert_eq!(byte_len("abc"), 3);
        assert_eq!(byte_len("山田"), 4);
        assert_eq!(byte_len("160-0022"), 8);
        assert_eq!(byte_len("ｱ"), 1);
        assert_eq!(byte_len("𠮷"), 2);
    }

    #[test]
    fn vendor_characters_are_flagged() {
        assert_eq!(vendor_chars("髙橋①丁目髙"), vec!['髙', '①']);
        assert!(vendor_chars("高橋1丁目").is_empty());
    }
}
