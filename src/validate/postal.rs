//! 郵便番号 ↔ 住所: whether the postal code exists and names the address's prefecture
//! and city (the commonest keying slip that returns a parcel). Pure: the answer and its
//! message; the roster check places it at the cell.

use crate::postal::{self, Agreement};

/// A postal code that disagrees with its address: which cell, the code, the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slip {
    /// `true`: the postal code's cell; `false`: the address's.
    pub at_postal_code: bool,
    pub code: &'static str,
    pub message: String,
}

/// Check a normalised postal code (`NNN-NNNN`) against its address.
pub fn check(postal_code: &str, address: &str) -> Option<Slip> {
    match postal::agreement(postal_code, address) {
        Agreement::Agrees => None,
        Agreement::Unknown => Some(Slip {
            at_postal_code: true,
            code: "postal_code.unknown",
            message: format!(
                "郵便番号 {postal_code} は日本郵便の郵便番号データ（{}）にありません。郵便番号を確かめて直してください",
                postal::snapshot()
            ),
        }),
        Agreement::Mismatch(places) => {
            let mut names: Vec<String> = places.iter().map(|p| p.label()).collect();
            names.dedup();
            let more = names.len().saturating_sub(3);
            names.truncate(3);
            Some(Slip {
                at_postal_code: false,
                code: "address.postal_mismatch",
                message: format!(
                    "住所の都道府県・市区町村が郵便番号 {postal_code} の地域（{}{}）と合いません。郵便番号か住所のどちらかを直してください（郵便番号データ: {}）",
                    names.join("、"),
                    if more > 0 { format!(" ほか {more} か所") } else { String::new() },
                    postal::snapshot()
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slip_is_found_and_the_expected_place_named() {
        assert_eq!(check("160-0023", "東京都新宿区西新宿2-8-1"), None);
        let s = check("160-0023", "東京都渋谷区道玄坂1-2-3").unwrap();
        assert_eq!(s.code, "address.postal_mismatch");
        assert!(!s.at_postal_code);
        assert!(s.message.contains("東京都新宿区西新宿"), "{}", s.message);
        let s = check("999-9999", "東京都新宿区").unwrap();
        assert_eq!(s.code, "postal_code.unknown");
        assert!(s.at_postal_code);
    }
}
