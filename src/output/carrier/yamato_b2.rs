//! ヤマト運輸 送り状発行システム B2クラウド (外部データ取込み).
//!
//! Source: the column order and names of 「B2クラウド 送り状発行データレイアウト
//! 入出力用」 (new_exchange1.pdf), 97 columns, as also used by third-party exporters;
//! lengths as there in 半角 characters (全角 counts 2), e.g. お届け先住所 64 (checked in
//! its parts, see [`b2_address`]),
//! アパートマンション名 32, お届け先名 32, 品名 50, 記事 44. 送り状種類 0 = 発払い,
//! クール区分 0 = 通常. B2 accepts JIS level 1 and 2 kanji only, so NEC/IBM extension
//! characters (①, 髙) are warned about.

use super::{
    cp932, fit_item, h, into_fields, item_code, t, Carrier, Column, Info, Row, Sender,
    SENDER_ADDRESS, SENDER_ADDRESS2, SENDER_NAME, SENDER_PHONE, SENDER_POSTAL,
};
use crate::program::Shipping;

pub struct YamatoB2;

const STREET: &str = "お届け先住所";
const BUILDING: &str = "お届け先住所（アパートマンション名）";
const ITEM1: &str = "品名１";
const ITEM2: &str = "品名２";
const MEMO: &str = "記事";
const CUSTOMER_CODE: &str = "shipping.yamato_customer_code";
const CLASS_CODE: &str = "shipping.yamato_class_code";
const FREIGHT_NO: &str = "shipping.yamato_freight_no";

/// B2クラウド keeps the address as 都道府県 / 市区郡町村 / 町・番地 / 建物 and refuses a
/// row whose part is too long (町・番地 over 32 bytes: ES001014) or that has no
/// prefecture (WS003001). The basic layout's お届け先住所 (64 bytes) is the first three
/// together; each part is checked on its own. 都道府県 8 and 市区郡町村 24 bytes are the
/// B2 entry screen's field sizes as exporters give them (no primary document could be
/// consulted); 町・番地 32 is the limit error ES001014 names.
pub const PREFECTURE_MAX: usize = 8;
pub const CITY_MAX: usize = 24;
pub const TOWN_MAX: usize = 32;
/// Where a prefecture filled from the postal code is said on the row (検索キー, not
/// printed on the slip, searchable in B2).
const SOURCE_TITLE: &str = "都道府県";
const SOURCE_KEY: &str = "郵便番号から補完";

/// The row's お届け先住所 and 建物: the parts checked against B2's limits, the prefecture
/// added from the postal code when the address has none (and noted), an over-long
/// 町・番地 continued in an empty 建物 column at a sensible break.
fn b2_address(
    to: &super::Destination,
    p: &super::Parcel,
    building_max: usize,
    row: &mut Row<'_>,
) -> (String, String) {
    let sp = &to.split;
    let pid = &p.participant_id;
    let used = format!(
        "住所の都道府県・市区郡町村の分割に使った郵便番号データ: {}",
        crate::postal::snapshot()
    );
    if !row.notes.contains(&used) {
        row.notes.push(used);
    }
    let mut problem = |code: &'static str, column: &str, message: String| {
        row.problems.push(super::Problem {
            participant_id: pid.clone(),
            code,
            column: column.to_string(),
            message,
        })
    };
    let Some(pref) = sp.prefecture.as_deref() else {
        problem(
            "address.prefecture_missing",
            "お届け先住所（都道府県）",
            format!(
                "住所に都道府県がなく、郵便番号 {} からも決まりません。B2クラウドは都道府県のない住所を取り込みません（WS003001）。名簿の住所に都道府県を書いて roster import --update で取り込み直してください",
                to.postal
            ),
        );
        return (to.street.clone(), to.building.clone().unwrap_or_default());
    };
    if sp.prefecture_from_postal {
        row.notes.push(format!(
            "{pid}: 住所に都道府県がないため、郵便番号 {} から「{pref}」を補って送り状に書きました（名簿の住所は変えていません。行の検索キー１に「{SOURCE_KEY}」と記録。郵便番号データ: {}）",
            to.postal,
            crate::postal::snapshot()
        ));
    }
    let mut town = sp.street.clone();
    let mut building = to.building.clone().unwrap_or_default();
    if building.is_empty() && cp932::byte_len(&town) > TOWN_MAX {
        let split = after_number(&town, TOWN_MAX).or_else(|| {
            into_fields(&[&town], TOWN_MAX, 2).map(|f| (f[0].clone(), f[1].clone()))
        });
        if let Some((a, b)) = split.filter(|(_, b)| cp932::byte_len(b) <= building_max) {
            town = a;
            building = b;
        }
    }
    for (part, value, max, code) in [
        ("都道府県", pref, PREFECTURE_MAX, ""),
        ("市区郡町村", sp.city.as_str(), CITY_MAX, ""),
        ("町・番地", town.as_str(), TOWN_MAX, "（B2 のエラー ES001014）"),
    ] {
        let bytes = cp932::byte_len(value);
        if bytes > max {
            problem(
                "length.too_long",
                &format!("お届け先住所（{part}）"),
                format!(
                    "住所の{part}が {bytes} バイトあり、B2クラウドの{part}欄の上限 {max} バイト（全角 {} 文字）を超えます{code}。切り詰めずに止めました: 名簿の住所の番地以降を方書・建物名に分けて roster import --update で取り込み直すか、--format xlsx の発送リストで手配してください",
                    max / 2
                ),
            );
        }
    }
    (format!("{pref}{}{town}", sp.city), building)
}

