//! Carrier import files: ヤマト運輸 送り状発行システム B2クラウド (外部データ取込み) and
//! 日本郵便 ゆうパックプリントR (外部データ取込). Both are CSV in CP932 with CRLF line
//! ends and a header row; every value is checked against its column's length in CP932
//! bytes and against the code page before anything is written. One row is one parcel:
//! one participant's prizes in a shipment.
//!
//! Sources and their limits (checked from memory and public third-party material, not
//! against the carriers' current specifications, which could not be consulted offline):
//! - B2クラウド: the column order and names of 「B2クラウド 送り状発行データレイアウト
//!   入出力用」 (new_exchange1.pdf), 97 columns, as also used by third-party exporters;
//!   lengths as there in 半角 characters (全角 counts 2), e.g. お届け先住所 64,
//!   アパートマンション名 32, お届け先名 32, 品名 50, 記事 44. 送り状種類 0 = 発払い,
//!   クール区分 0 = 通常. B2 accepts JIS level 1 and 2 kanji only, so NEC/IBM extension
//!   characters (①, 髙) are warned about.
//! - ゆうパックプリントR: imported through a filter (取込みフィルタ) that maps this file's
//!   headed columns once; the columns follow its 発送予定データ layout: 住所 in three
//!   50-byte lines, 名称 in two 50-byte lines, 郵便種別 0 = ゆうパック, 保冷種別 0,
//!   元払 0, 敬称 code 1 = 様, dates as yyyymmdd.

use super::address::{split_building, wrap_by};
use crate::cp932;
use crate::program::Program;
use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    YamatoB2,
    Yupack,
}

impl Carrier {
    pub fn as_ja(self) -> &'static str {
        match self {
            Carrier::YamatoB2 => "ヤマト B2クラウド",
            Carrier::Yupack => "ゆうパックプリントR",
        }
    }
}

/// What may go in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any CP932 text.
    Text,
    /// ASCII only (digits, codes, phone numbers).
    Half,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// Maximum length in CP932 bytes (a full-width character is 2).
    pub max_bytes: usize,
    pub kind: Kind,
}

const fn t(name: &'static str, max_bytes: usize) -> Column {
    Column {
        name,
        max_bytes,
        kind: Kind::Text,
    }
}
const fn h(name: &'static str, max_bytes: usize) -> Column {
    Column {
        name,
        max_bytes,
        kind: Kind::Half,
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

impl Carrier {
    pub fn columns(self) -> &'static [Column] {
        match self {
            Carrier::YamatoB2 => &B2_COLUMNS,
            Carrier::Yupack => &YUPACK_COLUMNS,
        }
    }
}

/// The sender (ご依頼主), resolved from the program file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub name: String,
    pub postal_code: String,
    pub address: String,
    pub address2: Option<String>,
    pub phone: String,
    pub yamato_customer_code: String,
    pub yamato_class_code: String,
    pub yamato_freight_no: String,
}

/// The sender for a carrier, or every program-file key that carrier needs and lacks.
pub fn sender(program: &Program, carrier: Carrier) -> Result<Sender, Vec<&'static str>> {
    use crate::sheet::normalize::{normalize_phone, normalize_postal};
    let sh = program.shipping.clone().unwrap_or_default();
    let mut missing = Vec::new();
    let need = |v: &Option<String>, key: &'static str, missing: &mut Vec<&'static str>| match v
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => s.to_string(),
        None => {
            missing.push(key);
            String::new()
        }
    };
    let postal = need(
        &sh.sender_postal_code,
        "shipping.sender_postal_code",
        &mut missing,
    );
    let address = need(&sh.sender_address, "shipping.sender_address", &mut missing);
    let phone = need(&sh.sender_phone, "shipping.sender_phone", &mut missing);
    let (customer, freight) = if carrier == Carrier::YamatoB2 {
        (
            need(
                &sh.yamato_customer_code,
                "shipping.yamato_customer_code",
                &mut missing,
            ),
            need(
                &sh.yamato_freight_no,
                "shipping.yamato_freight_no",
                &mut missing,
            ),
        )
    } else {
        (String::new(), String::new())
    };
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(Sender {
        name: sh
            .sender_name
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| program.program.contractor.clone()),
        postal_code: normalize_postal(&postal).unwrap_or(postal),
        address,
        address2: sh.sender_address2.filter(|s| !s.trim().is_empty()),
        phone: normalize_phone(&phone).unwrap_or(phone),
        yamato_customer_code: customer,
        yamato_class_code: sh.yamato_class_code.unwrap_or_default(),
        yamato_freight_no: freight,
    })
}

