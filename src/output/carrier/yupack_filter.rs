//! 日本郵便 ゆうパックプリントR, custom-filter file (`--format yupack-filter`).
//!
//! stepcard's own headed layout, imported through a filter (取込みフィルタ) the operator
//! builds once in ゆうパックプリントR, mapping its headed columns. Kept as an option
//! beside the standard positional layout (`yupack.rs`) because it carries the sender
//! and the item, whose positions in the standard layout no source confirms; the columns follow its 発送予定データ layout: 住所 in three 50-byte
//! lines, 名称 in two 50-byte lines, 郵便種別 0 = ゆうパック, 保冷種別 0, 元払 0, 敬称
//! code 1 = 様, dates as yyyymmdd.

use super::{
    cp932, h, into_fields, item_code, item_text, t, Carrier, Column, Info, Row, Sender,
    SENDER_ADDRESS, SENDER_NAME, SENDER_PHONE, SENDER_POSTAL,
};

pub struct YupackFilter;

const ADDRESS: [&str; 3] = ["お届け先住所1", "お届け先住所2", "お届け先住所3"];
const NAME: [&str; 2] = ["お届け先名称1", "お届け先名称2"];
const SENDER_ADDRESS_LINES: [&str; 3] = ["ご依頼主住所1", "ご依頼主住所2", "ご依頼主住所3"];
const ITEM: &str = "品名";

impl Carrier for YupackFilter {
    fn info(&self) -> &'static Info {
        &Info {
            id: "yupack-filter",
            as_ja: "ゆうパックプリントR（取込みフィルタ）",
            help: "ゆうパックプリントR 取込みフィルタ用 CSV (見出し行つき・ご依頼主と品名を含む; フィルタを一度作成)",
            file_ja: "ゆうパックプリントR取込みフィルタ用 CSV (CP932)",
            columns: &YUPACK_COLUMNS,
            header: true,
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
        let mut item = p.items.first().map(item_text).unwrap_or_default();
        if p.items.len() > 1 {
            item = format!("{item} ほか{}点", p.items.len() - 1);
        }
        let item_max = self.max_bytes(ITEM);
        if cp932::byte_len(&item) > item_max {
            let short = format!(
                "景品{}{}",
                p.items.first().map(item_code).unwrap_or_default(),
                if p.items.len() > 1 {
                    format!(" ほか{}点", p.items.len() - 1)
                } else {
                    String::new()
                }
            );
            row.notes.push(format!(
                "{}: 景品名が品名欄（{item_max} バイト）に入らないため、景品コードで書きました",
                p.participant_id
            ));
            item = short;
        }
        let memo: Vec<String> = p.items.iter().map(item_code).collect();
        vec![
            ("お客様側管理番号", to.key.clone()),
            ("発送予定日", row.date.format("%Y%m%d").to_string()),
            ("郵便種別", "0".into()),
            ("保冷種別", "0".into()),
            ("元/着払/代引", "0".into()),
            ("お届け先郵便番号", to.postal.clone()),
            (ADDRESS[0], lines[0].clone()),
            (ADDRESS[1], lines[1].clone()),
            (ADDRESS[2], lines[2].clone()),
            (NAME[0], names[0].clone()),
            (NAME[1], names.get(1).cloned().unwrap_or_default()),
            // Exporters write 0 for an ordinary recipient; no primary source gives the
            // code for 様 (see yupack.rs).
            ("お届け先敬称", "0".into()),
            ("お届け先電話番号", to.phone.clone()),
            (ITEM, item),
            ("個数", "1".into()),
            ("記事", memo.join(" ")),
        ]
    }

    fn sender_values(&self, s: &Sender) -> Vec<(&'static str, String, &'static str)> {
        let n = SENDER_ADDRESS_LINES.len();
        let lines = into_fields(
            &[&s.address, s.address2.as_deref().unwrap_or("")],
            self.max_bytes(SENDER_ADDRESS_LINES[0]),
            n,
        )
        .unwrap_or_else(|| vec![s.address.clone(), String::new(), String::new()]);
        vec![
            ("ご依頼主郵便番号", s.postal_code.clone(), SENDER_POSTAL),
            (SENDER_ADDRESS_LINES[0], lines[0].clone(), SENDER_ADDRESS),
            (SENDER_ADDRESS_LINES[1], lines[1].clone(), SENDER_ADDRESS),
            (SENDER_ADDRESS_LINES[2], lines[2].clone(), SENDER_ADDRESS),
            ("ご依頼主名称1", s.name.clone(), SENDER_NAME),
            ("ご依頼主電話番号", s.phone.clone(), SENDER_PHONE),
        ]
    }
}

/// ゆうパックプリントR 外部データ取込 (columns mapped once with a 取込みフィルタ).
pub const YUPACK_COLUMNS: [Column; 22] = [
    h("お客様側管理番号", 15),
    h("発送予定日", 8),
    h("郵便種別", 1),
    h("保冷種別", 1),
    h("元/着払/代引", 1),
    h("お届け先郵便番号", 8),
    t("お届け先住所1", 50),
    t("お届け先住所2", 50),
    t("お届け先住所3", 50),
    t("お届け先名称1", 50),
    t("お届け先名称2", 50),
    h("お届け先敬称", 1),
    h("お届け先電話番号", 15),
    h("ご依頼主郵便番号", 8),
    t("ご依頼主住所1", 50),
    t("ご依頼主住所2", 50),
    t("ご依頼主住所3", 50),
    t("ご依頼主名称1", 50),
    h("ご依頼主電話番号", 15),
    t("品名", 32),
    h("個数", 3),
    t("記事", 50),
];
