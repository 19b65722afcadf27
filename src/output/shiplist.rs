//! The shipping list (発送リスト): one row per shipped order, sorted by postal code, in
//! `.xlsx` (set up to print: A4 landscape, one page wide, the header repeated) or `.csv`
//! (UTF-8 with BOM, as every CSV this tool writes for people).

use super::carrier;
use super::xlsx::{self, Cell, Page, Styles, Tone};
use super::Value;
use crate::program::Program;
use crate::shipping::{self, ListRow, Problem, ShipFormat};
use anyhow::{bail, Result};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
use std::io::Seek;

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

/// A shipped order as the list's row. The building (方書) is split from the address
/// the same way the labels and the carrier files split it, so the three agree.
pub fn row_values(r: &ListRow) -> Vec<Value> {
    let (street, building) = match r.address.as_deref() {
        Some(a) => {
            let (s, b) = super::address::split_building(a, r.address2.as_deref());
            (Some(s), b)
        }
        None => (None, r.address2.clone()),
    };
    vec![
        Value::Int(r.shipment),
        Value::Text(r.participant_id.clone()),
        Value::Text(r.name.clone()),
        r.postal_code.clone().into(),
        street.into(),
        building.into(),
        r.phone.clone().into(),
        Value::Text(r.prize_code.clone()),
        Value::Text(r.prize_name.clone()),
        Value::Int(r.quantity),
    ]
}

/// The list as `.xlsx`, written to `out`. `created` fixes the document's creation time so
/// a reprint of the same shipment is the same file, byte for byte. The sheet is written in
/// constant memory (row by row to a temporary file, strings inline), each row made as it
/// comes and dropped.
pub fn xlsx(
    title: &str,
    rows: &mut dyn Iterator<Item = ListRow>,
    created: &ExcelDateTime,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let mut wb = Workbook::new();
    wb.set_properties(&DocProperties::new().set_creation_datetime(created));
    let st = Styles::new(xlsx::GOTHIC);
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name("発送リスト")?;
    xlsx::page(ws, &Page::table(title))?;
    for (c, w) in WIDTHS.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &st.head)?;
    }
    let (mut n, mut quantity, mut people) = (0u32, 0i64, 0usize);
    let mut last: Option<String> = None;
    for r in rows {
        quantity += r.quantity;
        if last.as_deref() != Some(r.participant_id.as_str()) {
            people += 1;
            last = Some(r.participant_id.clone());
        }
        for (c, v) in row_values(&r).into_iter().enumerate() {
            let cell = match v {
                Value::Int(n) => Cell::Num(n as f64, xlsx::INT, Tone::Plain),
                Value::Float(x) => Cell::Num(x, xlsx::INT, Tone::Plain),
                Value::Text(s) => Cell::Text(s, Tone::Plain),
                Value::Empty => Cell::Blank(Tone::Plain),
            };
            xlsx::write_cell(ws, &st, 1 + n, c as u16, &cell)?;
        }
        n += 1;
    }
    if n == 0 {
        ws.write_string_with_format(1, 0, "該当なし", &st.base)?;
    } else {
        // The totals the packer checks the boxes against, below the list.
        ws.write_string_with_format(
            n + 2,
            0,
            format!("合計: {n} 件、{people} 名、数量 {quantity}"),
            &st.heading,
        )?;
    }
    // Saved into an unlinked temporary file and copied from there, not built in
    // memory: a list of 10⁶ orders is tens of MB compressed. The worksheet's rows
    // already wait in such files (the workbook's constant-memory mode).
    let mut tmp = super::anonymous_temp("発送リスト")?;
    super::xlsx_call(|| wb.save_to_writer(&mut tmp))??;
    tmp.seek(std::io::SeekFrom::Start(0))?;
    std::io::copy(&mut tmp, out)?;
    Ok(())
}

/// The list as `.csv` (UTF-8 with BOM; text that would start a formula neutralized),
/// written to `out` a row at a time.
pub fn csv(rows: &mut dyn Iterator<Item = ListRow>, out: &mut dyn std::io::Write) -> Result<()> {
    super::csv_into(&HEADERS, rows.map(|r| row_values(&r)), out)
}

/// A written shipment's notes for the operator and what its rows add up to, or every
/// problem that stops it.
pub type Checked = std::result::Result<(Vec<String>, shipping::Summary), Vec<Problem>>;

/// A shipment's file in `format` (list or carrier file), the rows taken one at a time
/// (in shipping order) and written to `out` as they come, never held whole: the notes
/// for the operator and what the rows add up to, or every problem that stops it (what
/// was written is then not the file). `created_at` is the shipment's time (the list's
/// creation time); `ship_date` the carrier file's 出荷予定日 (`ship --ship-date`,
/// checked by the command).
pub fn render_into(
    program: &Program,
    format: &ShipFormat,
    shipment: i64,
    rows: &mut dyn Iterator<Item = ListRow>,
    created_at: &str,
    ship_date: chrono::NaiveDate,
    out: &mut dyn std::io::Write,
) -> Result<Checked> {
    render_or_check(
        program,
        format,
        shipment,
        rows,
        created_at,
        ship_date,
        Some(out),
    )
}