/// One prize line of a parcel.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub code: String,
    pub name: String,
    pub quantity: i64,
}

/// One participant's prizes in one shipment.
#[derive(Debug, Clone, PartialEq)]
pub struct Parcel {
    pub shipment: i64,
    pub participant_id: String,
    pub name: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub address2: Option<String>,
    pub phone: Option<String>,
    pub items: Vec<Item>,
}

/// A reason the file cannot be written, with the participant it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub participant_id: String,
    pub code: &'static str,
    pub column: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}「{}」: {} ({})",
            self.participant_id, self.column, self.message, self.code
        )
    }
}

/// The file's bytes, and what the operator should know about it.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub bytes: Vec<u8>,
    pub rows: usize,
    /// Characters mapped between the JIS and CP932 tables (〜 → ～).
    pub jis_mapped: usize,
    /// Participants with NEC/IBM extension characters, and the characters.
    pub vendor_chars: Vec<(String, Vec<char>)>,
    /// Notes such as a prize name replaced by its code because it was too long.
    pub notes: Vec<String>,
}

fn item_text(i: &Item) -> String {
    if i.quantity > 1 {
        format!("{} ×{}", i.name, i.quantity)
    } else {
        i.name.clone()
    }
}

fn item_code(i: &Item) -> String {
    format!("{}×{}", i.code, i.quantity)
}

/// A prize description that fits `max` bytes: the name, else the code (noted).
fn fit_item(i: &Item, max: usize, notes: &mut Vec<String>) -> String {
    let full = item_text(i);
    if cp932::byte_len(&full) <= max {
        return full;
    }
    notes.push(format!(
        "景品 {} の名前が品名欄（{max} バイト）に入らないため、景品コードで書きました",
        i.code
    ));
    item_code(i)
}

/// Split text into `lines` fields of `max` bytes each, or None if it needs more.
fn into_fields(parts: &[&str], max: usize, lines: usize) -> Option<Vec<String>> {
    let bytes = |c: char| cp932::byte_len(c.encode_utf8(&mut [0u8; 4])) as f64;
    let mut out: Vec<String> = Vec::new();
    for p in parts.iter().filter(|p| !p.trim().is_empty()) {
        out.extend(wrap_by(p, max as f64, bytes));
    }
    if out.len() <= lines {
        out.resize(lines, String::new());
        return Some(out);
    }
    let joined = parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = wrap_by(&joined, max as f64, bytes);
    if out.len() <= lines {
        out.resize(lines, String::new());
        Some(out)
    } else {
        None
    }
}

