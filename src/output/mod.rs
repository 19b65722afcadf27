//! Everything the tool writes to disk goes through here: files are created readable by
//! their owner only, written to a temporary name and renamed into place (a crash never
//! leaves half a file under the real name), hashed (SHA-256) for the audit log, and
//! tables are written so a spreadsheet never runs a cell (xlsx text is always a string;
//! CSV text that would start a formula is neutralized with a leading `'`).

pub mod address;
pub mod cards;
pub mod carrier;
pub mod certificate;
pub mod error_report;
pub mod evaluation;
pub mod explain;
pub mod handling_report;
pub mod labels;
pub mod listing;
pub mod pdf;
pub mod quality;
pub mod shiplist;
pub mod template;
pub mod verify_report;
pub mod xlsx;

pub use xlsx::{copy_sheet_marked, write_xlsx_value, Marked};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file the tool wrote, as the audit log records it.
#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

impl FileRecord {
    /// A path as records hold it (absolute).
    pub fn path_of(path: &Path) -> String {
        display_path(path)
    }

    /// The path as the operator gave it: relative to the folder the command runs in
    /// when the file is below it (the record keeps the absolute path).
    pub fn shown(&self) -> String {
        shown_path(Path::new(&self.path))
    }
}

/// A path for a message: relative to the current folder when below it, as typed.
pub fn shown_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// Create (or truncate) a file with mode 0600.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An existing file keeps its old mode on open; make it owner-only either way.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Create a new file, owner-only, refusing one that exists or a symlink planted under
/// its name (`O_EXCL | O_NOFOLLOW`): a temporary file is never someone else's file.
pub fn create_new_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

/// What the file writer tells whoever keeps the record of copies (the command layer
/// installs a recorder with [`set_recorder`]): a file is announced before it exists,
/// and told as not written if it never got there. The file written is settled by the
/// command's own audit entry, which lists it with its SHA-256.
pub enum CopyEvent<'a> {
    /// About to be written (absolute path).
    Pending(&'a str),
    /// Its writing failed or was abandoned: nothing is under its name.
    NotWritten(&'a str, &'a str),
}

type Recorder = Box<dyn FnMut(CopyEvent<'_>) -> Result<()>>;

thread_local! {
    static RECORDER: std::cell::RefCell<Option<Recorder>> = const { std::cell::RefCell::new(None) };
    /// Paths whose pending record the command wrote itself, in its own transaction.
    static PRE_RECORDED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Install (Some) or remove (None) the recorder of copies for this thread.
pub fn set_recorder(r: Option<Recorder>) {
    RECORDER.with(|c| *c.borrow_mut() = r);
    PRE_RECORDED.with(|c| c.borrow_mut().clear());
    PROTECTED.with(|c| c.borrow_mut().clear());
}

/// The pending record of `path` was already written by the command (a shipment writes
/// it in the transaction that marks the orders shipped).
pub fn pre_recorded(path: &Path) {
    PRE_RECORDED.with(|c| c.borrow_mut().push(display_path(path)));
}

fn announce(path: &Path) -> Result<()> {
    let p = display_path(path);
    if PRE_RECORDED.with(|c| c.borrow().contains(&p)) {
        return Ok(());
    }
    RECORDER.with(|c| match c.borrow_mut().as_mut() {
        Some(r) => r(CopyEvent::Pending(&p)),
        None => Ok(()),
    })
}

fn not_written(path: &Path, why: &str) {
    let p = display_path(path);
    RECORDER.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if let Some(r) = c.as_mut() {
                let _ = r(CopyEvent::NotWritten(&p, why));
            }
        }
    });
}

