//! The shape every import shares, whatever it imports: open the file, refuse a file
//! already imported, take the write lock, read each chosen sheet's header and rows
//! through the kind's row handler, then commit (clean, or `--partial`), or roll back
//! (problems in strict mode, `--dry-run`), and tell the operator what happened.

use super::header::{ColumnDef, Header};
use super::walk::{walk, Visit};
use super::{
    already_imported, chosen_sheets, open_source, print_problems, progress, sheet_key,
    write_error_report, Counts, Options, Problem, RejectStore, Session,
};
use crate::sheet::Row;
use anyhow::{bail, Result};
use rusqlite::Connection;
use std::path::Path;

/// What a kind of import (roster, steps, orders, survey) plugs into the shared driver.
pub trait RowHandler {
    /// Check a found header against this kind's layout; problems make the sheet unreadable.
    fn header(&mut self, h: &Header) -> Vec<Problem>;
    /// Validate and store one non-blank row (inside the import's transaction).
    fn row(
        &mut self,
        conn: &Connection,
        h: &Header,
        row: &Row,
        out: &mut Vec<Problem>,
    ) -> Result<()>;
    /// Work after the last row, still inside the transaction.
    fn finish(&mut self, _conn: &Connection, _out: &mut Vec<Problem>) -> Result<()> {
        Ok(())
    }
    fn counts(&self) -> Counts;
    /// The layout recorded on the batch.
    fn layout(&self) -> String;
    /// Rows taken out after the fact, rebuilt in the sheet's layout (sheet, row, cells).
    fn extra_rejects(&mut self) -> Vec<(String, u32, Vec<String>)> {
        Vec::new()
    }
    /// Rows stored with an outcome the operator must pass on, though not an error in the
    /// file (a prize application refused for want of points). They go into the error
    /// report and the summary after the problems, and do not stop the import.
    /// Counts of this kind's own for the audit entry, read inside the transaction.
    fn audit_counts(
        &self,
        _conn: &Connection,
        _batch: i64,
        _d: &mut crate::audit::Detail,
    ) -> Result<()> {
        Ok(())
    }
    fn notices(&mut self) -> Vec<Problem> {
        Vec::new()
    }
}

pub struct Spec<'a> {
    pub kind: &'static str,
    pub columns: &'a [ColumnDef],
    pub card_days: bool,
    /// What the batch row records as verified (double-entry verification).
    pub verified: bool,
}

/// Import one file as one batch. Returns the batch id when something was committed.
pub fn run(
    ctx: &mut Session<'_>,
    path: &Path,
    opts: &Options,
    spec: &Spec<'_>,
    make: &mut dyn FnMut(i64) -> Result<Box<dyn RowHandler>>,
) -> Result<Option<i64>> {
    run_with(ctx, path, opts, spec, &mut |_conn, batch| {
        make(batch).map(|h| -> Box<dyn RowHandler + '_> { h })
    })
}

/// Makes the handler for a batch; the handler may borrow the import's transaction.
pub type MakeHandler<'m> =
    dyn for<'c> FnMut(&'c Connection, i64) -> Result<Box<dyn RowHandler + 'c>> + 'm;