/// The values of one row, by column name, before checking.
fn row_values(
    carrier: Carrier,
    p: &Parcel,
    date: NaiveDate,
    notes: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = Vec::new();
    let mut problem = |code: &'static str, column: &str, message: String| {
        problems.push(Problem {
            participant_id: p.participant_id.clone(),
            code,
            column: column.to_string(),
            message,
        })
    };
    let postal = p.postal_code.clone().unwrap_or_default();
    if postal.is_empty() {
        problem(
            "postal_code.missing",
            "郵便番号",
            "郵便番号がありません。名簿に入れて roster import --update で取り込み直してください"
                .into(),
        );
    }
    let address = p.address.clone().unwrap_or_default();
    if address.trim().is_empty() {
        problem(
            "address.missing",
            "住所",
            "住所がありません。名簿に入れて roster import --update で取り込み直してください".into(),
        );
    }
    let phone = p.phone.clone().unwrap_or_default();
    if phone.is_empty() {
        problem(
            "phone.missing",
            "電話番号",
            format!(
                "電話番号がありません。{}の送り状には届け先の電話番号が必要です。番号を作らず止めました: 参加者に確かめて名簿に入れ、roster import --update で取り込み直すか、--format xlsx の発送リストで手配してください",
                carrier.as_ja()
            ),
        );
    }
    let (street, building) = split_building(&address, p.address2.as_deref());
    let key = format!("{}-{}", p.shipment, p.participant_id);
    match carrier {
        Carrier::YamatoB2 => {
            let (street, building) = if building.is_none() && cp932::byte_len(&street) > 64 {
                match into_fields(&[&street], 64, 2) {
                    Some(f) if cp932::byte_len(&f[1]) <= 32 => {
                        (f[0].clone(), Some(f[1].clone()).filter(|b| !b.is_empty()))
                    }
                    _ => (street, None),
                }
            } else {
                (street, building)
            };
            let items = &p.items;
            let item1 = items.first().map(|i| fit_item(i, 50, notes));
            let item2 = items.get(1).map(|i| fit_item(i, 50, notes));
            let rest = if items.len() > 2 {
                let codes: Vec<String> = items[2..].iter().map(item_code).collect();
                let text = format!("ほか {}", codes.join("、"));
                if cp932::byte_len(&text) <= 44 {
                    text
                } else {
                    format!("ほか {} 点（発送リスト参照）", items.len() - 2)
                }
            } else {
                String::new()
            };
            v.extend([
                ("お客様管理番号", key),
                ("送り状種類", "0".into()),
                ("クール区分", "0".into()),
                ("出荷予定日", date.format("%Y/%m/%d").to_string()),
                ("お届け先電話番号", phone),
                ("お届け先郵便番号", postal),
                ("お届け先住所", street),
                (
                    "お届け先住所（アパートマンション名）",
                    building.unwrap_or_default(),
                ),
                ("お届け先名", p.name.clone()),
                ("敬称", "様".into()),
                (
                    "品名コード１",
                    items.first().map(|i| i.code.clone()).unwrap_or_default(),
                ),
                ("品名１", item1.unwrap_or_default()),
                (
                    "品名コード２",
                    items.get(1).map(|i| i.code.clone()).unwrap_or_default(),
                ),
                ("品名２", item2.unwrap_or_default()),
                ("記事", rest),
            ]);
        }
        Carrier::Yupack => {
            let lines = match into_fields(&[&street, building.as_deref().unwrap_or("")], 50, 3) {
                Some(l) => l,
                None => {
                    problem(
                        "length.too_long",
                        "お届け先住所1〜3",
                        format!(
                            "住所と方書が {} バイトあり、住所欄 3 行（各 50 バイト＝全角 25 文字）に入りません。名簿の表記を短くしてください",
                            cp932::byte_len(&street)
                                + building.as_deref().map(cp932::byte_len).unwrap_or(0)
                        ),
                    );
                    vec![String::new(); 3]
                }
            };
            let names = into_fields(&[&p.name], 50, 2)
                .unwrap_or_else(|| vec![p.name.clone(), String::new()]);
            let mut item = p.items.first().map(item_text).unwrap_or_default();
            if p.items.len() > 1 {
                item = format!("{item} ほか{}点", p.items.len() - 1);
            }
            if cp932::byte_len(&item) > 32 {
                let short = format!(
                    "景品{}{}",
                    p.items.first().map(item_code).unwrap_or_default(),
                    if p.items.len() > 1 {
                        format!(" ほか{}点", p.items.len() - 1)
                    } else {
                        String::new()
                    }
                );
                notes.push(format!(
                    "{}: 景品名が品名欄（32 バイト）に入らないため、景品コードで書きました",
                    p.participant_id
                ));
                item = short;
            }
            let memo: Vec<String> = p.items.iter().map(item_code).collect();
            v.extend([
                ("お客様側管理番号", key),
                ("発送予定日", date.format("%Y%m%d").to_string()),
                ("郵便種別", "0".into()),
                ("保冷種別", "0".into()),
                ("元/着払/代引", "0".into()),
                ("お届け先郵便番号", postal),
                ("お届け先住所1", lines[0].clone()),
                ("お届け先住所2", lines[1].clone()),
                ("お届け先住所3", lines[2].clone()),
                ("お届け先名称1", names[0].clone()),
                ("お届け先名称2", names.get(1).cloned().unwrap_or_default()),
                ("お届け先敬称", "1".into()),
                ("お届け先電話番号", phone),
                ("品名", item),
                ("個数", "1".into()),
                ("記事", memo.join(" ")),
            ]);
        }
    }
    v
}