/// A crash simulated at a named point of writing a file, for the crash tests (hidden:
/// `STEPCARD_FAULT=write:<point>`; `write:<point>:<n>` at the n-th file).
pub fn fault(point: &str) {
    let Ok(f) = std::env::var("STEPCARD_FAULT") else {
        return;
    };
    if f == format!("write:{point}") || f == point {
        eprintln!("STEPCARD_FAULT: simulated crash at {f}");
        std::process::exit(86);
    }
    // `write:<point>:hold`: wait there, so that a test can deliver a real signal (SIGTERM,
    // Ctrl-C) while the file is being written, however fast the machine.
    if f == format!("write:{point}:hold") {
        eprintln!("STEPCARD_FAULT: holding at {f}");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// A full disk simulated while writing, for the tests (hidden: `STEPCARD_FAULT=
/// write:enospc`): the write fails as it would with no space left.
fn injected_full_disk() -> std::io::Result<()> {
    if std::env::var("STEPCARD_FAULT").ok().as_deref() == Some("write:enospc") {
        #[cfg(unix)]
        return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        #[cfg(not(unix))]
        return Err(std::io::Error::other("no space left on device"));
    }
    Ok(())
}

/// The part of a temporary file's name by which the tool (and the close-out) knows it:
/// `NAME.stepcard-tmp-PID-N`.
pub const TEMP_MARK: &str = ".stepcard-tmp-";

/// Whether a file name is one of the tool's temporary names: its own
/// (`….stepcard-tmp-…`), an older build's (`….tmp-PID`), or a spill file of the xlsx
/// writer (`.tmpXXXXXX`).
pub fn is_temp_name(name: &str) -> bool {
    if name.contains(TEMP_MARK) {
        return true;
    }
    if let Some(i) = name.rfind(".tmp-") {
        let rest = &name[i + 5..];
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return true;
        }
    }
    name.len() == 10
        && name.starts_with(".tmp")
        && name[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// SHA-256 and size of a file on disk, read in chunks.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    use std::io::Read;
    let mut f = File::open(path).with_context(|| format!("{}: 開けません", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((hex(&h.finalize()), n))
}

/// Announce `path` to the recorder, then create its temporary file (a new name, never
/// an existing file or a symlink).
fn create_temp(path: &Path) -> Result<(PathBuf, File)> {
    refuse_protected(path)?;
    announce(path)?;
    fault("pending");
    let mut last = None;
    for n in 0..100u32 {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!("{TEMP_MARK}{}-{n}", std::process::id()));
        let tmp = path.with_file_name(name);
        match create_new_private(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                not_written(path, &e.to_string());
                return Err(write_error(path, e));
            }
        }
    }
    let e = last.unwrap_or_else(|| std::io::Error::other("no free temporary name"));
    not_written(path, &e.to_string());
    Err(write_error(path, e))
}

thread_local! {
    /// Files an output must not land on: the database and its sidecars, and the inputs
    /// of the running command.
    static PROTECTED: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Files no output of this thread may be written onto (the database, its sidecars, the
/// command's inputs).
pub fn protect(paths: &[PathBuf]) {
    PROTECTED.with(|c| {
        c.borrow_mut().extend(
            paths
                .iter()
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| absolute_of(p))),
        )
    });
}

fn absolute_of(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The path as it will resolve: its folder's real path and its name.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(path) {
        return c;
    }
    let abs = absolute_of(path);
    match (abs.parent(), abs.file_name()) {
        (Some(d), Some(n)) => std::fs::canonicalize(d)
            .unwrap_or_else(|_| d.to_path_buf())
            .join(n),
        _ => abs,
    }
}

fn refuse_protected(path: &Path) -> Result<()> {
    let r = resolved(path);
    if PROTECTED.with(|c| c.borrow().contains(&r)) {
        bail!(
            "{}: 出力先が、データベース（またはその付随ファイル）か、このコマンドが読むファイルと同じです。\
             上書きすると元のデータが失われるため書き出しません。別のファイル名を指定してください \
             (the output would overwrite the database or an input of this command; choose another name)",
            path.display()
        );
    }
    Ok(())
}

/// The error for a file that could not be written, in Japanese, naming it; a full disk
/// is said so.
fn write_error(path: &Path, e: std::io::Error) -> anyhow::Error {
    let why = format!("{}（{e}）", explain::io_ja(&e));
    anyhow::anyhow!(
        "{}: 書き込めません: {why}。書きかけのファイルは消しました (cannot write; the partial file was removed)",
        path.display()
    )
}

fn display_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Write bytes to `path` (owner-only, atomic rename) and return its record.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<FileRecord> {
    let (tmp, mut f) = create_temp(path)?;
    let res = (|| -> std::io::Result<()> {
        f.write_all(bytes)?;
        injected_full_disk()?;
        fault("temp");
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    drop(f);
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        not_written(path, &e.to_string());
        return Err(write_error(path, e));
    }
    fault("renamed");
    Ok(FileRecord {
        path: display_path(path),
        sha256: sha256_hex(bytes),
        bytes: bytes.len() as u64,
    })
}

/// Write to `path` what `fill` writes, as [`write_bytes`] does (owner-only, through a
/// temporary file renamed into place, recorded before it exists), but streamed and
/// hashed on the way, never held whole: its record.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<FileRecord> {
    struct Hashed<W> {
        inner: W,
        hash: Sha256,
        bytes: u64,
    }
    impl<W: Write> Write for Hashed<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hash.update(&buf[..n]);
            self.bytes += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let (tmp, f) = create_temp(path)?;
    let mut w = Hashed {
        inner: BufWriter::with_capacity(1 << 16, f),
        hash: Sha256::new(),
        bytes: 0,
    };
    let filled = fill(&mut w);
    let res = filled.map_err(std::io::Error::other).and_then(|()| {
        w.flush()?;
        injected_full_disk()?;
        fault("temp");
        w.inner.get_ref().sync_all()?;
        std::fs::rename(&tmp, path)
    });
    let Hashed { inner, hash, bytes } = w;
    drop(inner);
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        not_written(path, &e.to_string());
        return Err(write_error(path, e));
    }
    fault("renamed");
    Ok(FileRecord {
        path: display_path(path),
        sha256: hex(&hash.finalize()),
        bytes,
    })
}

