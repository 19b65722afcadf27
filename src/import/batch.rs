//! The shape every import shares, whatever it imports: open the file, refuse a file
//! already imported, take the write lock, read each chosen sheet's header and rows
//! through the kind's row handler, then commit (clean, or `--partial`), or roll back
//! (problems in strict mode, `--dry-run`), and tell the operator what happened.

use super::header::{ColumnDef, Header};
use super::problems::ProblemLog;
use super::walk::{walk, Visit};
use super::{
    already_imported, chosen_sheets, open_source_for_import, print_first, progress, sheet_key,
    Counts, Options, Problem, RejectStore, Session,
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
    /// A row refused before its values are read (a value in a column with no heading):
    /// counted as read, nothing of it stored or checked further.
    fn refused_unread(&mut self);
    /// Rows taken out after the fact, rebuilt in the sheet's layout (sheet, row, cells).
    fn extra_rejects(&mut self) -> Vec<(String, u32, Vec<String>)> {
        Vec::new()
    }
    /// Counts of this kind's own for the audit entry, read inside the transaction.
    fn audit_counts(
        &self,
        _conn: &Connection,
        _batch: i64,
        _d: &mut crate::audit::Detail,
    ) -> Result<()> {
        Ok(())
    }
    /// Rows stored with an outcome the operator must pass on, though not an error in the
    /// file (a prize application refused for want of points). They go into the error
    /// report and the summary after the problems, and do not stop the import.
    /// The notices of the row just stored (the driver takes them after every row, so
    /// the handler never holds them all).
    fn notices(&mut self) -> Vec<Problem> {
        Vec::new()
    }
    /// Whether the handler reads the file once before the rows are stored (a first
    /// pass through [`RowHandler::prepass_row`], then [`RowHandler::after_first_pass`]).
    fn prepass(&self) -> bool {
        false
    }
    /// One non-blank row of the first pass (nothing is stored or reported).
    fn prepass_row(&mut self, _h: &Header, _row: &Row) {}
    /// After the first pass, before the rows: work from what it noted (inside the
    /// import's transaction).
    fn after_first_pass(&mut self, _conn: &Connection) -> Result<()> {
        Ok(())
    }
    /// A check of this sheet's rows for the reader to run where they are parsed
    /// (see [`crate::sheet::Precheck`]); the rows it passes come to
    /// [`RowHandler::row`] with its verdict.
    fn precheck(&mut self, _h: &Header) -> Option<crate::sheet::Precheck> {
        None
    }
}

/// The first pass's visitor: rows only, to the handler's `prepass_row`.
struct Prepass<'h, 'c>(&'h mut (dyn RowHandler + 'c));

