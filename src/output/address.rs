//! Japanese addresses as slips and labels need them: the building split from the
//! street, and lines wrapped at the points a person would break them (after a space,
//! after 都道府県・市区町村, after 丁目・番・号), never inside a house number like
//! `5-18-3` unless nothing else fits. Pure functions; both the carrier files (widths
//! in CP932 bytes) and the labels (widths in ems) use them.

/// Street and building. The roster's 方書 (address2) is the building when given; when
/// it is empty and the address holds the building after a space following the house
/// number (`…8番13号 戸山コーポ808号室`), that part is the building. Nothing is dropped:
/// street + building is always the whole text.
pub fn split_building(address: &str, address2: Option<&str>) -> (String, Option<String>) {
    let address = address.trim();
    if let Some(b) = address2.map(str::trim).filter(|b| !b.is_empty()) {
        return (address.to_string(), Some(b.to_string()));
    }
    let chars: Vec<char> = address.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if !c.is_whitespace() || i == 0 {
            continue;
        }
        let before = chars[i - 1];
        let ends_number = before.is_ascii_digit()
            || matches!(before, '号' | '番' | '地')
            || (before == '目' && i >= 2 && chars[i - 2] == '丁');
        if ends_number {
            let street: String = chars[..i].iter().collect();
            let building: String = chars[i + 1..].iter().collect();
            let building = building.trim();
            if !building.is_empty() {
                return (street.trim().to_string(), Some(building.to_string()));
            }
        }
    }
    (address.to_string(), None)
}

/// Part of a house number or a Latin word: not broken inside.
fn in_run(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | '&' | '\'')
}

/// Characters a line must not start with (行頭禁則).
fn no_line_start(c: char) -> bool {
    matches!(
        c,
        'ー' | 'ッ'
            | 'ャ'
            | 'ュ'
            | 'ョ'
            | 'ァ'
            | 'ィ'
            | 'ゥ'
            | 'ェ'
            | 'ォ'
            | 'っ'
            | 'ゃ'
            | 'ゅ'
            | 'ょ'
            | '、'
            | '。'
            | '）'
            | ')'
            | '」'
            | '・'
            | '々'
            | '-'
            | '号'
            | '番'
            | '丁'
            | '階'
            | '室'
    )
}

/// How good a break before `chars[p]` is: 3 at a space, 2 after an address unit,
/// 1 anywhere not inside a run or before a character that cannot start a line, 0 not
/// allowed.
fn break_quality(chars: &[char], p: usize) -> u8 {
    let (a, b) = (chars[p - 1], chars[p]);
    if a.is_whitespace() || b.is_whitespace() {
        return 3;
    }
    if no_line_start(b) || (in_run(a) && in_run(b)) {
        return 0;
    }
    if matches!(
        a,
        '都' | '道' | '府' | '県' | '市' | '区' | '郡' | '町' | '村' | '目' | '番' | '号' | '地'
    ) {
        return 2;
    }
    1
}

/// Wrap `text` into lines no wider than `max`, each character measured by `width`.
/// Breaks at the best point that keeps a line at least half full; a run that fits
/// nowhere is broken where it must be, so no text is ever dropped. A single character
/// wider than `max` gets a line of its own (the caller sees the overflow).
pub fn wrap_by(text: &str, max: f64, width: impl Fn(char) -> f64) -> Vec<String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let n = chars.len();
    let mut lines = Vec::new();
    let mut start = 0usize;
    while start < n {
        while start < n && chars[start].is_whitespace() {
            start += 1;
        }
        if start >= n {
            break;
        }
        let mut used = 0.0;
        let mut end = start;
        while end < n && used + width(chars[end]) <= max + 1e-9 {
            used += width(chars[end]);
            end += 1;
        }
        if end == n {
            lines.push(
                chars[start..]
                    .iter()
                    .collect::<String>()
                    .trim_end()
                    .to_string(),
            );
            break;
        }
        if end == start {
            end = start + 1;
        } else {
            // The latest good break that keeps the line at least half full, else the
            // latest acceptable one, else exactly where the width ran out.
            let mut best: Option<(u8, usize)> = None;
            let mut w = 0.0;
            let mut widths = Vec::with_capacity(end - start);
            for &c in &chars[start..end] {
                w += width(c);
                widths.push(w);
            }
            for p in (start + 1)..=end {
                let q = break_quality(&chars, p);
                if q == 0 {
                    continue;
                }
                let filled = widths[p - start - 1];
                let score = if q >= 2 && filled >= max * 0.5 { 2 } else { 1 };
                if best.is_none_or(|(s, _)| score >= s) {
                    best = Some((score, p));
                }
            }
            if let Some((_, p)) = best {
                end = p;
            }
        }
        lines.push(
            chars[start..end]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string(),
        );
        start = end;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(c: char) -> f64 {
        if c.is_ascii() {
            1.0
        } else {
            2.0
        }
    }

    #[test]
    fn building_comes_from_address2_or_after_the_house_number() {
        assert_eq!(
            split_building("東京都新宿区神楽坂5丁目8番13号 戸山コーポ808号室", None),
            (
                "東京都新宿区神楽坂5丁目8番13号".to_string(),
                Some("戸山コーポ808号室".to_string())
            )
        );
        assert_eq!(
            split_building("東京都 新宿区 西新宿2-8-1 都庁ハイツ 3F", None),
            (
                "東京都 新宿区 西新宿2-8-1".to_string(),
                Some("都庁ハイツ 3F".to_string())
            )
        );
        assert_eq!(
            split_building("東京都新宿区四谷2丁目18番13号", Some("")),
            ("東京都新宿区四谷2丁目18番13号".to_string(), None)
        );
        assert_eq!(
            split_building("東京都新宿区四谷2-1", Some("ハイツ101")),
            (
                "東京都新宿区四谷2-1".to_string(),
                Some("ハイツ101".to_string())
            )
        );
    }

    #[test]
    fn wraps_after_address_units_and_never_inside_a_house_number() {
        let lines = wrap_by("東京都新宿区早稲田鶴巻町27番8号", 20.0, bytes);
        assert_eq!(lines, vec!["東京都新宿区", "早稲田鶴巻町27番8号"]);
        let lines = wrap_by("東京都新宿区西新宿2-8-1-1234", 24.0, bytes);
        assert_eq!(lines, vec!["東京都新宿区", "西新宿2-8-1-1234"]);
        let lines = wrap_by("西新宿2-8-1-1234", 12.0, bytes);
        assert_eq!(lines, vec!["西新宿", "2-8-1-1234"]);
        // Nothing is lost whatever the width.
        for max in [4.0, 7.0, 13.0, 50.0] {
            let text = "北海道札幌市中央区北一条西2丁目1番地 札幌ハイツ1001号室";
            let joined: String = wrap_by(text, max, bytes).concat();
            assert_eq!(joined.replace(' ', ""), text.replace(' ', ""), "{max}");
            for l in wrap_by(text, max, bytes) {
                assert!(l.chars().map(bytes).sum::<f64>() <= max, "{l} {max}");
            }
        }
    }

    #[test]
    fn a_run_longer_than_a_line_is_broken_where_it_must() {
        let lines = wrap_by("ABCDEFGHIJ", 4.0, bytes);
        assert_eq!(lines, vec!["ABCD", "EFGH", "IJ"]);
        assert!(wrap_by("", 4.0, bytes).is_empty());
    }
}