/// Split 町・番地 after its last house number (番地, 番, 号, or a digit run) that ends
/// within `max` bytes, so the building name goes whole into the next column.
fn after_number(town: &str, max: usize) -> Option<(String, String)> {
    let mut best = None;
    let mut chars = town.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        if cp932::byte_len(&town[..end]) > max {
            break;
        }
        let next = chars.peek().map(|x| x.1);
        let number_end = match c {
            '号' => true,
            '地' => town[..i].ends_with('番'),
            '番' => next != Some('地'),
            c if c.is_ascii_digit() || ('０'..='９').contains(&c) => {
                next.is_none_or(|n| !(n.is_ascii_digit() || ('０'..='９').contains(&n) || matches!(n, '-' | '－' | '番' | '号')))
            }
            _ => false,
        };
        if number_end && end < town.len() {
            best = Some(end);
        }
    }
    let cut = best?;
    Some((town[..cut].to_string(), town[cut..].trim_start().to_string()))
}

impl Carrier for YamatoB2 {
    fn info(&self) -> &'static Info {
        &Info {
            id: "yamato-b2",
            as_ja: "ヤマト B2クラウド",
            help: "ヤマト B2クラウド 取込み用 CSV (CP932)",
            file_ja: "ヤマト B2クラウド取込み用 CSV (CP932)",
            columns: &B2_COLUMNS,
            header: true,
        }
    }
    fn billing(&self, sh: &Shipping) -> Vec<(&'static str, Option<String>, bool)> {
        vec![
            (CUSTOMER_CODE, sh.yamato_customer_code.clone(), true),
            (CLASS_CODE, sh.yamato_class_code.clone(), false),
            (FREIGHT_NO, sh.yamato_freight_no.clone(), true),
        ]
    }

    fn row_values(&self, row: &mut Row<'_>) -> Vec<(&'static str, String)> {
        let (to, p) = (row.to, row.parcel);
        let (street, building) = b2_address(to, p, self.max_bytes(BUILDING), row);
        let items = &p.items;
        let item1 = items
            .first()
            .map(|i| fit_item(i, self.max_bytes(ITEM1), row.notes));
        let item2 = items
            .get(1)
            .map(|i| fit_item(i, self.max_bytes(ITEM2), row.notes));
        let rest = if items.len() > 2 {
            let codes: Vec<String> = items[2..].iter().map(item_code).collect();
            let text = format!("ほか {}", codes.join("、"));
            if cp932::byte_len(&text) <= self.max_bytes(MEMO) {
                text
            } else {
                format!("ほか {} 点（発送リスト参照）", items.len() - 2)
            }
        } else {
            String::new()
        };
        vec![
            ("お客様管理番号", to.key.clone()),
            ("送り状種類", "0".into()),
            ("クール区分", "0".into()),
            ("出荷予定日", row.date.format("%Y/%m/%d").to_string()),
            ("お届け先電話番号", to.phone.clone()),
            ("お届け先郵便番号", to.postal.clone()),
            (STREET, street),
            (BUILDING, building),
            ("お届け先名", p.name.clone()),
            ("敬称", "様".into()),
            (
                "検索キータイトル１",
                if to.split.prefecture_from_postal {
                    SOURCE_TITLE.to_string()
                } else {
                    String::new()
                },
            ),
            (
                "検索キー１",
                if to.split.prefecture_from_postal {
                    SOURCE_KEY.to_string()
                } else {
                    String::new()
                },
            ),
            (
                "品名コード１",
                items.first().map(|i| i.code.clone()).unwrap_or_default(),
            ),
            (ITEM1, item1.unwrap_or_default()),
            (
                "品名コード２",
                items.get(1).map(|i| i.code.clone()).unwrap_or_default(),
            ),
            (ITEM2, item2.unwrap_or_default()),
            (MEMO, rest),
        ]
    }

    fn sender_values(&self, s: &Sender) -> Vec<(&'static str, String, &'static str)> {
        vec![
            ("ご依頼主電話番号", s.phone.clone(), SENDER_PHONE),
            ("ご依頼主郵便番号", s.postal_code.clone(), SENDER_POSTAL),
            ("ご依頼主住所", s.address.clone(), SENDER_ADDRESS),
            (
                "ご依頼主住所（アパートマンション名）",
                s.address2.clone().unwrap_or_default(),
                SENDER_ADDRESS2,
            ),
            ("ご依頼主名", s.name.clone(), SENDER_NAME),
            (
                "ご請求先顧客コード",
                s.billing(CUSTOMER_CODE),
                CUSTOMER_CODE,
            ),
            ("ご請求先分類コード", s.billing(CLASS_CODE), CLASS_CODE),
            ("運賃管理番号", s.billing(FREIGHT_NO), FREIGHT_NO),
        ]
    }
}