/// [`run`] for a handler that borrows the import's transaction, so it can prepare its
/// statements once and hold them for every row instead of looking them up in the
/// statement cache per row (which costs more than the insert itself on a long sheet).
/// The handler is dropped before the transaction ends, whichever way it ends.
pub fn run_with(
    ctx: &mut Session<'_>,
    path: &Path,
    opts: &Options,
    spec: &Spec<'_>,
    make: &mut MakeHandler<'_>,
) -> Result<Option<i64>> {
    let src = open_source(path, opts)?;
    let mut src = src;
    let sheets = chosen_sheets(&src, opts)?;
    let key = sheet_key(&sheets, opts.all_sheets);
    let file_name = src.file_name.clone();
    ctx.detail.files_read_push(&file_name, &src.sha256);
    if let Some(found) = already_imported(ctx.conn, spec.kind, &src.sha256, &key)? {
        say_already_imported(ctx, &file_name, found);
        return Ok(None);
    }

    let now = crate::now();
    let operator = ctx.operator.to_string();
    let quiet = ctx.quiet;
    let tx = crate::db::begin_write(ctx.conn)?;
    // Asked again under the write lock: another import of the same file may have
    // committed while this one waited for the lock.
    if let Some(found) = already_imported(&tx, spec.kind, &src.sha256, &key)? {
        drop(tx);
        say_already_imported(ctx, &file_name, found);
        return Ok(None);
    }
    let batch = crate::db::batches::begin(
        &tx,
        &crate::db::batches::NewBatch {
            kind: spec.kind,
            file_name: &file_name,
            sheet_key: &key,
            sha256: &src.sha256,
            imported_at: &now,
            operator: &operator,
            verified: spec.verified,
        },
    )?;
    let mut d = Driver {
        handler: make(&tx, batch)?,
        tx: &tx,
        problems: Vec::new(),
        fatal: false,
        headers: serde_json::Map::new(),
        rejected_rows: 0,
        refused_inline: Default::default(),
        store: RejectStore::new(&tx, batch)?,
        partial: opts.partial,
        quiet,
        file_name: &file_name,
        pb: progress(quiet, &file_name),
    };
    walk(
        &mut src.book,
        &sheets,
        spec.columns,
        spec.card_days,
        opts,
        &mut d,
    )?;
    let Read {
        mut handler,
        problems,
        fatal,
        headers,
        rejected_rows,
    } = d.finish(&sheets)?;
    let counts = handler.counts();
    // Notices only mean something when the rows they speak of are kept.
    let will_commit = !fatal && (problems.is_empty() || opts.partial);
    let notices = if will_commit {
        handler.notices()
    } else {
        Vec::new()
    };
    let d = &mut *ctx.detail;
    d.count("batch", batch);
    d.count("rows", counts.rows);
    d.count("inserted", counts.inserted);
    d.count("duplicates", counts.duplicates);
    d.count("replaced", counts.replaced);
    d.count("updated", counts.updated);
    d.count("problems", problems.len() as u64);
    d.count("rejected_rows", rejected_rows);
    if !notices.is_empty() {
        d.count("notices", notices.len() as u64);
    }

    if let Some(out) = &opts.errors {
        let input = (path, &src.opts);
        let listed: Vec<Problem> = problems.iter().chain(&notices).cloned().collect();
        let rec = write_error_report(out, &file_name, &listed, Some(input))?;
        say(
            ctx.quiet,
            format!("誤りの一覧: {} ({} 件)", out.display(), listed.len()),
        );
        ctx.detail.file(rec);
    }
    print_problems(ctx.quiet, &file_name, &problems);
    if !notices.is_empty() && !ctx.quiet {
        eprintln!(
            "{file_name}: 取り込んだうえで、お知らせが必要な行 {} 件:",
            notices.len()
        );
        print_problems(ctx.quiet, &file_name, &notices);
    }

    if fatal {
        drop(handler);
        drop(tx);
        bail!(
            "{file_name}: 見出しを読めないため、何も取り込んでいません。見出し行を直して取り込み直してください \
             (header problems; nothing imported)"
        );
    }
    if !problems.is_empty() && !opts.partial {
        drop(handler);
        drop(tx);
        bail!(
            "{file_name}: {} 件の誤り（{rejected_rows} 行）があるため、何も取り込んでいません。\
             直して取り込み直すか、--partial で正しい行だけ取り込んでください{} \
             ({} problem(s); nothing imported)",
            problems.len(),
            if opts.errors.is_none() {
                "。--errors 誤り.xlsx で一覧を書き出せます"
            } else {
                ""
            },
            problems.len()
        );
    }
    let summary = format!(
        "{} 行を読み、{} 件を追加、{} 件は同じ値が既にあるため飛ばし、{} 件を置換、{} 件を更新、{} 行を保留",
        counts.rows, counts.inserted, counts.duplicates, counts.replaced, counts.updated, rejected_rows
    );
    if opts.dry_run {
        drop(handler);
        drop(tx);
        ctx.say(format!(
            "{file_name}: 検査のみ（--dry-run）: 取り込めば {summary}。何も変えていません (dry run; nothing changed)"
        ));
        ctx.detail.count("dry_run", true);
        return Ok(None);
    }
    crate::db::batches::record_totals(
        &tx,
        batch,
        &handler.layout(),
        &serde_json::to_string(&headers)?,
        &counts,
        rejected_rows,
    )?;
    // The audit entry commits with the batch: a batch is never without its record.
    let mut detail = std::mem::take(ctx.detail);
    detail.status = "ok".into();
    handler.audit_counts(&tx, batch, &mut detail)?;
    crate::audit::append(
        &tx,
        &crate::now(),
        &operator,
        &format!("{} import", spec.kind),
        &detail,
    )?;
    *ctx.recorded = true;
    drop(handler);
    tx.commit()?;
    ctx.say(format!("{file_name}: 取込み {batch}: {summary}。"));
    if rejected_rows > 0 {
        ctx.say(format!(
            "  保留した行は `stepcard batches show {batch} --rejected --out 修正用.xlsx` で書き出し、直して取り込み直してください"
        ));
    }
    Ok(Some(batch))
}

