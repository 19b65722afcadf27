//! Shipments: the accepted orders not yet shipped, a shipment's orders and addressees,
//! and recording a shipment (its file's SHA-256 and every order it sends) in the
//! caller's transaction. Which orders ship and in what order is decided in
//! `crate::shipping`; this file only reads and writes.

use crate::shipping::{self, ListRow, Recipient};
use anyhow::{bail, Result};
use rusqlite::{Connection, OptionalExtension};

/// The id the next shipment gets.
pub fn next_id(conn: &Connection) -> Result<i64> {
    Ok(
        conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM shipments", [], |r| {
            r.get(0)
        })?,
    )
}

/// The last shipment's id (0: none yet).
pub fn last_id(conn: &Connection) -> Result<i64> {
    Ok(next_id(conn)? - 1)
}

/// Orders already in a shipment.
pub fn shipped_orders(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM orders WHERE shipment_id IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

/// The pending orders (`shipment` None: accepted and in no shipment) or one shipment's,
/// each with its id and the participant's current address, in shipping order. Rows are
/// labelled with shipment `label`; prize names are left empty for the caller.
pub fn orders(conn: &Connection, shipment: Option<i64>, label: i64) -> Result<Vec<(i64, ListRow)>> {
    let mut stmt = conn.prepare(
        "SELECT o.id, o.participant_id, p.name, p.postal_code, p.address, p.address2, p.phone, \
         o.prize_code, o.quantity FROM orders o LEFT JOIN participants p ON p.id = o.participant_id \
         WHERE (?1 IS NULL AND o.status = 'accepted' AND o.shipment_id IS NULL) \
         OR o.shipment_id = ?1 ORDER BY o.id",
    )?;
    let mut rows = stmt
        .query_map([shipment], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                ListRow {
                    shipment: label,
                    participant_id: r.get(1)?,
                    name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    postal_code: r.get(3)?,
                    address: r.get(4)?,
                    address2: r.get(5)?,
                    phone: r.get(6)?,
                    prize_code: r.get(7)?,
                    prize_name: String::new(),
                    quantity: r.get(8)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    shipping::sort_orders(&mut rows);
    Ok(rows)
}

/// A recorded shipment.
#[derive(Debug, Clone, PartialEq)]
pub struct Shipment {
    pub created_at: String,
    pub format: String,
    pub file_sha256: String,
}

pub fn find(conn: &Connection, id: i64) -> Result<Option<Shipment>> {
    Ok(conn
        .query_row(
            "SELECT created_at, format, file_sha256 FROM shipments WHERE id = ?1",
            [id],
            |r| {
                Ok(Shipment {
                    created_at: r.get(0)?,
                    format: r.get(1)?,
                    file_sha256: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// A shipment to record.
pub struct NewShipment<'a> {
    pub id: i64,
    pub created_at: &'a str,
    pub operator: &'a str,
    pub format: &'a str,
    pub file_sha256: &'a str,
    pub summary: &'a shipping::Summary,
}

/// Record the shipment and mark its orders shipped; refuses (nothing to commit) if any
/// order was shipped or changed meanwhile.
pub fn record(tx: &Connection, s: &NewShipment, order_ids: &[i64]) -> Result<()> {
    tx.execute(
        "INSERT INTO shipments(id, created_at, operator, format, file_sha256, orders, participants, quantity) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
        rusqlite::params![
            s.id,
            s.created_at,
            s.operator,
            s.format,
            s.file_sha256,
            s.summary.orders as i64,
            s.summary.participants as i64,
            s.summary.quantity
        ],
    )?;
    let mut marked = 0usize;
    let mut stmt = tx.prepare(
        "UPDATE orders SET shipment_id = ?1 WHERE id = ?2 AND shipment_id IS NULL AND status = 'accepted'",
    )?;
    for order in order_ids {
        marked += stmt.execute(rusqlite::params![s.id, order])?;
    }
    if marked != order_ids.len() {
        bail!(
            "internal: {marked} of {} orders marked; nothing committed",
            order_ids.len()
        );
    }
    Ok(())
}

/// The addressees of a shipment, one per participant, in postal order.
pub fn recipients(conn: &Connection, shipment: i64) -> Result<Vec<Recipient>> {
    let mut rows = super::mailings::recipients(
        conn,
        "SELECT DISTINCT p.id, p.name, p.postal_code, p.address, p.address2 FROM orders o \
         JOIN participants p ON p.id = o.participant_id WHERE o.shipment_id = ?1",
        [shipment],
    )?;
    shipping::sort_recipients(&mut rows);
    Ok(rows)
}
