//! `prizes`: the program's prizes with their cost, stock, what has been accepted and
//! what is left, for the fulfillment staff (a listing on stdout; no personal data).

use super::Ctx;
use crate::db;
use crate::output::listing::{ListFormat, Listing};
use crate::output::Value;
use anyhow::Result;

pub fn list(ctx: &mut Ctx, format: ListFormat) -> Result<()> {
    let orders = db::prizes::by_code(&ctx.conn)?;
    let mut out = Listing::stdout(
        format,
        &[
            "コード",
            "景品名",
            "必要ポイント",
            "1人上限",
            "在庫",
            "受付件数",
            "受付数量",
            "残り",
            "却下件数",
        ],
    )?;
    let (mut total_orders, mut total_qty) = (0i64, 0i64);
    for p in &ctx.program.prizes {
        let o = orders.get(&p.code).copied().unwrap_or_default();
        let (n, qty) = (o.accepted, o.accepted_quantity);
        total_orders += n;
        total_qty += qty;
        out.row(&[
            p.code.as_str().into(),
            p.name.as_str().into(),
            Value::Int(p.points),
            match p.per_person {
                Some(n) => Value::Int(n),
                None => "なし".into(),
            },
            Value::Int(p.stock),
            Value::Int(n),
            Value::Int(qty),
            Value::Int(p.stock - qty),
            Value::Int(o.rejected),
        ])?;
    }
    out.finish()?;
    ctx.detail.count("prizes", ctx.program.prizes.len() as u64);
    ctx.detail.count("orders_accepted", total_orders);
    ctx.detail.count("quantity_accepted", total_qty);
    Ok(())
}