/// B2クラウド 外部データ取込み 標準レイアウト (97 columns; the first 42 are filled).
pub const B2_COLUMNS: [Column; 97] = [
    h("お客様管理番号", 20),
    h("送り状種類", 1),
    h("クール区分", 1),
    h("伝票番号", 12),
    h("出荷予定日", 10),
    h("お届け予定（指定）日", 10),
    h("配達時間帯", 4),
    h("お届け先コード", 20),
    h("お届け先電話番号", 15),
    h("お届け先電話番号枝番", 2),
    h("お届け先郵便番号", 8),
    t("お届け先住所", 64),
    t("お届け先住所（アパートマンション名）", 32),
    t("お届け先会社・部門名１", 50),
    t("お届け先会社・部門名２", 50),
    t("お届け先名", 32),
    t("お届け先名略称カナ", 50),
    t("敬称", 4),
    h("ご依頼主コード", 20),
    h("ご依頼主電話番号", 15),
    h("ご依頼主電話番号枝番", 2),
    h("ご依頼主郵便番号", 8),
    t("ご依頼主住所", 64),
    t("ご依頼主住所（アパートマンション名）", 32),
    t("ご依頼主名", 32),
    t("ご依頼主略称カナ", 50),
    h("品名コード１", 30),
    t("品名１", 50),
    h("品名コード２", 30),
    t("品名２", 50),
    t("荷扱い１", 20),
    t("荷扱い２", 20),
    t("記事", 44),
    h("コレクト代金引換額（税込）", 7),
    h("コレクト内消費税額等", 7),
    h("営業所止置き", 1),
    h("営業所コード", 6),
    h("発行枚数", 2),
    h("個数口枠の印字", 1),
    h("ご請求先顧客コード", 12),
    h("ご請求先分類コード", 3),
    h("運賃管理番号", 2),
    h("クロネコwebコレクトデータ登録", 1),
    h("クロネコwebコレクト加盟店番号", 9),
    h("クロネコwebコレクト申込受付番号１", 23),
    h("クロネコwebコレクト申込受付番号２", 23),
    h("クロネコwebコレクト申込受付番号３", 23),
    h("お届け予定ｅメール利用区分", 1),
    h("お届け予定ｅメールe-mailアドレス", 60),
    h("入力機種", 1),
    t("お届け予定ｅメールメッセージ", 148),
    h("お届け完了ｅメール利用区分", 1),
    h("お届け完了ｅメールe-mailアドレス", 60),
    t("お届け完了ｅメールメッセージ", 318),
    h("クロネコ収納代行利用区分", 1),
    h("予備", 1),
    h("収納代行請求金額（税込）", 7),
    h("収納代行内消費税額等", 7),
    h("収納代行請求先郵便番号", 8),
    t("収納代行請求先住所", 64),
    t("収納代行請求先住所（アパートマンション名）", 32),
    t("収納代行請求先会社・部門名１", 50),
    t("収納代行請求先会社・部門名２", 50),
    t("収納代行請求先名（漢字）", 32),
    t("収納代行請求先名（カナ）", 50),
    t("収納代行問合せ先名（漢字）", 32),
    h("収納代行問合せ先郵便番号", 8),
    t("収納代行問合せ先住所", 64),
    t("収納代行問合せ先住所（アパートマンション名）", 32),
    h("収納代行問合せ先電話番号", 15),
    h("収納代行管理番号", 20),
    t("収納代行品名", 50),
    t("収納代行備考", 28),
    h("複数口くくりキー", 20),
    t("検索キータイトル１", 20),
    t("検索キー１", 20),
    t("検索キータイトル２", 20),
    t("検索キー２", 20),
    t("検索キータイトル３", 20),
    t("検索キー３", 20),
    t("検索キータイトル４", 20),
    t("検索キー４", 20),
    t("検索キータイトル５", 20),
    t("検索キー５", 20),
    h("予備", 1),
    h("予備", 1),
    h("投函予定メール利用区分", 1),
    h("投函予定メールe-mailアドレス", 60),
    t("投函予定メールメッセージ", 148),
    h("投函完了メール（お届け先宛）利用区分", 1),
    h("投函完了メール（お届け先宛）e-mailアドレス", 60),
    t("投函完了メール（お届け先宛）メールメッセージ", 318),
    h("投函完了メール（ご依頼主宛）利用区分", 1),
    h("投函完了メール（ご依頼主宛）e-mailアドレス", 60),
    t("投函完了メール（ご依頼主宛）メールメッセージ", 318),
    h("連携管理番号", 20),
    h("通知メールアドレス", 60),
];