/// As [`render_into`], what the file would say (the notes, the totals, or every
/// problem) without making it: a list (`.xlsx`, `.csv`) is only tallied, a carrier
/// file, whose problems come from laying out its parcels, is laid out into nothing.
pub fn check(
    program: &Program,
    format: &ShipFormat,
    shipment: i64,
    rows: &mut dyn Iterator<Item = ListRow>,
    created_at: &str,
    ship_date: chrono::NaiveDate,
) -> Result<Checked> {
    render_or_check(program, format, shipment, rows, created_at, ship_date, None)
}

fn render_or_check(
    program: &Program,
    format: &ShipFormat,
    shipment: i64,
    rows: &mut dyn Iterator<Item = ListRow>,
    created_at: &str,
    ship_date: chrono::NaiveDate,
    out: Option<&mut dyn std::io::Write>,
) -> Result<Checked> {
    let mut notes = Vec::new();
    let mut tally = shipping::Tally::default();
    match format {
        ShipFormat::Xlsx | ShipFormat::Csv => {
            // The lists need no parcels: checked as the rows pass, never copied.
            let mut rows = rows.inspect(|r| tally.add(r));
            match (format, out) {
                (_, None) => rows.by_ref().for_each(drop),
                (ShipFormat::Csv, Some(out)) => csv(&mut rows, out)?,
                (_, Some(out)) => xlsx(
                    &format!(
                        "{} 発送リスト（発送番号 {shipment}、出荷予定日 {}）",
                        program.program.name,
                        ship_date.format("%Y/%m/%d")
                    ),
                    &mut rows,
                    &super::xlsx::created_datetime(created_at),
                    out,
                )?,
            };
            drop(rows);
            if !tally.missing_phone.is_empty() {
                notes.push(format!(
                    "電話番号のない参加者が {} 名います（発送リストの電話番号は空欄です）: {}",
                    tally.missing_phone.len(),
                    tally.missing_phone.join("、")
                ));
            }
            if !tally.problems.is_empty() {
                return Ok(Err(tally.problems));
            }
        }
        ShipFormat::Carrier(id) => {
            let Some(c) = carrier::find(id) else {
                bail!("internal: unknown carrier format {id}");
            };
            let sender = match carrier::sender(program, c) {
                Ok(s) => s,
                Err(keys) => bail!(
                    "{}の送り状データには、プログラムファイルの [shipping] に次の値が必要です: {}。\
                     プログラムファイルに書き足して init からやり直すか、--format xlsx の発送リストを使ってください \
                     (the carrier format needs these program-file keys)",
                    c.as_ja(),
                    keys.join("、")
                ),
            };
            // Participants refused (no address) are reported by the tally, first, as
            // before the carrier's own problems; the carrier skips their parcels.
            let parcels = shipping::Parcels::new(rows.inspect(|r| tally.add(r)));
            let mut nowhere = std::io::sink();
            let out = out.unwrap_or(&mut nowhere);
            let written = carrier::render_into(c, parcels, &sender, ship_date, out);
            let mut problems = std::mem::take(&mut tally.problems);
            match written {
                Err(more) => {
                    problems.extend(
                        more.into_iter()
                            .filter(|p| !shipping::Tally::is_destination_problem(p)),
                    );
                    return Ok(Err(problems));
                }
                Ok(_) if !problems.is_empty() => return Ok(Err(problems)),
                Ok(w) => {
                    if w.jis_mapped > 0 {
                        notes.push(format!(
                            "JIS と CP932 で対応の違う文字 {} 字を CP932 の字で書きました（〜→～ など、同じ文字です）",
                            w.jis_mapped
                        ));
                    }
                    for (pid, chars) in &w.vendor_chars {
                        notes.push(format!(
                            "{pid}: 機種依存文字 {} を含みます。送り状ソフトや印字で表示されないことがあります。取込み後に確かめてください",
                            chars.iter().map(|c| format!("「{c}」")).collect::<String>()
                        ));
                    }
                    notes.extend(w.notes);
                    notes.push(format!(
                        "このファイルは Excel で開いて保存し直さず、そのまま{}に取り込んでください。\
                         Excel で保存すると、お客様コード・電話番号・郵便番号の先頭の 0 が消えます \
                         (do not re-save in Excel: leading zeros are lost)",
                        c.as_ja()
                    ));
                }
            }
        }
    }
    Ok(Ok((notes, tally.summary)))
}

/// What the file is, as the done message names it.
pub fn file_ja(format: &ShipFormat) -> &'static str {
    match format {
        ShipFormat::Xlsx | ShipFormat::Csv => "発送リスト",
        ShipFormat::Carrier(id) => carrier::find(id)
            .map(|c| c.info().file_ja)
            .unwrap_or("送り状データ"),
    }
}