/// A cell value to write. Text is always written as text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Empty,
    Text(String),
    Int(i64),
    Float(f64),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map(Value::Text).unwrap_or(Value::Empty)
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map(Value::Int).unwrap_or(Value::Empty)
    }
}

/// `7920` as `7,920` (negative numbers keep their sign): for figures printed in reports.
pub fn thousands(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// CSV text a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'`. Numbers are written as `Value::Int`/`Float` and never touched.
pub fn neutralize(s: &str) -> std::borrow::Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

/// The formats a table can be written in, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Xlsx,
}

impl TableFormat {
    pub fn from_path(path: &Path) -> Result<TableFormat> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") => Ok(TableFormat::Csv),
            Some("xlsx") => Ok(TableFormat::Xlsx),
            _ => Err(crate::usage(format!(
                "{}: 出力ファイルは .csv か .xlsx にしてください (the output file must end in .csv or .xlsx)",
                path.display()
            ))),
        }
    }
}

/// Writes one or more sheets of rows, streaming: CSV rows go straight to disk, xlsx rows
/// use rust_xlsxwriter's constant-memory worksheets.
pub struct TableWriter {
    path: PathBuf,
    tmp: PathBuf,
    inner: Inner,
    rows_in_sheet: u32,
    sheet_name: String,
    sheet_no: u32,
    headers: Vec<String>,
    /// The printed page header's title (document, program, as-of); the sheet's name
    /// when none is set.
    title: Option<String>,
    /// Whole numbers with thousands separators (xlsx).
    thousands: Option<rust_xlsxwriter::Format>,
    /// The columns of the sheet being written (its filter's width).
    sheet_cols: usize,
}

enum Inner {
    Csv(csv::Writer<BufWriter<File>>),
    /// The workbook and the index of the sheet being written.
    Xlsx(Box<rust_xlsxwriter::Workbook>, Option<usize>, File),
    Stdout(csv::Writer<std::io::StdoutLock<'static>>),
    /// A table or JSON on standard output (`--format`); started by the first sheet.
    Listed(
        listing::ListFormat,
        Option<listing::Listing<std::io::StdoutLock<'static>>>,
    ),
    Done,
}

/// Excel's row limit, less the header row.
const XLSX_MAX_DATA_ROWS: u32 = 1_048_575;

impl TableWriter {
    /// Write to `path` (`.csv` in UTF-8 with BOM so Excel reads the Japanese, or `.xlsx`).
    pub fn create(path: &Path) -> Result<TableWriter> {
        let fmt = TableFormat::from_path(path)?;
        let (tmp, f) = create_temp(path)?;
        let inner = match fmt {
            TableFormat::Csv => {
                let mut w = BufWriter::new(f);
                if let Err(e) = w.write_all(b"\xEF\xBB\xBF") {
                    drop(w);
                    let _ = std::fs::remove_file(&tmp);
                    not_written(path, &e.to_string());
                    return Err(write_error(path, e));
                }
                Inner::Csv(csv::WriterBuilder::new().flexible(true).from_writer(w))
            }
            TableFormat::Xlsx => {
                let mut wb = rust_xlsxwriter::Workbook::new();
                // Constant-memory sheets spill rows to temporary files: keep those next to
                // the output, where the handling records and close-out look, not in /tmp.
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                wb.set_tempdir(dir)?;
                Inner::Xlsx(Box::new(wb), None, f)
            }
        };
        Ok(TableWriter {
            path: path.to_path_buf(),
            tmp,
            inner,
            rows_in_sheet: 0,
            sheet_name: String::new(),
            sheet_no: 0,
            headers: Vec::new(),
            title: None,
            thousands: None,
            sheet_cols: 0,
        })
    }

