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

/// Run `body` with a sort table filled (`create`, then `fill` with `params`) inside a
/// savepoint that is rolled back afterwards: nothing of it is ever committed. The rows come
/// back in the table's primary-key order, which needs no sorter: with `temp_store=MEMORY`
/// an `ORDER BY` or `DISTINCT` over the shipment sorts it all in memory, while this table
/// is a B-tree of the (encrypted) database, in its bounded page cache. The table carries
/// every field read back, so a pass reads it in key order without looking each row up
/// again in `orders` and `participants` (in postal order those look-ups miss the cache,
/// and each 64 KiB page read is decrypted and authenticated again: three times the time
/// of the in-memory sort at 100,000 orders when the passes joined).
fn in_sort_table<T, P: rusqlite::Params>(
    conn: &Connection,
    create: &str,
    fill: &str,
    params: P,
    body: impl FnOnce() -> Result<T>,
) -> Result<T> {
    conn.execute_batch("SAVEPOINT stepcard_sort")?;
    let r = conn
        .execute_batch(create)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(conn.execute(fill, params)?))
        .and_then(|_| body());
    let end = conn.execute_batch("ROLLBACK TO stepcard_sort; RELEASE stepcard_sort");
    let t = r?;
    end?;
    Ok(t)
}

/// Rows of `stmt` (mapped by `map`) handed to `f` as an iterator that stops at the first
/// error, which is then returned.
pub(super) fn stream<T, R>(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<R>,
    f: impl FnOnce(&mut dyn Iterator<Item = R>) -> Result<T>,
) -> Result<T> {
    let mut failed = None;
    let rows = stmt.query_map(params, map)?;
    let mut it = rows.map_while(|r| r.map_err(|e| failed = Some(e)).ok());
    let t = f(&mut it)?;
    drop(it);
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(t),
    }
}

/// The pending orders (`shipment` None: accepted and in no shipment) or one shipment's,
/// each with the participant's current address, handed to `f` one at a time in shipping
/// order (postal code, none last; participant; prize; order id), never all held: sorted
/// through a table of the database that is rolled back afterwards. Rows are labelled
/// with shipment `label`; prize names are left empty for the caller.
pub fn each_order<T>(
    conn: &Connection,
    shipment: Option<i64>,
    label: i64,
    f: impl FnOnce(&mut dyn Iterator<Item = ListRow>) -> Result<T>,
) -> Result<T> {
    with_sorted_orders(conn, shipment, label, |sorted| sorted.each(f))
}

/// As [`each_order`], the orders sorted once and `body` given them to stream as often
/// as it needs (checked, then written) while the sort table lasts.
pub fn with_sorted_orders<T>(
    conn: &Connection,
    shipment: Option<i64>,
    label: i64,
    body: impl FnOnce(&SortedOrders<'_>) -> Result<T>,
) -> Result<T> {
    in_sort_table(
        conn,
        "CREATE TABLE main.stepcard_ship_sort(no_postal INTEGER NOT NULL, postal TEXT NOT NULL, \
         pid TEXT NOT NULL, prize TEXT NOT NULL, id INTEGER NOT NULL, name TEXT, postal_code TEXT, \
         address TEXT, address2 TEXT, phone TEXT, quantity INTEGER NOT NULL, \
         PRIMARY KEY(no_postal, postal, pid, prize, id)) WITHOUT ROWID",
        "INSERT INTO main.stepcard_ship_sort SELECT p.postal_code IS NULL, COALESCE(p.postal_code, ''), \
         o.participant_id, o.prize_code, o.id, p.name, p.postal_code, p.address, p.address2, p.phone, \
         o.quantity FROM orders o LEFT JOIN participants p ON p.id = o.participant_id \
         WHERE (?1 IS NULL AND o.status = 'accepted' AND o.shipment_id IS NULL) OR o.shipment_id = ?1",
        [shipment],
        || body(&SortedOrders { conn, label }),
    )
}

/// Orders sorted by [`with_sorted_orders`].
pub struct SortedOrders<'c> {
    conn: &'c Connection,
    label: i64,
}

