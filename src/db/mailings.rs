//! The participation-guidance mailing (参加案内): who can be mailed, who was, and
//! recording a mailing with every participant it reached in the caller's transaction.
//! Who is refused is decided in `crate::shipping`.

use crate::shipping::{self, GuidanceTarget, Recipient};
use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};

/// Label recipients from a query selecting id, name, postal code, address, address2.
pub(super) fn recipients<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> Result<Vec<Recipient>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(params, recipient_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A recipient from `id, name, postal_code, address, address2`.
pub(super) fn recipient_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Recipient> {
    Ok(Recipient {
        participant_id: r.get(0)?,
        name: r.get(1)?,
        postal_code: r.get(2)?,
        address: r.get(3)?,
        address2: r.get(4)?,
    })
}

/// What the roster and the mailings know of a named participant.
pub fn target(conn: &Connection, id: &str) -> Result<GuidanceTarget> {
    let channel: Option<String> = conn
        .query_row(
            "SELECT channel FROM participants WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let mailed = conn
        .query_row(
            "SELECT mailing_id, mailed_at FROM guidance_mailed WHERE participant_id = ?1 ORDER BY mailing_id DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(GuidanceTarget {
        id: id.to_string(),
        channel,
        mailed,
    })
}

/// Participants of `channel` to mail the guidance (with `resend`, also those mailed
/// already), in postal order.
pub fn guidance_recipients(
    conn: &Connection,
    channel: &str,
    resend: bool,
) -> Result<Vec<Recipient>> {
    let mailed_filter = if resend {
        ""
    } else {
        "AND NOT EXISTS (SELECT 1 FROM guidance_mailed g WHERE g.participant_id = p.id)"
    };
    let mut rows = recipients(
        conn,
        &format!(
            "SELECT p.id, p.name, p.postal_code, p.address, p.address2 FROM participants p \
             WHERE p.channel = ?1 {mailed_filter}"
        ),
        [channel],
    )?;
    shipping::sort_recipients(&mut rows);
    Ok(rows)
}

/// Participants of `channel`, and how many of them were mailed the guidance.
pub fn guidance_counts(conn: &Connection, channel: &str) -> Result<(i64, i64)> {
    Ok(conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM guidance_mailed g WHERE g.participant_id = p.id)) FROM participants p WHERE p.channel = ?1",
        [channel],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// A guidance mailing to record.
pub struct NewMailing<'a> {
    pub created_at: &'a str,
    pub operator: &'a str,
    pub format: &'a str,
    pub file_sha256: &'a str,
    pub resend: bool,
}

/// Record the mailing and each participant it reached; returns the mailing's id and how
/// many of them had been mailed before.
pub fn record_guidance(
    tx: &Connection,
    m: &NewMailing,
    participants: &[&str],
) -> Result<(i64, i64)> {
    tx.execute(
        "INSERT INTO mailings(kind, created_at, operator, format, file_sha256, participants, resend) VALUES ('guidance', ?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![m.created_at, m.operator, m.format, m.file_sha256, participants.len() as i64, m.resend],
    )?;
    let mailing = tx.last_insert_rowid();
    let mut resent = 0i64;
    let mut stmt = tx.prepare(
        "INSERT INTO guidance_mailed(participant_id, mailing_id, mailed_at, resend) \
         VALUES (?1, ?2, ?3, EXISTS (SELECT 1 FROM guidance_mailed g WHERE g.participant_id = ?1))",
    )?;
    let mut again =
        tx.prepare("SELECT EXISTS (SELECT 1 FROM guidance_mailed WHERE participant_id = ?1)")?;
    for id in participants {
        let before: bool = again.query_row([id], |r| r.get(0))?;
        resent += i64::from(before);
        stmt.execute(rusqlite::params![id, mailing, m.created_at])?;
    }
    Ok((mailing, resent))
}

/// A participant to print point cards for.
#[derive(Debug, Clone, PartialEq)]
pub struct CardHolder {
    pub participant_id: String,
    pub name: String,
    pub channel: Option<String>,
}

/// Every participant of `channel` (the card participants), in number order.
pub fn card_holders(conn: &Connection, channel: &str) -> Result<Vec<CardHolder>> {
    let mut stmt =
        conn.prepare("SELECT id, name, channel FROM participants WHERE channel = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([channel], card_holder)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// One named participant, if on the roster.
pub fn card_holder_of(conn: &Connection, id: &str) -> Result<Option<CardHolder>> {
    Ok(conn
        .query_row(
            "SELECT id, name, channel FROM participants WHERE id = ?1",
            [id],
            card_holder,
        )
        .optional()?)
}

fn card_holder(r: &rusqlite::Row<'_>) -> rusqlite::Result<CardHolder> {
    Ok(CardHolder {
        participant_id: r.get(0)?,
        name: r.get(1)?,
        channel: r.get(2)?,
    })
}

/// A run of point cards to record.
pub struct NewCards<'a> {
    pub created_at: &'a str,
    pub operator: &'a str,
    /// `2025-05..2025-07`.
    pub months: &'a str,
    pub file_sha256: &'a str,
    /// Cards (A4 pages) printed for each participant.
    pub cards_each: i64,
}

/// Record the cards written and each participant they were printed for; returns the
/// record's id.
pub fn record_cards(tx: &Connection, m: &NewCards, participants: &[&str]) -> Result<i64> {
    tx.execute(
        "INSERT INTO card_mailings(created_at, operator, months, file_sha256, participants, cards) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            m.created_at,
            m.operator,
            m.months,
            m.file_sha256,
            participants.len() as i64,
            participants.len() as i64 * m.cards_each
        ],
    )?;
    let id = tx.last_insert_rowid();
    let mut stmt = tx.prepare(
        "INSERT INTO cards_sent(participant_id, mailing_id, sent_at, cards) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for p in participants {
        stmt.execute(rusqlite::params![p, id, m.created_at, m.cards_each])?;
    }
    Ok(id)
}
