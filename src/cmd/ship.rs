//! `ship --out FILE [--format xlsx|csv|yamato-b2|yupack] [--dry-run]` and
//! `ship --reprint N --out FILE`: the next shipment is every accepted order not yet
//! shipped; it is checked whole (addresses present, and for a carrier file every value
//! encodable in CP932 and within its column's length), written, and marked shipped in
//! one transaction with the file's SHA-256. A problem anywhere and nothing is written
//! and nothing marked. An order is in at most one shipment, so a second `ship` never
//! sends it again.

use super::Ctx;
use crate::cli::ShipArgs;
use crate::db::shipments::{self, NewShipment};
use crate::output::shiplist;
use crate::shipping::{self, ListRow, Problem};
use anyhow::{bail, Result};

fn refusal(problems: &[Problem], what: &str, nothing: &str) -> anyhow::Error {
    let mut by_code: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in problems {
        *by_code.entry(p.code).or_default() += 1;
    }
    anyhow::anyhow!(
        "{what}: {} 件の問題があります。{nothing}:\n{}\n  （内訳: {}）",
        problems.len(),
        problems
            .iter()
            .map(|p| format!("  - {p}"))
            .collect::<Vec<_>>()
            .join("\n"),
        by_code
            .iter()
            .map(|(c, n)| format!("{c} {n} 件"))
            .collect::<Vec<_>>()
            .join("、")
    )
}

/// The carriers' ship date: `--ship-date` or today, within today…today+30 (B2クラウド
/// refuses others with ES003001; ゆうパックプリントR takes the same window).
fn ship_date(args: &ShipArgs) -> Result<chrono::NaiveDate> {
    let today = crate::today();
    let Some(s) = args.ship_date.as_deref() else {
        return Ok(today);
    };
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        crate::usage(format!(
            "--ship-date {s}: 日付として読めません。YYYY-MM-DD で書いてください（例: {}） (not a date)",
            today.format("%Y-%m-%d")
        ))
    })?;
    let last = today + chrono::Duration::days(30);
    if d < today || d > last {
        return Err(crate::usage(format!(
            "--ship-date {d}: 出荷予定日は今日（{today}）から30日後（{last}）までにしてください。B2クラウドはこの範囲外の日付を取り込みません（ES003001） (the ship date must be within today..today+30)"
        )));
    }
    Ok(d)
}

pub fn run(ctx: &mut Ctx, args: &ShipArgs) -> Result<()> {
    let date = ship_date(args)?;
    if args.ship_date.is_some() {
        ctx.detail.arg("ship_date", date.to_string());
    }
    if let Some(n) = args.reprint {
        return reprint(ctx, n, args, date);
    }
    let format =
        shipping::resolve_format(args.format.as_deref(), &args.out).map_err(crate::usage)?;
    ctx.detail.arg("format", format.as_str());
    if args.dry_run {
        ctx.detail.arg("dry_run", true);
    }
    let program = ctx.program.clone();
    let operator = ctx.operator.clone();
    let created_at = crate::now();
    let tx = crate::db::begin_write(&mut ctx.conn)?;
    let id = shipments::next_id(&tx)?;
    // The rows stream from the database in shipping order (read twice: checked and
    // hashed first, then written), never all held.
    let name = |mut r: ListRow| {
        shipping::name_prize(&mut r, &program);
        r
    };
    // Checked and hashed first, written nowhere: the file itself is written, row by
    // row, only once the shipment is recorded with this hash.
    let mut sink = crate::closeout::package::Hashing::new(std::io::sink());
    let checked = shipments::each_order(&tx, None, id, |rows| {
        shiplist::render_into(
            &program,
            &format,
            id,
            &mut rows.map(name),
            &created_at,
            date,
            &mut sink,
        )
    })?;
    let (notes, summary) = match checked {
        Ok(x) => x,
        Err(problems) => {
            drop(tx);
            ctx.detail.count("problems", problems.len() as u64);
            return Err(refusal(
                &problems,
                &format!("発送 {id} を作れません"),
                "ファイルは書き出さず、発送済みにもしていません (nothing written, nothing marked shipped)",
            ));
        }
    };
    if summary.orders == 0 {
        drop(tx);
        let shipped = shipments::shipped_orders(&ctx.conn)?;
        ctx.detail.count("orders", 0);
        ctx.say(format!(
            "発送する申込みはありません: 受付済みで未発送の申込みは 0 件です（発送済み {shipped} 件）。ファイルは書き出していません (nothing to ship)"
        ));
        return Ok(());
    }
    ctx.detail.count("shipment", id);
    ctx.detail.count("orders", summary.orders as u64);
    ctx.detail
        .count("participants", summary.participants as u64);
    ctx.detail.count("quantity", summary.quantity);
    for (c, q) in &summary.per_prize {
        ctx.detail.count(&format!("prize.{c}"), *q);
    }
    if args.dry_run {
        drop(tx);
        ctx.say(format!(
            "確認のみ (--dry-run): 次の発送（発送番号 {id}）は {summary}です。問題はありません。ファイルは書き出さず、発送済みにもしていません"
        ));
        for n in &notes {
            ctx.say(format!("  注意: {n}"));
        }
        return Ok(());
    }
    let (_, sha, _) = sink.finish();
    let shipment = NewShipment {
        id,
        created_at: &created_at,
        operator: &operator,
        format: format.as_str(),
        file_sha256: &sha,
        summary: &summary,
    };
    shipments::record(&tx, &shipment)?;
    // The file is a copy of personal data: recorded as pending in the chain, in the
    // transaction that marks the orders shipped, before it exists; this command's entry
    // settles it with its SHA-256 once written.
    let mut pending = crate::audit::Detail {
        status: crate::audit::COPY_PENDING.into(),
        ..Default::default()
    };
    pending.arg("path", crate::output::FileRecord::path_of(&args.out));
    pending.arg("purpose", "ship");
    crate::audit::append(&tx, &crate::now(), &operator, "ship", &pending)?;
    tx.commit()?;
    crate::output::pre_recorded(&args.out);
    crate::output::fault("ship:committed");
    let rec = crate::output::write_with(&args.out, |w| {
        shipments::each_order(&ctx.conn, Some(id), id, |rows| {
            write_checked(&program, &format, id, rows, &created_at, date, w)
        })
    })
    .and_then(|rec| {
        if rec.sha256 != sha {
            bail!("internal: the shipment's file differs from the one recorded");
        }
        Ok(rec)
    })
    .map_err(|e| {
        e.context(format!(
            "発送 {id} は発送済みとして記録しましたが、ファイルを書けませんでした。\
             `stepcard ship --reprint {id} --out FILE` で書き出してください \
             (shipment {id} is recorded but its file was not written; use --reprint)"
        ))
    })?;
    ctx.say(format!(
        "発送 {id}: {summary}を発送済みにしました。{}: {}（個人情報の複製として記録しました）",
        rec.shown(),
        shiplist::file_ja(&format)
    ));
    for n in &notes {
        ctx.say(format!("  注意: {n}"));
    }
    ctx.say(format!(
        "  宛名ラベルは `stepcard labels --shipment {id} --out FILE.xlsx` で作れます。書き出し直しは `stepcard ship --reprint {id} --out FILE`"
    ));
    ctx.detail.file(rec);
    Ok(())
}

