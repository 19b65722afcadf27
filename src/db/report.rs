//! What the evaluation report (`report`) reads besides the steps (`db::points::each_step`):
//! participants' attributes, every order and every questionnaire answer. `crate::report` computes the
//! tables from them.

use anyhow::Result;
use rusqlite::Connection;

/// A participant's attributes the report groups by.
pub struct PersonRow<'a> {
    pub id: String,
    pub birth_date: Option<&'a str>,
    pub age: Option<i64>,
    pub sex: Option<&'a str>,
    pub channel: &'a str,
}

/// Every participant in id order.
pub fn participants(conn: &Connection, mut f: impl FnMut(PersonRow<'_>)) -> Result<()> {
    let mut stmt =
        conn.prepare("SELECT id, birth_date, age, sex, channel FROM participants ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let bd: Option<String> = r.get(1)?;
        let sex: Option<String> = r.get(3)?;
        let channel: String = r.get(4)?;
        f(PersonRow {
            id: r.get(0)?,
            birth_date: bd.as_deref(),
            age: r.get(2)?,
            sex: sex.as_deref(),
            channel: &channel,
        });
    }
    Ok(())
}

/// One order as the report counts it.
pub struct OrderRow<'a> {
    pub prize: &'a str,
    pub participant: &'a str,
    pub quantity: i64,
    pub accepted: bool,
    pub shipped: bool,
}

/// Every order, a participant's together (in participant number order, along the
/// `orders_by_participant` index: no sort, nothing held), so that the report counts
/// the people behind each figure without a set of numbers.
pub fn each_order_by_participant(conn: &Connection, mut f: impl FnMut(OrderRow<'_>)) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT prize_code, participant_id, quantity, status, shipment_id IS NOT NULL FROM orders \
         INDEXED BY orders_by_participant ORDER BY participant_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(OrderRow {
            prize: r.get_ref(0)?.as_str()?,
            participant: r.get_ref(1)?.as_str()?,
            quantity: r.get(2)?,
            accepted: r.get_ref(3)?.as_str()? == "accepted",
            shipped: r.get(4)?,
        });
    }
    Ok(())
}

/// Every questionnaire answer as `(question, timing as stored, participant, answer)`,
/// by question, timing and participant.
pub fn answers(conn: &Connection, mut f: impl FnMut(String, &str, String, String)) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT question, timing, participant_id, answer FROM survey_answers ORDER BY question, timing, participant_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(r.get(0)?, r.get_ref(1)?.as_str()?, r.get(2)?, r.get(3)?);
    }
    Ok(())
}
