//! `batches list|show|undo`: every import is a batch; list them, inspect one (and export
//! its rejected rows in the import layout for fixing), or roll one back.

use super::Ctx;
use crate::db::batches::{self, Batch, Undone};
use crate::output::listing::{ListFormat, Listing};
use crate::output::{TableWriter, Value};
use anyhow::{bail, Result};
use std::path::Path;

pub fn list(ctx: &mut Ctx, format: ListFormat) -> Result<()> {
    let mut out = Listing::stdout(
        format,
        &[
            "番号",
            "種類",
            "取込日時",
            "取扱者",
            "行",
            "追加",
            "重複",
            "置換",
            "更新",
            "保留",
            "申込み却下",
            "状態",
            "ファイル",
        ],
    )?;
    let all = batches::list(&ctx.conn)?;
    for b in &all {
        // An orders batch's refused applications (stock, points, limits) are not rows
        // kept for fixing: they have their own column, so whom to tell is visible.
        let refused = if b.kind == "orders" {
            let t = crate::db::orders::batch_totals(&ctx.conn, b.id)?;
            Value::Int(t.rejected_by_code.iter().map(|(_, n)| *n).sum())
        } else {
            Value::Empty
        };
        out.row(&[
            Value::Int(b.id),
            kind_ja(&b.kind).into(),
            crate::shown_time(&b.imported_at).into(),
            b.operator.as_str().into(),
            Value::Int(b.rows_read),
            Value::Int(b.inserted),
            Value::Int(b.duplicates),
            Value::Int(b.replaced),
            Value::Int(b.updated),
            Value::Int(b.rejected),
            refused,
            format!(
                "{}{}",
                status_ja(b),
                if b.verified {
                    "（ベリファイ済）"
                } else {
                    ""
                }
            )
            .into(),
            b.file_name.as_str().into(),
        ])?;
    }
    out.finish()?;
    ctx.detail.count("batches", all.len());
    Ok(())
}

/// A batch's kind as the operator calls it.
pub fn kind_ja(kind: &str) -> &str {
    match kind {
        "roster" => "名簿",
        "steps" => "歩数",
        "orders" => "景品申込み",
        "survey" => "アンケート",
        other => other,
    }
}

fn status_ja(b: &Batch) -> &'static str {
    if b.committed() {
        "取込済"
    } else {
        "取消済"
    }
}

fn batch(ctx: &Ctx, id: i64) -> Result<Batch> {
    match batches::get(&ctx.conn, id)? {
        Some(b) => Ok(b),
        None => bail!("取込み {id} はありません。`stepcard batches list` で番号を確かめてください (no such batch)"),
    }
}

pub fn show(
    ctx: &mut Ctx,
    id: i64,
    format: ListFormat,
    rejected: bool,
    out: Option<&Path>,
) -> Result<()> {
    let info = batch(ctx, id)?;
    ctx.detail.count("batch", id);
    if rejected {
        let Some(out) = out else {
            return Err(crate::usage("--rejected には --out FILE が必要です"));
        };
        return export_rejected(ctx, id, &info, out);
    }
    match format {
        ListFormat::Table => show_text(ctx, &info),
        ListFormat::Csv => show_problems(ctx, &info, format),
        ListFormat::Json => show_json(ctx, &info),
    }
}

fn sheets_of(b: &Batch) -> String {
    b.sheet.trim_start_matches("*:").replace('\u{1f}', "、")
}

fn cell_of(p: &batches::StoredProblem) -> String {
    if p.cell.is_empty() {
        p.row_no.map(|n| format!("{n}行目")).unwrap_or_default()
    } else {
        p.cell.clone()
    }
}