    /// CSV to standard output (no BOM: it is a data stream for other programs).
    pub fn stdout() -> TableWriter {
        TableWriter {
            path: PathBuf::from("-"),
            tmp: PathBuf::new(),
            inner: Inner::Stdout(
                csv::WriterBuilder::new()
                    .flexible(true)
                    .from_writer(std::io::stdout().lock()),
            ),
            rows_in_sheet: 0,
            sheet_name: String::new(),
            sheet_no: 0,
            headers: Vec::new(),
            title: None,
            thousands: None,
            sheet_cols: 0,
        }
    }

    /// The title printed at the top of every page of an xlsx file (what the document
    /// is, the program, the as-of date); the sheet's name otherwise.
    pub fn set_title(&mut self, title: impl Into<String>) {
        self.title = Some(title.into());
    }

    /// Standard output in the form `--format` asked for (CSV as [`TableWriter::stdout`]).
    pub fn stdout_as(format: listing::ListFormat) -> TableWriter {
        let mut w = TableWriter::stdout();
        if format != listing::ListFormat::Csv {
            w.inner = Inner::Listed(format, None);
        }
        w
    }

    /// Start a sheet (xlsx) with its header row. In CSV only the first header is written.
    pub fn sheet(&mut self, name: &str, headers: &[&str]) -> Result<()> {
        self.sheet_name = name.to_string();
        self.headers = headers.iter().map(|s| s.to_string()).collect();
        self.sheet_no += 1;
        self.start_sheet(name)
    }

    /// The filter buttons over the sheet just finished (its heading row and its rows), so
    /// a data sheet can be filtered and sorted in Excel as it opens.
    fn filter_finished_sheet(&mut self) -> Result<()> {
        if let Inner::Xlsx(wb, Some(idx), _) = &mut self.inner {
            let cols = self.sheet_cols;
            if cols > 0 {
                let ws = wb.worksheet_from_index(*idx)?;
                ws.autofilter(0, 0, self.rows_in_sheet.max(1), cols as u16 - 1)?;
            }
        }
        Ok(())
    }

    fn start_sheet(&mut self, name: &str) -> Result<()> {
        self.filter_finished_sheet()?;
        self.sheet_cols = self.headers.len();
        self.rows_in_sheet = 0;
        match &mut self.inner {
            Inner::Done => {}
            Inner::Csv(w) => {
                if self.sheet_no == 1 {
                    w.write_record(self.headers.iter().map(|h| neutralize(h).into_owned()))?;
                }
            }
            Inner::Stdout(w) => {
                if self.sheet_no == 1 {
                    w.write_record(self.headers.iter().map(|h| neutralize(h).into_owned()))?;
                }
            }
            Inner::Listed(fmt, l) => {
                if l.is_none() {
                    let heads: Vec<&str> = self.headers.iter().map(String::as_str).collect();
                    *l = Some(listing::Listing::stdout(*fmt, &heads)?);
                }
            }
            Inner::Xlsx(wb, current, _) => {
                let ws = wb.add_worksheet_with_constant_memory()?;
                ws.set_name(name)?;
                // An export is data, not a form: a plain grid, printed on A4 like every
                // table, its heading row repeated.
                let title = self.title.as_deref().unwrap_or(name);
                xlsx::page(
                    ws,
                    &xlsx::Page {
                        gridlines: true,
                        ..xlsx::Page::table(title)
                    },
                )?;
                if self.thousands.is_none() {
                    self.thousands = Some(rust_xlsxwriter::Format::new().set_num_format("#,##0"));
                }
                let head = xlsx::Styles::new(xlsx::GOTHIC).head;
                for (c, h) in self.headers.iter().enumerate() {
                    ws.write_string_with_format(0, c as u16, xlsx::excel_text(h), &head)?;
                    ws.set_column_width(c as u16, (h.chars().count() as f64 * 2.2).max(10.0))?;
                }
                *current = Some(self.sheet_no as usize - 1);
            }
        }
        Ok(())
    }

