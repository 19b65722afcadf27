//! The `batches` table and what hangs off a batch: its problems and rejected rows, the
//! rule that a file already imported changes nothing, and undoing a batch.

use crate::validate::Problem;
use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};

/// The batch that already imported this content and sheet, if any.
pub fn already_imported(
    conn: &Connection,
    kind: &str,
    sha256: &str,
    sheet_key: &str,
) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .query_row(
            "SELECT id, rejected FROM batches WHERE kind=?1 AND sha256=?2 AND sheet=?3 AND status='committed' ORDER BY id LIMIT 1",
            rusqlite::params![kind, sha256, sheet_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Counts an import reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub rows: u64,
    pub inserted: u64,
    pub duplicates: u64,
    pub replaced: u64,
    pub updated: u64,
    pub rejected_rows: u64,
    /// Steps cells keyed (days with something in them), for the keying quality figures.
    pub cells: u64,
}

/// A batch as it starts: what file, which sheets, by whom.
pub struct NewBatch<'a> {
    pub kind: &'a str,
    pub file_name: &'a str,
    pub sheet_key: &'a str,
    pub sha256: &'a str,
    pub imported_at: &'a str,
    pub operator: &'a str,
    pub verified: bool,
    /// Who keyed the file.
    pub keyed_by: &'a str,
}

