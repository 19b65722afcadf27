//! The erasure certificate (消去証明書) laid out: one A4 portrait page in Japanese, as a
//! municipal contractor's certificate is (number and date top right, addressee, the
//! contractor and its responsible handler with a box for the seal, the title, 記 and
//! numbered items, 以上, and the municipality's confirmation box), ready to print and
//! stamp. The wording helpers live in `closeout::certificate`.

use crate::closeout::certificate::{
    category_rank, file_name, ja_date, ja_datetime, municipality_kind,
};
use crate::closeout::record::Record;
use crate::output::thousands;
use crate::output::xlsx::{self, Fit, Page, Styles, Tone};
use anyhow::Result;
use rust_xlsxwriter::{
    Color, DocProperties, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
};

const FONT_MONO: &str = "ＭＳ ゴシック";
/// Width of columns C..I in Excel's character units, for the height of wrapped text.
const VALUE_WIDTH: f64 = 71.5;
const LAST_COL: u16 = 8; // columns A..I
/// Exports listed one per row on the page; the rest are counted (all are in the record).
const MAX_EXPORT_ROWS: usize = 5;

/// A numbered item of the 記 part, spanning `lines` rows.
struct Items<'a> {
    ws: &'a mut Worksheet,
    label: &'a Format,
    value: &'a Format,
    small: &'a Format,
    mono: &'a Format,
    row: u32,
    n: u32,
}

impl Items<'_> {
    /// Number and label for rows row..row+lines-1.
    fn head(&mut self, label: &str, lines: u32) -> Result<u32> {
        self.n += 1;
        let (r0, r1) = (self.row, self.row + lines.max(1) - 1);
        let num = self.n.to_string();
        if r1 > r0 {
            self.ws.merge_range(r0, 0, r1, 0, &num, self.label)?;
            self.ws.merge_range(r0, 1, r1, 1, label, self.label)?;
        } else {
            self.ws.write_string_with_format(r0, 0, &num, self.label)?;
            self.ws.write_string_with_format(r0, 1, label, self.label)?;
        }
        Ok(r0)
    }

    /// An item of two lines: what it is (`small`: in the smaller face) and its hash.
    fn with_hash(&mut self, label: &str, what: &str, small: bool, hash: &str) -> Result<()> {
        let r = self.head(label, 2)?;
        let fmt = if small { self.small } else { self.value };
        self.ws.merge_range(r, 2, r, LAST_COL, what, fmt)?;
        self.ws
            .merge_range(r + 1, 2, r + 1, LAST_COL, hash, self.mono)?;
        self.ws.set_row_height(r, 18)?;
        self.ws.set_row_height(r + 1, 16)?;
        self.row += 2;
        Ok(())
    }

    /// A one-value item over columns C..I, as tall as its wrapped text.
    fn simple(&mut self, label: &str, value: &str) -> Result<()> {
        let r = self.head(label, 1)?;
        self.ws.merge_range(r, 2, r, LAST_COL, value, self.value)?;
        self.ws.set_row_height(
            r,
            height_for(value, VALUE_WIDTH, 10.5).max(label_height(label)),
        )?;
        self.row += 1;
        Ok(())
    }
}

/// The row height (points) wrapped text needs in a merged cell `width` character units
/// wide: spreadsheets do not grow merged rows by themselves. A full-width character
/// takes two units at 10.5 points, proportionally at other sizes.
fn height_for(text: &str, width: f64, size: f64) -> f64 {
    let scale = size / 10.5;
    let usable = width * 0.95;
    let lines: f64 = text
        .split('\n')
        .map(|line| {
            let units: f64 = line
                .chars()
                .map(|c| if c.is_ascii() { 1.2 } else { 2.0 } * scale)
                .sum();
            (units / usable).ceil().max(1.0)
        })
        .sum();
    (lines * size * 1.4 + 5.0).max(18.0)
}

fn label_height(label: &str) -> f64 {
    (label.lines().count() as f64) * 15.0 + 4.0
}

/// The certificate as `.xlsx` bytes.
/// The text before the erasure record's SHA-256 on the certificate (`close-out --verify`
/// reads the value back after it).
pub const RECORD_SHA_LABEL: &str = "消去記録の SHA-256: ";

