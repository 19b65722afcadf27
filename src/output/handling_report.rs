//! The handling-status report (取扱状況報告書) as an `.xlsx` for printing: A4 landscape,
//! Japanese headings, one page wide, the heading row repeated on every page. Sheets:
//! 概要 (program, handlers, chain state and head hash, who made it when), 操作記録 (every
//! audit entry), 複製記録 (every file written and whether it is still on disk,
//! unchanged), 保有件数 (records held now). Every text cell is written as a string.

use crate::handling::{command_ja, status_ja, Copy, HandlingReport, OnDisk};
use crate::program::Role;
use anyhow::Result;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet};
use std::path::Path;

const FONT: &str = "游ゴシック";

struct Styles {
    title: Format,
    label: Format,
    text: Format,
    mono: Format,
    head: Format,
    cell: Format,
    cell_mono: Format,
    num: Format,
    bad: Format,
    bad_num: Format,
    note: Format,
}

fn styles() -> Styles {
    let base = Format::new()
        .set_font_name(FONT)
        .set_font_size(10)
        .set_align(FormatAlign::Top)
        .set_text_wrap();
    let boxed = base.clone().set_border(FormatBorder::Thin);
    Styles {
        title: Format::new()
            .set_font_name(FONT)
            .set_font_size(16)
            .set_bold(),
        label: boxed
            .clone()
            .set_bold()
            .set_background_color(Color::RGB(0xF2F2F2)),
        text: boxed.clone(),
        mono: boxed.clone().set_font_name("Consolas"),
        head: boxed
            .clone()
            .set_bold()
            .set_background_color(Color::RGB(0xDDEBF7))
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter),
        cell: boxed.clone(),
        cell_mono: boxed.clone().set_font_name("Consolas").set_font_size(9),
        num: boxed.clone().set_num_format("#,##0"),
        bad: boxed
            .clone()
            .set_background_color(Color::RGB(0xFFC7CE))
            .set_font_color(Color::RGB(0x9C0006)),
        bad_num: boxed
            .clone()
            .set_background_color(Color::RGB(0xFFC7CE))
            .set_font_color(Color::RGB(0x9C0006)),
        note: base.set_font_size(9),
    }
}

/// Print setup shared by every sheet.
fn page(ws: &mut Worksheet, title: &str, repeat_heading: bool) -> Result<()> {
    ws.set_paper_size(9); // A4
    ws.set_landscape();
    ws.set_margins(0.5, 0.5, 0.6, 0.6, 0.3, 0.3);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_print_center_horizontally(true);
    ws.set_header(format!("&L{title}&R&A"));
    ws.set_footer("&C&P / &N");
    if repeat_heading {
        ws.set_repeat_rows(0, 0)?;
        ws.set_freeze_panes(1, 0)?;
    }
    Ok(())
}

/// `2025-06-01T10:00:00+09:00` as `2025-06-01 10:00:00`; an offset other than Japan's
/// is kept (` +00:00`) so a PC set to another zone does not pass unnoticed.
fn time(at: &str) -> String {
    let t = at.replacen('T', " ", 1);
    match t.get(19..) {
        Some("+09:00") | Some("") | None => t.get(..19).unwrap_or(&t).to_string(),
        Some(off) => format!("{} {off}", &t[..19]),
    }
}

/// Lines a wrapped cell needs at `width` (Excel column units). Spreadsheets do not grow
/// rows for wrapped text written by a program, so heights are set from this estimate:
/// a full-width character takes about two units, others about one.
fn lines(text: &str, width: f64) -> u32 {
    text.split('\n')
        .map(|line| {
            let units: f64 = line
                .chars()
                .map(|c| {
                    if (c as u32) < 0x2E80 || ('\u{FF61}'..='\u{FF9F}').contains(&c) {
                        1.0
                    } else {
                        1.9
                    }
                })
                .sum();
            ((units / (width - 1.0).max(1.0)).ceil() as u32).max(1)
        })
        .sum::<u32>()
        .max(1)
}

/// One table cell: text (wrapped), a hash or code (monospace), or a number.
enum Cell {
    Text(String),
    Mono(String),
    Num(f64),
    /// Text in the error style (a broken entry, a changed copy).
    Bad(String),
}

