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

/// The text before the erasure record's SHA-256 on the certificate (`close-out --verify`
/// reads the value back after it).
pub const RECORD_SHA_LABEL: &str = "消去記録の SHA-256: ";

/// What the certificate says, in its order: the one model both the `.xlsx` and the
/// `.pdf` are laid out from, so they never say different things.
pub struct Model {
    /// `証明書番号　…` and `発行日　…`, top right.
    pub number: String,
    pub issued: String,
    /// `… 様`, and `（担当　…）` when there is a department.
    pub addressee: String,
    pub department: Option<String>,
    pub contractor: String,
    /// Its representative (代表者: title and name), when the program file names one.
    pub representative: Option<String>,
    /// Its address (所在地), when the program file gives one.
    pub contractor_address: Option<String>,
    pub responsible: String,
    pub title: &'static str,
    pub statement: String,
    /// The fixed words of the page (受託者, 取扱責任者, 印, 記, 以上).
    pub labels: Labels,
    /// The numbered items of the 記 part.
    pub items: Vec<Item>,
    /// The municipality's confirmation box: its heading and statement, and the labels
    /// of its rows (the last one is signed and sealed).
    pub confirm_heading: &'static str,
    pub confirm_statement: &'static str,
    pub confirm_date: (&'static str, &'static str),
    pub confirm_rows: [&'static str; 2],
}

pub struct Labels {
    pub contractor: &'static str,
    pub address: &'static str,
    pub responsible: &'static str,
    pub seal: &'static str,
    pub ki: &'static str,
    pub end: &'static str,
}

/// A numbered item: its label (may hold line breaks) and what it says.
pub struct Item {
    pub label: String,
    pub body: Body,
}

pub enum Body {
    /// Text, wrapped.
    Text(String),
    /// What it is (`small`: in the smaller face), with a hash on the line below.
    Hash {
        what: String,
        small: bool,
        hash: String,
    },
    /// Data categories: (category, `N 件`). The tables' own names are left to the
    /// record: no internal name where a person reads.
    Categories(Vec<(String, String)>),
    /// Files: (name, size, `SHA-256: …`), then the notes.
    Files {
        files: Vec<(String, String, String)>,
        notes: String,
    },
}

fn hash_item(label: &str, what: &str, small: bool, hash: &str) -> Item {
    Item {
        label: label.to_string(),
        body: Body::Hash {
            what: what.to_string(),
            small,
            hash: hash.to_string(),
        },
    }
}

/// The certificate's model from the erasure record.
pub fn model(rec: &Record, record_file: &str, record_sha256: &str) -> Model {
    let p = &rec.program;
    let statement = format!(
        "　下記の業務委託契約の履行に当たり取り扱った個人情報について、保有する全データを返還データとして貴{}に返還した上で、\
         受託者が保有する電子データを下記のとおり消去したことを証明します。",
        municipality_kind(&p.municipality)
    );
    let mut items = Vec::new();
    let text = |label: &str, value: String| Item {
        label: label.to_string(),
        body: Body::Text(value),
    };
    items.push(text("事業名", p.name.clone()));
    items.push(text("契約番号", p.contract_no.clone()));
    items.push(text(
        "事業期間",
        format!("{} 〜 {}", ja_date(&p.start), ja_date(&p.end)),
    ));

    // Data categories with record counts: personal data first, as the contract lists it.
    let mut cats: Vec<&crate::closeout::record::Category> = rec.categories.iter().collect();
    cats.sort_by_key(|c| category_rank(&c.table));
    // Categories that held records, with their counts; those that held none on one
    // line after them (all are in the record), so the certificate stays one page.
    let (held, empty): (Vec<&crate::closeout::record::Category>, Vec<_>) =
        cats.iter().copied().partition(|c| c.records > 0);
    items.push(Item {
        label: "消去したデータ\n（区分・件数）".into(),
        body: Body::Categories(
            held.iter()
                .map(|c| (c.category.clone(), format!("{} 件", thousands(c.records))))
                .collect(),
        ),
    });
    if !empty.is_empty() {
        items.push(text(
            "記録のなかった区分",
            format!(
                "{}（いずれも 0 件）",
                empty
                    .iter()
                    .map(|c| c.category.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ));
    }
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
    items.push(Item {
        label: "消去したファイル\n（大きさと\nSHA-256）".into(),
        body: Body::Files {
            files: files
                .into_iter()
                .map(|(name, size, sha)| (name, size, format!("SHA-256: {sha}")))
                .collect(),
            notes: notes.join("。"),
        },
    });
    items.push(text("消去日時", ja_datetime(&rec.erased_at)));
    items.push(text("消去方法", format!("{}。", rec.method.summary)));
    items.push(text(
        "方法の範囲",
        format!(
            "{}。\n対象外: {}。",
            rec.method.standard,
            rec.method.not_covered.join("、")
        ),
    ));
    let v = &rec.verification.scan;
    items.push(text(
        "消去の確認\n（方法・結果）",
        format!(
            "消去前に集めた{}（計 {} 件）を、表記のゆれと文字コード（{}）の組合せ {} 通りで、\
             データベースのフォルダ（サブフォルダを含む）と書出し先の {} ファイル{}から検索した。\
             データベースのファイルは、行を消した後、ファイルを削除する前にも検索した。{}\n結果: 検出 {} 件（{} 件中）",
            v.values_by_kind
                .iter()
                .map(|k| format!("{} {} 件", k.kind, k.values))
                .collect::<Vec<_>>()
                .join("・"),
            thousands(v.values),
            v.encodings.join("・"),
            thousands(v.patterns),
            thousands(v.files),
            if v.zip_entries > 0 {
                format!("（xlsx・zip の中の {} 件を含む）", thousands(v.zip_entries))
            } else {
                String::new()
            },
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
    ));
    let pkg = &rec.return_package;
    items.push(hash_item(
        "返還データ",
        &format!(
            "{}（表の CSV {} ファイルと manifest.json、{}）",
            pkg.name,
            pkg.files.len(),
            if pkg.encryption == "none" {
                "暗号化なし".to_string()
            } else {
                format!("{} で暗号化", pkg.encryption)
            }
        ),
        false,
        &format!("SHA-256: {}", pkg.sha256),
    ));
    items.push(hash_item(
        "監査ログ",
        &format!("全 {} 件、ハッシュ連鎖を検証済み。最終ハッシュ（返還データの audit_log.csv の最終行）:", rec.audit.entries),
        true,
        &rec.audit.head,
    ));
    items.push(hash_item(
        "消去記録",
        &format!("{record_file}（JSON）"),
        false,
        &format!("{RECORD_SHA_LABEL}{record_sha256}"),
    ));
    Model {
        number: format!("証明書番号　{}", rec.certificate_no),
        issued: format!("発行日　{}", ja_date(&rec.issued_on)),
        addressee: format!("{}　様", rec.addressee),
        department: (!p.department.trim().is_empty())
            .then(|| format!("（担当　{}）", p.department)),
        contractor: p.contractor.clone(),
        representative: Some(p.contractor_representative.clone()).filter(|r| !r.is_empty()),
        contractor_address: Some(p.contractor_address.clone()).filter(|a| !a.is_empty()),
        responsible: rec.responsible_handler.clone(),
        title: "消 去 証 明 書",
        statement,
        labels: Labels {
            contractor: "受託者",
            address: "所在地",
            responsible: "取扱責任者",
            seal: "印",
            ki: "記",
            end: "以上",
        },
        items,
        confirm_heading: "委託元確認欄",
        confirm_statement: "返還データを受領し、この証明書の内容を確認しました。",
        confirm_date: ("確認日", "　　　　年　　　月　　　日"),
        confirm_rows: ["所属・職名", "氏名"],
    }
}

/// The certificate as `.xlsx` bytes.
pub fn render(rec: &Record, record_file: &str, record_sha256: &str) -> Result<Vec<u8>> {
    let m = model(rec, record_file, record_sha256);
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

    // Number and date, top right.
    ws.merge_range(0, 4, 0, LAST_COL, &m.number, &right)?;
    ws.merge_range(1, 4, 1, LAST_COL, &m.issued, &right)?;
    // Addressee.
    let addressee = st.base.clone().set_font_size(14).set_bold();
    ws.merge_range(3, 0, 3, 5, &m.addressee, &addressee)?;
    ws.set_row_height(3, 22)?;
    if let Some(d) = &m.department {
        ws.merge_range(4, 0, 4, 5, d, &base)?;
    }
    // The contractor (address, name and representative), its responsible handler and
    // the seal.
    if let Some(a) = &m.contractor_address {
        ws.write_string_with_format(5, 4, m.labels.address, &base)?;
        ws.merge_range(5, 5, 5, LAST_COL, a, &base)?;
    }
    ws.write_string_with_format(6, 4, m.labels.contractor, &base)?;
    let name = match &m.representative {
        Some(r) => format!("{}　{r}", m.contractor),
        None => m.contractor.clone(),
    };
    ws.merge_range(6, 5, 6, LAST_COL, &name, &base)?;
    ws.write_string_with_format(7, 4, m.labels.responsible, &base)?;
    ws.merge_range(7, 5, 7, 7, &m.responsible, &base)?;
    ws.write_string_with_format(7, LAST_COL, m.labels.seal, &seal)?;
    ws.set_row_height(7, 48)?;
    // Title and statement.
    let title = st
        .base
        .clone()
        .set_font_size(22)
        .set_bold()
        .set_align(FormatAlign::Center);
    ws.merge_range(9, 0, 9, LAST_COL, m.title, &title)?;
    ws.set_row_height(9, 40)?;

    let wrap = base.clone().set_text_wrap().set_align(FormatAlign::Top);
    ws.merge_range(11, 0, 11, LAST_COL, &m.statement, &wrap)?;
    ws.set_row_height(11, 36)?;
    ws.merge_range(12, 0, 12, LAST_COL, m.labels.ki, &center)?;
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
    for item in &m.items {
        match &item.body {
            Body::Text(v) => it.simple(&item.label, v)?,
            Body::Hash { what, small, hash } => it.with_hash(&item.label, what, *small, hash)?,
            Body::Categories(cats) => {
                let r0 = it.head(&item.label, cats.len() as u32)?;
                for (i, (category, count)) in cats.iter().enumerate() {
                    let r = r0 + i as u32;
                    it.ws.merge_range(r, 2, r, 6, category, &value)?;
                    it.ws.merge_range(r, 7, r, LAST_COL, count, &value_right)?;
                    it.ws.set_row_height(r, 15.5)?;
                }
                it.row += cats.len().max(1) as u32;
            }
            Body::Files { files, notes } => {
                let lines = files.len() as u32 * 2 + 1;
                let r0 = it.head(&item.label, lines)?;
                for (i, (name, size, sha)) in files.iter().enumerate() {
                    let r = r0 + 2 * i as u32;
                    it.ws.merge_range(r, 2, r, 6, name, &value_top)?;
                    it.ws
                        .merge_range(r, 7, r, LAST_COL, size, &value_right_top)?;
                    it.ws
                        .merge_range(r + 1, 2, r + 1, LAST_COL, sha, &mono_under)?;
                    it.ws.set_row_height(r, 15.5)?;
                    it.ws.set_row_height(r + 1, 13)?;
                }
                let r = r0 + lines - 1;
                it.ws.merge_range(r, 2, r, LAST_COL, notes, &small)?;
                // The notes wrap (two lines in the demo): a fixed one-line height cut
                // the second line off.
                it.ws
                    .set_row_height(r, height_for(notes, VALUE_WIDTH, 9.0).max(15.5))?;
                it.row += lines;
            }
        }
    }
    let mut row = it.row;
    let ws = it.ws;
    ws.merge_range(row, 6, row, LAST_COL, m.labels.end, &right)?;
    row += 2;

    // The municipality's confirmation.
    ws.merge_range(row, 0, row + 3, 1, m.confirm_heading, &label)?;
    ws.merge_range(row, 2, row, LAST_COL, m.confirm_statement, &value)?;
    ws.write_string_with_format(row + 1, 2, m.confirm_date.0, &label)?;
    ws.merge_range(row + 1, 3, row + 1, LAST_COL, m.confirm_date.1, &value)?;
    ws.write_string_with_format(row + 2, 2, m.confirm_rows[0], &label)?;
    ws.merge_range(row + 2, 3, row + 2, LAST_COL, "", &value)?;
    ws.write_string_with_format(row + 3, 2, m.confirm_rows[1], &label)?;
    ws.merge_range(row + 3, 3, row + 3, 7, "", &value)?;
    ws.write_string_with_format(row + 3, LAST_COL, m.labels.seal, &seal)?;
    ws.set_row_height(row, 22)?;
    for r in row + 1..row + 4 {
        ws.set_row_height(r, 26)?;
    }
    ws.set_row_height(row + 3, 36)?;
    row += 4;
    ws.set_print_area(0, 0, row - 1, LAST_COL)?;
    Ok(wb.save_to_buffer()?)
}

/// The PDF certificate's geometry (mm): A4 portrait, 20 mm margins.
const PDF_LEFT: f64 = 20.0;
const PDF_WIDTH: f64 = 170.0;
const PDF_BOTTOM: f64 = 287.0;
/// Item table columns: number, label, value.
const NUM_W: f64 = 8.0;
const LABEL_W: f64 = 32.0;
const VALUE_PT: f64 = 8.0;
const SMALL_PT: f64 = 6.5;
const LINE: f64 = 1.25;
/// Space above and below the text in a table cell.
const PAD: f64 = 0.6;

/// A cursor down the certificate's pages: a row that would cross the bottom margin
/// starts a new page.
struct Flow {
    pdf: super::pdf::Pdf,
    y: f64,
}

impl Flow {
    fn room(&mut self, h: f64) -> Result<()> {
        if self.y + h > PDF_BOTTOM {
            self.pdf.page()?;
            self.y = 20.0;
        }
        Ok(())
    }

    /// One table row: the number and label cells (when given) and a value cell of
    /// height `h`, framed; returns the value cell's top.
    fn row(&mut self, num: Option<&str>, label: Option<&str>, h: f64) -> Result<f64> {
        self.room(h)?;
        let (x, y) = (PDF_LEFT, self.y);
        let p = &mut self.pdf;
        p.rect(x, y, NUM_W, h, 0.5);
        p.rect(x + NUM_W, y, LABEL_W, h, 0.5);
        p.rect(x + NUM_W + LABEL_W, y, PDF_WIDTH - NUM_W - LABEL_W, h, 0.5);
        if let Some(n) = num {
            p.text_aligned(
                x + NUM_W / 2.0,
                y + PAD,
                VALUE_PT,
                n,
                super::pdf::Align::Center,
            );
        }
        if let Some(l) = label {
            let lines: Vec<String> = l.lines().map(str::to_string).collect();
            p.lines(x + NUM_W + 1.5, y + PAD, VALUE_PT, LINE, &lines);
        }
        self.y += h;
        Ok(y)
    }
}

fn text_h(lines: usize, pt: f64) -> f64 {
    super::pdf::pt_to_mm(pt * LINE) * lines as f64 + 2.0 * PAD
}

/// The certificate as a PDF at `path`, laid out from the same [`model`] as the `.xlsx`:
/// one A4 portrait page (more only if the lists are long), with a box for the seal
/// beside the responsible handler and the municipality's confirmation box.
pub fn write_pdf(
    path: &std::path::Path,
    rec: &Record,
    record_file: &str,
    record_sha256: &str,
) -> Result<super::FileRecord> {
    use super::pdf::{self, Align};
    let m = model(rec, record_file, record_sha256);
    let mut pdf = pdf::Pdf::create(path, "消去証明書")?;
    pdf.page()?;
    let right = PDF_LEFT + PDF_WIDTH;
    pdf.text_aligned(right, 12.0, 10.0, &m.number, Align::Right);
    pdf.text_aligned(right, 17.5, 10.0, &m.issued, Align::Right);
    pdf.text(PDF_LEFT, 24.0, 14.0, &m.addressee);
    if let Some(d) = &m.department {
        pdf.text(PDF_LEFT, 31.0, 10.0, d);
    }
    // The contractor, its responsible handler, and the box for the seal.
    let x = 100.0;
    if let Some(a) = &m.contractor_address {
        pdf.text(x, 31.0, 10.0, m.labels.address);
        pdf.text(x + 22.0, 31.0, 10.0, a);
    }
    pdf.text(x, 40.0, 10.0, m.labels.contractor);
    pdf.text(x + 22.0, 40.0, 10.0, &m.contractor);
    if let Some(r) = &m.representative {
        pdf.text(x + 22.0, 44.5, 9.0, r);
    }
    pdf.text(x, 49.0, 10.0, m.labels.responsible);
    pdf.text(x + 22.0, 49.0, 10.0, &m.responsible);
    let seal = 18.0;
    pdf.rect(right - seal, 36.0, seal, seal, 0.5);
    pdf.text_gray(
        right - seal / 2.0,
        36.0 + seal / 2.0 - 2.5,
        14.0,
        m.labels.seal,
        Align::Center,
        0.6,
    );
    pdf.text_aligned(105.0, 58.0, 20.0, m.title, Align::Center);
    let y = pdf.paragraph(PDF_LEFT, 69.0, PDF_WIDTH, 10.0, &m.statement);
    pdf.text_aligned(105.0, y, 10.0, m.labels.ki, Align::Center);
    let mut f = Flow { pdf, y: y + 6.0 };

    let vx = PDF_LEFT + NUM_W + LABEL_W + 1.5;
    let vw = PDF_WIDTH - NUM_W - LABEL_W - 3.0;
    for (i, item) in m.items.iter().enumerate() {
        let num = (i + 1).to_string();
        let label_h = text_h(item.label.lines().count(), VALUE_PT);
        match &item.body {
            Body::Text(v) => {
                let lines = pdf::wrap(v, VALUE_PT, vw);
                let h = text_h(lines.len(), VALUE_PT).max(label_h);
                let top = f.row(Some(&num), Some(&item.label), h)?;
                f.pdf.lines(vx, top + PAD, VALUE_PT, LINE, &lines);
            }
            Body::Hash { what, small, hash } => {
                let pt = if *small { SMALL_PT } else { VALUE_PT };
                let mut lines = pdf::wrap(what, pt, vw);
                let n = lines.len();
                lines.push(String::new());
                let h = (text_h(n, pt) + text_h(1, SMALL_PT) - 2.0).max(label_h);
                let top = f.row(Some(&num), Some(&item.label), h)?;
                let below = f.pdf.lines(vx, top + PAD, pt, LINE, &lines[..n]);
                f.pdf.text(vx, below, SMALL_PT, hash);
            }
            Body::Categories(cats) => {
                // Two columns of category and count.
                let half = cats.len().div_ceil(2).max(1);
                let row_h = text_h(1, VALUE_PT);
                let h = (row_h * half as f64).max(label_h);
                let top = f.row(Some(&num), Some(&item.label), h)?;
                let col_w = (vw + 3.0) / 2.0;
                f.pdf
                    .line(vx - 1.5 + col_w, top, vx - 1.5 + col_w, top + h, 0.3);
                for (k, (category, count)) in cats.iter().enumerate() {
                    let (c, r) = (k / half, k % half);
                    let cx = vx + c as f64 * col_w;
                    let cy = top + PAD + r as f64 * (row_h - 2.0 * PAD) + r as f64 * 2.0 * PAD;
                    f.pdf.text(cx, cy, VALUE_PT, category);
                    f.pdf
                        .text_aligned(cx + col_w - 3.0, cy, VALUE_PT, count, Align::Right);
                }
            }
            Body::Files { files, notes } => {
                let row_h = text_h(1, VALUE_PT) + text_h(1, SMALL_PT) - 2.0;
                let mut first = true;
                for (name, size, sha) in files {
                    let top = if first {
                        f.row(Some(&num), Some(&item.label), row_h.max(label_h))?
                    } else {
                        f.row(None, None, row_h)?
                    };
                    first = false;
                    let name_w = vw - pdf::text_width_mm(size, VALUE_PT) - 3.0;
                    let (pt, name_lines) = pdf::fit(name, name_w, 4.0, VALUE_PT, 6.0, LINE)
                        .unwrap_or((6.0, vec![name.clone()]));
                    f.pdf.text(vx, top + PAD, pt, &name_lines.join(""));
                    f.pdf
                        .text_aligned(right - 1.5, top + PAD, VALUE_PT, size, Align::Right);
                    f.pdf.text(
                        vx + 2.0,
                        top + PAD + pdf::pt_to_mm(VALUE_PT * LINE),
                        SMALL_PT,
                        sha,
                    );
                }
                let lines = pdf::wrap(notes, SMALL_PT, vw);
                let h = text_h(lines.len(), SMALL_PT);
                let top = if first {
                    f.row(Some(&num), Some(&item.label), h.max(label_h))?
                } else {
                    f.row(None, None, h)?
                };
                f.pdf.lines(vx, top + PAD, SMALL_PT, LINE, &lines);
            }
        }
    }
    f.room(6.0)?;
    f.pdf
        .text_aligned(right, f.y + 1.5, 10.0, m.labels.end, Align::Right);
    f.y += 8.0;

    // The municipality's confirmation box: heading, statement, date, post, name + seal.
    let rows = [6.0, 7.0, 7.0, 11.0];
    let total: f64 = rows.iter().sum();
    f.room(total)?;
    let (x0, y0) = (PDF_LEFT, f.y);
    let head_w = NUM_W + LABEL_W;
    let p = &mut f.pdf;
    p.fill_rect(x0, y0, head_w, total, 0.93);
    p.rect(x0, y0, head_w, total, 0.5);
    p.text_aligned(
        x0 + head_w / 2.0,
        y0 + total / 2.0 - 2.0,
        10.5,
        m.confirm_heading,
        Align::Center,
    );
    let cx = x0 + head_w;
    let cw = PDF_WIDTH - head_w;
    let mut y = y0;
    let texts = [
        (None, m.confirm_statement),
        (Some(m.confirm_date.0), m.confirm_date.1),
        (Some(m.confirm_rows[0]), ""),
        (Some(m.confirm_rows[1]), ""),
    ];
    for (k, ((label, value), h)) in texts.iter().zip(rows).enumerate() {
        p.rect(cx, y, cw, h, 0.5);
        let mut vx = cx + 1.5;
        if let Some(l) = label {
            p.rect(cx, y, 26.0, h, 0.5);
            p.text(cx + 1.5, y + h / 2.0 - 2.0, VALUE_PT, l);
            vx = cx + 27.5;
        }
        p.text(vx, y + h / 2.0 - 2.0, VALUE_PT, value);
        if k == texts.len() - 1 {
            p.rect(right - h, y, h, h, 0.5);
            p.text_gray(
                right - h / 2.0,
                y + h / 2.0 - 2.5,
                12.0,
                m.labels.seal,
                Align::Center,
                0.6,
            );
        }
        y += h;
    }
    f.pdf.finish()
}