pub fn render(rec: &Record, record_file: &str, record_sha256: &str) -> Result<Vec<u8>> {
    // The certificate's cells, drawn from the one style set in its serif face.
    let st = Styles::new(xlsx::MINCHO);

    let value = st
        .tone(Tone::Plain)
        .clone()
        .set_text_wrap()
        .set_align(FormatAlign::Left);
    let mono = value
        .clone()
        .set_font_name(FONT_MONO)
        .set_font_family(3)
        .set_font_size(8);
    let base = st.base.clone();
    let right = st.base.clone().set_align(FormatAlign::Right);
    let center = st.base.clone().set_align(FormatAlign::Center);
    let label = st.label.clone().set_align(FormatAlign::Center);
    let value_right = value.clone().set_align(FormatAlign::Right);
    let mono_under = mono
        .clone()
        .set_indent(1)
        .set_border_top(FormatBorder::None);
    let value_top = value.clone().set_border_bottom(FormatBorder::None);
    let value_right_top = value
        .clone()
        .set_align(FormatAlign::Right)
        .set_border_bottom(FormatBorder::None);
    let small = value.clone().set_font_size(9);
    let seal = st
        .tone(Tone::Mark)
        .clone()
        .set_font_color(Color::RGB(0xA0A0A0));

    let mut wb = Workbook::new();
    let props = DocProperties::new()
        .set_title("消去証明書")
        .set_company(&rec.program.contractor)
        .set_author(&rec.program.contractor)
        .set_creation_datetime(&xlsx::created_datetime(&rec.completed_at));
    wb.set_properties(&props);
    let ws = wb.add_worksheet();
    ws.set_name("消去証明書")?;
    // A4 portrait, one page, no grid: a document, not a spreadsheet.
    xlsx::page(
        ws,
        &Page {
            landscape: false,
            fit: Fit::OnePage,
            repeat_rows: None,
            freeze: None,
            title: None,
            gridlines: false,
        },
    )?;
    for (c, w) in [4.0, 15.0, 13.0, 9.0, 10.0, 10.0, 10.0, 10.0, 9.5]
        .iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, *w)?;
    }
    let p = &rec.program;

    // Number and date, top right.
    ws.merge_range(
        0,
        4,
        0,
        LAST_COL,
        &format!("証明書番号　{}", rec.certificate_no),
        &right,
    )?;
    ws.merge_range(
        1,
        4,
        1,
        LAST_COL,
        &format!("発行日　{}", ja_date(&rec.issued_on)),
        &right,
    )?;
    // Addressee.
    let addressee = st.base.clone().set_font_size(14).set_bold();
    ws.merge_range(3, 0, 3, 5, &format!("{}　様", rec.addressee), &addressee)?;
    ws.set_row_height(3, 22)?;
    if !p.department.trim().is_empty() {
        ws.merge_range(4, 0, 4, 5, &format!("（担当　{}）", p.department), &base)?;
    }
    // The contractor, its responsible handler and the seal.
    ws.write_string_with_format(6, 4, "受託者", &base)?;
    ws.merge_range(6, 5, 6, LAST_COL, &p.contractor, &base)?;
    ws.write_string_with_format(7, 4, "取扱責任者", &base)?;
    ws.merge_range(7, 5, 7, 7, &rec.responsible_handler, &base)?;
    ws.write_string_with_format(7, LAST_COL, "印", &seal)?;
    ws.set_row_height(7, 48)?;
    // Title and statement.
    let title = st
        .base
        .clone()
        .set_font_size(22)
        .set_bold()
        .set_align(FormatAlign::Center);
    ws.merge_range(9, 0, 9, LAST_COL, "消 去 証 明 書", &title)?;
    ws.set_row_height(9, 40)?;
    let statement = format!(
        "　下記の業務委託契約の履行に当たり取り扱った個人情報について、保有する全データを返還データとして貴{}に返還した上で、\
         受託者が保有する電子データを下記のとおり消去したことを証明します。",
        municipality_kind(&p.municipality)
    );
    let wrap = base.clone().set_text_wrap().set_align(FormatAlign::Top);
    ws.merge_range(11, 0, 11, LAST_COL, &statement, &wrap)?;
    ws.set_row_height(11, 36)?;
    ws.merge_range(12, 0, 12, LAST_COL, "記", &center)?;
    ws.set_row_height(12, 20)?;

    let mut it = Items {
        ws,
        label: &label,
        value: &value,
        small: &small,
        mono: &mono,
        row: 13,
        n: 0,
    };
    it.simple("事業名", &p.name)?;
    it.simple("契約番号", &p.contract_no)?;
    it.simple(
        "事業期間",
        &format!("{} 〜 {}", ja_date(&p.start), ja_date(&p.end)),
    )?;

    // Data categories with record counts: personal data first, as the contract lists it.
    let mut cats: Vec<&crate::closeout::record::Category> = rec.categories.iter().collect();
    cats.sort_by_key(|c| category_rank(&c.table));
    let r0 = it.head("消去したデータ\n（区分・件数）", cats.len() as u32)?;
    for (i, c) in cats.iter().enumerate() {
        let r = r0 + i as u32;
        it.ws.merge_range(r, 2, r, 6, &c.category, &value)?;
        it.ws.merge_range(
            r,
            7,
            r,
            LAST_COL,
            &format!("{} 件", thousands(c.records)),
            &value_right,
        )?;
        it.ws.set_row_height(r, 15.5)?;
    }
    it.row += cats.len().max(1) as u32;

    // Files erased, each with its size, and its SHA-256 on the line below.
    let mut files: Vec<(String, String, String)> = rec
        .erased_files
        .iter()
        .map(|f| {
            (
                format!("{}（{}）", file_name(&f.path), f.role),
                format!("{} バイト", thousands(f.bytes)),
                f.sha256.clone(),
            )
        })
        .collect();
    let erased_exports: Vec<_> = rec
        .exports
        .iter()
        .filter(|e| e.status == "erased")
        .collect();
    for e in erased_exports.iter().take(MAX_EXPORT_ROWS) {
        files.push((
            format!("{}（書出しファイル）", file_name(&e.path)),
            format!("{} バイト", thousands(e.bytes)),
            e.sha256.clone(),
        ));
    }
    let not_erased = rec.exports.len() - erased_exports.len();
    let mut notes = Vec::new();
    if erased_exports.len() > MAX_EXPORT_ROWS {
        notes.push(format!(
            "ほかに書出しファイル {} 件を消去",
            erased_exports.len() - MAX_EXPORT_ROWS
        ));
    }
    if not_erased > 0 {
        notes.push(format!(
            "消去していない書出しファイル {not_erased} 件（状態は消去記録に記載）"
        ));
    }
    // Each category of file the tool read or wrote, with its counts.
    let count = |v: &[crate::closeout::state::ExportFile], s: &str| {
        v.iter().filter(|e| e.status == s).count()
    };
    notes.push(format!(
        "取り込んだ元のファイル {} 件: 消去 {} 件、記録の場所に無し（移動・引渡し済み）{} 件",
        rec.inputs.len(),
        count(&rec.inputs, "erased"),
        count(&rec.inputs, "not_found")
    ));
    notes.push(format!(
        "書出しファイル {} 件: 消去 {} 件、記録の場所に無し（移動・引渡し済み）{} 件、消去せず {} 件",
        rec.exports.len(),
        count(&rec.exports, "erased"),
        count(&rec.exports, "not_found"),
        rec.exports.len() - count(&rec.exports, "erased") - count(&rec.exports, "not_found")
    ));
    notes.push("各ファイルの場所は消去記録に記載".into());
    let lines = files.len() as u32 * 2 + 1;
    let r0 = it.head("消去したファイル\n（大きさと\nSHA-256）", lines)?;
    for (i, (name, size, sha)) in files.iter().enumerate() {
        let r = r0 + 2 * i as u32;
        it.ws.merge_range(r, 2, r, 6, name, &value_top)?;
        it.ws
            .merge_range(r, 7, r, LAST_COL, size, &value_right_top)?;
        it.ws.merge_range(
            r + 1,
            2,
            r + 1,
            LAST_COL,
            &format!("SHA-256: {sha}"),
            &mono_under,
        )?;
        it.ws.set_row_height(r, 15.5)?;
        it.ws.set_row_height(r + 1, 13)?;
    }
    let r = r0 + lines - 1;
    it.ws
        .merge_range(r, 2, r, LAST_COL, &notes.join("。"), &small)?;
    it.ws.set_row_height(r, 15.5)?;
    it.row += lines;

    it.simple("消去日時", &ja_datetime(&rec.erased_at))?;
    it.simple("消去方法", &format!("{}。", rec.method.summary))?;
    it.simple(
        "方法の範囲",
        &format!(
            "{}。\n対象外: {}。",
            rec.method.standard,
            rec.method.not_covered.join("、")
        ),
    )?;
    let v = &rec.verification.scan;
    it.simple(
        "消去の確認\n（方法・結果）",
        &format!(
            "消去前に集めた{}（計 {} 件）を、表記のゆれと文字コード（{}）の組合せ {} 通りで、\
             データベースのフォルダ（サブフォルダを含む）と書出し先の {} ファイル（xlsx・zip の中 {} 件を含む）から検索した。\
             行を削除した後のデータベースファイルも、削除前に検索した。{}\n結果: 検出 {} 件（{} 件中）",
            v.values_by_kind
                .iter()
                .map(|k| format!("{} {} 件", k.kind, k.values))
                .collect::<Vec<_>>()
                .join("・"),
            thousands(v.values),
            v.encodings.join("・"),
            thousands(v.patterns),
            thousands(v.files),
            thousands(v.zip_entries),
            if v.skipped_handler_names > 0 {
                format!(
                    "取扱者と同姓同名の氏名 {} 件は、取扱者名として記載があるため氏名では検索していない（番号・電話番号は検索）。",
                    v.skipped_handler_names
                )
            } else {
                String::new()
            },
            v.hits,
            thousands(v.values)
        ),
    )?;
    let pkg = &rec.return_package;
    it.with_hash(
        "返還データ",
        &format!(
            "{}（{} ファイル、{}）",
            pkg.name,
            pkg.files.len() + 1,
            if pkg.encryption == "none" {
                "暗号化なし".to_string()
            } else {
                format!("{} で暗号化", pkg.encryption)
            }
        ),
        false,
        &format!("SHA-256: {}", pkg.sha256),
    )?;
    it.with_hash(
        "監査ログ",
        &format!("全 {} 件、ハッシュ連鎖を検証済み。最終ハッシュ（返還データの audit_log.csv の最終行）:", rec.audit.entries),
        true,
        &rec.audit.head,
    )?;
    it.with_hash(
        "消去記録",
        &format!("{record_file}（JSON）"),
        false,
        &format!("{RECORD_SHA_LABEL}{record_sha256}"),
    )?;
    let mut row = it.row;
    let ws = it.ws;
    ws.merge_range(row, 6, row, LAST_COL, "以上", &right)?;
    row += 2;

    // The municipality's confirmation.
    ws.merge_range(row, 0, row + 3, 1, "委託元確認欄", &label)?;
    ws.merge_range(
        row,
        2,
        row,
        LAST_COL,
        "返還データを受領し、この証明書の内容を確認しました。",
        &value,
    )?;
    ws.write_string_with_format(row + 1, 2, "確認日", &label)?;
    ws.merge_range(
        row + 1,
        3,
        row + 1,
        LAST_COL,
        "　　　　年　　　月　　　日",
        &value,
    )?;
    ws.write_string_with_format(row + 2, 2, "所属・職名", &label)?;
    ws.merge_range(row + 2, 3, row + 2, LAST_COL, "", &value)?;
    ws.write_string_with_format(row + 3, 2, "氏名", &label)?;
    ws.merge_range(row + 3, 3, row + 3, 7, "", &value)?;
    ws.write_string_with_format(row + 3, LAST_COL, "印", &seal)?;
    ws.set_row_height(row, 22)?;
    for r in row + 1..row + 4 {
        ws.set_row_height(r, 26)?;
    }
    ws.set_row_height(row + 3, 36)?;
    row += 4;
    ws.set_print_area(0, 0, row - 1, LAST_COL)?;
    Ok(wb.save_to_buffer()?)
}