/// Open a batch (inside the import's transaction); its id.
pub fn begin(conn: &Connection, b: &NewBatch<'_>) -> Result<i64> {
    conn.execute(
        "INSERT INTO batches(kind, file_name, sheet, sha256, layout, header_json, imported_at, operator, verified, keyed_by) \
         VALUES (?1,?2,?3,?4,'','{}',?5,?6,?7,?8)",
        rusqlite::params![b.kind, b.file_name, b.sheet_key, b.sha256, b.imported_at, b.operator, b.verified, b.keyed_by],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The file's SHA-256, once known (a CSV is hashed while it is read).
pub fn set_sha256(conn: &Connection, batch: i64, sha256: &str) -> Result<()> {
    conn.execute(
        "UPDATE batches SET sha256=?2 WHERE id=?1",
        rusqlite::params![batch, sha256],
    )?;
    Ok(())
}

/// What the batch read and did, recorded before it commits.
pub fn record_totals(
    conn: &Connection,
    batch: i64,
    layout: &str,
    header_json: &str,
    c: &Counts,
    rejected_rows: u64,
) -> Result<()> {
    conn.execute(
        "UPDATE batches SET layout=?2, header_json=?3, rows_read=?4, inserted=?5, duplicates=?6, replaced=?7, updated=?8, rejected=?9, steps_cells=?10 WHERE id=?1",
        rusqlite::params![
            batch,
            layout,
            header_json,
            c.rows as i64,
            c.inserted as i64,
            c.duplicates as i64,
            c.replaced as i64,
            c.updated as i64,
            rejected_rows as i64,
            c.cells as i64
        ],
    )?;
    Ok(())
}

/// Record that a batch passed double-entry verification.
pub fn mark_verified(conn: &Connection, batch: i64) -> Result<()> {
    conn.execute("UPDATE batches SET verified=1 WHERE id=?1", [batch])?;
    Ok(())
}

/// Store a batch's problems and rejected rows (for `--partial`).
pub struct RejectStore<'c> {
    problem: rusqlite::Statement<'c>,
    row: rusqlite::Statement<'c>,
    batch: i64,
}

impl<'c> RejectStore<'c> {
    pub fn new(conn: &'c Connection, batch: i64) -> Result<Self> {
        Ok(RejectStore {
            problem: conn.prepare(
                "INSERT INTO problems(batch_id, sheet, row_no, cell, column_name, raw, code, message) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            )?,
            row: conn.prepare(
                "INSERT INTO rejected_rows(batch_id, sheet, row_no, raw_json) VALUES (?1,?2,?3,?4)",
            )?,
            batch,
        })
    }

    pub fn problems(&mut self, problems: &[Problem]) -> Result<()> {
        problems.iter().try_for_each(|p| self.problem(p))
    }

    pub fn problem(&mut self, p: &Problem) -> Result<()> {
        self.problem.execute(rusqlite::params![
            self.batch,
            p.sheet,
            p.row,
            p.cell(),
            p.column,
            p.raw,
            p.code,
            p.message
        ])?;
        Ok(())
    }

    /// Keep a rejected row as keyed (a column read as nothing kept empty), so nothing
    /// keyed is lost.
    pub fn row_cells(&mut self, sheet: &str, row_no: u32, cells: &[String]) -> Result<()> {
        self.row.execute(rusqlite::params![
            self.batch,
            sheet,
            row_no,
            serde_json::to_string(cells)?
        ])?;
        Ok(())
    }
}

/// A batch as listed and shown.
#[derive(Debug, Clone)]
pub struct Batch {
    pub id: i64,
    pub kind: String,
    pub file_name: String,
    /// The sheet key (`*:` for every sheet, names joined by U+001F).
    pub sheet: String,
    pub sha256: String,
    pub imported_at: String,
    pub operator: String,
    pub layout: String,
    pub header_json: String,
    pub rows_read: i64,
    pub inserted: i64,
    pub duplicates: i64,
    pub replaced: i64,
    pub updated: i64,
    pub rejected: i64,
    pub verified: bool,
    /// `committed` or `undone`.
    pub status: String,
}

impl Batch {
    pub fn committed(&self) -> bool {
        self.status == "committed"
    }
}

const BATCH_COLUMNS: &str =
    "id, kind, file_name, sheet, sha256, imported_at, operator, layout, header_json, \
     rows_read, inserted, duplicates, replaced, updated, rejected, verified, status";

fn batch_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Batch> {
    Ok(Batch {
        id: r.get(0)?,
        kind: r.get(1)?,
        file_name: r.get(2)?,
        sheet: r.get(3)?,
        sha256: r.get(4)?,
        imported_at: r.get(5)?,
        operator: r.get(6)?,
        layout: r.get(7)?,
        header_json: r.get(8)?,
        rows_read: r.get(9)?,
        inserted: r.get(10)?,
        duplicates: r.get(11)?,
        replaced: r.get(12)?,
        updated: r.get(13)?,
        rejected: r.get(14)?,
        verified: r.get(15)?,
        status: r.get(16)?,
    })
}

/// Every batch in id order.
pub fn list(conn: &Connection) -> Result<Vec<Batch>> {
    let mut stmt = conn.prepare(&format!("SELECT {BATCH_COLUMNS} FROM batches ORDER BY id"))?;
    let rows = stmt
        .query_map([], batch_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Batch>> {
    Ok(conn
        .query_row(
            &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id=?1"),
            [id],
            batch_from_row,
        )
        .optional()?)
}

/// A problem as stored with a `--partial` batch.
#[derive(Debug, Clone)]
pub struct StoredProblem {
    pub sheet: String,
    pub cell: String,
    pub row_no: Option<i64>,
    pub code: String,
    pub raw: String,
    pub message: String,
}

/// A batch's stored problems in the order found.
pub fn problems(conn: &Connection, batch: i64) -> Result<Vec<StoredProblem>> {
    let mut stmt = conn.prepare(
        "SELECT sheet, cell, row_no, code, raw, message FROM problems WHERE batch_id=?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([batch], |r| {
            Ok(StoredProblem {
                sheet: r.get(0)?,
                cell: r.get(1)?,
                row_no: r.get(2)?,
                code: r.get(3)?,
                raw: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                message: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A batch's rejected rows of one sheet, in row order, each as its cells.
pub fn each_rejected_row(
    conn: &Connection,
    batch: i64,
    sheet: &str,
    mut f: impl FnMut(Vec<String>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT raw_json FROM rejected_rows WHERE batch_id=?1 AND sheet=?2 ORDER BY row_no, id",
    )?;
    let mut rows = stmt.query(rusqlite::params![batch, sheet])?;
    while let Some(r) = rows.next()? {
        f(serde_json::from_str(&r.get::<_, String>(0)?)?)?;
    }
    Ok(())
}

/// What undoing a batch did (defined in `db`, so each kind's undo returns it without
/// importing this file, which calls them).
pub use super::Undone;

/// Take a batch's rows out (inside the caller's transaction), by the rule of its kind,
/// and mark it undone. Refused (an error, nothing changed) when later data depends on it.
pub fn undo(conn: &Connection, batch: &Batch, now: &str, operator: &str) -> Result<Undone> {
    let id = batch.id;
    let undone = match batch.kind.as_str() {
        "steps" => super::steps::undo(conn, id)?,
        "roster" => super::participants::undo(conn, id)?,
        "orders" => Undone {
            removed: super::orders::undo(conn, id)?,
            ..Undone::default()
        },
        "survey" => Undone {
            removed: super::survey::undo(conn, id)?,
            ..Undone::default()
        },
        other => anyhow::bail!("種類「{other}」の取込みはこの版では取り消せません"),
    };
    super::quality::reopen(conn, id)?;
    conn.execute(
        "UPDATE batches SET status='undone', undone_at=?2, undone_by=?3 WHERE id=?1",
        rusqlite::params![id, now, operator],
    )?;
    Ok(undone)
}
