//! `prizes`: the program's prizes with their cost, stock, what has been accepted and
//! what is left, for the fulfillment staff (a listing on stdout; no personal data).

use super::Ctx;
use crate::db;
use anyhow::Result;

pub fn list(ctx: &mut Ctx) -> Result<()> {
    let orders = db::prizes::by_code(&ctx.conn)?;
    println!("コード\t景品名\t必要ポイント\t1人上限\t在庫\t受付件数\t受付数量\t残り\t却下件数");
    let (mut total_orders, mut total_qty) = (0i64, 0i64);
    for p in &ctx.program.prizes {
        let o = orders.get(&p.code).copied().unwrap_or_default();
        let (n, qty) = (o.accepted, o.accepted_quantity);
        total_orders += n;
        total_qty += qty;
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            p.code,
            p.name,
            p.points,
            p.per_person
                .map(|n| n.to_string())
                .unwrap_or_else(|| "なし".into()),
            p.stock,
            n,
            qty,
            p.stock - qty,
            o.rejected
        );
    }
    ctx.detail.count("prizes", ctx.program.prizes.len() as u64);
    ctx.detail.count("orders_accepted", total_orders);
    ctx.detail.count("quantity_accepted", total_qty);
    Ok(())
}
