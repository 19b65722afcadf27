//! `orders import FILE`: prize applications keyed from cards, decided in file order and
//! kept as one batch (see `crate::import::orders` for what is a problem in the file and
//! what is a refusal to tell the participant).

use crate::cli::ImportOpts;
use crate::import::batch::{self, Spec};
use crate::import::orders::{OrdersImporter, COLUMNS, REJECTION_CODES};
use crate::import::Options;
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
    let opts = Options::from(opts);
    let Some(batch) = batch::run(&mut ctx.session(), file, &opts, &spec, &mut |b| {
        Ok(Box::new(OrdersImporter::new(program.clone(), b, today)))
    })?
    else {
        return Ok(());
    };
    summary(ctx, batch)
}

/// An orders batch's outcome: accepted count, points used, quantity, rejections by code.
pub(crate) type OrderCounts = (i64, i64, i64, Vec<(String, i64)>);

pub(crate) fn order_counts(conn: &rusqlite::Connection, batch: i64) -> Result<OrderCounts> {
    let (accepted, points, qty): (i64, i64, i64) = conn.query_row(
        "SELECT count(*), COALESCE(SUM(points),0), COALESCE(SUM(quantity),0) FROM orders WHERE batch_id=?1 AND status='accepted'",
        [batch],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut stmt = conn.prepare(
        "SELECT code, count(*) FROM orders WHERE batch_id=?1 AND status='rejected' GROUP BY code ORDER BY code",
    )?;
    let by_code: Vec<(String, i64)> = stmt
        .query_map([batch], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok((accepted, points, qty, by_code))
}

/// The counts an orders batch records in its audit entry (no participant numbers).
pub(crate) fn audit_counts(
    conn: &rusqlite::Connection,
    batch: i64,
    d: &mut crate::audit::Detail,
) -> Result<()> {
    let (accepted, points, _, by_code) = order_counts(conn, batch)?;
    d.count("orders_accepted", accepted);
    d.count(
        "orders_rejected",
        by_code.iter().map(|(_, n)| n).sum::<i64>(),
    );
    d.count("points_used", points);
    for (code, n) in &by_code {
        d.count(&format!("rejected.{code}"), *n);
    }
    Ok(())
}

/// The batch's outcome in numbers, on stderr.
fn summary(ctx: &mut Ctx, batch: i64) -> Result<()> {
    let (accepted, points, qty, by_code) = order_counts(&ctx.conn, batch)?;
    let rejected: i64 = by_code.iter().map(|(_, n)| n).sum();
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