impl Visit for Prepass<'_, '_> {
    fn header(&mut self, _h: &Header) -> Result<Vec<Problem>> {
        Ok(Vec::new())
    }
    fn unreadable(&mut self, _problems: Vec<Problem>) {}
    fn row(&mut self, h: &Header, row: &Row, _outside: Option<Problem>) -> Result<()> {
        self.0.prepass_row(h, row);
        Ok(())
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
    // Alone with the database, the import writes through the rollback journal (each
    // new page written once; see `db::bulk_journal`), and puts WAL back however it ends.
    let bulk = crate::db::bulk_journal(ctx.conn)?;
    let res = import_one(ctx, path, opts, spec, make);
    if bulk {
        let back = crate::db::shared_journal(ctx.conn);
        if res.is_ok() {
            back?;
        }
    }
    res
}

fn import_one(
    ctx: &mut Session<'_>,
    path: &Path,
    opts: &Options,
    spec: &Spec<'_>,
    make: &mut MakeHandler<'_>,
) -> Result<Option<i64>> {
    let mut src = open_source_for_import(path, opts)?;
    let sheets = chosen_sheets(&src, opts)?;
    let key = sheet_key(&sheets, opts.all_sheets);
    let file_name = src.file_name.clone();
    // A CSV is hashed while it is parsed: whether it was imported already is known
    // only after the rows (they are then rolled back); a workbook is hashed first.
    let hashed_first = !src.sha256.is_empty();
    if hashed_first {
        ctx.detail.files_read_push(&file_name, &src.sha256);
        if let Some(found) = already_imported(ctx.conn, spec.kind, &src.sha256, &key)? {
            say_already_imported(ctx, &file_name, found);
            return Ok(None);
        }
    }

    let now = crate::now();
    let operator = ctx.operator.to_string();
    let quiet = ctx.quiet;
    let tx = crate::db::begin_write(ctx.conn)?;
    // Asked again under the write lock: another import of the same file may have
    // committed while this one waited for the lock.
    if hashed_first {
        if let Some(found) = already_imported(&tx, spec.kind, &src.sha256, &key)? {
            drop(tx);
            say_already_imported(ctx, &file_name, found);
            return Ok(None);
        }
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
            keyed_by: opts.keyed_by.as_deref().unwrap_or(&operator),
        },
    )?;
    // Every problem goes to a spool file when a report or `--partial` needs them all
    // (beside the report: it is as personal as the report), else only counted.
    let spool_dir = match &opts.errors {
        Some(out) => Some(match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        }),
        None if opts.partial => Some(std::env::temp_dir()),
        None => None,
    };
    let mut handler = make(&tx, batch)?;
    if handler.prepass() {
        let mut book = crate::sheet::Book::open(path, &src.opts)?;
        walk(
            &mut book,
            &sheets,
            spec.columns,
            spec.card_days,
            opts,
            &mut Prepass(handler.as_mut()),
        )?;
        handler.after_first_pass(&tx)?;
    }
    let mut d = Driver {
        handler,
        notices: ProblemLog::new(&sheets, spool_dir.as_deref())?,
        tx: &tx,
        log: ProblemLog::new(&sheets, spool_dir.as_deref())?,
        buf: Vec::new(),
        rows_out_of_period: 0,
        spool_error: None,
        fatal: false,
        headers: serde_json::Map::new(),
        rejected_rows: 0,
        refused_inline: RowSet::default(),
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
        handler,
        mut log,
        notices,
        fatal,
        headers,
        rejected_rows,
        rows_out_of_period,
    } = d.finish()?;
    if !hashed_first {
        src.sha256 = match src.book.read_sha256() {
            Some(sha) => sha,
            None => crate::output::sha256_file(path)?.0,
        };
        ctx.detail.files_read_push(&file_name, &src.sha256);
        if let Some(found) = already_imported(&tx, spec.kind, &src.sha256, &key)? {
            drop(handler);
            drop(tx);
            say_already_imported(ctx, &file_name, found);
            return Ok(None);
        }
        crate::db::batches::set_sha256(&tx, batch, &src.sha256)?;
    }
    let counts = handler.counts();
    // Notices only mean something when the rows they speak of are kept.
    let will_commit = !fatal && (log.is_empty() || opts.partial);
    let mut notices = match will_commit {
        true => notices,
        false => ProblemLog::new(&sheets, None)?,
    };
    let d = &mut *ctx.detail;
    d.count("batch", batch);
    d.count("rows", counts.rows);
    d.count("inserted", counts.inserted);
    d.count("duplicates", counts.duplicates);
    d.count("replaced", counts.replaced);
    d.count("updated", counts.updated);
    d.count("problems", log.total());
    d.count("rejected_rows", rejected_rows);
    if !notices.is_empty() {
        d.count("notices", notices.total());
    }

    let first = log.first()?;
    print_first(ctx.quiet, &file_name, &first, log.total());
    let hint = likely_cause(ctx.program, &log, counts.rows, rows_out_of_period);
    if let Some(h) = &hint {
        say(ctx.quiet, format!("{file_name}: {h}"));
    }
    if !notices.is_empty() && !ctx.quiet {
        eprintln!(
            "{}",
            crate::output::terminal_safe(&format!(
                "{file_name}: 取り込んだうえで、お知らせが必要な行 {} 件:",
                notices.total()
            ))
        );
        print_first(ctx.quiet, &file_name, &notices.first()?, notices.total());
    }

    // The error report is written once the transaction is over (rolled back or committed),
    // so its pending copy record commits before the file exists: a crash while writing it
    // leaves a record, never an unrecorded file.
    let refusal = if fatal {
        Some(format!(
            "{file_name}: 見出しを読めないため、何も取り込んでいません。見出し行を直して取り込み直してください \
             (header problems; nothing imported)"
        ))
    } else if !log.is_empty() && !opts.partial {
        Some(format!(
            "{file_name}: {} 件の誤り（{rejected_rows} 行）があるため、何も取り込んでいません。{}\
             直して取り込み直すか、--partial で正しい行だけ取り込んでください{} \
             ({} problem(s); nothing imported)",
            log.total(),
            hint.map(|h| format!("{h}。")).unwrap_or_default(),
            if opts.errors.is_none() {
                "。--errors 誤り.xlsx で一覧を書き出せます"
            } else {
                ""
            },
            log.total()
        ))
    } else {
        None
    };
    if let Some(why) = refusal {
        drop(handler);
        drop(tx);
        record_refusals(ctx, opts, spec, &src.sha256, &file_name, &log)?;
        write_errors(
            ctx,
            opts,
            &file_name,
            &mut log,
            &mut notices,
            (path, &src.opts),
        )?;
        bail!("{why}");
    }
    let summary = format!(
        "{} 行を読み、{} 件を追加、{} 件は同じ値が既にあるため飛ばし、{} 件を置換、{} 件を更新、{} 行を保留",
        counts.rows, counts.inserted, counts.duplicates, counts.replaced, counts.updated, rejected_rows
    );
    if opts.dry_run {
        drop(handler);
        drop(tx);
        write_errors(
            ctx,
            opts,
            &file_name,
            &mut log,
            &mut notices,
            (path, &src.opts),
        )?;
        ctx.say(format!(
            "{file_name}: 検査のみ（--dry-run）: 取り込めば {summary}。何も変えていません (dry run; nothing changed)"
        ));
        ctx.detail.count("dry_run", true);
        return Ok(None);
    }
    if spec.kind == "steps" {
        // Who keyed what: the discrepancies this batch keys again are settled, and what
        // the importer refused of this keyer's file is counted.
        crate::db::quality::resolve(&tx, batch, &now)?;
        let keyer = opts.keyed_by.as_deref().unwrap_or(&operator);
        crate::db::quality::record_refusals(
            &tx,
            keyer,
            &file_name,
            &src.sha256,
            &now,
            &log.by_code(),
        )?;
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
    // A crash with every row written but not committed (hidden test switch).
    crate::output::fault("import:commit");
    tx.commit()?;
    write_errors(
        ctx,
        opts,
        &file_name,
        &mut log,
        &mut notices,
        (path, &src.opts),
    )?;
    ctx.say(format!("{file_name}: 取込み {batch}: {summary}。"));
    if rejected_rows > 0 {
        ctx.say(format!(
            "  保留した行は `stepcard batches show {batch} --rejected --out 修正用.xlsx` で書き出し、直して取り込み直してください"
        ));
    }
    Ok(Some(batch))
}