/// What the driver read, once the handler has finished.
struct Read<'c> {
    handler: Box<dyn RowHandler + 'c>,
    problems: Vec<Problem>,
    fatal: bool,
    headers: serde_json::Map<String, serde_json::Value>,
    rejected_rows: u64,
}

/// The driver's reading of the sheets: the kind's handler validates and stores each
/// row; a row with problems is counted and (for `--partial`) kept as keyed.
struct Driver<'a, 'c> {
    handler: Box<dyn RowHandler + 'c>,
    tx: &'c Connection,
    problems: Vec<Problem>,
    fatal: bool,
    headers: serde_json::Map<String, serde_json::Value>,
    rejected_rows: u64,
    /// The rows refused as they were read (so a row refused again later counts once).
    refused_inline: std::collections::HashSet<(String, u32)>,
    store: RejectStore<'c>,
    partial: bool,
    quiet: bool,
    file_name: &'a str,
    pb: Option<indicatif::ProgressBar>,
}

impl Visit for Driver<'_, '_> {
    fn header(&mut self, h: &Header) -> Result<Vec<Problem>> {
        let hp = self.handler.header(h);
        if hp.is_empty() {
            self.headers
                .insert(h.sheet.clone(), serde_json::to_value(&h.raw)?);
        }
        Ok(hp)
    }
    fn unreadable(&mut self, problems: Vec<Problem>) {
        self.problems.extend(problems);
        self.fatal = true;
    }
    fn skipped(&mut self, sheet: &str) {
        say(
            self.quiet,
            format!(
                "{}: シート「{sheet}」には見出しがないので読みません (no header; skipped)",
                self.file_name
            ),
        );
    }
    fn row(&mut self, h: &Header, row: &Row, outside: Option<Problem>) -> Result<()> {
        let before = self.problems.len();
        self.handler.row(self.tx, h, row, &mut self.problems)?;
        self.problems.extend(outside);
        if self.problems.len() > before {
            self.rejected_rows += 1;
            self.refused_inline.insert((h.sheet.clone(), row.number()));
            if self.partial {
                self.store.row(&h.sheet, row, h.width())?;
            }
        }
        if let Some(pb) = &self.pb {
            let n = self.handler.counts().rows;
            if n.is_multiple_of(4096) {
                pb.set_position(n);
            }
        }
        Ok(())
    }
}

impl<'c> Driver<'_, 'c> {
    /// After the last row: the handler's own finish (still in the transaction), the
    /// rows it refused after the fact, and for `--partial` every problem stored.
    fn finish(mut self, sheets: &[String]) -> Result<Read<'c>> {
        if let Some(pb) = self.pb.take() {
            pb.finish_and_clear();
        }
        let read = self.problems.len();
        self.handler.finish(self.tx, &mut self.problems)?;
        let keep = self.partial && !self.fatal;
        // Rows refused after the fact count once, and not again when a problem of
        // their own had already refused them.
        for (sheet, r, cells) in self.handler.extra_rejects() {
            if self.refused_inline.contains(&(sheet.clone(), r)) {
                continue;
            }
            self.rejected_rows += 1;
            if keep {
                self.store.row_cells(&sheet, r, &cells)?;
            }
        }
        if self.problems.len() > read {
            // Problems found once the file was read go in file order with the others.
            self.problems.sort_by_key(|p| {
                let sheet = sheets.iter().position(|s| *s == p.sheet).unwrap_or(0);
                (sheet, p.row.unwrap_or(0))
            });
        }
        if keep {
            self.store.problems(&self.problems)?;
        }
        Ok(Read {
            handler: self.handler,
            problems: self.problems,
            fatal: self.fatal,
            headers: self.headers,
            rejected_rows: self.rejected_rows,
        })
    }
}

/// The file (same content, same sheets) was imported as batch `found.0`.
fn say_already_imported(ctx: &mut Session<'_>, file_name: &str, (batch, rejected): (i64, i64)) {
    ctx.say(format!(
        "{file_name}: このファイル（同じ内容・同じシート）は取込み {batch} で取り込み済みです。何も変えていません \
         (already imported as batch {batch}; nothing changed){}",
        if rejected > 0 {
            format!(
                "。保管中の誤り {rejected} 行は `stepcard batches show {batch} --rejected --out FILE` で書き出せます"
            )
        } else {
            String::new()
        }
    ));
    ctx.detail.count("already_imported_batch", batch);
}

fn say(quiet: bool, msg: String) {
    if !quiet {
        eprintln!("{msg}");
    }
}
