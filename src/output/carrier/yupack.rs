//! 日本郵便 ゆうパックプリントR, 外部データ取込 standard layout (`--format yupack`).
//!
//! Positional, no header row, CP932, CRLF. The positions and codes below are those of
//! the standard 外部データ取込 layout as independent exporters agree on them (see
//! `SPEC.md`, "Real-world references"); **no primary document from 日本郵便 could be
//! consulted**, and each value says its source:
//!
//! | pos | column | value | source |
//! |---|---|---|---|
//! | 1 | お客様側管理番号 (15) | shipment-participant | exporters |
//! | 2 | 発送予定日 (yyyymmdd) | `--ship-date` | exporters |
//! | 6 | 郵便種別 | 0 = ゆうパック | exporters |
//! | 7 | 保冷 | 0 = 保冷なし | exporters |
//! | 8 | 元払/着払/代引 | 0 = 元払 | exporters |
//! | 11 | 送り状種別 | 0 | **unconfirmed**: no source gives the codes; 0 is assumed |
//! | 13 | お届け先郵便番号 (XXX-XXXX) | roster | exporters |
//! | 14–16 | お届け先住所1–3 (50 bytes each) | roster, split at sensible breaks | exporters |
//! | 17–18 | お届け先名称1–2 (50) | roster | exporters |
//! | 19 | 敬称 | 0 | **unconfirmed**: exporters write 0 for ordinary recipients |
//! | 20 | お届け先電話番号 (20) | roster | exporters |
//!
//! Positions 3–5, 9–10 and 12 are left empty; the sender (ご依頼主) and the item are
//! not in the positions any source confirms, so they come from ゆうパックプリントR's
//! registered ご依頼主 and are set there. Where that does not suit, `--format
//! yupack-filter` writes stepcard's headed file with sender and item, for a 取込みフィルタ
//! built once in the software.

use super::{h, t, Carrier, Column, Info, Row, Sender};

pub struct Yupack;

const ADDRESS: [&str; 3] = ["お届け先住所1", "お届け先住所2", "お届け先住所3"];
const NAME: [&str; 2] = ["お届け先名称1", "お届け先名称2"];

impl Carrier for Yupack {
    fn info(&self) -> &'static Info {
        &Info {
            id: "yupack",
            as_ja: "ゆうパックプリントR",
            help: "ゆうパックプリントR 外部データ取込 標準レイアウト (位置指定・見出し行なし・CP932; 送り状種別と敬称のコードは一次資料で未確認、ご依頼主・品名はソフト側の登録を使用)",
            file_ja: "ゆうパックプリントR取込み用 CSV (標準レイアウト, CP932)",
            columns: &YUPACK_COLUMNS,
            header: false,
        }
    }
    fn row_values(&self, row: &mut Row<'_>) -> Vec<(&'static str, String)> {
        let (to, p) = (row.to, row.parcel);
        row.notes.extend(super::prefecture_note(to, &p.participant_id));
        let (lines, names) = super::address_and_name_lines(
            row,
            self.max_bytes(ADDRESS[0]),
            ADDRESS.len(),
            self.max_bytes(NAME[0]),
            NAME.len(),
        );
        vec![
            ("お客様側管理番号", to.key.clone()),
            ("発送予定日", row.date.format("%Y%m%d").to_string()),
            ("郵便種別", "0".into()),
            ("保冷", "0".into()),
            ("元払/着払/代引", "0".into()),
            ("送り状種別", "0".into()),
            ("お届け先郵便番号", to.postal.clone()),
            (ADDRESS[0], lines[0].clone()),
            (ADDRESS[1], lines[1].clone()),
            (ADDRESS[2], lines[2].clone()),
            (NAME[0], names[0].clone()),
            (NAME[1], names.get(1).cloned().unwrap_or_default()),
            ("敬称", "0".into()),
            ("お届け先電話番号", to.phone.clone()),
        ]
    }

    fn sender_values(&self, _s: &Sender) -> Vec<(&'static str, String, &'static str)> {
        Vec::new()
    }
}

/// The standard 外部データ取込 layout, positions 1–20 (empty positions are 予備).
pub const YUPACK_COLUMNS: [Column; 20] = [
    h("お客様側管理番号", 15),
    h("発送予定日", 8),
    h("予備", 0),
    h("予備", 0),
    h("予備", 0),
    h("郵便種別", 1),
    h("保冷", 1),
    h("元払/着払/代引", 1),
    h("予備", 0),
    h("予備", 0),
    h("送り状種別", 1),
    h("予備", 0),
    h("お届け先郵便番号", 8),
    t("お届け先住所1", 50),
    t("お届け先住所2", 50),
    t("お届け先住所3", 50),
    t("お届け先名称1", 50),
    t("お届け先名称2", 50),
    h("敬称", 1),
    h("お届け先電話番号", 20),
];