/// Write a table row and set its height to fit the tallest wrapped cell.
fn table_row(
    ws: &mut Worksheet,
    st: &Styles,
    row: u32,
    widths: &[f64],
    cells: Vec<Cell>,
    all_bad: bool,
) -> Result<()> {
    let mut most = 1;
    for (c, cell) in cells.into_iter().enumerate() {
        let col = c as u16;
        let w = widths.get(c).copied().unwrap_or(10.0);
        match cell {
            Cell::Num(n) => {
                ws.write_number_with_format(
                    row,
                    col,
                    n,
                    if all_bad { &st.bad_num } else { &st.num },
                )?;
            }
            Cell::Text(t) => {
                most = most.max(lines(&t, w));
                ws.write_string_with_format(
                    row,
                    col,
                    &t,
                    if all_bad { &st.bad } else { &st.cell },
                )?;
            }
            Cell::Mono(t) => {
                most = most.max(lines(&t, w));
                ws.write_string_with_format(row, col, &t, &st.cell_mono)?;
            }
            Cell::Bad(t) => {
                most = most.max(lines(&t, w));
                ws.write_string_with_format(row, col, &t, &st.bad)?;
            }
        }
    }
    ws.set_row_height(row, 13.5 * most as f64 + 3.0)?;
    Ok(())
}

fn base_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

fn folder(path: &str) -> String {
    Path::new(path)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The workbook's bytes.
pub fn render(r: &HandlingReport) -> Result<Vec<u8>> {
    let st = styles();
    let mut wb = Workbook::new();
    overview(wb.add_worksheet(), r, &st)?;
    operations(wb.add_worksheet(), r, &st)?;
    copies(wb.add_worksheet(), r, &st)?;
    holdings(wb.add_worksheet(), r, &st)?;
    Ok(wb.save_to_buffer()?)
}

fn chain_text(r: &HandlingReport) -> String {
    match &r.chain.broken {
        None => format!(
            "正常: 記録 1〜{} のハッシュ連鎖と控え（最終番号・先頭ハッシュ）が一致しました",
            r.chain.entries
        ),
        Some((seq, why)) => {
            format!("異常: 記録 {seq} で連鎖が切れています。{why}。この記録以降は信頼できません")
        }
    }
}

fn overview(ws: &mut Worksheet, r: &HandlingReport, st: &Styles) -> Result<()> {
    ws.set_name("概要")?;
    page(ws, "取扱状況報告書", false)?;
    ws.set_column_width(0, 24)?;
    ws.set_column_width(1, 100)?;
    ws.merge_range(0, 0, 0, 1, "取扱状況報告書", &st.title)?;
    ws.set_row_height(0, 28)?;
    ws.merge_range(
        1,
        0,
        1,
        1,
        "個人情報の取扱いに関する特記事項に基づき、本事業の個人情報の取扱状況を報告します。",
        &st.note,
    )?;
    let p = &r.program.program;
    let names = |role: Role| {
        r.program
            .handlers
            .iter()
            .filter(|h| h.role == role)
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join("、")
    };
    let refused = r
        .entries
        .iter()
        .filter(|e| e.status() == "refused: not a designated handler")
        .count();
    let on_disk = r.copies.iter().filter(|c| c.exists()).count();
    let unchanged = r
        .copies
        .iter()
        .filter(|c| c.matches() == Some(true))
        .count();
    let held = |t: &str| r.holdings.iter().find(|h| h.table == t).map(|h| h.rows);
    let mut holding_line = Vec::new();
    if let Some(n) = held("participants") {
        holding_line.push(format!("登録者 {} 名", super::thousands(n)));
    }
    if let Some(n) = held("steps") {
        holding_line.push(format!("歩数 {} 件", super::thousands(n)));
    }
    holding_line.push("内訳は「保有件数」のシート".to_string());
    let next_seq = r.entries.last().map_or(1, |e| e.seq + 1);
    let rows: Vec<(&str, String, bool)> = vec![
        ("事業名", p.name.clone(), false),
        (
            "委託元",
            format!("{} {}", p.municipality, p.department)
                .trim()
                .to_string(),
            false,
        ),
        ("契約番号", p.contract_no.clone(), false),
        ("受託者", p.contractor.clone(), false),
        (
            "事業期間",
            format!(
                "{} 〜 {}（{} 〜 {}）",
                p.start,
                p.end,
                crate::sheet::date::wareki(p.start),
                crate::sheet::date::wareki(p.end)
            ),
            false,
        ),
        ("取扱責任者", names(Role::Responsible), false),
        ("取扱者", names(Role::Handler), false),
        ("報告日時", time(&r.made_at), false),
        ("報告者（操作者）", r.operator.clone(), false),
        ("データベース", r.db_path.clone(), false),
        ("監査ログの状態", chain_text(r), r.chain.broken.is_some()),
        (
            "先頭ハッシュ（SHA-256）",
            match &r.chain.broken {
                None => r.chain.head.clone(),
                Some((seq, _)) => format!(
                    "{}\n（記録 {} までの確認できたハッシュです。連鎖が切れているため先頭ハッシュとしては使えません）",
                    r.chain.head,
                    seq - 1
                ),
            },
            r.chain.broken.is_some(),
        ),
        (
            "操作記録",
            format!(
                "{} 件（うち指定外の者による操作の試み {refused} 件、すべて拒否）",
                super::thousands(r.entries.len() as i64)
            ),
            false,
        ),
        (
            "複製記録（出力ファイル）",
            format!(
                "{} 件（うち現在ディスク上にあるもの {on_disk} 件、内容が出力時のままのもの {unchanged} 件）",
                r.copies.len()
            ),
            false,
        ),
        ("保有件数", holding_line.join("、"), false),
    ];
    let mut row = 3u32;
    for (label, value, bad) in &rows {
        ws.write_string_with_format(row, 0, *label, &st.label)?;
        let fmt = if *bad {
            &st.bad
        } else if label.starts_with("先頭ハッシュ") {
            &st.mono
        } else {
            &st.text
        };
        ws.write_string_with_format(row, 1, value, fmt)?;
        ws.set_row_height(row, 13.5 * lines(value, 100.0) as f64 + 3.0)?;
        row += 1;
    }
    row += 1;
    let notes = [
        "・この報告書に個人情報（氏名・住所・電話番号・生年月日など）は含まれていません。".to_string(),
        "・監査ログは各記録が直前の記録の SHA-256 を含むハッシュ連鎖です。記録の書換え・削除・入替えは検証で記録番号とともに検出されます。".to_string(),
        "・ログ全体を作り直す改ざんはデータベースの中だけでは検出できません。上の先頭ハッシュを控えておき、後日の報告書・消去証明書の値と照合してください。".to_string(),
        format!("・この報告書の作成自体は記録 {next_seq} として監査ログに記録されます（上の先頭ハッシュには含まれません）。"),
    ];
    for n in notes {
        ws.merge_range(row, 0, row, 1, &n, &st.note)?;
        row += 1;
    }
    Ok(())
}

fn header_row(ws: &mut Worksheet, st: &Styles, heads: &[(&str, f64)]) -> Result<Vec<f64>> {
    let mut most = 1;
    for (c, (h, w)) in heads.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &st.head)?;
        ws.set_column_width(c as u16, *w)?;
        most = most.max(lines(h, *w));
    }
    ws.set_row_height(0, 14.0 * most as f64 + 6.0)?;
    Ok(heads.iter().map(|h| h.1).collect())
}