    pub fn row(&mut self, values: &[Value]) -> Result<()> {
        self.row_inner(values).map_err(|e| self.failed(e))
    }

    /// An error while writing: the temporary file is removed, its pending record told
    /// as not written, and a write error becomes a message naming the file.
    fn failed(&mut self, e: anyhow::Error) -> anyhow::Error {
        if self.tmp.as_os_str().is_empty() {
            return e;
        }
        self.inner = Inner::Done;
        let _ = std::fs::remove_file(&self.tmp);
        not_written(&self.path, &format!("{e:#}"));
        self.tmp = PathBuf::new();
        let io = io_error_of(&e).map(|io| match io.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(io.kind(), io.to_string()),
        });
        match io {
            Some(io) => write_error(&self.path, io),
            None => e.context(format!(
                "{}: 書き込めません。書きかけのファイルは消しました (cannot write)",
                self.path.display()
            )),
        }
    }

    fn row_inner(&mut self, values: &[Value]) -> Result<()> {
        if self.rows_in_sheet == 100 && matches!(self.inner, Inner::Csv(_)) {
            injected_full_disk()?;
        }
        if matches!(self.inner, Inner::Xlsx(..)) && self.rows_in_sheet >= XLSX_MAX_DATA_ROWS {
            // Excel cannot hold more rows in one sheet: continue on the next.
            self.sheet_no += 1;
            let name = format!("{}_{}", self.sheet_name, self.sheet_no);
            self.start_sheet(&name)?;
        }
        self.rows_in_sheet += 1;
        match &mut self.inner {
            Inner::Csv(w) => write_csv_row(w, values)?,
            Inner::Stdout(w) => write_csv_row(w, values)?,
            Inner::Listed(_, Some(l)) => l.row(values)?,
            Inner::Listed(_, None) => bail!("internal: row outside a sheet"),
            Inner::Xlsx(wb, Some(idx), _) => {
                let ws = wb.worksheet_from_index(*idx)?;
                let r = self.rows_in_sheet;
                let thousands = self.thousands.as_ref();
                // A constant-memory sheet writes the previous row to its spill file
                // here, and the xlsx writer panics if that write fails (a full disk).
                xlsx_call(|| -> Result<()> {
                    for (c, v) in values.iter().enumerate() {
                        let f = if matches!(v, Value::Int(_)) {
                            thousands
                        } else {
                            None
                        };
                        write_xlsx_value(ws, r, c as u16, v, f)?;
                    }
                    Ok(())
                })??;
            }
            Inner::Xlsx(_, None, _) | Inner::Done => bail!("internal: row outside a sheet"),
        }
        Ok(())
    }

    /// Finish the file; returns its record (None for stdout).
    pub fn finish(mut self) -> Result<Option<FileRecord>> {
        match self.finish_inner() {
            Ok(r) => Ok(r),
            Err(e) => Err(self.failed(e)),
        }
    }

    fn finish_inner(&mut self) -> Result<Option<FileRecord>> {
        self.filter_finished_sheet()?;
        match std::mem::replace(&mut self.inner, Inner::Done) {
            Inner::Done => Ok(None),
            Inner::Stdout(mut w) => {
                w.flush()?;
                Ok(None)
            }
            Inner::Listed(_, l) => {
                if let Some(l) = l {
                    l.finish()?;
                }
                Ok(None)
            }
            Inner::Csv(w) => {
                let mut inner = w
                    .into_inner()
                    .map_err(|e| anyhow::anyhow!("{}: {}", self.path.display(), e.error()))?;
                inner.flush()?;
                fault("temp");
                inner.get_ref().sync_all()?;
                drop(inner);
                finish_file(&self.tmp, &self.path).map(Some)
            }
            Inner::Xlsx(mut wb, _, mut f) => {
                // Into the temporary file created (new, owner-only, no symlink) at the
                // start; a panic inside the xlsx writer (it has some on I/O errors) is an
                // error naming the file, not a crash.
                let saved = xlsx_call(|| wb.save_to_writer(&mut f));
                injected_full_disk()?;
                saved??;
                fault("temp");
                f.sync_all()?;
                drop(f);
                finish_file(&self.tmp, &self.path).map(Some)
            }
        }
    }
}