/// A steps file refused whole: its problems counted for the keyer (入力品質), outside
/// the rolled-back import.
fn record_refusals(
    ctx: &mut Session<'_>,
    opts: &Options,
    spec: &Spec<'_>,
    sha256: &str,
    file_name: &str,
    log: &ProblemLog,
) -> Result<()> {
    if spec.kind != "steps" || opts.dry_run {
        return Ok(());
    }
    let keyer = opts.keyed_by.as_deref().unwrap_or(ctx.operator);
    crate::db::quality::record_refusals(
        ctx.conn,
        keyer,
        file_name,
        sha256,
        &crate::now(),
        &log.by_code(),
    )
}

/// The `--errors` report, when asked for: every problem and notice of the file.
fn write_errors(
    ctx: &mut Session<'_>,
    opts: &Options,
    file_name: &str,
    log: &mut ProblemLog,
    notices: &mut ProblemLog,
    input: (&Path, &crate::sheet::ReadOptions),
) -> Result<()> {
    let Some(out) = &opts.errors else {
        return Ok(());
    };
    let total = log.total() + notices.total();
    let mut each = |f: &mut dyn FnMut(&Problem) -> Result<()>| {
        log.for_each(&mut *f)?;
        notices.for_each(&mut *f)
    };
    let recs = crate::output::error_report::write_error_report_streamed(
        out,
        file_name,
        total,
        &mut each,
        Some(input),
    )?;
    say(
        ctx.quiet,
        format!("誤りの一覧: {} ({} 件)", out.display(), total),
    );
    // The report itself, and (a list cut at the xlsx limit) the full CSV beside it.
    let report = crate::output::FileRecord::path_of(out);
    for rec in recs.into_iter() {
        if rec.path != report {
            say(
                ctx.quiet,
                format!(
                    "  一覧が長いため、{} 件を超える分も含めた全件を {} に書き出しました (the full list)",
                    crate::output::error_report::XLSX_MAX_PROBLEMS,
                    rec.shown()
                ),
            );
        }
        ctx.detail.file(rec);
    }
    Ok(())
}

/// What the driver read, once the handler has finished.
struct Read<'c> {
    handler: Box<dyn RowHandler + 'c>,
    log: ProblemLog,
    notices: ProblemLog,
    fatal: bool,
    headers: serde_json::Map<String, serde_json::Value>,
    rejected_rows: u64,
    rows_out_of_period: u64,
}

/// What most likely went wrong when every row was refused the same way: a sheet of
/// another year (every date outside the program period).
fn likely_cause(
    program: &crate::program::Program,
    log: &ProblemLog,
    rows: u64,
    rows_out_of_period: u64,
) -> Option<String> {
    (rows > 0 && rows_out_of_period == rows && log.count_of("date.out_of_period") > 0).then(|| {
        let p = &program.program;
        format!(
            "どの行の日付も事業期間 {}〜{} の外です。前年度など別の年のシートではありませんか \
             (every date is outside the program period {}〜{}: is this last year's sheet?)",
            p.start, p.end, p.start, p.end
        )
    })
}

