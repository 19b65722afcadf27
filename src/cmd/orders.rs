//! `orders import FILE`: prize applications keyed from cards, decided in file order and
//! kept as one batch (see `crate::import::orders` for what is a problem in the file and
//! what is a refusal to tell the participant).

use super::Ctx;
use crate::cli::ImportOpts;
use crate::import::batch::{self, Spec};
use crate::import::orders::{OrdersImporter, COLUMNS};
use crate::import::Options;
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
    let Some(batch) = batch::run_with(&mut ctx.session(), file, &opts, &spec, &mut |conn, b| {
        Ok(Box::new(OrdersImporter::new(
            conn,
            program.clone(),
            b,
            today,
        )?))
    })?
    else {
        return Ok(());
    };
    summary(ctx, batch)
}

/// The batch's outcome in numbers, on stderr.
fn summary(ctx: &mut Ctx, batch: i64) -> Result<()> {
    let t = crate::db::orders::batch_totals(&ctx.conn, batch)?;
    let (accepted, points, qty, rejected) = (t.accepted, t.points, t.quantity, t.rejected());
    ctx.say(format!(
        "申込み: 受付 {accepted} 件（{qty} 個、{points} ポイント）、却下 {rejected} 件"
    ));
    for (code, n) in &t.rejected_by_code {
        let what = crate::validate::meaning(code);
        ctx.say(format!("  {code}（{what}）: {n} 件"));
    }
    if rejected > 0 {
        ctx.say(
            "  却下した申込みは参加者にお知らせください。一覧は --errors FILE（参加者番号・行・理由）で書き出せます",
        );
    }
    Ok(())
}