fn write_csv_row<W: Write>(w: &mut csv::Writer<W>, values: &[Value]) -> Result<()> {
    let mut buf = itoa_buf();
    for v in values {
        match v {
            Value::Empty => w.write_field("")?,
            Value::Text(s) => w.write_field(neutralize(s).as_bytes())?,
            Value::Int(i) => {
                use std::fmt::Write as _;
                buf.clear();
                let _ = write!(buf, "{i}");
                w.write_field(buf.as_bytes())?
            }
            Value::Float(f) => {
                use std::fmt::Write as _;
                buf.clear();
                let _ = write!(buf, "{f}");
                w.write_field(buf.as_bytes())?
            }
        }
    }
    w.write_record(None::<&[u8]>)?;
    Ok(())
}

/// A table as CSV (UTF-8 with BOM, text neutralized as [`TableWriter`] does), each row
/// written to `out` as it comes.
pub fn csv_into<R: AsRef<[Value]>>(
    headers: &[&str],
    rows: impl Iterator<Item = R>,
    out: &mut dyn Write,
) -> Result<()> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    w.write_record(headers.iter().map(|h| neutralize(h).into_owned()))?;
    for r in rows {
        write_csv_row(&mut w, r.as_ref())?;
    }
    w.flush()?;
    Ok(())
}

fn itoa_buf() -> String {
    String::with_capacity(24)
}

thread_local! {
    static GUARDED_WRITE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a panic now comes from inside the xlsx writer, where it is caught and told as
/// a write error (the panic hook then stays quiet).
pub fn in_guarded_write() -> bool {
    GUARDED_WRITE.with(|g| g.get())
}

/// A temporary file in `TMPDIR` that disappears when closed (unlinked at once where the
/// system allows it), for work too big to hold in memory. `what` names the work in the
/// message when the folder refuses it.
pub fn anonymous_temp(what: &str) -> Result<File> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir();
    let mut last = None;
    for _ in 0..100 {
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("stepcard-{}-{n}.tmp", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                // Unix keeps the open file; elsewhere removal fails and the file
                // stays until the folder is cleaned.
                let _ = std::fs::remove_file(&path);
                return Ok(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    let e = last.unwrap_or_else(|| std::io::Error::other("no free name"));
    Err(e).with_context(|| {
        format!(
            "{}: {what}の一時ファイルを作れません。一時フォルダ（TMPDIR）の空きと権限を確かめてください (temporary file)",
            dir.display()
        )
    })
}

/// A call into the xlsx writer, whose panics on I/O errors (a spill file or the book on
/// a full disk) become an error carrying the OS error the panic names, so the message
/// says what happened (disk full) instead of the process crashing.
pub fn xlsx_call<T>(f: impl FnOnce() -> T) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guarded_write(f))) {
        Ok(v) => Ok(v),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            // rust_xlsxwriter: "Couldn't write to xml file: Os { code: 28, kind: … }".
            let code = msg
                .split("code: ")
                .nth(1)
                .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|d| d.parse::<i32>().ok());
            match code {
                Some(code) => Err(std::io::Error::from_raw_os_error(code).into()),
                None => bail!("ブックを書き込めません (xlsx writer: {msg})"),
            }
        }
    }
}

fn guarded_write<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            GUARDED_WRITE.with(|g| g.set(false));
        }
    }
    GUARDED_WRITE.with(|g| g.set(true));
    let _reset = Reset;
    f()
}

/// Whether an error is a closed pipe on standard output (`stepcard … | head`): the
/// reader stopped early, which is not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    io_error_of(e).is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The longest line put on the terminal; a longer value (a 50 MB cell) is cut.
pub const TERMINAL_LINE_MAX: usize = 2000;