/// The shipment's file written to `w` from rows that already passed the check (prize
/// names filled in here): a problem now is an internal error.
fn write_checked(
    program: &crate::program::Program,
    format: &shipping::ShipFormat,
    id: i64,
    rows: &mut dyn Iterator<Item = ListRow>,
    created_at: &str,
    date: chrono::NaiveDate,
    w: &mut dyn std::io::Write,
) -> Result<()> {
    let mut named = rows.map(|mut r| {
        shipping::name_prize(&mut r, program);
        r
    });
    match shiplist::render_into(program, format, id, &mut named, created_at, date, w)? {
        Ok(_) => Ok(()),
        Err(_) => bail!("internal: the shipment's file could not be written again as checked"),
    }
}

fn reprint(ctx: &mut Ctx, n: i64, args: &ShipArgs, date: chrono::NaiveDate) -> Result<()> {
    ctx.detail.arg("reprint", n);
    let Some(original) = shipments::find(&ctx.conn, n)? else {
        let last = shipments::last_id(&ctx.conn)?;
        bail!(
            "発送番号 {n} はありません（発送は {}） (no such shipment)",
            if last == 0 {
                "まだありません".to_string()
            } else {
                format!("1〜{last} です")
            }
        );
    };
    let format = shipping::reprint_format(args.format.as_deref(), &original.format, &args.out)
        .map_err(crate::usage)?;
    ctx.detail.arg("format", format.as_str());
    let program = ctx.program.clone();
    let name = |mut r: ListRow| {
        shipping::name_prize(&mut r, &program);
        r
    };
    let created_at = original.created_at.clone();
    // The rows stream from the database in shipping order, sorted once, read twice:
    // checked first (nothing made), then written row by row. Never all held.
    let (rec, notes, summary) = shipments::with_sorted_orders(&ctx.conn, Some(n), n, |sorted| {
        let checked = sorted.each(|rows| {
            shiplist::check(&program, &format, n, &mut rows.map(name), &created_at, date)
        })?;
        let (notes, summary) = match checked {
            Ok(x) => x,
            Err(problems) => {
                return Err(refusal(
                    &problems,
                    &format!("発送 {n} を書き出し直せません"),
                    "ファイルは書き出していません (nothing written)",
                ))
            }
        };
        let rec = crate::output::write_with(&args.out, |w| {
            sorted.each(|rows| write_checked(&program, &format, n, rows, &created_at, date, w))
        })?;
        Ok((rec, notes, summary))
    })?;
    let identical = rec.sha256 == original.file_sha256;
    let same = if format.as_str() != original.format {
        format!("元の形式（{}）とは別の形式で書きました", original.format)
    } else if identical {
        "元のファイルと同じ内容です (identical to the original)".to_string()
    } else if crate::output::carrier::find(format.as_str()).is_some() {
        format!(
            "出荷予定日を {date} にして書きました（元のファイルとは日付などが違います） (ship date {date}; differs from the original)"
        )
    } else {
        "元のファイルと内容が違います: 発送後に名簿の住所などが更新されています (differs from the original: the roster changed since)".to_string()
    };
    ctx.detail.count("shipment", n);
    ctx.detail.count("orders", summary.orders as u64);
    ctx.detail.arg("identical", identical);
    ctx.say(format!(
        "発送 {n}（{created_at}、{} 件）を書き出し直しました: {}。{same}",
        summary.orders,
        rec.shown()
    ));
    for note in &notes {
        ctx.say(format!("  注意: {note}"));
    }
    ctx.detail.file(rec);
    Ok(())
}