/// `--format csv`: the batch's problems, one row each (the batch's own figures are
/// `batches list --format csv`); personal values are left out as on the screen.
fn show_problems(ctx: &Ctx, b: &Batch, format: ListFormat) -> Result<()> {
    let mut out = Listing::stdout(
        format,
        &["取込み", "シート", "セル", "コード", "値", "内容"],
    )?;
    for p in batches::problems(&ctx.conn, b.id)? {
        out.row(&[
            Value::Int(b.id),
            p.sheet.as_str().into(),
            cell_of(&p).into(),
            p.code.as_str().into(),
            crate::import::shown_raw(&p.code, &p.raw)
                .trim_start_matches('「')
                .trim_end_matches('」')
                .into(),
            p.message.as_str().into(),
        ])?;
    }
    out.finish()?;
    Ok(())
}

/// `--format json`: the batch, its problems and (orders) its refused applications.
fn show_json(ctx: &Ctx, b: &Batch) -> Result<()> {
    use serde_json::json;
    let problems: Vec<_> = batches::problems(&ctx.conn, b.id)?
        .iter()
        .map(|p| {
            let raw = crate::import::shown_raw(&p.code, &p.raw);
            json!({
                "シート": p.sheet, "セル": cell_of(p), "コード": p.code,
                "値": raw.trim_start_matches('「').trim_end_matches('」'),
                "内容": p.message,
            })
        })
        .collect();
    let mut v = json!({
        "番号": b.id, "種類": kind_ja(&b.kind), "ファイル": b.file_name, "シート": sheets_of(b),
        "SHA-256": b.sha256, "取込日時": crate::shown_time(&b.imported_at),
        "取扱者": b.operator, "形式": b.layout, "ベリファイ済": b.verified,
        "行": b.rows_read, "追加": b.inserted, "重複": b.duplicates, "置換": b.replaced,
        "更新": b.updated, "保留": b.rejected, "状態": status_ja(b), "誤り": problems,
    });
    if b.kind == "orders" {
        let t = crate::db::orders::batch_totals(&ctx.conn, b.id)?;
        let refused: Vec<_> = crate::db::orders::rejected_in_batch(&ctx.conn, b.id)?
            .iter()
            .map(|r| {
                json!({
                    "シート": r.sheet, "行": r.row, "参加者番号": r.participant,
                    "景品コード": r.prize_code, "数量": r.quantity, "コード": r.code,
                    "内容": r.message,
                })
            })
            .collect();
        v["受付件数"] = json!(t.accepted);
        v["受付ポイント"] = json!(t.points);
        v["却下した申込み"] = json!(refused);
    }
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut o, &v)?;
    writeln!(o)?;
    Ok(())
}

fn show_text(ctx: &Ctx, b: &Batch) -> Result<()> {
    let id = b.id;
    println!("取込み {id}（{}）", kind_ja(&b.kind));
    println!("  ファイル: {}", b.file_name);
    println!("  シート: {}", sheets_of(b));
    println!("  SHA-256: {}", b.sha256);
    println!(
        "  取込日時: {}  取扱者: {}  形式: {}{}",
        crate::shown_time(&b.imported_at),
        b.operator,
        b.layout,
        if b.verified {
            "  ベリファイ済"
        } else {
            ""
        }
    );
    println!(
        "  読んだ行 {}、追加 {}、重複 {}、置換 {}、更新 {}、保留 {}",
        b.rows_read, b.inserted, b.duplicates, b.replaced, b.updated, b.rejected
    );
    let rej = b.rejected;
    println!("  状態: {}", status_ja(b));
    let mut withheld = false;
    for (n, p) in batches::problems(&ctx.conn, id)?.iter().enumerate() {
        if n == 0 {
            println!("  誤り:");
        }
        withheld |= !p.raw.is_empty() && crate::import::raw_is_personal(&p.code);
        let mut raw = crate::import::shown_raw(&p.code, &p.raw);
        if !raw.is_empty() {
            raw.push(' ');
        }
        println!(
            "    {}!{} {} {}{}",
            p.sheet,
            cell_of(p),
            p.code,
            raw,
            p.message
        );
    }
    if withheld {
        println!(
            "  （氏名・住所・電話番号などの個人情報の値は画面に出しません。保留した行を `stepcard batches show {id} --rejected --out 修正用.xlsx` で書き出して確かめてください） (personal values are not printed)"
        );
    }
    if rej > 0 {
        println!("  保留した行は `stepcard batches show {id} --rejected --out 修正用.xlsx` で書き出せます");
    }
    if b.kind == "orders" {
        show_orders(ctx, id)?;
    }
    Ok(())
}