/// The sender's values, the same on every row (checked once).
fn sender_values(carrier: Carrier, s: &Sender) -> Vec<(&'static str, String)> {
    match carrier {
        Carrier::YamatoB2 => vec![
            ("ご依頼主電話番号", s.phone.clone()),
            ("ご依頼主郵便番号", s.postal_code.clone()),
            ("ご依頼主住所", s.address.clone()),
            (
                "ご依頼主住所（アパートマンション名）",
                s.address2.clone().unwrap_or_default(),
            ),
            ("ご依頼主名", s.name.clone()),
            ("ご請求先顧客コード", s.yamato_customer_code.clone()),
            ("ご請求先分類コード", s.yamato_class_code.clone()),
            ("運賃管理番号", s.yamato_freight_no.clone()),
        ],
        Carrier::Yupack => {
            let lines = into_fields(&[&s.address, s.address2.as_deref().unwrap_or("")], 50, 3)
                .unwrap_or_else(|| vec![s.address.clone(), String::new(), String::new()]);
            vec![
                ("ご依頼主郵便番号", s.postal_code.clone()),
                ("ご依頼主住所1", lines[0].clone()),
                ("ご依頼主住所2", lines[1].clone()),
                ("ご依頼主住所3", lines[2].clone()),
                ("ご依頼主名称1", s.name.clone()),
                ("ご依頼主電話番号", s.phone.clone()),
            ]
        }
    }
}

/// Where the program file keeps a sender column's value.
fn sender_key(column: &str) -> &'static str {
    match column {
        c if c.contains("電話") => "shipping.sender_phone",
        c if c.contains("郵便") => "shipping.sender_postal_code",
        c if c.contains("アパート") => "shipping.sender_address2",
        c if c.contains("住所") => "shipping.sender_address / sender_address2",
        c if c.contains("名") => "shipping.sender_name（省略時は program.contractor）",
        c if c.contains("顧客コード") => "shipping.yamato_customer_code",
        c if c.contains("分類コード") => "shipping.yamato_class_code",
        _ => "shipping.yamato_freight_no",
    }
}

/// What the column is called in messages: the participant's field it holds.
fn field_ja(column: &str) -> &'static str {
    if column.starts_with("ご依頼主") {
        "ご依頼主（プログラムファイル [shipping]）"
    } else if column.contains("名称") || column == "お届け先名" {
        "氏名"
    } else if column.contains("アパート") {
        "方書・建物名"
    } else if column.contains("住所") {
        "住所"
    } else if column.contains("電話") {
        "電話番号"
    } else if column.contains("郵便番号") {
        "郵便番号"
    } else {
        "値"
    }
}