fn operations(ws: &mut Worksheet, r: &HandlingReport, st: &Styles) -> Result<()> {
    ws.set_name("操作記録")?;
    page(ws, "取扱状況報告書: 操作記録", true)?;
    let widths = header_row(
        ws,
        st,
        &[
            ("番号", 6.0),
            ("日時", 20.0),
            ("操作者", 11.0),
            ("操作", 22.0),
            ("結果", 12.0),
            ("件数", 34.0),
            ("読んだファイル", 24.0),
            ("書き出したファイル", 24.0),
            ("ハッシュ（先頭16桁）", 18.0),
        ],
    )?;
    let broken = r.chain.broken.as_ref().map(|b| b.0);
    let mut row = 0u32;
    let mut expected = 1i64;
    for e in &r.entries {
        if e.seq > expected {
            // Entries missing from the log get a row of their own, so the gap is seen.
            row += 1;
            let which = if e.seq == expected + 1 {
                format!("記録 {expected} がありません（削除されています）")
            } else {
                format!(
                    "記録 {expected}〜{} がありません（削除されています）",
                    e.seq - 1
                )
            };
            let mut cells = vec![Cell::Num(expected as f64), Cell::Bad(which)];
            cells.extend((2..9).map(|_| Cell::Bad(String::new())));
            table_row(ws, st, row, &widths, cells, true)?;
        }
        expected = e.seq + 1;
        row += 1;
        let written: Vec<String> = e.files().iter().map(|f| base_name(&f.path)).collect();
        let read: Vec<String> = e.files_read().iter().map(|f| base_name(f)).collect();
        table_row(
            ws,
            st,
            row,
            &widths,
            vec![
                Cell::Num(e.seq as f64),
                Cell::Text(time(&e.at)),
                Cell::Text(e.operator.clone()),
                Cell::Text(command_ja(&e.command)),
                Cell::Text(status_ja(e.status())),
                Cell::Text(e.counts_text()),
                Cell::Text(read.join("\n")),
                Cell::Text(written.join("\n")),
                Cell::Mono(e.hash.get(..16).unwrap_or(&e.hash).to_string()),
            ],
            Some(e.seq) == broken,
        )?;
    }
    if row > 0 {
        ws.autofilter(0, 0, row, 8)?;
    }
    Ok(())
}