/// An orders batch's outcome: how many accepted, and each refused application with
/// its participant, so they can still be told.
fn show_orders(ctx: &Ctx, id: i64) -> Result<()> {
    let t = crate::db::orders::batch_totals(&ctx.conn, id)?;
    println!(
        "  受付した申込み: {} 件（{} ポイント）",
        t.accepted, t.points
    );
    for (i, r) in crate::db::orders::rejected_in_batch(&ctx.conn, id)?
        .iter()
        .enumerate()
    {
        if i == 0 {
            println!("  却下した申込み（参加者にお知らせください）:");
        }
        println!(
            "    {}!{}行目 {} {}×{} {} {}",
            r.sheet, r.row, r.participant, r.prize_code, r.quantity, r.code, r.message
        );
    }
    Ok(())
}

fn export_rejected(ctx: &mut Ctx, id: i64, info: &Batch, out: &Path) -> Result<()> {
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&info.header_json).unwrap_or_default();
    let mut w = TableWriter::create(out)?;
    let mut n = 0u64;
    for (sheet, header) in &headers {
        let header: Vec<String> = serde_json::from_value(header.clone()).unwrap_or_default();
        let refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut started = false;
        batches::each_rejected_row(&ctx.conn, id, sheet, |cells| {
            if !started {
                w.sheet(sheet, &refs)?;
                started = true;
            }
            let vals: Vec<Value> = cells
                .into_iter()
                .map(|c| {
                    if c.is_empty() {
                        Value::Empty
                    } else {
                        Value::Text(c)
                    }
                })
                .collect();
            w.row(&vals)?;
            n += 1;
            Ok(())
        })?;
    }
    if n == 0 {
        bail!("取込み {id} には保留した行がありません (no rejected rows)");
    }
    if let Some(rec) = w.finish()? {
        ctx.say(format!(
            "{}: 保留した {n} 行を取込みと同じ形式で書き出しました。直して `stepcard {} import` で取り込み直してください",
            rec.shown(), info.kind
        ));
        ctx.detail.file(rec);
    }
    ctx.detail.count("rejected_rows", n);
    Ok(())
}

pub fn undo(ctx: &mut Ctx, id: i64) -> Result<()> {
    let info = batch(ctx, id)?;
    if !info.committed() {
        bail!("取込み {id} は既に取り消されています (already undone)");
    }
    let now = crate::now();
    let operator = ctx.operator.clone();
    let tx = crate::db::begin_write(&mut ctx.conn)?;
    let Undone {
        removed,
        restored,
        affected,
    } = batches::undo(&tx, &info, &now, &operator)?;
    // Participants whose points the undo changes are checked in the same transaction,
    // against the points their accepted orders used.
    let overdrawn = crate::db::points::overdrawn(&tx, &ctx.program, &affected)?;
    if !overdrawn.is_empty() {
        drop(tx);
        bail!(
            "取込み {id} を取り消すと、参加者 {} 名のポイントが受付済みの景品申込みで使ったポイントを下回るため、取り消していません: {}{}。\
             先にその参加者の申込みの取込みを取り消すか、正しい歩数を取り込んでください \
             (the undo would leave balances below points already used by orders)",
            overdrawn.len(),
            overdrawn
                .iter()
                .take(20)
                .map(|(p, earned, used)| format!("{p}（取消後 {earned}、使用 {used}）"))
                .collect::<Vec<_>>()
                .join("、"),
            if overdrawn.len() > 20 { " ほか" } else { "" }
        );
    }
    tx.commit()?;
    ctx.detail.count("batch", id);
    ctx.detail.count("removed", removed as u64);
    ctx.detail.count("restored", restored as u64);
    ctx.say(format!(
        "取込み {id} を取り消しました: {removed} 件を削除、{restored} 件を元の値に戻しました (batch undone)"
    ));
    Ok(())
}