/// Text made safe for a terminal: control characters other than newline and tab (an
/// escape sequence that would set the window title or clear the screen) are shown as
/// `\u{1b}`, and each line is cut after [`TERMINAL_LINE_MAX`] characters, saying how
/// much was left out.
pub fn terminal_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(1 << 16));
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let total = line.chars().count();
        for (n, c) in line.chars().enumerate() {
            if n >= TERMINAL_LINE_MAX {
                out.push_str(&format!(
                    "…（以下 {} 文字省略）(cut)",
                    total - TERMINAL_LINE_MAX
                ));
                break;
            }
            if c.is_control() && c != '\t' {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// The I/O error under an error, if any (a CSV or xlsx error wraps one).
fn io_error_of(e: &anyhow::Error) -> Option<&std::io::Error> {
    e.chain().find_map(|c| {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        if let Some(csv::ErrorKind::Io(io)) = c.downcast_ref::<csv::Error>().map(|e| e.kind()) {
            return Some(io);
        }
        None
    })
}

fn finish_file(tmp: &Path, path: &Path) -> Result<FileRecord> {
    std::fs::rename(tmp, path)?;
    fault("renamed");
    let (sha256, bytes) = sha256_file(path)?;
    Ok(FileRecord {
        path: display_path(path),
        sha256,
        bytes,
    })
}

/// A file written in pieces as it is made (a PDF, page by page, so memory does not grow
/// with its length): announced before it exists, written to its temporary name, renamed
/// into place and hashed by [`StreamFile::finish`]. Dropped unfinished (an error midway),
/// its temporary file is removed and its pending record told as not written.
pub struct StreamFile {
    path: PathBuf,
    tmp: PathBuf,
    w: Option<BufWriter<File>>,
    written: u64,
}

impl StreamFile {
    pub fn create(path: &Path) -> Result<StreamFile> {
        let (tmp, f) = create_temp(path)?;
        Ok(StreamFile {
            path: path.to_path_buf(),
            tmp,
            w: Some(BufWriter::with_capacity(1 << 16, f)),
            written: 0,
        })
    }

    /// Bytes written so far (a PDF's cross-reference table needs each object's offset).
    pub fn position(&self) -> u64 {
        self.written
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let res = match self.w.as_mut() {
            Some(w) => w.write_all(bytes),
            None => bail!("internal: write after the file was closed"),
        };
        match res {
            Ok(()) => {
                self.written += bytes.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    fn failed(&mut self, e: std::io::Error) -> anyhow::Error {
        self.w = None;
        let _ = std::fs::remove_file(&self.tmp);
        not_written(&self.path, &e.to_string());
        self.tmp = PathBuf::new();
        write_error(&self.path, e)
    }

    pub fn finish(mut self) -> Result<FileRecord> {
        let Some(w) = self.w.take() else {
            bail!("internal: finish after the file was closed")
        };
        let res = (|| -> std::io::Result<()> {
            let f = w.into_inner().map_err(|e| e.into_error())?;
            injected_full_disk()?;
            fault("temp");
            f.sync_all()
        })();
        if let Err(e) = res {
            return Err(self.failed(e));
        }
        let tmp = std::mem::take(&mut self.tmp);
        finish_file(&tmp, &self.path)
    }
}

impl Drop for StreamFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() && self.tmp.exists() {
            self.w = None;
            let _ = std::fs::remove_file(&self.tmp);
            not_written(&self.path, "中断 (abandoned)");
        }
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        // A writer dropped without finish (an error midway) leaves no temp file behind,
        // and its pending record is told as not written.
        if !self.tmp.as_os_str().is_empty() && self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
            not_written(&self.path, "中断 (abandoned)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralizes_formula_starts_only() {
        assert_eq!(neutralize("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralize("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralize("-5"), "'-5");
        assert_eq!(neutralize("\tx"), "'\tx");
        assert_eq!(neutralize("山田"), "山田");
        assert_eq!(neutralize(""), "");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0u64), "0");
        assert_eq!(thousands(7920i64), "7,920");
        assert_eq!(thousands(1234567u64), "1,234,567");
        assert_eq!(thousands(-1000i64), "-1,000");
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_under_a_temporary_name_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "keep").unwrap();
        let out = dir.path().join("pts.csv");
        let pid = std::process::id();
        // Under every name a build of the tool has used for its temporary file.
        for name in [
            format!("pts.csv.tmp-{pid}"),
            format!("pts.csv{TEMP_MARK}{pid}-0"),
        ] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        write_bytes(&out, b"data").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read(&out).unwrap(), b"data");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode();
        assert_ne!(mode & 0o777, 0o600, "the victim's mode is untouched");
        assert!(is_temp_name(&format!("pts.csv{TEMP_MARK}{pid}-0")));
        assert!(is_temp_name("s.csv.tmp-1234"));
        assert!(is_temp_name(".tmpAbC123"));
        assert!(!is_temp_name("s.csv"));
    }
}
