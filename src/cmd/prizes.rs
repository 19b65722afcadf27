//! `prizes`: the program's prizes with their cost, stock, what has been accepted and
//! what is left, for the fulfillment staff (a listing on stdout; no personal data).

use crate::Ctx;
use anyhow::Result;
use std::collections::HashMap;

pub fn list(ctx: &mut Ctx) -> Result<()> {
    let mut accepted: HashMap<String, (i64, i64)> = HashMap::new();
    let mut rejected: HashMap<String, i64> = HashMap::new();
    {
        let mut stmt = ctx.conn.prepare(
            "SELECT prize_code, status, count(*), SUM(quantity) FROM orders GROUP BY prize_code, status ORDER BY prize_code, status",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let code: String = r.get(0)?;
            let status: String = r.get(1)?;
            let n: i64 = r.get(2)?;
            let qty: i64 = r.get(3)?;
            if status == "accepted" {
                accepted.insert(code, (n, qty));
            } else {
                rejected.insert(code, n);
            }
        }
    }
    println!("コード\t景品名\t必要ポイント\t1人上限\t在庫\t受付件数\t受付数量\t残り\t却下件数");
    let (mut total_orders, mut total_qty) = (0i64, 0i64);
    for p in &ctx.program.prizes {
        let (n, qty) = accepted.get(&p.code).copied().unwrap_or((0, 0));
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
            rejected.get(&p.code).copied().unwrap_or(0)
        );
    }
    ctx.detail.count("prizes", ctx.program.prizes.len() as u64);
    ctx.detail.count("orders_accepted", total_orders);
    ctx.detail.count("quantity_accepted", total_qty);
    Ok(())
}
