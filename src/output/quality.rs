//! The keying quality report (入力品質): per keyer and field kind, the cells keyed, the
//! discrepancies double entry found, the errors attributed once resolved and the error
//! rate per 10,000 cells; then the importer's refusals per keyer and code. Aggregates
//! only. One sheet, written alone (`quality --out`) or into the handling-status report.

use super::xlsx::{self, write_table, Cell, Page, Styles, Tone, Widths};
use crate::quality::{rate_text, Line, Quality};
use anyhow::Result;
use rust_xlsxwriter::{Workbook, Worksheet};

/// The headings of the main table (the terminal prints the same).
pub const HEADINGS: [&str; 7] = [
    "入力者",
    "項目",
    "入力したセル",
    "不一致",
    "誤り（確定）",
    "未確定",
    "誤り率（1万セルあたり）",
];

/// The headings of the refusals table.
pub const REFUSAL_HEADINGS: [&str; 4] = ["入力者", "コード", "件数", "意味"];

/// The text of a line's cells, as the terminal and the sheet show them.
pub fn line_texts(l: &Line) -> [String; 7] {
    [
        l.keyed_by.clone(),
        l.field.map_or("計", |f| f.ja()).to_string(),
        l.cells.to_string(),
        l.discrepancies.to_string(),
        l.errors.to_string(),
        l.unresolved.to_string(),
        rate_text(l.rate()),
    ]
}

const NOTE: &str = "入力したセル: 取り込んだ歩数シートと、ベリファイした入力の行数（参加者番号・日付または年月）と、値のある歩数の欄の数。\
同じ内容のファイルと、同じ相手の入力と照合し直した入力（直した入力）は一度だけ数えます。\
不一致: ベリファイで2回の入力が違った箇所（同じ値が別の日・月なら日付・年月、別の参加者番号なら参加者番号、それ以外は歩数）。\
誤り（確定）: 後の取込みがその台紙の月を取り込んだとき、保存された値と違った側。未確定: まだ取り込まれていない不一致。\
参加者の番号・氏名・値は載せていません。";

/// The sheet 入力品質.
pub fn sheet(ws: &mut Worksheet, q: &Quality, st: &Styles) -> Result<()> {
    ws.set_name("入力品質")?;
    let mut p = Page::table("入力品質（入力者別の誤り率）");
    p.repeat_rows = None;
    p.freeze = None;
    xlsx::page(ws, &p)?;
    ws.merge_range(0, 0, 0, 6, "入力品質（入力者別・項目別）", &st.title)?;
    ws.set_row_height(0, 26)?;
    ws.merge_range(1, 0, 1, 6, NOTE, &st.note)?;
    ws.set_row_height(1, 60)?;
    ws.merge_range(
        2,
        0,
        2,
        6,
        &format!(
            "ベリファイ {} 回、不一致 {} 件（うち未確定 {} 件）",
            q.runs, q.discrepancies, q.unresolved
        ),
        &st.base,
    )?;
    let rows: Vec<Vec<Cell>> = q
        .lines
        .iter()
        .map(|l| {
            let t = if l.field.is_none() {
                Tone::Strong
            } else {
                Tone::Plain
            };
            let n = |x: u64| Cell::Num(x as f64, xlsx::INT, t);
            vec![
                Cell::Text(l.keyed_by.clone(), t),
                Cell::Text(l.field.map_or("計", |f| f.ja()).to_string(), t),
                n(l.cells),
                n(l.discrepancies),
                n(l.errors),
                n(l.unresolved),
                match l.rate() {
                    Some(r) => Cell::Num(r, xlsx::DEC1, t),
                    None => Cell::Text("－".into(), Tone::Mark),
                },
            ]
        })
        .collect();
    let widths = [16.0, 22.0, 13.0, 10.0, 12.0, 10.0, 22.0];
    let next = write_table(ws, st, 4, &HEADINGS, &rows, Widths::Fixed(&widths), false)?;
    // The refusals: keyer, code, count, and the code's meaning across the rest.
    let top = next + 1;
    ws.write_string_with_format(
        top,
        0,
        "取込みで見つかった誤り（入力者別・コード別）",
        &st.heading,
    )?;
    let h = top + 1;
    for (c, head) in ["入力者", "コード", "件数"].iter().enumerate() {
        ws.write_string_with_format(h, c as u16, *head, &st.head)?;
    }
    ws.merge_range(h, 3, h, 6, "意味", &st.head)?;
    if q.refusals.is_empty() {
        ws.write_string_with_format(h + 1, 0, "該当なし", &st.base)?;
    }
    for (i, (k, code, meaning, n)) in q.refusals.iter().enumerate() {
        let r = h + 1 + i as u32;
        xlsx::write_cell(ws, st, r, 0, &Cell::text(k.clone()))?;
        xlsx::write_cell(ws, st, r, 1, &Cell::Text(code.clone(), Tone::Mono))?;
        xlsx::write_cell(ws, st, r, 2, &Cell::Num(*n as f64, xlsx::INT, Tone::Plain))?;
        ws.merge_range(r, 3, r, 6, meaning, st.tone(Tone::Plain))?;
    }
    ws.set_column_width(1, 22.0)?;
    Ok(())
}

/// The report alone, as a workbook.
pub fn write(q: &Quality, created_at: &str) -> Result<Vec<u8>> {
    let st = Styles::new(xlsx::GOTHIC);
    let mut wb = Workbook::new();
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new()
            .set_creation_datetime(&xlsx::created_datetime(created_at)),
    );
    sheet(wb.add_worksheet(), q, &st)?;
    Ok(wb.save_to_buffer()?)
}