/// Check one value against its column: the code page, then the length. `fix` says
/// where to correct it.
fn check_value(col: &Column, value: &str, pid: &str, fix: &str, problems: &mut Vec<Problem>) {
    if value.is_empty() {
        return;
    }
    let bad = cp932::unencodable(value);
    for u in &bad {
        problems.push(Problem {
            participant_id: pid.to_string(),
            code: "cp932.unencodable",
            column: col.name.to_string(),
            message: format!(
                "{}の {} 文字目「{}」({}) は CP932 にない文字で、送り状ソフトに渡せません。置き換えずに止めました: {fix}",
                field_ja(col.name),
                u.pos,
                u.ch,
                u.code_point()
            ),
        });
    }
    if !bad.is_empty() {
        return;
    }
    if col.kind == Kind::Half {
        if let Some(pos) = value.chars().position(|c| !c.is_ascii()) {
            problems.push(Problem {
                participant_id: pid.to_string(),
                code: "format.half_width",
                column: col.name.to_string(),
                message: format!(
                    "{}は半角英数字だけの欄ですが、{} 文字目が全角です。{fix}",
                    field_ja(col.name),
                    pos + 1
                ),
            });
            return;
        }
    }
    let bytes = cp932::byte_len(value);
    if bytes > col.max_bytes {
        let chars = value.chars().count();
        problems.push(Problem {
            participant_id: pid.to_string(),
            code: "length.too_long",
            column: col.name.to_string(),
            message: format!(
                "{}が {bytes} バイト（{chars} 文字）あり、この欄の上限 {} バイト（全角 {} 文字）を超えます。切り詰めずに止めました: {fix}",
                field_ja(col.name),
                col.max_bytes,
                col.max_bytes / 2
            ),
        });
    }
}

const ROSTER_FIX: &str = "名簿の表記を直して（CP932 にある字に、長い住所は方書・建物名を分けて） roster import --update で取り込み直すか、--format xlsx の発送リストで手配してください";