impl SortedOrders<'_> {
    /// Every sorted order, handed to `f` one at a time in shipping order.
    pub fn each<T>(
        &self,
        f: impl FnOnce(&mut dyn Iterator<Item = ListRow>) -> Result<T>,
    ) -> Result<T> {
        let label = self.label;
        let mut stmt = self.conn.prepare(
            "SELECT pid, name, postal_code, address, address2, phone, prize, quantity \
             FROM main.stepcard_ship_sort ORDER BY no_postal, postal, pid, prize, id",
        )?;
        stream(
            &mut stmt,
            [],
            |r| {
                Ok(ListRow {
                    shipment: label,
                    participant_id: r.get(0)?,
                    name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    postal_code: r.get(2)?,
                    address: r.get(3)?,
                    address2: r.get(4)?,
                    phone: r.get(5)?,
                    prize_code: r.get(6)?,
                    prize_name: String::new(),
                    quantity: r.get(7)?,
                })
            },
            f,
        )
    }
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

/// Record the shipment and mark its orders shipped: every accepted order in no shipment,
/// which must be exactly the `summary.orders` orders the file was made from (the caller
/// holds the write lock since it read them); refuses (nothing to commit) otherwise.
pub fn record(tx: &Connection, s: &NewShipment) -> Result<()> {
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
    let marked = tx.execute(
        "UPDATE orders SET shipment_id = ?1 WHERE shipment_id IS NULL AND status = 'accepted'",
        [s.id],
    )?;
    if marked != s.summary.orders {
        bail!(
            "internal: {marked} of {} orders marked; nothing committed",
            s.summary.orders
        );
    }
    Ok(())
}

/// The addressees of a shipment, one per participant, in postal order (none last, then
/// participant), sorted and made distinct once through a table of the database that is
/// rolled back afterwards (see [`each_order`]), and `body` given them to stream as often
/// as it needs (checked, then written) while the table lasts.
pub fn with_sorted_recipients<T>(
    conn: &Connection,
    shipment: i64,
    body: impl FnOnce(&SortedRecipients<'_>) -> Result<T>,
) -> Result<T> {
    in_sort_table(
        conn,
        "CREATE TABLE main.stepcard_label_sort(no_postal INTEGER NOT NULL, postal TEXT NOT NULL, \
         pid TEXT NOT NULL, name TEXT, postal_code TEXT, address TEXT, address2 TEXT, \
         PRIMARY KEY(no_postal, postal, pid)) WITHOUT ROWID",
        "INSERT OR IGNORE INTO main.stepcard_label_sort SELECT p.postal_code IS NULL, \
         COALESCE(p.postal_code, ''), p.id, p.name, p.postal_code, p.address, p.address2 \
         FROM orders o JOIN participants p ON p.id = o.participant_id WHERE o.shipment_id = ?1",
        [shipment],
        // The addressees are read in the table's order, each page once, while the
        // label workbook (one file of up to 12,288 labels) is what needs the memory:
        // the cache the filled table left behind is given back (74 -> 64 MB at 100,000).
        || super::with_cache(conn, 2048, || body(&SortedRecipients { conn })),
    )
}

/// Addressees sorted by [`with_sorted_recipients`].
pub struct SortedRecipients<'c> {
    conn: &'c Connection,
}

impl SortedRecipients<'_> {
    /// Every addressee, handed to `f` one at a time in postal order.
    pub fn each<T>(
        &self,
        f: impl FnOnce(&mut dyn Iterator<Item = Recipient>) -> Result<T>,
    ) -> Result<T> {
        let mut stmt = self.conn.prepare(
            "SELECT pid, name, postal_code, address, address2 FROM main.stepcard_label_sort \
             ORDER BY no_postal, postal, pid",
        )?;
        stream(&mut stmt, [], super::mailings::recipient_row, f)
    }
}
