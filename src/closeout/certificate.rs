//! The erasure certificate (消去証明書): what it says, in the words and order it says it;
//! `output::certificate` lays it out. The document itself: one A4 portrait page in Japanese, laid out as a
//! municipal contractor's certificate is (number and date top right, addressee, the
//! contractor and its responsible handler with a box for the seal, the title, 記 and
//! numbered items, 以上, and the municipality's confirmation box), ready to print and
//! stamp. Every item comes from the erasure record; nothing here is personal data.

/// 2026-03-31T10:00:00+09:00 -> 令和8年3月31日 10時00分.
pub fn ja_datetime(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => format!(
            "{} {}",
            crate::sheet::date::wareki(t.date_naive()),
            t.format("%H時%M分")
        ),
        Err(_) => s.to_string(),
    }
}

/// 2026-03-31 -> 令和8年3月31日.
pub fn ja_date(s: &str) -> String {
    match chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d") {
        Ok(d) => crate::sheet::date::wareki(d),
        Err(_) => s.to_string(),
    }
}

pub fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// The order of categories on the certificate: participants' own data first.
pub fn category_rank(table: &str) -> (usize, String) {
    const ORDER: &[&str] = &[
        "participants",
        "participant_history",
        "steps",
        "steps_history",
        "orders",
        "shipments",
        "mailings",
        "guidance_mailed",
        "survey_answers",
        "rejected_rows",
        "problems",
        "batches",
        "exports",
        "audit_log",
        "meta",
    ];
    match ORDER.iter().position(|t| *t == table) {
        Some(i) => (i, String::new()),
        // A table this version does not know: after the participants' data, before
        // the tool's own records.
        None => (
            ORDER
                .iter()
                .position(|t| *t == "rejected_rows")
                .unwrap_or(0)
                .saturating_sub(1),
            table.to_string(),
        ),
    }
}

/// 新宿区 -> 区, 横浜市 -> 市 (the 貴区 / 貴市 of the statement).
pub fn municipality_kind(m: &str) -> String {
    match m.trim().chars().last() {
        Some(c @ ('区' | '市' | '町' | '村' | '都' | '道' | '府' | '県')) => c.to_string(),
        _ => "団体".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_dates_and_numbers() {
        assert_eq!(
            ja_datetime("2026-03-31T10:05:00+09:00"),
            "令和8年3月31日 10時05分"
        );
        assert_eq!(ja_date("2025-05-14"), "令和7年5月14日");
        assert_eq!(municipality_kind("新宿区"), "区");
    }
}
