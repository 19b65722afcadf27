//! The participation-guidance mailing (参加案内): who can be mailed, who was, and
//! recording a mailing with every participant it reached in the caller's transaction.
//! Who is refused is decided in `crate::shipping`.

use crate::shipping::{GuidanceTarget, Recipient};
use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};

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

/// The working table a guidance mailing's addressees are noted in, sorted in postal
/// order, inside the caller's write transaction (see [`guidance_note`]).
const GUIDANCE_TABLE: &str = "main.stepcard_guidance";

/// Note the participants of `channel` to mail the guidance (with `resend`, also those
/// mailed already; with `wanted`, only those named) in a working table of the caller's
/// write transaction, in postal order (postal code, none last, then number): how many.
/// They are then streamed by [`each_guidance`] as often as needed and recorded by
/// [`record_guidance`], never all held in memory; [`guidance_done`] drops the table
/// before the commit (a rollback drops it too).
pub fn guidance_note(
    tx: &Connection,
    channel: &str,
    resend: bool,
    wanted: &[String],
) -> Result<i64> {
    tx.execute_batch(&format!(
        "CREATE TABLE {GUIDANCE_TABLE}(no_postal INTEGER NOT NULL, postal TEXT NOT NULL, \
         pid TEXT NOT NULL, name TEXT, postal_code TEXT, address TEXT, address2 TEXT, \
         PRIMARY KEY(no_postal, postal, pid)) WITHOUT ROWID"
    ))?;
    let mailed_filter = if resend {
        ""
    } else {
        "AND NOT EXISTS (SELECT 1 FROM guidance_mailed g WHERE g.participant_id = p.id)"
    };
    let select = format!(
        "INSERT OR IGNORE INTO {GUIDANCE_TABLE} SELECT p.postal_code IS NULL, \
         COALESCE(p.postal_code, ''), p.id, p.name, p.postal_code, p.address, p.address2 \
         FROM participants p WHERE p.channel = ?1 {mailed_filter}"
    );
    let noted = if wanted.is_empty() {
        tx.execute(&select, [channel])?
    } else {
        let mut one = tx.prepare(&format!("{select} AND p.id = ?2"))?;
        let mut n = 0;
        for id in wanted {
            n += one.execute([channel, id.as_str()])?;
        }
        n
    };
    Ok(noted as i64)
}

/// The noted addressees, handed to `f` one at a time in postal order.
pub fn each_guidance<T>(
    tx: &Connection,
    f: impl FnOnce(&mut dyn Iterator<Item = Recipient>) -> Result<T>,
) -> Result<T> {
    // The table carries the address: each pass reads it in key order, with no look-up
    // back into `participants` (see `shipments::with_sorted_orders`).
    let mut stmt = tx.prepare(&format!(
        "SELECT pid, name, postal_code, address, address2 FROM {GUIDANCE_TABLE} \
         ORDER BY no_postal, postal, pid"
    ))?;
    // As a shipment's labels: the label workbook needs the memory more than the cache.
    super::with_cache(tx, 2048, || {
        super::shipments::stream(&mut stmt, [], recipient_row, f)
    })
}

/// Drop the working table of [`guidance_note`] (before the commit).
pub fn guidance_done(tx: &Connection) -> Result<()> {
    super::drop_working_table(tx, GUIDANCE_TABLE)
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

/// Record the mailing and each noted participant it reached (see [`guidance_note`]);
/// returns the mailing's id and how many of them had been mailed before.
pub fn record_guidance(tx: &Connection, m: &NewMailing) -> Result<(i64, i64)> {
    let (count, resent): (i64, i64) = tx.query_row(
        &format!(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM guidance_mailed g \
             WHERE g.participant_id = s.pid)) FROM {GUIDANCE_TABLE} s"
        ),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    tx.execute(
        "INSERT INTO mailings(kind, created_at, operator, format, file_sha256, participants, resend) VALUES ('guidance', ?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![m.created_at, m.operator, m.format, m.file_sha256, count, m.resend],
    )?;
    let mailing = tx.last_insert_rowid();
    tx.execute(
        &format!(
            "INSERT INTO guidance_mailed(participant_id, mailing_id, mailed_at, resend) \
             SELECT s.pid, ?1, ?2, EXISTS (SELECT 1 FROM guidance_mailed g WHERE g.participant_id = s.pid) \
             FROM {GUIDANCE_TABLE} s ORDER BY s.pid"
        ),
        rusqlite::params![mailing, m.created_at],
    )?;
    Ok((mailing, resent))
}