fn copy_state(c: &Copy) -> (String, String, String) {
    let exists = if c.exists() { "あり" } else { "なし" }.to_string();
    let matches = match c.matches() {
        Some(true) => "一致",
        Some(false) => "不一致",
        None => "—",
    }
    .to_string();
    if c.index_only {
        return (
            exists,
            matches,
            format!(
                "監査ログに記録 {} の記載がありません（索引にのみ残っています）",
                c.seq
            ),
        );
    }
    let note = match (&c.now, c.overwritten_by) {
        (OnDisk::Missing, _) => "削除済みか移動されています".to_string(),
        (OnDisk::Unreadable, _) => "読めません（フォルダか権限なし）".to_string(),
        (_, Some(by)) if c.matches() != Some(true) => {
            format!("記録 {by} の出力で上書きされました")
        }
        (_, _) if c.matches() == Some(true) => "出力時のまま残っています".to_string(),
        _ => "出力後に内容が変わっています".to_string(),
    };
    (exists, matches, note)
}

fn copies(ws: &mut Worksheet, r: &HandlingReport, st: &Styles) -> Result<()> {
    ws.set_name("複製記録")?;
    page(ws, "取扱状況報告書: 複製記録", true)?;
    let widths = header_row(
        ws,
        st,
        &[
            ("記録", 6.0),
            ("日時", 20.0),
            ("操作者", 11.0),
            ("操作", 20.0),
            ("ファイル名", 26.0),
            ("場所（フォルダ）", 30.0),
            ("バイト数", 11.0),
            ("SHA-256", 35.0),
            ("現在の有無", 10.0),
            ("内容", 8.0),
            ("備考", 22.0),
        ],
    )?;
    for (i, c) in r.copies.iter().enumerate() {
        let (exists, matches, note) = copy_state(c);
        let changed = c.matches() == Some(false) && c.overwritten_by.is_none();
        let note = if c.index_only {
            Cell::Bad(note)
        } else {
            Cell::Text(note)
        };
        table_row(
            ws,
            st,
            i as u32 + 1,
            &widths,
            vec![
                Cell::Num(c.seq as f64),
                Cell::Text(time(&c.at)),
                Cell::Text(c.operator.clone()),
                Cell::Text(command_ja(&c.command)),
                Cell::Text(base_name(&c.path)),
                Cell::Text(folder(&c.path)),
                Cell::Num(c.bytes as f64),
                Cell::Mono(c.sha256.clone()),
                Cell::Text(exists),
                if changed {
                    Cell::Bad(matches)
                } else {
                    Cell::Text(matches)
                },
                note,
            ],
            false,
        )?;
    }
    let after = r.copies.len() as u32 + 2;
    ws.merge_range(
        after,
        0,
        after,
        10,
        "出力したファイルはすべて個人情報の複製として記録しています（監査ログの記録から作成）。「内容」はいまディスク上にあるファイルの SHA-256 が出力時と同じかどうかです。この報告書自体は含みません。",
        &st.note,
    )?;
    if !r.copies.is_empty() {
        ws.autofilter(0, 0, r.copies.len() as u32, 10)?;
    }
    Ok(())
}

fn holdings(ws: &mut Worksheet, r: &HandlingReport, st: &Styles) -> Result<()> {
    ws.set_name("保有件数")?;
    page(ws, "取扱状況報告書: 保有件数", true)?;
    let widths = header_row(
        ws,
        st,
        &[
            ("区分", 34.0),
            ("表", 20.0),
            ("件数", 12.0),
            ("個人情報", 26.0),
            ("備考", 40.0),
        ],
    )?;
    for (i, h) in r.holdings.iter().enumerate() {
        table_row(
            ws,
            st,
            i as u32 + 1,
            &widths,
            vec![
                Cell::Text(h.label.clone()),
                Cell::Mono(h.table.clone()),
                Cell::Num(h.rows as f64),
                Cell::Text(h.personal.to_string()),
                Cell::Text(h.note.clone()),
            ],
            false,
        )?;
    }
    let after = r.holdings.len() as u32 + 2;
    ws.merge_range(
        after,
        0,
        after,
        4,
        &format!(
            "報告日時 {} 現在のデータベースの内容です。",
            time(&r.made_at)
        ),
        &st.note,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_drop_only_japans_offset() {
        assert_eq!(time("2025-06-01T10:00:00+09:00"), "2025-06-01 10:00:00");
        assert_eq!(
            time("2025-06-01T01:00:00+00:00"),
            "2025-06-01 01:00:00 +00:00"
        );
        assert_eq!(time("odd"), "odd");
    }

    #[test]
    fn wrapped_lines_count_full_width_double() {
        assert_eq!(lines("abc", 10.0), 1);
        assert_eq!(lines("あいうえおかきくけこ", 10.0), 3);
        assert_eq!(lines("a\nb", 10.0), 2);
        assert_eq!(lines("", 10.0), 1);
    }
}
