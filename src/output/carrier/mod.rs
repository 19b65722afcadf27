//! Carrier import files: CSV in CP932 with CRLF line ends and a header row, one row per
//! parcel (one participant's prizes in a shipment). Every value is checked against its
//! column's length in CP932 bytes and against the code page before anything is written;
//! a problem anywhere and no file is written.
//!
//! **Adding a carrier is one new file plus one registry line**: write `newcarrier.rs`
//! beside `yamato_b2.rs` with its column table (names, lengths, kinds: the lengths are
//! read from that table, never repeated in code) and an `impl Carrier`, then add the
//! line `newcarrier::NewCarrier,` to the `registry!` below. `ship --format`, its
//! `--help`, the stored shipment format and `ship --reprint` all come from the
//! registry.
//!
//! Checked from memory and public third-party material, not against the carriers'
//! current specifications, which could not be consulted offline; each file says its
//! source.

use super::address::wrap_by;
use crate::cp932;
use crate::program::{Program, Shipping};
pub use crate::shipping::{Item, Parcel, Problem};
use chrono::NaiveDate;

/// Declares each carrier's file as a module and lists its type in [`REGISTRY`].
macro_rules! registry {
    ($($file:ident::$carrier:ident),* $(,)?) => {
        $(mod $file;)*
        /// Every carrier `ship --format` knows, in the order `--help` lists them.
        pub static REGISTRY: &[&dyn Carrier] = &[$(&$file::$carrier),*];
    };
}

// The registry: one line per carrier, `file::Type`.
registry! {
    yamato_b2::YamatoB2,
    yupack::Yupack,
    yupack_filter::YupackFilter,
}

/// A carrier by its `--format` name.
pub fn find(id: &str) -> Option<&'static dyn Carrier> {
    REGISTRY.iter().copied().find(|c| c.id() == id)
}

/// The values `ship --format` accepts: the shipping list's two, then each carrier's.
pub fn format_values() -> Vec<clap::builder::PossibleValue> {
    use clap::builder::PossibleValue;
    let mut v = vec![
        PossibleValue::new("xlsx").help("発送リスト (.xlsx, 印刷用)"),
        PossibleValue::new("csv").help("発送リスト (.csv, UTF-8)"),
    ];
    v.extend(
        REGISTRY
            .iter()
            .map(|c| PossibleValue::new(c.id()).help(c.info().help)),
    );
    v
}

/// What a carrier's file is called and holds.
pub struct Info {
    /// The `ship --format` name, also stored as the shipment's format.
    pub id: &'static str,
    /// The carrier's software, as messages name it.
    pub as_ja: &'static str,
    /// The file, as `--help` lists it.
    pub help: &'static str,
    /// The file, as the done message names it.
    pub file_ja: &'static str,
    /// The file's columns in order, with their limits.
    pub columns: &'static [Column],
    /// Whether the file starts with a header row of the column names (a positional
    /// layout has none).
    pub header: bool,
}

/// One parcel's row being filled: its destination already split, and where problems
/// and notes found while fitting values go.
pub struct Row<'a> {
    pub to: &'a Destination,
    pub parcel: &'a Parcel,
    pub date: NaiveDate,
    pub notes: &'a mut Vec<String>,
    pub problems: &'a mut Vec<Problem>,
}

/// One carrier's import file.
pub trait Carrier: Sync {
    fn info(&self) -> &'static Info;
    /// Program-file values this carrier needs beyond the sender (billing codes): key,
    /// value in `[shipping]`, and whether it is required.
    fn billing(&self, _shipping: &Shipping) -> Vec<(&'static str, Option<String>, bool)> {
        Vec::new()
    }
    /// The participant's values of one row, by column name, before checking.
    fn row_values(&self, row: &mut Row<'_>) -> Vec<(&'static str, String)>;
    /// The sender's values, the same on every row (checked once): column, value, and
    /// the program-file key to correct it under (one of the `SENDER_*` keys or a
    /// billing key).
    fn sender_values(&self, s: &Sender) -> Vec<(&'static str, String, &'static str)>;

