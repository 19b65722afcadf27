//! The one import driver: sheet → validate → db, strict, `--partial` or `--dry-run`, in
//! one transaction per file.
//!
//! - `walk.rs`: the sheet walker (header finding, blank rows, cells outside the
//!   header), which `verify` reads keyings through as well;
//! - `batch.rs`: the driver (a file already imported changes nothing; the batch row,
//!   problems and rejected rows, the error report, the audit entry, commit or not);
//! - `steps.rs`, `roster.rs`, `orders.rs`, `survey.rs`: each kind's row handler, which
//!   checks rows with `validate::<kind>` and stores them with `db::<kind>`.
//!
//! It stays a folder rather than one `import.rs`: the driver is shared by four kinds,
//! and each kind's storing (staging of step days, `--update` of participants, order
//! decisions in file order, questionnaires taken whole) is a screen or two of its own.
//!
//! Here too: the options every import takes ([`Options`]), what it needs of the command
//! ([`Session`]), opening the file and choosing its sheets.

pub mod batch;
pub mod orders;
pub mod problems;
pub mod roster;
pub mod steps;
pub mod survey;
pub mod walk;

pub use crate::db::batches::{already_imported, Counts, RejectStore};
use crate::sheet::{Book, Encoding, ReadOptions};
pub use crate::validate::header;
pub use crate::validate::steps::Layout;
pub use crate::validate::{raw_is_personal, shown_raw, Problem, RAW_WITHHELD};
use anyhow::{Context, Result};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// How an import reads its file and what it does with problems (`--sheet`,
/// `--all-sheets`, `--encoding`, `--ignore-column`, `--partial`, `--dry-run`, `--errors`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The sheet to read (default: the first).
    pub sheet: Option<String>,
    /// Every sheet with a header, as one batch.
    pub all_sheets: bool,
    /// A CSV's encoding (default: detected).
    pub encoding: Option<Encoding>,
    /// Columns dropped unread.
    pub ignore_column: Vec<String>,
    /// Commit the valid rows and keep the rejected ones.
    pub partial: bool,
    /// Validate and report; change nothing.
    pub dry_run: bool,
    /// Where to write the error report.
    pub errors: Option<PathBuf>,
    /// Who keyed the file (a designated handler; `None`: the operator).
    pub keyed_by: Option<String>,
}

/// What an import needs of the command running it: the database, the program, who is
/// operating, whether to talk, and the audit entry it fills in (and writes with the
/// batch, setting `recorded`).
pub struct Session<'a> {
    pub conn: &'a mut Connection,
    pub program: &'a crate::program::Program,
    pub operator: &'a str,
    pub quiet: bool,
    pub detail: &'a mut crate::audit::Detail,
    pub recorded: &'a mut bool,
}

impl Session<'_> {
    /// Tell the operator (stderr), unless quiet.
    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", crate::output::terminal_safe(msg.as_ref()));
        }
    }
}

/// An opened input file.
pub struct Source {
    pub file_name: String,
    pub sha256: String,
    pub book: Book,
    pub opts: ReadOptions,
}

pub fn read_options(opts: &Options) -> ReadOptions {
    ReadOptions {
        encoding: opts.encoding,
        ..ReadOptions::default()
    }
}

pub fn open_source(path: &Path, opts: &Options) -> Result<Source> {
    let file_name = path.display().to_string();
    let (sha256, _) = crate::output::sha256_file(path).with_context(|| {
        format!("{file_name}: ファイルを開けません。場所と名前を確かめてください (cannot open the file)")
    })?;
    let ropts = read_options(opts);
    let book = Book::open(path, &ropts)?;
    Ok(Source {
        file_name,
        sha256,
        book,
        opts: ropts,
    })
}

/// As [`open_source`] for an import, but a CSV is not hashed in a pass of its own: it
/// is hashed while it is parsed, and `sha256` stays empty until
/// [`Book::read_sha256`](crate::sheet::Book::read_sha256) has it (a workbook, read
/// entry by entry, is hashed first as before).
pub fn open_source_for_import(path: &Path, opts: &Options) -> Result<Source> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if !matches!(ext.as_str(), "csv" | "tsv" | "txt") {
        return open_source(path, opts);
    }
    let ropts = read_options(opts);
    let book = Book::open(path, &ropts)?;
    Ok(Source {
        file_name: path.display().to_string(),
        sha256: String::new(),
        book,
        opts: ropts,
    })
}

/// The sheets an import reads: `--sheet NAME`, every sheet (`--all-sheets`), or the first.
pub fn chosen_sheets(src: &Source, opts: &Options) -> Result<Vec<String>> {
    let names = src.book.sheet_names();
    if let Some(want) = &opts.sheet {
        if names.iter().any(|n| n == want) {
            return Ok(vec![want.clone()]);
        }
        return Err(crate::usage(format!(
            "{}: シート「{want}」がありません。あるシート: {} (no such sheet)",
            src.file_name,
            names.join("、")
        )));
    }
    if names.is_empty() {
        anyhow::bail!(
            "{}: シートがありません (the workbook has no sheet)",
            src.file_name
        );
    }
    if opts.all_sheets {
        Ok(names)
    } else {
        Ok(vec![names[0].clone()])
    }
}

/// The key under which a file's sheets count as imported.
pub fn sheet_key(sheets: &[String], all: bool) -> String {
    if all {
        format!("*:{}", sheets.join("\u{1f}"))
    } else {
        sheets.join("\u{1f}")
    }
}

/// Print problems for the operator: the first few on stderr, all in `--errors FILE`.
pub fn print_problems(quiet: bool, file_name: &str, problems: &[Problem]) {
    print_first(quiet, file_name, problems, problems.len() as u64);
}

/// Print the first few of `total` problems (the rest are counted, and listed in full
/// only in `--errors FILE`).
pub fn print_first(quiet: bool, file_name: &str, first: &[Problem], total: u64) {
    if quiet {
        return;
    }
    const SHOWN: usize = problems::SHOWN;
    let mut withheld = false;
    for p in first.iter().take(SHOWN) {
        withheld |= !p.raw.is_empty() && raw_is_personal(p.code);
        let raw = shown_raw(p.code, &p.raw);
        let line = format!(
            "  {} at {}: {}{} {}",
            p.code,
            place_in(file_name, p),
            p.column,
            raw,
            p.message
        );
        eprintln!("{}", crate::output::terminal_safe(&line));
    }
    if withheld {
        eprintln!("  {RAW_WITHHELD}");
    }
    let shown = first.len().min(SHOWN) as u64;
    if total > shown {
        eprintln!(
            "  … ほか {} 件 (and {} more): --errors FILE で全件を書き出せます",
            total - shown,
            total - shown
        );
    }
}

fn place_in(file_name: &str, p: &Problem) -> String {
    let base = Path::new(file_name)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{base}:{}", p.place())
}

/// A progress spinner on stderr, only on a terminal and never with `--quiet`.
pub fn progress(quiet: bool, what: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} 行 ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    pb.set_message(what.to_string());
    Some(pb)
}
