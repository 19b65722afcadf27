//! The handling-status report (取扱状況報告書) as an `.xlsx` for printing: A4 landscape,
//! Japanese headings, one page wide, the heading row repeated on every page. Sheets:
//! 概要 (program, handlers, chain state and head hash, who made it when), 操作記録 (every
//! audit entry), 複製記録 (every file written and whether it is still on disk,
//! unchanged), 保有件数 (records held now). Every text cell is written as a string.

use super::xlsx::{self, write_table, Cell, Page, Styles, Tone, Widths};
use crate::handling::{command_ja, status_ja, Copy, HandlingReport, OnDisk};
use crate::program::Role;
use anyhow::Result;
use rust_xlsxwriter::{Workbook, Worksheet};
use std::path::Path;

/// Print setup shared by every sheet.
fn page(ws: &mut Worksheet, title: &str, repeat_heading: bool) -> Result<()> {
    let mut p = Page::table(title);
    if !repeat_heading {
        p.repeat_rows = None;
        p.freeze = None;
    }
    xlsx::page(ws, &p)
}

/// A stored time as operators read it (`2025/06/01 10:00`, Japan time).
fn time(at: &str) -> String {
    crate::shown_time(at)
}

fn text(s: impl Into<String>, bad: bool) -> Cell {
    Cell::Text(s.into(), if bad { Tone::Red } else { Tone::Wrap })
}

fn mono(s: impl Into<String>) -> Cell {
    Cell::Text(s.into(), Tone::Mono)
}

fn num(n: i64, bad: bool) -> Cell {
    Cell::Num(
        n as f64,
        xlsx::INT,
        if bad { Tone::Red } else { Tone::Plain },
    )
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
    let st = Styles::new(xlsx::GOTHIC);
    let mut wb = Workbook::new();
    overview(wb.add_worksheet(), r, &st)?;
    operations(wb.add_worksheet(), r, &st)?;
    copies(wb.add_worksheet(), r, &st)?;
    holdings(wb.add_worksheet(), r, &st)?;
    super::quality::sheet(wb.add_worksheet(), &r.quality, &st)?;
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
    let cells: Vec<Vec<Cell>> = rows
        .into_iter()
        .map(|(label, value, bad)| {
            let value = if !bad && label.starts_with("先頭ハッシュ") {
                mono(value)
            } else {
                text(value, bad)
            };
            vec![Cell::Text(label.into(), Tone::Strong), value]
        })
        .collect();
    let mut row = write_table(
        ws,
        st,
        2,
        &["項目", "内容"],
        &cells,
        Widths::Fixed(&[24.0, 100.0]),
        false,
    )?;
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

fn operations(ws: &mut Worksheet, r: &HandlingReport, st: &Styles) -> Result<()> {
    ws.set_name("操作記録")?;
    page(ws, "取扱状況報告書: 操作記録", true)?;
    let broken = r.chain.broken.as_ref().map(|b| b.0);
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut expected = 1i64;
    for e in &r.entries {
        if e.seq > expected {
            // Entries missing from the log get a row of their own, so the gap is seen.
            let which = if e.seq == expected + 1 {
                format!("記録 {expected} がありません（削除されています）")
            } else {
                format!(
                    "記録 {expected}〜{} がありません（削除されています）",
                    e.seq - 1
                )
            };
            let mut cells = vec![num(expected, true), text(which, true)];
            cells.extend((2..9).map(|_| text("", true)));
            rows.push(cells);
        }
        expected = e.seq + 1;
        let written: Vec<String> = e.files().iter().map(|f| base_name(&f.path)).collect();
        let read: Vec<String> = e.files_read().iter().map(|f| base_name(f)).collect();
        let bad = Some(e.seq) == broken;
        rows.push(vec![
            num(e.seq, bad),
            text(time(&e.at), bad),
            text(crate::handling::who(e), bad),
            text(command_ja(&e.command), bad),
            text(status_ja(e.status()), bad),
            text(e.counts_text(), bad),
            text(read.join("\n"), bad),
            text(written.join("\n"), bad),
            mono(e.hash.get(..16).unwrap_or(&e.hash)),
        ]);
    }
    write_table(
        ws,
        st,
        0,
        &[
            "番号",
            "日時",
            "操作者（認証した取扱者／OS ユーザー）",
            "操作",
            "結果",
            "件数",
            "読んだファイル",
            "書き出したファイル",
            "ハッシュ（先頭16桁）",
        ],
        &rows,
        Widths::Fixed(&[6.0, 20.0, 16.0, 22.0, 12.0, 30.0, 23.0, 23.0, 18.0]),
        !rows.is_empty(),
    )?;
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
    let rows: Vec<Vec<Cell>> = r
        .copies
        .iter()
        .map(|c| {
            let (exists, matches, note) = copy_state(c);
            let changed = c.matches() == Some(false) && c.overwritten_by.is_none();
            vec![
                num(c.seq, false),
                text(time(&c.at), false),
                text(c.operator.clone(), false),
                text(command_ja(&c.command), false),
                text(base_name(&c.path), false),
                text(folder(&c.path), false),
                num(c.bytes as i64, false),
                mono(c.sha256.clone()),
                text(exists, false),
                text(matches, changed),
                text(note, c.index_only),
            ]
        })
        .collect();
    write_table(
        ws,
        st,
        0,
        &[
            "記録",
            "日時",
            "操作者",
            "操作",
            "ファイル名",
            "場所（フォルダ）",
            "バイト数",
            "SHA-256",
            "現在の有無",
            "内容",
            "備考",
        ],
        &rows,
        Widths::Fixed(&[
            6.0, 20.0, 11.0, 20.0, 26.0, 30.0, 11.0, 35.0, 10.0, 8.0, 22.0,
        ]),
        !rows.is_empty(),
    )?;
    let after = r.copies.len() as u32 + 2;
    ws.merge_range(
        after,
        0,
        after,
        10,
        "出力したファイルはすべて個人情報の複製として記録しています（監査ログの記録から作成）。「内容」はいまディスク上にあるファイルの SHA-256 が出力時と同じかどうかです。この報告書自体は含みません。",
        &st.note,
    )?;
    Ok(())
}

fn holdings(ws: &mut Worksheet, r: &HandlingReport, st: &Styles) -> Result<()> {
    ws.set_name("保有件数")?;
    page(ws, "取扱状況報告書: 保有件数", true)?;
    let rows: Vec<Vec<Cell>> = r
        .holdings
        .iter()
        .map(|h| {
            vec![
                text(h.label.clone(), false),
                mono(h.table.clone()),
                num(h.rows, false),
                text(h.personal.to_string(), false),
                text(h.note.clone(), false),
            ]
        })
        .collect();
    write_table(
        ws,
        st,
        0,
        &["区分", "表", "件数", "個人情報", "備考"],
        &rows,
        Widths::Fixed(&[34.0, 20.0, 12.0, 26.0, 40.0]),
        false,
    )?;
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
    fn times_are_shown_in_japan_time_as_operators_write_them() {
        assert_eq!(time("2025-06-01T10:00:00+09:00"), "2025/06/01 10:00");
        assert_eq!(time("2025-06-01T01:00:00+00:00"), "2025/06/01 10:00");
        assert_eq!(time("odd"), "odd");
    }
}
