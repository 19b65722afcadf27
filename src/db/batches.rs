//! The `batches` table and what hangs off a batch: its problems and rejected rows, the
//! rule that a file already imported changes nothing, and undoing a batch.

use crate::sheet::Row;
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
}

/// Open a batch (inside the import's transaction); its id.
pub fn begin(conn: &Connection, b: &NewBatch<'_>) -> Result<i64> {
    conn.execute(
        "INSERT INTO batches(kind, file_name, sheet, sha256, layout, header_json, imported_at, operator, verified) \
         VALUES (?1,?2,?3,?4,'','{}',?5,?6,?7)",
        rusqlite::params![b.kind, b.file_name, b.sheet_key, b.sha256, b.imported_at, b.operator, b.verified],
    )?;
    Ok(conn.last_insert_rowid())
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
        "UPDATE batches SET layout=?2, header_json=?3, rows_read=?4, inserted=?5, duplicates=?6, replaced=?7, updated=?8, rejected=?9 WHERE id=?1",
        rusqlite::params![
            batch,
            layout,
            header_json,
            c.rows as i64,
            c.inserted as i64,
            c.duplicates as i64,
            c.replaced as i64,
            c.updated as i64,
            rejected_rows as i64
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
        for p in problems {
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
        }
        Ok(())
    }

    /// Keep a rejected row as keyed, so nothing keyed is lost.
    pub fn row(&mut self, sheet: &str, row: &Row, width: usize) -> Result<()> {
        let cells: Vec<String> = (0..width.max(row.len()))
            .map(|c| row.raw_text(c).into_owned())
            .collect();
        self.row_cells(sheet, row.number(), &cells)
    }

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
