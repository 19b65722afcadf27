//! `batches list|show|undo`: every import is a batch; list them, inspect one (and export
//! its rejected rows in the import layout for fixing), or roll one back.

use crate::output::{TableWriter, Value};
use crate::Ctx;
use anyhow::{bail, Result};
use rusqlite::OptionalExtension;
use std::path::Path;

pub fn list(ctx: &mut Ctx) -> Result<()> {
    let mut stmt = ctx.conn.prepare(
        "SELECT id, kind, file_name, sheet, imported_at, operator, rows_read, inserted, duplicates, replaced, updated, rejected, status, verified \
         FROM batches ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    println!("番号\t種類\t取込日時\t取扱者\t行\t追加\t重複\t置換\t更新\t保留\t状態\tファイル");
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let status: String = r.get(12)?;
        let verified: bool = r.get(13)?;
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}{}",
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, i64>(8)?,
            r.get::<_, i64>(9)?,
            r.get::<_, i64>(10)?,
            r.get::<_, i64>(11)?,
            if status == "committed" {
                "取込済"
            } else {
                "取消済"
            },
            r.get::<_, String>(2)?,
            if verified {
                "（ベリファイ済）"
            } else {
                ""
            },
        );
        n += 1;
    }
    ctx.detail.count("batches", n);
    Ok(())
}

struct BatchInfo {
    kind: String,
    status: String,
    header_json: String,
}

fn batch(ctx: &Ctx, id: i64) -> Result<BatchInfo> {
    let info = ctx
        .conn
        .query_row(
            "SELECT kind, status, header_json FROM batches WHERE id=?1",
            [id],
            |r| {
                Ok(BatchInfo {
                    kind: r.get(0)?,
                    status: r.get(1)?,
                    header_json: r.get(2)?,
                })
            },
        )
        .optional()?;
    match info {
        Some(i) => Ok(i),
        None => bail!("取込み {id} はありません。`stepcard batches list` で番号を確かめてください (no such batch)"),
    }
}

