//! What the evaluation report (`report`) reads besides the steps (`db::points::each_step`):
//! participants' attributes, every order and every questionnaire answer. `crate::report` computes the
//! tables from them.

use anyhow::Result;
use rusqlite::Connection;

/// A participant's attributes the report groups by.
pub struct PersonRow {
    pub id: String,
    pub birth_date: Option<String>,
    pub age: Option<i64>,
    pub sex: Option<String>,
    pub channel: String,
}

/// The roster in id order, read one participant at a time (along the primary key's
/// index: no sort, nothing held), so that the report can walk it beside the steps.
pub struct Roster<'s> {
    rows: rusqlite::Rows<'s>,
}

impl Roster<'_> {
    /// The next participant in id order, `None` after the last.
    pub fn next_person(&mut self) -> Result<Option<PersonRow>> {
        Ok(match self.rows.next()? {
            Some(r) => Some(PersonRow {
                id: r.get(0)?,
                birth_date: r.get(1)?,
                age: r.get(2)?,
                sex: r.get(3)?,
                channel: r.get(4)?,
            }),
            None => None,
        })
    }
}

/// Run `f` with the roster open in id order (see [`Roster`]).
pub fn with_roster<T>(
    conn: &Connection,
    f: impl FnOnce(&mut Roster<'_>) -> Result<T>,
) -> Result<T> {
    let mut stmt =
        conn.prepare("SELECT id, birth_date, age, sex, channel FROM participants ORDER BY id")?;
    let rows = stmt.query([])?;
    let mut roster = Roster { rows };
    f(&mut roster)
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

/// Every questionnaire answer as `(participant, timing as stored, question, answer)`, a
/// participant's together, in the table's key order (participant, timing, question):
/// read in place, no sort, nothing held.
pub fn each_answer(
    conn: &Connection,
    mut f: impl FnMut(&str, &str, &str, &str) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT participant_id, timing, question, answer FROM survey_answers \
         ORDER BY participant_id, timing, question",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(
            r.get_ref(0)?.as_str()?,
            r.get_ref(1)?.as_str()?,
            r.get_ref(2)?.as_str()?,
            r.get_ref(3)?.as_str()?,
        )?;
    }
    Ok(())
}