/// A participant to print point cards for.
#[derive(Debug, Clone, PartialEq)]
pub struct CardHolder {
    pub participant_id: String,
    pub name: String,
    pub channel: Option<String>,
}

/// The working table a run of point cards notes its participants in (see
/// [`cards_begin`]).
const CARDS_TABLE: &str = "main.stepcard_cards";

/// Begin noting the participants a run of point cards is for, in a working table of the
/// caller's write transaction, each once in the order noted; they are then streamed by
/// [`each_card_holder`] and recorded by [`record_cards`], never all held in memory, and
/// [`cards_done`] drops the table before the commit (a rollback drops it too).
pub fn cards_begin(tx: &Connection) -> Result<()> {
    tx.execute_batch(&format!(
        "CREATE TABLE {CARDS_TABLE}(seq INTEGER PRIMARY KEY, pid TEXT NOT NULL UNIQUE, \
         name TEXT NOT NULL, channel TEXT)"
    ))?;
    Ok(())
}

/// Note every participant of `channel` (the card participants), in number order: how
/// many.
pub fn cards_note_all(tx: &Connection, channel: &str) -> Result<usize> {
    Ok(tx.execute(
        &format!(
            "INSERT INTO {CARDS_TABLE}(pid, name, channel) SELECT id, name, channel \
             FROM participants WHERE channel = ?1 ORDER BY id"
        ),
        [channel],
    )?)
}

/// Note one participant, as [`card_holder_of`] found them: 1, or 0 when noted already
/// (kept where first noted).
pub fn cards_note(tx: &Connection, h: &CardHolder) -> Result<usize> {
    Ok(tx
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO {CARDS_TABLE}(pid, name, channel) VALUES (?1, ?2, ?3)"
        ))?
        .execute(rusqlite::params![h.participant_id, h.name, h.channel])?)
}

/// The noted participants, handed to `f` one at a time in the order noted.
pub fn each_card_holder<T>(
    tx: &Connection,
    f: impl FnOnce(&mut dyn Iterator<Item = CardHolder>) -> Result<T>,
) -> Result<T> {
    let mut stmt = tx.prepare(&format!(
        "SELECT pid, name, channel FROM {CARDS_TABLE} ORDER BY seq"
    ))?;
    super::shipments::stream(&mut stmt, [], card_holder, f)
}

/// Drop the working table of [`cards_begin`] (before the commit).
pub fn cards_done(tx: &Connection) -> Result<()> {
    super::drop_working_table(tx, CARDS_TABLE)
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
    /// Participants noted (see [`cards_begin`]).
    pub participants: i64,
}

/// Record the cards written and each noted participant they were printed for (see
/// [`cards_begin`]); returns the record's id.
pub fn record_cards(tx: &Connection, m: &NewCards) -> Result<i64> {
    let participants = m.participants;
    tx.execute(
        "INSERT INTO card_mailings(created_at, operator, months, file_sha256, participants, cards) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            m.created_at,
            m.operator,
            m.months,
            m.file_sha256,
            participants,
            participants * m.cards_each
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        &format!(
            "INSERT INTO cards_sent(participant_id, mailing_id, sent_at, cards) \
             SELECT pid, ?1, ?2, ?3 FROM {CARDS_TABLE} ORDER BY seq"
        ),
        rusqlite::params![id, m.created_at, m.cards_each],
    )?;
    Ok(id)
}