    fn id(&self) -> &'static str {
        self.info().id
    }
    fn as_ja(&self) -> &'static str {
        self.info().as_ja
    }
    fn columns(&self) -> &'static [Column] {
        self.info().columns
    }
    /// A column's limit in bytes, from the table.
    fn max_bytes(&self, column: &str) -> usize {
        self.columns()
            .iter()
            .find(|c| c.name == column)
            .map(|c| c.max_bytes)
            .unwrap_or(0)
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

/// The sender (ご依頼主), resolved from the program file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub name: String,
    pub postal_code: String,
    pub address: String,
    pub address2: Option<String>,
    pub phone: String,
    /// The carrier's billing values, by program-file key.
    pub billing: Vec<(&'static str, String)>,
}

impl Sender {
    /// A billing value by its program-file key (empty when not set).
    pub fn billing(&self, key: &str) -> String {
        self.billing
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// The sender for a carrier, or every program-file key that carrier needs and lacks.
pub fn sender(program: &Program, carrier: &dyn Carrier) -> Result<Sender, Vec<&'static str>> {
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
    let billing = carrier
        .billing(&sh)
        .into_iter()
        .map(|(key, v, required)| match required {
            true => (key, need(&v, key, &mut missing)),
            false => (key, v.unwrap_or_default()),
        })
        .collect();
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
        billing,
    })
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

/// The recipient's address (street, then building) in `lines` fields of `line_max` bytes
/// and the name in `name_lines` fields of `name_max`: the split both ゆうパックプリントR
/// layouts use. An address that does not fit is a problem on the row (blank fields).
fn address_and_name_lines(
    row: &mut Row<'_>,
    line_max: usize,
    lines: usize,
    name_max: usize,
    name_lines: usize,
) -> (Vec<String>, Vec<String>) {
    let (to, p) = (row.to, row.parcel);
    let building = to.building.as_deref().unwrap_or("");
    let address = into_fields(&[&to.street, building], line_max, lines).unwrap_or_else(|| {
        row.problems.push(Problem {
            participant_id: p.participant_id.clone(),
            code: "length.too_long",
            column: format!("お届け先住所1〜{lines}"),
            message: format!(
                "住所と方書が {} バイトあり、住所欄 {lines} 行（各 {line_max} バイト＝全角 {} 文字）に入りません。名簿の表記を短くしてください",
                cp932::byte_len(&to.street) + cp932::byte_len(building),
                line_max / 2
            ),
        });
        vec![String::new(); lines]
    });
    let names = into_fields(&[&p.name], name_max, name_lines)
        .unwrap_or_else(|| vec![p.name.clone(), String::new()]);
    (address, names)
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

/// A parcel's destination as every carrier needs it: the row key, postal code, the
/// street and building split, and the phone number.
pub struct Destination {
    pub key: String,
    pub postal: String,
    pub street: String,
    pub building: Option<String>,
    pub phone: String,
    /// The street split as B2クラウド keeps it (都道府県 / 市区郡町村 / 町・番地), with a
    /// missing prefecture taken from the postal code (the stored address is unchanged).
    pub split: crate::postal::Split,
}

/// The common part of a row: the destination, and the phone every carrier needs.
fn destination(carrier: &dyn Carrier, p: &Parcel, problems: &mut Vec<Problem>) -> Destination {
    let phone = p.phone.clone().unwrap_or_default();
    if phone.is_empty() {
        problems.push(Problem {
            participant_id: p.participant_id.clone(),
            code: "phone.missing",
            column: "電話番号".into(),
            message: format!(
                "電話番号がありません。{}の送り状には届け先の電話番号が必要です。番号を作らず止めました: 参加者に確かめて名簿に入れ、roster import --update で取り込み直すか、--format xlsx の発送リストで手配してください",
                carrier.as_ja()
            ),
        });
    }
    let address = p.address.clone().unwrap_or_default();
    let (street, building) = super::address::split_building(&address, p.address2.as_deref());
    let postal = p.postal_code.clone().unwrap_or_default();
    let split = crate::postal::split_address(&street, &postal);
    // A prefecture the address lacks is written from the postal code on the carrier
    // row only (each carrier notes it); the roster is not changed.
    let street = match (&split.prefecture, split.prefecture_from_postal) {
        (Some(pref), true) => format!("{pref}{street}"),
        _ => street,
    };
    Destination {
        key: format!("{}-{}", p.shipment, p.participant_id),
        postal,
        street,
        building,
        phone,
        split,
    }
}

/// The note a carrier row gives when its prefecture came from the postal code.
fn prefecture_note(to: &Destination, pid: &str) -> Option<String> {
    let pref = to.split.prefecture.as_deref()?;
    to.split.prefecture_from_postal.then(|| {
        format!(
            "{pid}: 住所に都道府県がないため、郵便番号 {} から「{pref}」を補って送り状に書きました（名簿の住所は変えていません。郵便番号データ: {}）",
            to.postal,
            crate::postal::snapshot()
        )
    })
}

/// Where the program file keeps the sender's values (for messages).
pub const SENDER_PHONE: &str = "shipping.sender_phone";
pub const SENDER_POSTAL: &str = "shipping.sender_postal_code";
pub const SENDER_ADDRESS: &str = "shipping.sender_address / sender_address2";
pub const SENDER_ADDRESS2: &str = "shipping.sender_address2";
pub const SENDER_NAME: &str = "shipping.sender_name（省略時は program.contractor）";

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
    if let Some((pos, c)) = value.chars().enumerate().find(|(_, c)| c.is_control()) {
        problems.push(Problem {
            participant_id: pid.to_string(),
            code: "csv.control_char",
            column: col.name.to_string(),
            message: format!(
                "{}の {} 文字目に制御文字 (U+{:04X}: 改行・タブなど) があり、送り状ソフトの取込みで行や欄がずれます。書き出さずに止めました: {fix}",
                field_ja(col.name),
                pos + 1,
                c as u32
            ),
        });
        return;
    }
    if value.starts_with(['=', '+', '-', '@']) {
        problems.push(Problem {
            participant_id: pid.to_string(),
            code: "csv.formula",
            column: col.name.to_string(),
            message: format!(
                "{}が「{}」で始まっています。表計算ソフトで開くと式として実行されるため、書き出さずに止めました（CSV インジェクション対策）: {fix}",
                field_ja(col.name),
                value.chars().next().unwrap_or_default()
            ),
        });
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
    carrier: &dyn Carrier,
    parcels: &[Parcel],
    sender: &Sender,
    date: NaiveDate,
) -> Result<Written, Vec<Problem>> {
    let mut bytes = Vec::new();
    let mut w = render_into(carrier, parcels, sender, date, &mut bytes)?;
    w.bytes = bytes;
    Ok(w)
}

/// As [`render`], each row written to `out` (CP932) as it is made, never the whole
/// file held (`bytes` stays empty). On problems, what was written is not the file.
pub fn render_into<P: std::borrow::Borrow<Parcel>>(
    carrier: &dyn Carrier,
    parcels: impl IntoIterator<Item = P>,
    sender: &Sender,
    date: NaiveDate,
    out: &mut dyn std::io::Write,
) -> Result<Written, Vec<Problem>> {
    let columns = carrier.columns();
    let mut problems = Vec::new();
    let mut w = Written::default();
    let sender_values = carrier.sender_values(sender);
    for (name, value, key) in &sender_values {
        if let Some(c) = columns.iter().find(|c| c.name == *name) {
            let fix = format!("プログラムファイルの {key} を直して init からやり直してください");
            check_value(c, value, "[shipping]", &fix, &mut problems);
        }
    }
    // Each field in CP932 (its quoting is the same as in UTF-8: no CP932 trail byte is a
    // comma, a quote or a line break).
    let mut unencodable = false;
    let mut cp = |v: &str| -> Vec<u8> {
        cp932::encode(v).unwrap_or_else(|| {
            unencodable = true;
            Vec::new()
        })
    };
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let mut failed: Option<String> = None;
    if carrier.info().header {
        let head: Vec<Vec<u8>> = columns.iter().map(|c| cp(c.name)).collect();
        if let Err(e) = csv.write_record(&head) {
            failed.get_or_insert(e.to_string());
        }
    }
    let mut row = vec![String::new(); columns.len()];
    for p in parcels {
        let p = p.borrow();
        // Refused destinations (no postal code or address) are reported, not written.
        let refused = crate::shipping::destination_problems(std::slice::from_ref(p));
        if !refused.is_empty() {
            problems.extend(refused);
            continue;
        }
        let to = destination(carrier, p, &mut problems);
        let values = carrier.row_values(&mut Row {
            to: &to,
            parcel: p,
            date,
            notes: &mut w.notes,
            problems: &mut problems,
        });
        row.iter_mut().for_each(String::clear);
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
        for (name, value, _) in &sender_values {
            if let Some(i) = columns.iter().position(|c| c.name == *name) {
                row[i].clone_from(value);
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
        if problems.is_empty() && failed.is_none() {
            let fields: Vec<Vec<u8>> = row.iter().map(|v| cp(v)).collect();
            if let Err(e) = csv.write_record(&fields) {
                failed.get_or_insert(e.to_string());
            }
        }
        w.rows += 1;
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if let Err(e) = csv.flush() {
        failed.get_or_insert(e.to_string());
    }
    if let Some(message) = failed {
        return Err(vec![Problem {
            participant_id: String::new(),
            code: "internal",
            column: String::new(),
            message,
        }]);
    }
    if unencodable {
        return Err(vec![Problem {
            participant_id: String::new(),
            code: "cp932.unencodable",
            column: String::new(),
            message: "CP932 にない文字が残っています (internal check)".into(),
        }]);
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::yamato_b2::YamatoB2;
    use super::yupack::{self, Yupack};
    use super::yupack_filter;
    use super::*;

    fn the_sender() -> Sender {
        Sender {
            name: "株式会社サンプル".into(),
            postal_code: "160-0023".into(),
            address: "東京都新宿区西新宿1-2-3".into(),
            address2: None,
            phone: "03-1234-5678".into(),
            billing: vec![
                ("shipping.yamato_customer_code", "012345678901".into()),
                ("shipping.yamato_class_code", String::new()),
                ("shipping.yamato_freight_no", "01".into()),
            ],
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
            &YamatoB2,
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
            &YamatoB2,
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
            &Yupack,
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
            &YamatoB2,
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
            &Yupack,
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
            &YamatoB2,
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
    fn yupack_file_is_positional_without_a_header() {
        let w = render(
            &Yupack,
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
        assert_eq!(lines.len(), 2, "one row, final CRLF, no header");
        let row: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(row.len(), yupack::YUPACK_COLUMNS.len());
        // Positions as the standard layout numbers them (1-based).
        let pos = |n: usize| row[n - 1];
        assert_eq!(pos(1), "3-C000001");
        assert_eq!(pos(2), "20251020");
        assert_eq!([pos(3), pos(4), pos(5)], ["", "", ""]);
        assert_eq!([pos(6), pos(7), pos(8)], ["0", "0", "0"]);
        assert_eq!(pos(11), "0");
        assert_eq!(pos(13), "162-0041");
        assert_eq!(pos(14), "東京都新宿区神楽坂5丁目8番13号");
        assert_eq!(pos(15), "戸山コーポ808号室");
        assert_eq!(pos(16), "");
        assert_eq!(pos(17), "井上 恵子");
        assert_eq!(pos(19), "0");
        assert_eq!(pos(20), "03-5306-6777");
        // The custom-filter file keeps its header, sender and item.
        let w = render(
            &yupack_filter::YupackFilter,
            &[parcel(
                "井上 恵子",
                "東京都新宿区神楽坂5丁目8番13号",
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
        let col = |n: &str| row[header.iter().position(|h| *h == n).unwrap()];
        assert_eq!(col("品名"), "区内共通商品券 500円分 ×2");
        assert_eq!(col("ご依頼主名称1"), "株式会社サンプル");
        assert_eq!(col("お届け先敬称"), "0");
    }

    fn b2_row(w: &Written) -> Vec<String> {
        let text = decode(&w.bytes);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        r.records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn b2_checks_the_address_in_its_four_parts_and_needs_a_prefecture() {
        // 町・番地 over 32 bytes with no building: continued in the building column.
        let mut p = parcel(
            "山田 太郎",
            "東京都新宿区早稲田鶴巻町二十七番地八号サンプル荘東棟",
            Some("03-1111-2222"),
        );
        let w = render(&YamatoB2, &[p.clone()], &the_sender(), date()).unwrap();
        let row = b2_row(&w);
        assert!(
            row[11].starts_with("東京都新宿区早稲田鶴巻町"),
            "{}",
            row[11]
        );
        assert!(cp932::byte_len(&row[11]) <= 8 + 24 + 32);
        assert_eq!(
            format!("{}{}", row[11], row[12]),
            "東京都新宿区早稲田鶴巻町二十七番地八号サンプル荘東棟"
        );
        // With a building already there, an over-long 町・番地 is refused (ES001014).
        p.address2 = Some("101".into());
        let e = render(&YamatoB2, &[p.clone()], &the_sender(), date()).unwrap_err();
        assert_eq!(e[0].code, "length.too_long");
        assert_eq!(e[0].column, "お届け先住所（町・番地）");
        assert!(e[0].message.contains("ES001014"), "{}", e[0]);
        // No prefecture: filled from the postal code, the row says so.
        let w = render(
            &YamatoB2,
            &[parcel(
                "山田 太郎",
                "新宿区早稲田鶴巻町27番8号",
                Some("03-1111-2222"),
            )],
            &the_sender(),
            date(),
        )
        .unwrap();
        let row = b2_row(&w);
        assert_eq!(row[11], "東京都新宿区早稲田鶴巻町27番8号");
        assert_eq!(row[74], "都道府県");
        assert_eq!(row[75], "郵便番号から補完");
        assert!(w
            .notes
            .iter()
            .any(|n| n.contains("名簿の住所は変えていません")));
        // ゆうパックプリントR gets the prefecture too, and the note.
        let w = render(
            &Yupack,
            &[parcel(
                "山田 太郎",
                "新宿区早稲田鶴巻町27番8号",
                Some("03-1111-2222"),
            )],
            &the_sender(),
            date(),
        )
        .unwrap();
        let text = decode(&w.bytes);
        assert_eq!(
            text.split(',').nth(13),
            Some("東京都新宿区早稲田鶴巻町27番8号")
        );
        assert!(w.notes.iter().any(|n| n.contains("「東京都」を補って")));
        // No prefecture and a postal code that names none: refused (WS003001).
        let mut p = parcel(
            "山田 太郎",
            "新宿区早稲田鶴巻町27番8号",
            Some("03-1111-2222"),
        );
        p.postal_code = Some("999-9999".into());
        let e = render(&YamatoB2, &[p], &the_sender(), date()).unwrap_err();
        assert_eq!(e[0].code, "address.prefecture_missing");
        assert!(e[0].message.contains("WS003001"));
    }

    #[test]
    fn values_a_spreadsheet_would_run_and_control_characters_are_refused() {
        for (name, code) in [
            ("=1+1", "csv.formula"),
            ("-山田", "csv.formula"),
            ("+佐藤", "csv.formula"),
            ("@SUM(A1)", "csv.formula"),
            ("山田\t太郎", "csv.control_char"),
            ("山田\r\n太郎", "csv.control_char"),
        ] {
            for c in REGISTRY {
                let e = render(
                    *c,
                    &[parcel(
                        name,
                        "東京都新宿区早稲田鶴巻町27番8号",
                        Some("03-1111-2222"),
                    )],
                    &the_sender(),
                    date(),
                )
                .unwrap_err();
                assert_eq!(e.len(), 1, "{name:?} {}", c.id());
                assert_eq!(e[0].code, code, "{name:?} {}", c.id());
                assert!(crate::validate::lookup(code).is_some());
            }
        }
    }

    #[test]
    fn the_sender_names_every_missing_key() {
        let p = crate::program::Program::parse(
            include_str!("../../../examples/program.toml"),
            "program.toml",
        )
        .unwrap();
        let mut bare = p.clone();
        bare.shipping = None;
        assert_eq!(
            sender(&bare, &YamatoB2).unwrap_err(),
            vec![
                "shipping.sender_postal_code",
                "shipping.sender_address",
                "shipping.sender_phone",
                "shipping.yamato_customer_code",
                "shipping.yamato_freight_no"
            ]
        );
        assert_eq!(sender(&bare, &Yupack).unwrap_err().len(), 3);
        let s = sender(&p, &YamatoB2).unwrap();
        assert_eq!(s.name, "株式会社サンプル 健康ポイント係");
    }
    fn golden_parcels() -> Vec<Parcel> {
        let item = |code: &str, name: &str, quantity: i64| Item {
            code: code.into(),
            name: name.into(),
            quantity,
        };
        let p = |id: &str,
                 name: &str,
                 postal: &str,
                 address: &str,
                 address2: Option<&str>,
                 items: Vec<Item>| Parcel {
            shipment: 7,
            participant_id: id.into(),
            name: name.into(),
            postal_code: Some(postal.into()),
            address: Some(address.into()),
            address2: address2.map(str::to_string),
            phone: Some("03-5306-6777".into()),
            items,
        };
        vec![
            p(
                "C1",
                "井上 恵子",
                "162-0041",
                "東京都新宿区早稲田鶴巻町27番8号 みどりレジデンス406号室",
                None,
                vec![item("T1", "区内共通商品券 500円分", 2)],
            ),
            p(
                "C2",
                "山田 太郎",
                "060-0001",
                "北海道札幌市中央区北一条西二丁目一番地札幌市役所本庁舎別館",
                None,
                vec![
                    item("G1", "歩数計", 1),
                    item("T1", "区内共通商品券 500円分", 1),
                    item("Q1", "QUOカード", 3),
                    item("W1", "オリジナル歩数計（数量限定）", 1),
                ],
            ),
            p(
                "C3",
                "髙橋 〜 一郎",
                "160-0023",
                "東京都新宿区西新宿1-2-3",
                Some("サンプルビル①号館 1203"),
                vec![
                    item(
                        "L1",
                        "とても長い名前の景品でございまして品名欄にはとても入りきらないもの",
                        1,
                    ),
                    item("G1", "歩数計", 2),
                ],
            ),
            p(
                "C4",
                "佐藤 花子",
                "169-0073",
                "東京都新宿区百人町4丁目5番18号",
                Some("コーポ百人町 305"),
                vec![item("G1", "歩数計", 1)],
            ),
        ]
    }

    /// The file and its notes, without the postal table's date (which a refresh changes).
    fn golden_hash(bytes: &[u8], notes: &[String]) -> String {
        let mut all = bytes.to_vec();
        for n in notes.iter().filter(|n| !n.contains("郵便番号データ")) {
            all.extend_from_slice(n.as_bytes());
        }
        crate::output::sha256_hex(&all)
    }

    /// The carrier files, byte for byte, pinned (B2: the address checked in its four
    /// parts since issue 16; yupack: the standard positional layout; yupack-filter: the
    /// former headed file with 敬称 0). A change to any shows here.
    #[test]
    fn carrier_files_are_pinned() {
        for (c, want) in [
            (
                &YamatoB2 as &dyn Carrier,
                "8654fc16226bf7f57390cb9ae271ed3e7caa56d4d2b89c0a5e703dfa50e2dc89",
            ),
            (
                &Yupack,
                "9754445a39d0d437e027129486cf511486e2f362af5a154dca9da0f57d583ff6",
            ),
            (
                &yupack_filter::YupackFilter,
                "940be386b314d26c717eb3c6e9e175eba8b7c5f702dbf6196972fe35e4c9678b",
            ),
        ] {
            let w = render(c, &golden_parcels(), &the_sender(), date()).unwrap();
            assert_eq!(golden_hash(&w.bytes, &w.notes), want, "{}", c.id());
            assert_eq!(w.jis_mapped, 1);
        }
    }

    #[test]
    fn every_carrier_is_one_registry_entry_with_a_unique_name() {
        let ids: Vec<&str> = REGISTRY.iter().map(|c| c.id()).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len());
        for id in ids {
            assert_eq!(find(id).map(|c| c.id()), Some(id));
            assert!(format_values().iter().any(|v| v.get_name() == id));
        }
        assert!(find("xlsx").is_none());
    }
}