/// Rows (sheet, row number) as bits: an import refused row by row holds one bit a row,
/// not a key.
#[derive(Default)]
struct RowSet {
    sheets: Vec<(String, Vec<u64>)>,
}

impl RowSet {
    fn bits(&mut self, sheet: &str) -> &mut Vec<u64> {
        let i = match self.sheets.iter().position(|(s, _)| s == sheet) {
            Some(i) => i,
            None => {
                self.sheets.push((sheet.to_string(), Vec::new()));
                self.sheets.len() - 1
            }
        };
        &mut self.sheets[i].1
    }
    fn insert(&mut self, sheet: &str, row: u32) {
        let bits = self.bits(sheet);
        let (w, b) = ((row / 64) as usize, row % 64);
        if bits.len() <= w {
            bits.resize(w + 1, 0);
        }
        bits[w] |= 1 << b;
    }
    fn contains(&self, sheet: &str, row: u32) -> bool {
        let (w, b) = ((row / 64) as usize, row % 64);
        self.sheets
            .iter()
            .find(|(s, _)| s == sheet)
            .and_then(|(_, bits)| bits.get(w))
            .is_some_and(|x| x & (1 << b) != 0)
    }
}

/// The driver's reading of the sheets: the kind's handler validates and stores each
/// row; a row with problems is counted and (for `--partial`) kept as keyed.
struct Driver<'a, 'c> {
    handler: Box<dyn RowHandler + 'c>,
    tx: &'c Connection,
    /// Every problem, counted and spooled, never all held.
    log: ProblemLog,
    /// The rows stored with a notice (a refused application), likewise.
    notices: ProblemLog,
    /// One row's problems, handed to the log.
    buf: Vec<Problem>,
    /// Rows refused (among others) for a date outside the program period.
    rows_out_of_period: u64,
    fatal: bool,
    /// A problem that could not be written to the spool (reported after the walk).
    spool_error: Option<anyhow::Error>,
    headers: serde_json::Map<String, serde_json::Value>,
    rejected_rows: u64,
    /// The rows refused as they were read (so a row refused again later counts once).
    refused_inline: RowSet,
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
        for p in problems {
            if let Err(e) = self.log.push(p) {
                self.spool_error.get_or_insert(e);
            }
        }
        self.fatal = true;
    }
    fn precheck(&mut self, h: &Header) -> Option<crate::sheet::Precheck> {
        self.handler.precheck(h)
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
        self.buf.clear();
        if let Some(p) = outside {
            // Refused whole: a value under no heading means the row is not what the
            // header says, so none of it is stored (with --partial it is kept aside).
            self.handler.refused_unread();
            self.buf.push(p);
        } else {
            self.handler.row(self.tx, h, row, &mut self.buf)?;
            for p in self.handler.notices() {
                self.notices.push(p)?;
            }
        }
        if !self.buf.is_empty() {
            if self.buf.iter().any(|p| p.code == "date.out_of_period") {
                self.rows_out_of_period += 1;
            }
            for p in self.buf.drain(..) {
                self.log.push(p)?;
            }
            self.rejected_rows += 1;
            self.refused_inline.insert(&h.sheet, row.number());
            if self.partial {
                self.store
                    .row_cells(&h.sheet, row.number(), &h.kept_cells(row))?;
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
    fn finish(mut self) -> Result<Read<'c>> {
        if let Some(pb) = self.pb.take() {
            pb.finish_and_clear();
        }
        if let Some(e) = self.spool_error.take() {
            return Err(e);
        }
        let mut late = Vec::new();
        self.handler.finish(self.tx, &mut late)?;
        let keep = self.partial && !self.fatal;
        // Rows refused after the fact count once, and not again when a problem of
        // their own had already refused them.
        for (sheet, r, cells) in self.handler.extra_rejects() {
            if self.refused_inline.contains(&sheet, r) {
                continue;
            }
            self.rejected_rows += 1;
            if keep {
                self.store.row_cells(&sheet, r, &cells)?;
            }
        }
        // Problems found once the file was read go in file order with the others.
        self.log.push_late(late);
        if keep {
            let store = &mut self.store;
            self.log.for_each(|p| store.problem(p))?;
        }
        Ok(Read {
            handler: self.handler,
            log: self.log,
            notices: self.notices,
            fatal: self.fatal,
            headers: self.headers,
            rejected_rows: self.rejected_rows,
            rows_out_of_period: self.rows_out_of_period,
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
        eprintln!("{}", crate::output::terminal_safe(&msg));
    }
}
