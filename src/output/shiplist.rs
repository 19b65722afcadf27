//! The shipping list (発送リスト): one row per shipped order, sorted by postal code, in
//! `.xlsx` (set up to print: A4 landscape, one page wide, the header repeated) or `.csv`
//! (UTF-8 with BOM, as every CSV this tool writes for people).

use super::Value;
use anyhow::Result;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

pub const HEADERS: [&str; 10] = [
    "発送番号",
    "参加者番号",
    "氏名",
    "郵便番号",
    "住所",
    "方書",
    "電話番号",
    "景品コード",
    "景品名",
    "数量",
];

const WIDTHS: [f64; 10] = [8.0, 11.0, 16.0, 10.0, 44.0, 24.0, 14.0, 11.0, 28.0, 6.0];

/// One shipped order.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    pub shipment: i64,
    pub participant_id: String,
    pub name: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub address2: Option<String>,
    pub phone: Option<String>,
    pub prize_code: String,
    pub prize_name: String,
    pub quantity: i64,
}

impl ListRow {
    pub fn values(&self) -> Vec<Value> {
        vec![
            Value::Int(self.shipment),
            Value::Text(self.participant_id.clone()),
            Value::Text(self.name.clone()),
            self.postal_code.clone().into(),
            self.address.clone().into(),
            self.address2.clone().into(),
            self.phone.clone().into(),
            Value::Text(self.prize_code.clone()),
            Value::Text(self.prize_name.clone()),
            Value::Int(self.quantity),
        ]
    }
}

/// `&` starts a code in an Excel header/footer.
fn header_text(s: &str) -> String {
    s.replace('&', "&&")
}

/// The list as `.xlsx`. `created` fixes the document's creation time so a reprint of
/// the same shipment is the same file, byte for byte.
pub fn xlsx(title: &str, rows: &[ListRow], created: &ExcelDateTime) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    wb.set_properties(&DocProperties::new().set_creation_datetime(created));
    let ws = wb.add_worksheet();
    ws.set_name("発送リスト")?;
    let bold = Format::new()
        .set_bold()
        .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
        ws.set_column_width(c as u16, WIDTHS[c])?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in row.values().iter().enumerate() {
            super::write_xlsx_value(ws, r, c as u16, v, None)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.set_paper_size(9);
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, 0)?;
    ws.set_header(format!("&L{}&R&P / &N", header_text(title)));
    ws.set_print_gridlines(true);
    Ok(wb.save_to_buffer()?)
}

/// The list as `.csv` (UTF-8 with BOM; text that would start a formula neutralized).
pub fn csv(rows: &[ListRow]) -> Result<Vec<u8>> {
    super::csv_bytes(
        &HEADERS,
        &rows.iter().map(ListRow::values).collect::<Vec<_>>(),
    )
}
