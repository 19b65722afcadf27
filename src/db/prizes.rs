//! What the orders table holds per prize, for the `prizes` listing.

use anyhow::Result;
use rusqlite::Connection;
use std::collections::HashMap;

/// One prize's orders as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrizeOrders {
    /// Accepted orders and the quantity they hold.
    pub accepted: i64,
    pub accepted_quantity: i64,
    /// Rejected orders.
    pub rejected: i64,
}

/// Per stored prize code.
pub fn by_code(conn: &Connection) -> Result<HashMap<String, PrizeOrders>> {
    let mut out: HashMap<String, PrizeOrders> = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT prize_code, status, count(*), SUM(quantity) FROM orders GROUP BY prize_code, status ORDER BY prize_code, status",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let code: String = r.get(0)?;
        let status: String = r.get(1)?;
        let n: i64 = r.get(2)?;
        let qty: i64 = r.get(3)?;
        let e = out.entry(code).or_default();
        if status == "accepted" {
            e.accepted = n;
            e.accepted_quantity = qty;
        } else {
            e.rejected = n;
        }
    }
    Ok(out)
}