#[allow(clippy::type_complexity)]
pub fn show(ctx: &mut Ctx, id: i64, rejected: bool, out: Option<&Path>) -> Result<()> {
    let info = batch(ctx, id)?;
    ctx.detail.count("batch", id);
    if rejected {
        let Some(out) = out else {
            return Err(crate::usage("--rejected には --out FILE が必要です"));
        };
        return export_rejected(ctx, id, &info, out);
    }
    let rej: i64 = ctx.conn.query_row(
        "SELECT file_name, sheet, sha256, imported_at, operator, layout, rows_read, inserted, duplicates, replaced, updated, rejected, verified FROM batches WHERE id=?1",
        [id],
        |r| {
            let sheet: String = r.get(1)?;
            let verified: bool = r.get(12)?;
            println!("取込み {id} ({})", info.kind);
            println!("  ファイル: {}", r.get::<_, String>(0)?);
            println!("  シート: {}", sheet.trim_start_matches("*:").replace('\u{1f}', "、"));
            println!("  SHA-256: {}", r.get::<_, String>(2)?);
            println!(
                "  取込日時: {}  取扱者: {}  形式: {}{}",
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                if verified { "  ベリファイ済" } else { "" }
            );
            println!(
                "  読んだ行 {}、追加 {}、重複 {}、置換 {}、更新 {}、保留 {}",
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, i64>(11)?
            );
            r.get(11)
        },
    )?;
    println!(
        "  状態: {}",
        if info.status == "committed" {
            "取込済"
        } else {
            "取消済"
        }
    );
    let mut stmt = ctx.conn.prepare(
        "SELECT sheet, cell, row_no, code, raw, message FROM problems WHERE batch_id=?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([id])?;
    let mut n = 0;
    let mut withheld = false;
    while let Some(r) = rows.next()? {
        if n == 0 {
            println!("  誤り:");
        }
        let cell: String = r.get(1)?;
        let row_no: Option<i64> = r.get(2)?;
        let code: String = r.get(3)?;
        let raw: String = r.get::<_, Option<String>>(4)?.unwrap_or_default();
        withheld |= !raw.is_empty() && crate::import::raw_is_personal(&code);
        let mut raw = crate::import::shown_raw(&code, &raw);
        if !raw.is_empty() {
            raw.push(' ');
        }
        println!(
            "    {}!{} {} {}{}",
            r.get::<_, String>(0)?,
            if cell.is_empty() {
                row_no.map(|n| format!("{n}行目")).unwrap_or_default()
            } else {
                cell
            },
            code,
            raw,
            r.get::<_, String>(5)?
        );
        n += 1;
    }
    if withheld {
        println!(
            "  （氏名・住所・電話番号などの個人情報の値は画面に出しません。保留した行を `stepcard batches show {id} --rejected --out 修正用.xlsx` で書き出して確かめてください） (personal values are not printed)"
        );
    }
    if rej > 0 {
        println!("  保留した行は `stepcard batches show {id} --rejected --out 修正用.xlsx` で書き出せます");
    }
    if info.kind == "orders" {
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

fn export_rejected(ctx: &mut Ctx, id: i64, info: &BatchInfo, out: &Path) -> Result<()> {
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&info.header_json).unwrap_or_default();
    let mut w = TableWriter::create(out)?;
    let mut n = 0u64;
    let mut stmt = ctx
        .conn
        .prepare("SELECT sheet, raw_json FROM rejected_rows WHERE batch_id=?1 AND sheet=?2 ORDER BY row_no, id")?;
    for (sheet, header) in &headers {
        let header: Vec<String> = serde_json::from_value(header.clone()).unwrap_or_default();
        let refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut rows = stmt.query(rusqlite::params![id, sheet])?;
        let mut started = false;
        while let Some(r) = rows.next()? {
            if !started {
                w.sheet(sheet, &refs)?;
                started = true;
            }
            let cells: Vec<String> = serde_json::from_str(&r.get::<_, String>(1)?)?;
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
        }
    }
    if n == 0 {
        bail!("取込み {id} には保留した行がありません (no rejected rows)");
    }
    if let Some(rec) = w.finish()? {
        ctx.say(format!(
            "{}: 保留した {n} 行を取込みと同じ形式で書き出しました。直して `stepcard {} import` で取り込み直してください",
            rec.path, info.kind
        ));
        ctx.detail.file(rec);
    }
    ctx.detail.count("rejected_rows", n);
    Ok(())
}

pub fn undo(ctx: &mut Ctx, id: i64) -> Result<()> {
    let info = batch(ctx, id)?;
    if info.status != "committed" {
        bail!("取込み {id} は既に取り消されています (already undone)");
    }
    let now = crate::now();
    let operator = ctx.operator.clone();
    let tx = crate::db::begin_write(&mut ctx.conn)?;
    let mut restored = 0usize;
    // Participants whose points the undo changes: checked after the rows are out, in
    // the same transaction, against the points their accepted orders used.
    let mut affected: Vec<String> = Vec::new();
    let removed = match info.kind.as_str() {
        "steps" => {
            let mut stmt = tx.prepare(
                "SELECT participant_id FROM steps WHERE batch_id=?1                  UNION SELECT participant_id FROM steps_history WHERE replaced_by=?1",
            )?;
            affected = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            drop(stmt);
            let removed = tx.execute("DELETE FROM steps WHERE batch_id=?1", [id])?;
            // Values this batch replaced come back, unless a later batch replaced them again.
            restored = tx.execute(
                "INSERT INTO steps(participant_id, date, steps, batch_id, src_row) \
                 SELECT h.participant_id, h.date, h.steps, h.batch_id, h.src_row FROM steps_history h \
                 JOIN batches b ON b.id = h.batch_id AND b.status = 'committed' \
                 WHERE h.replaced_by=?1 ORDER BY h.id DESC \
                 ON CONFLICT(participant_id, date) DO NOTHING",
                [id],
            )?;
            // A value this batch replaced that a later batch replaced again stays in
            // history, now as replaced by that later batch, so undoing the later batch
            // still brings it back (undo in any order).
            tx.execute(
                "UPDATE steps_history SET replaced_by = \
                   (SELECT h2.replaced_by FROM steps_history h2 WHERE h2.batch_id=?1 \
                     AND h2.participant_id=steps_history.participant_id AND h2.date=steps_history.date) \
                 WHERE replaced_by=?1 AND EXISTS (SELECT 1 FROM steps_history h2 WHERE h2.batch_id=?1 \
                     AND h2.participant_id=steps_history.participant_id AND h2.date=steps_history.date)",
                [id],
            )?;
            tx.execute(
                "DELETE FROM steps_history WHERE replaced_by=?1 OR batch_id=?1",
                [id],
            )?;
            removed
        }
        "roster" => {
            let mut stmt = tx.prepare(
                "SELECT p.id FROM participants p WHERE p.batch_id=?1 AND EXISTS (SELECT 1 FROM steps s WHERE s.participant_id=p.id) ORDER BY p.id",
            )?;
            let used: Vec<String> = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            drop(stmt);
            if !used.is_empty() {
                bail!(
                    "取込み {id} で登録した参加者 {} 名には歩数が記録されているため、取り消せません。先に歩数の取込みを取り消してください: {}",
                    used.len(),
                    used.iter().take(20).cloned().collect::<Vec<_>>().join("、")
                );
            }
            let mut stmt = tx.prepare(
                "SELECT DISTINCT p.id FROM participants p JOIN orders o ON o.participant_id = p.id WHERE p.batch_id=?1 ORDER BY p.id",
            )?;
            let ordered: Vec<String> = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            drop(stmt);
            if !ordered.is_empty() {
                bail!(
                    "取込み {id} で登録した参加者 {} 名には景品の申込みがあるため、取り消せません。先に申込みの取込みを取り消してください: {}",
                    ordered.len(),
                    ordered.iter().take(20).cloned().collect::<Vec<_>>().join("、")
                );
            }
            let mut stmt = tx.prepare(
                "SELECT DISTINCT p.id FROM participants p JOIN survey_answers a ON a.participant_id = p.id WHERE p.batch_id=?1 ORDER BY p.id",
            )?;
            let answered: Vec<String> = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            drop(stmt);
            if !answered.is_empty() {
                bail!(
                    "取込み {id} で登録した参加者 {} 名にはアンケートの回答があるため、取り消せません。先に回答の取込みを取り消してください: {}",
                    answered.len(),
                    answered.iter().take(20).cloned().collect::<Vec<_>>().join("、")
                );
            }
            // Participants this batch updated get their earlier values back (a changed
            // birth date or age can change which point table applies).
            let (changed, n) = crate::db::participants::restore_updated_by(&tx, id)?;
            affected.extend(changed);
            restored += n;
            tx.execute("DELETE FROM participants WHERE batch_id=?1", [id])?
        }
        "orders" => crate::db::orders::undo(&tx, id)?,
        // Answers never replace one another (a different answer is a conflict), so
        // taking a batch out restores nothing.
        "survey" => crate::db::survey::undo(&tx, id)?,
        other => bail!("種類「{other}」の取込みはこの版では取り消せません"),
    };
    let overdrawn = crate::points::overdrawn(&tx, &ctx.program, &affected)?;
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
    tx.execute(
        "UPDATE batches SET status='undone', undone_at=?2, undone_by=?3 WHERE id=?1",
        rusqlite::params![id, now, operator],
    )?;
    tx.commit()?;
    ctx.detail.count("batch", id);
    ctx.detail.count("removed", removed as u64);
    ctx.detail.count("restored", restored as u64);
    ctx.say(format!(
        "取込み {id} を取り消しました: {removed} 件を削除、{restored} 件を元の値に戻しました (batch undone)"
    ));
    Ok(())
}
