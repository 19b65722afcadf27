//! `template --month 2025-06 --out 6月入力.xlsx [--layout card|long] [--participants
//! all|card|FILE] [--copies 2]`: the entry workbook of one month (see
//! `output::template`), pre-filled with the participants to key. Each file is a
//! recorded copy (it holds names), erased at close-out like any export.

use super::Ctx;
use crate::cli::TemplateArgs;
use crate::output::template::{open_days, Template};
use crate::validate::steps::Layout;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub fn run(ctx: &mut Ctx, args: &TemplateArgs) -> Result<()> {
    let is_xlsx = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if !is_xlsx {
        return Err(crate::usage(format!(
            "{}: 入力用シートは .xlsx で書き出します。--out 6月入力.xlsx のように指定してください (the template is an .xlsx file)",
            args.out.display()
        )));
    }
    let (year, month) = crate::sheet::date::parse_year_month(&args.month).map_err(|_| {
        crate::usage(format!(
            "--month「{}」を年月として読めません。2025-06 や R7.6 のように指定してください (not a year and month)",
            args.month
        ))
    })?;
    let p = &ctx.program.program;
    let open = open_days(year, month, p.start, p.end);
    if open.is_empty() {
        bail!(
            "{year}年{month}月は事業期間（{}〜{}）の外で、入力できる日がありません。--month を確かめてください \
             (the month is outside the program period)",
            p.start,
            p.end
        );
    }
    let rows = participants(ctx, &args.participants)?;
    if rows.is_empty() {
        bail!(
            "入力用シートに載せる参加者がいません（--participants {}）。先に名簿を取り込んでください \
             (no participants to list)",
            args.participants
        );
    }
    let layout: Layout = args.layout.into();
    let (needed, fits) = crate::output::template::data_rows(layout, rows.len(), open.len());
    if !fits {
        bail!(
            "{} 人 × {} 日で {needed} 行になり、Excel の1シートの上限（1,048,576 行）を超えます。\
             台紙型（--layout card）にするか、--participants FILE で参加者を分けて書き出してください。何も書き出していません \
             (too many rows for one sheet; nothing written)",
            rows.len(),
            open.len()
        );
    }
    let outs = out_paths(&args.out, args.copies);
    let created_at = crate::now();
    for (i, out) in outs.iter().enumerate() {
        let t = Template {
            program: &p.name,
            year,
            month,
            start: p.start,
            end: p.end,
            max_steps: p.max_daily_steps,
            layout,
            copy: (args.copies > 1).then_some(i as u32 + 1),
            rows: &rows,
            created_at: &created_at,
        };
        let bytes = crate::output::template::write(&t)?;
        let rec = crate::output::write_bytes(out, &bytes)?;
        ctx.say(format!(
            "{}: {year}年{month}月の入力用シートを書き出しました（参加者 {} 人、入力できる日 {} 日、{}） (entry workbook written)",
            rec.shown(),
            rows.len(),
            open.len(),
            crate::validate::steps::layout_ja(layout)
        ));
        ctx.detail.file(rec);
    }
    ctx.detail.arg("month", format!("{year}-{month:02}"));
    ctx.detail.count("participants", rows.len() as u64);
    ctx.say(
        "  氏名は照合用の列（氏名（確認用））にあり、取り込まれません。この書出しは記録され、契約終了時に消去されます \
         (names are for checking only and are never imported; the file is recorded and erased at close-out)",
    );
    Ok(())
}

/// `6月入力.xlsx` with two copies: `6月入力_1回目.xlsx`, `6月入力_2回目.xlsx`.
pub fn out_paths(out: &Path, copies: u8) -> Vec<PathBuf> {
    if copies <= 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    (1..=copies)
        .map(|n| out.with_file_name(format!("{stem}_{n}回目.xlsx")))
        .collect()
}

/// The participants to list, in number order: every one (`all`), those keyed from
/// paper cards (`card`, 利用区分 台紙), or the numbers in a file (one a line, or the
/// first column of a CSV; a heading line is skipped), in the file's order.
fn participants(ctx: &Ctx, which: &str) -> Result<Vec<(String, String)>> {
    let mut all: Vec<(String, String, String)> = Vec::new();
    crate::db::participants::each(&ctx.conn, |p| {
        all.push((p.id, p.name, p.channel));
        Ok(())
    })?;
    match which {
        "all" => Ok(all.into_iter().map(|(id, name, _)| (id, name)).collect()),
        "card" => Ok(all
            .into_iter()
            .filter(|(_, _, ch)| ch == crate::sheet::normalize::Channel::Card.as_ja())
            .map(|(id, name, _)| (id, name))
            .collect()),
        file => {
            let text = std::fs::read(file).map_err(|e| {
                anyhow::anyhow!(
                    "{file}: 参加者番号の一覧を読めません: {e}。--participants は all、card、またはファイル名です \
                     (cannot read the participant list)"
                )
            })?;
            // UTF-8 (with or without BOM), else CP932 as Excel saves a CSV.
            let text = match std::str::from_utf8(&text) {
                Ok(t) => t.trim_start_matches('\u{feff}').to_string(),
                Err(_) => encoding_rs::SHIFT_JIS.decode(&text).0.into_owned(),
            };
            let mut out = Vec::new();
            let mut unknown = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let first = line.split([',', '\t']).next().unwrap_or("");
                let id = crate::sheet::normalize::normalize(first.trim().trim_matches('"'))
                    .trim()
                    .to_string();
                if id.is_empty()
                    || (n == 0 && crate::validate::fields::check_participant_id(&id).is_err())
                {
                    continue;
                }
                match all.iter().find(|(pid, _, _)| *pid == id) {
                    Some((pid, name, _)) => {
                        if !out.iter().any(|(p, _): &(String, String)| p == pid) {
                            out.push((pid.clone(), name.clone()));
                        }
                    }
                    None => unknown.push(format!("{}行目「{id}」", n + 1)),
                }
            }
            if !unknown.is_empty() {
                bail!(
                    "{file}: 名簿にない参加者番号があります: {}。一覧を直してください。何も書き出していません \
                     (participant numbers not in the roster; nothing written)",
                    unknown.join("、")
                );
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_copies_are_named_by_keying() {
        assert_eq!(
            out_paths(Path::new("w/6月入力.xlsx"), 2),
            [
                PathBuf::from("w/6月入力_1回目.xlsx"),
                PathBuf::from("w/6月入力_2回目.xlsx")
            ]
        );
        assert_eq!(
            out_paths(Path::new("6月入力.xlsx"), 1),
            [PathBuf::from("6月入力.xlsx")]
        );
    }
}