/// The carrier file for these parcels, or every problem found (nothing is written then).
pub fn render(
    carrier: Carrier,
    parcels: &[Parcel],
    sender: &Sender,
    date: NaiveDate,
) -> Result<Written, Vec<Problem>> {
    let columns = carrier.columns();
    let mut problems = Vec::new();
    let mut w = Written::default();
    let mut table: Vec<Vec<String>> = Vec::with_capacity(parcels.len());
    let sender_values = sender_values(carrier, sender);
    for (name, value) in &sender_values {
        if let Some(c) = columns.iter().find(|c| c.name == *name) {
            let fix = format!(
                "プログラムファイルの {} を直して init からやり直してください",
                sender_key(name)
            );
            check_value(c, value, "[shipping]", &fix, &mut problems);
        }
    }
    for p in parcels {
        let values = row_values(carrier, p, date, &mut w.notes, &mut problems);
        let mut row = vec![String::new(); columns.len()];
        for (name, value) in values {
            // Names are unique in a layout except the empty 予備 columns we never fill.
            if let Some(i) = columns.iter().position(|c| c.name == name) {
                check_value(
                    &columns[i],
                    &value,
                    &p.participant_id,
                    ROSTER_FIX,
                    &mut problems,
                );
                row[i] = value;
            }
        }
        for (name, value) in &sender_values {
            if let Some(i) = columns.iter().position(|c| c.name == *name) {
                row[i] = value.clone();
            }
        }
        let vendor: Vec<char> = row.iter().flat_map(|v| cp932::vendor_chars(v)).collect();
        if !vendor.is_empty() {
            w.vendor_chars.push((p.participant_id.clone(), vendor));
        }
        w.jis_mapped += row
            .iter()
            .map(|v| cp932::jis_compat_count(v))
            .sum::<usize>();
        table.push(row);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut write = || -> csv::Result<()> {
        csv.write_record(columns.iter().map(|c| c.name))?;
        for row in &table {
            csv.write_record(row)?;
        }
        csv.flush()?;
        Ok(())
    };
    if let Err(e) = write() {
        return Err(vec![Problem {
            participant_id: String::new(),
            code: "internal",
            column: String::new(),
            message: e.to_string(),
        }]);
    }
    let text = String::from_utf8(csv.into_inner().unwrap_or_default()).unwrap_or_default();
    match cp932::encode(&text) {
        Some(bytes) => w.bytes = bytes,
        None => {
            return Err(vec![Problem {
                participant_id: String::new(),
                code: "cp932.unencodable",
                column: String::new(),
                message: "CP932 にない文字が残っています (internal check)".into(),
            }])
        }
    }
    w.rows = table.len();
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn the_sender() -> Sender {
        Sender {
            name: "株式会社サンプル".into(),
            postal_code: "160-0023".into(),
            address: "東京都新宿区西新宿1-2-3".into(),
            address2: None,
            phone: "03-1234-5678".into(),
            yamato_customer_code: "012345678901".into(),
            yamato_class_code: String::new(),
            yamato_freight_no: "01".into(),
        }
    }

    fn parcel(name: &str, address: &str, phone: Option<&str>) -> Parcel {
        Parcel {
            shipment: 3,
            participant_id: "C000001".into(),
            name: name.into(),
            postal_code: Some("162-0041".into()),
            address: Some(address.into()),
            address2: None,
            phone: phone.map(str::to_string),
            items: vec![Item {
                code: "T1".into(),
                name: "区内共通商品券 500円分".into(),
                quantity: 2,
            }],
        }
    }

    fn decode(bytes: &[u8]) -> String {
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
        assert!(!bad);
        text.into_owned()
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 10, 20).unwrap()
    }

    #[test]
    fn b2_file_is_cp932_crlf_with_the_layout_header() {
        let w = render(
            Carrier::YamatoB2,
            &[parcel(
                "井上 恵子",
                "東京都新宿区早稲田鶴巻町27番8号 みどりレジデンス406号室",
                Some("03-5306-6777"),
            )],
            &the_sender(),
            date(),
        )
        .unwrap();
        let text = decode(&w.bytes);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.len(), 3, "header, one row, final CRLF");
        assert_eq!(lines[2], "");
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(header.len(), 97);
        assert_eq!(header[11], "お届け先住所");
        assert_eq!(header[41], "運賃管理番号");
        let row: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(row.len(), 97);
        assert_eq!(row[0], "3-C000001");
        assert_eq!(row[1], "0");
        assert_eq!(row[4], "2025/10/20");
        assert_eq!(row[8], "03-5306-6777");
        assert_eq!(row[10], "162-0041");
        assert_eq!(row[11], "東京都新宿区早稲田鶴巻町27番8号");
        assert_eq!(row[12], "みどりレジデンス406号室");
        assert_eq!(row[15], "井上 恵子");
        assert_eq!(row[17], "様");
        assert_eq!(row[24], "株式会社サンプル");
        assert_eq!(row[26], "T1");
        assert_eq!(row[27], "区内共通商品券 500円分 ×2");
        assert_eq!(row[39], "012345678901");
        assert_eq!(row[41], "01");
    }

    #[test]
    fn unencodable_characters_are_reported_not_replaced() {
        let e = render(
            Carrier::YamatoB2,
            &[parcel(
                "𠮷田 太郎",
                "東京都新宿区1-1 ハイツ😀",
                Some("03-1111-2222"),
            )],
            &the_sender(),
            date(),
        )
        .unwrap_err();
        let codes: Vec<(&str, &str)> = e.iter().map(|p| (p.code, p.column.as_str())).collect();
        assert_eq!(
            codes,
            vec![
                ("cp932.unencodable", "お届け先住所（アパートマンション名）"),
                ("cp932.unencodable", "お届け先名"),
            ]
        );
        assert!(e[1].message.contains("1 文字目「𠮷」(U+20BB7)"), "{}", e[1]);
        assert!(e[0].message.contains("「😀」(U+1F600)"), "{}", e[0]);
    }

    #[test]
    fn a_missing_phone_is_reported_never_invented() {
        let e = render(
            Carrier::Yupack,
            &[parcel("山田 太郎", "東京都新宿区1-1", None)],
            &the_sender(),
            date(),
        )
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code, "phone.missing");
        assert_eq!(e[0].participant_id, "C000001");
    }

    #[test]
    fn lengths_are_checked_in_bytes_before_writing() {
        let long_name = "寿限無寿限無五劫の擦り切れ海砂利水魚"; // 18 full-width = 36 bytes
        let e = render(
            Carrier::YamatoB2,
            &[parcel(long_name, "東京都新宿区1-1", Some("03-1111-2222"))],
            &the_sender(),
            date(),
        )
        .unwrap_err();
        assert_eq!(e[0].code, "length.too_long");
        assert_eq!(e[0].column, "お届け先名");
        assert!(
            e[0].message.contains("36 バイト（18 文字）")
                && e[0].message.contains("上限 32 バイト"),
            "{}",
            e[0]
        );
        // ゆうパックプリントR has two 50-byte name lines: the same name fits there.
        assert!(render(
            Carrier::Yupack,
            &[parcel(long_name, "東京都新宿区1-1", Some("03-1111-2222"))],
            &the_sender(),
            date()
        )
        .is_ok());
    }

    #[test]
    fn a_long_street_moves_into_the_building_column_at_a_sensible_break() {
        let street = "北海道札幌市中央区北一条西二丁目一番地札幌市役所本庁舎別館";
        let w = render(
            Carrier::YamatoB2,
            &[parcel("山田 太郎", street, Some("011-211-2111"))],
            &the_sender(),
            date(),
        )
        .unwrap();
        let text = decode(&w.bytes);
        let row: Vec<&str> = text.split("\r\n").nth(1).unwrap().split(',').collect();
        assert!(cp932::byte_len(row[11]) <= 64);
        assert_eq!(format!("{}{}", row[11], row[12]), street);
    }

    #[test]
    fn yupack_file_splits_the_address_into_three_lines() {
        let w = render(
            Carrier::Yupack,
            &[parcel(
                "井上 恵子",
                "東京都新宿区神楽坂5丁目8番13号 戸山コーポ808号室",
                Some("03-5306-6777"),
            )],
            &the_sender(),
            date(),
        )
        .unwrap();
        let text = decode(&w.bytes);
        let lines: Vec<&str> = text.split("\r\n").collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let row: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(header.len(), YUPACK_COLUMNS.len());
        let col = |n: &str| row[header.iter().position(|h| *h == n).unwrap()];
        assert_eq!(col("発送予定日"), "20251020");
        assert_eq!(col("お届け先住所1"), "東京都新宿区神楽坂5丁目8番13号");
        assert_eq!(col("お届け先住所2"), "戸山コーポ808号室");
        assert_eq!(col("お届け先住所3"), "");
        assert_eq!(col("お届け先敬称"), "1");
        assert_eq!(col("品名"), "区内共通商品券 500円分 ×2");
        assert_eq!(col("記事"), "T1×2");
    }

    #[test]
    fn the_sender_names_every_missing_key() {
        let p = crate::program::Program::parse(
            include_str!("../../examples/program.toml"),
            "program.toml",
        )
        .unwrap();
        let mut bare = p.clone();
        bare.shipping = None;
        assert_eq!(
            sender(&bare, Carrier::YamatoB2).unwrap_err(),
            vec![
                "shipping.sender_postal_code",
                "shipping.sender_address",
                "shipping.sender_phone",
                "shipping.yamato_customer_code",
                "shipping.yamato_freight_no"
            ]
        );
        assert_eq!(sender(&bare, Carrier::Yupack).unwrap_err().len(), 3);
        let s = sender(&p, Carrier::YamatoB2).unwrap();
        assert_eq!(s.name, "株式会社サンプル 健康ポイント係");
    }
}
