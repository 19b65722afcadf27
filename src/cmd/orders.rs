//! `orders import FILE`: prize applications keyed from cards, decided in file order and
//! kept as one batch (see `crate::import::orders` for what is a problem in the file and
//! what is a refusal to tell the participant).

use crate::cli::ImportOpts;
use crate::import::batch::{self, Spec};
use crate::import::orders::{OrdersImporter, COLUMNS, REJECTION_CODES};
use crate::Ctx;
use anyhow::Result;
use std::path::Path;

pub fn import(ctx: &mut Ctx, file: &Path, opts: &ImportOpts) -> Result<()> {
    let program = ctx.program.clone();
    let today = crate::today();
    let spec = Spec {
        kind: "orders",
        columns: COLUMNS,
        card_days: false,
        verified: false,
    };
    let Some(batch) = batch::run(ctx, file, opts, &spec, &mut |b| {
        Ok(Box::new(OrdersImporter::new(program.clone(), b, today)))
    })?
    else {
        return Ok(());
    };
    summary(ctx, batch)
}

/// The batch's outcome in numbers, on stderr and in the audit entry.
fn summary(ctx: &mut Ctx, batch: i64) -> Result<()> {
    let (accepted, points, qty): (i64, i64, i64) = ctx.conn.query_row(
        "SELECT count(*), COALESCE(SUM(points),0), COALESCE(SUM(quantity),0) FROM orders WHERE batch_id=?1 AND status='accepted'",
        [batch],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut stmt = ctx.conn.prepare(
        "SELECT code, count(*) FROM orders WHERE batch_id=?1 AND status='rejected' GROUP BY code ORDER BY code",
    )?;
    let by_code: Vec<(String, i64)> = stmt
        .query_map([batch], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    drop(stmt);
    let rejected: i64 = by_code.iter().map(|(_, n)| n).sum();
    ctx.detail.count("orders_accepted", accepted);
    ctx.detail.count("orders_rejected", rejected);
    ctx.detail.count("points_used", points);
    for (code, n) in &by_code {
        ctx.detail.count(&format!("rejected.{code}"), *n);
    }
    ctx.say(format!(
        "申込み: 受付 {accepted} 件（{qty} 個、{points} ポイント）、却下 {rejected} 件"
    ));
    for (code, n) in &by_code {
        let what = REJECTION_CODES
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, w)| *w)
            .unwrap_or("");
        ctx.say(format!("  {code}（{what}）: {n} 件"));
    }
    if rejected > 0 {
        ctx.say(
            "  却下した申込みは参加者にお知らせください。一覧は --errors FILE（参加者番号・行・理由）で書き出せます",
        );
    }
    Ok(())
}
