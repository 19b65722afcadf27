//! Reading operator spreadsheets row by row: CSV/TSV (UTF-8, UTF-8 with BOM
//! or CP932 as Excel saves it) and workbooks (.xlsx .xlsm .xls .xlsb .ods).
//!
//! Everything is streamed into one reused [`Row`]: the caller asks a
//! [`RowSource`] for the next row until it returns `false`. Row and column
//! positions are the ones Excel shows (row 1 = first row, column 0 = "A"), so
//! error messages can point the operator at the cell to fix. Errors are plain
//! Japanese-first sentences naming the file (and sheet, cell or row) and what
//! to do next, followed by a short English gloss in parentheses.

mod csvread;
mod guard;
thread_local! {
    /// Depth of calls into calamine under `catch_unwind`: a panic there is turned into an
    /// error naming the file, so the panic hook stays silent about it.
    pub(crate) static GUARDED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether this thread is inside a guarded call into a workbook reader.
pub fn in_guarded_read() -> bool {
    GUARDED.with(|g| g.get() > 0)
}

pub mod date;
pub mod normalize;
mod workbook;
mod xls_scan;
mod xml_scan;

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;

/// Text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 without a byte order mark.
    Utf8,
    /// UTF-8 with a byte order mark (Excel's "CSV UTF-8").
    Utf8Bom,
    /// Windows-31J / CP932 (Excel's plain "CSV" on Japanese Windows), decoded
    /// with encoding_rs's `SHIFT_JIS` (the WHATWG definition, which is CP932).
    Cp932,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 (BOM)",
            Encoding::Cp932 => "CP932",
        })
    }
}

/// One cell of a [`Row`], borrowed from the row's buffers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    /// No value (an empty CSV field, an absent or empty workbook cell).
    Empty,
    /// Text exactly as stored (not trimmed).
    Text(&'a str),
    /// A number (workbooks only; CSV cells are always text).
    Number(f64),
    /// A cell Excel formats as a date (time of day dropped).
    Date(NaiveDate),
    /// TRUE / FALSE.
    Bool(bool),
    /// An error value such as `#N/A` or `#DIV/0!`.
    Error(&'a str),
}

/// Storage of one cell inside a [`Row`]: text lives in the row's shared
/// `String`, addressed by a byte span.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Empty,
    Text { start: usize, end: usize },
    Number(f64),
    Date(NaiveDate),
    Bool(bool),
    Error { start: usize, end: usize },
}

/// One row of a sheet. Meant to be reused: sources overwrite it in place, so
/// after warm-up reading a row does not allocate.
#[derive(Debug, Clone, Default)]
pub struct Row {
    number: u32,
    text: String,
    cells: Vec<Slot>,
    /// The verdict of a [`Precheck`] run where the row was parsed: set only for a row
    /// the reader found wholly valid, so its importer only has to store it.
    pre: Option<Pre>,
}

/// What a [`Precheck`] read from a row it found wholly valid, as small numbers the
/// importer that gave the check knows how to use (an index into its own tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pre {
    pub key: u32,
    pub day: u32,
    pub value: i64,
}

/// A check run on each row where it is parsed (the CSV reader's own thread), after the
/// header is known: it sets [`Row::set_pre`] on rows it finds wholly valid and leaves
/// every other row to the importer's full checks.
pub type Precheck = std::sync::Arc<dyn Fn(&mut Row) + Send + Sync>;

impl Row {
    /// An empty row (number 0, no cells).
    pub fn new() -> Row {
        Row::default()
    }

    /// 1-based row number as Excel shows it. For CSV: the 1-based record
    /// number (a quoted field spanning several lines still counts as one row).
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Number of cells; trailing empty cells are trimmed.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// `true` when the row has no cells at all (see also [`Row::is_blank`]).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Cell at 0-based column `col` (0 = "A"); beyond [`Row::len`] it is
    /// [`CellRef::Empty`].
    pub fn get(&self, col: usize) -> CellRef<'_> {
        match self.cells.get(col) {
            None | Some(Slot::Empty) => CellRef::Empty,
            Some(Slot::Text { start, end }) => CellRef::Text(self.span(*start, *end)),
            Some(Slot::Number(n)) => CellRef::Number(*n),
            Some(Slot::Date(d)) => CellRef::Date(*d),
            Some(Slot::Bool(b)) => CellRef::Bool(*b),
            Some(Slot::Error { start, end }) => CellRef::Error(self.span(*start, *end)),
        }
    }

    /// How the cell looked: text as is, numbers without a trailing `.0`
    /// (`8000`, `0.5`; rounded to 15 significant digits like Excel shows
    /// them), dates as `YYYY-MM-DD`, booleans as `TRUE`/`FALSE`, errors like
    /// `#N/A`, empty cells as `""`.
    pub fn raw_text(&self, col: usize) -> Cow<'_, str> {
        match self.get(col) {
            CellRef::Empty => Cow::Borrowed(""),
            CellRef::Text(s) | CellRef::Error(s) => Cow::Borrowed(s),
            CellRef::Number(n) => Cow::Owned(format_number(n)),
            CellRef::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
            CellRef::Bool(true) => Cow::Borrowed("TRUE"),
            CellRef::Bool(false) => Cow::Borrowed("FALSE"),
        }
    }

    /// `true` when every cell is empty or whitespace-only text (full-width
    /// spaces count as whitespace).
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|slot| match slot {
            Slot::Empty => true,
            Slot::Text { start, end } => self.span(*start, *end).chars().all(char::is_whitespace),
            Slot::Number(_) | Slot::Date(_) | Slot::Bool(_) | Slot::Error { .. } => false,
        })
    }

    fn span(&self, start: usize, end: usize) -> &str {
        self.text.get(start..end).unwrap_or("")
    }

    /// The reader's verdict on this row (see [`Precheck`]).
    pub fn pre(&self) -> Option<Pre> {
        self.pre
    }

    /// Record a [`Precheck`]'s verdict.
    pub fn set_pre(&mut self, pre: Pre) {
        self.pre = Some(pre);
    }

    /// Start a new row: drop all cells, keep the buffers.
    fn reset(&mut self, number: u32) {
        self.number = number;
        self.pre = None;
        self.text.clear();
        self.cells.clear();
    }

    /// The slot for `col`, growing the row with empty cells as needed. Callers
    /// bound `col` by `ReadOptions::max_cols` first.
    fn put(&mut self, col: usize, slot: Slot) {
        if col >= self.cells.len() {
            self.cells.resize(col.saturating_add(1), Slot::Empty);
        }
        if let Some(s) = self.cells.get_mut(col) {
            *s = slot;
        }
    }

    fn put_text(&mut self, col: usize, s: &str) {
        let start = self.text.len();
        self.text.push_str(s);
        let end = self.text.len();
        self.put(col, Slot::Text { start, end });
    }

    fn put_error(&mut self, col: usize, s: &dyn fmt::Display) {
        use std::fmt::Write as _;
        let start = self.text.len();
        // Writing into a String cannot fail.
        let _ = write!(self.text, "{s}");
        let end = self.text.len();
        self.put(col, Slot::Error { start, end });
    }
}

/// Format a number the way Excel's "General" format shows it: at most 15
/// significant digits, no trailing `.0`, no exponent.
fn format_number(n: f64) -> String {
    if !n.is_finite() {
        return n.to_string();
    }
    if n == 0.0 {
        return "0".to_string();
    }
    // Round to 15 significant digits, then print the shortest form of that.
    let rounded: f64 = format!("{n:.14e}").parse().unwrap_or(n);
    if rounded == 0.0 {
        return "0".to_string();
    }
    rounded.to_string()
}

/// Excel-style cell name: `cell_name(12, 2)` is `"C12"`. `row` is 1-based,
/// `col` 0-based (column 16383 is "XFD").
pub fn cell_name(row: u32, col: usize) -> String {
    let mut letters = [0u8; 16];
    let mut i = letters.len();
    let mut n = col;
    loop {
        i -= 1;
        // n % 26 < 26, so the cast cannot truncate.
        letters[i] = b'A' + (n % 26) as u8;
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
        if i == 0 {
            break;
        }
    }
    let mut name = String::with_capacity(letters.len() - i + 10);
    for &b in &letters[i..] {
        name.push(char::from(b));
    }
    name.push_str(&row.to_string());
    name
}

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// CSV only: force this encoding instead of detecting it.
    pub encoding: Option<Encoding>,
    /// Rows beyond this (row number > max_rows) are an error. Rows are streamed, so
    /// this is not a memory bound: it keeps row numbers well inside `u32` and stops a
    /// runaway input. A long-layout CSV for a prefecture-wide program is tens of
    /// millions of rows, so the default is far above Excel's 1,048,576.
    pub max_rows: u32,
    /// A cell in column index >= max_cols holding data is an error.
    pub max_cols: usize,
}

/// Default [`ReadOptions::max_rows`]: a prefecture-wide long-layout CSV (100,000
/// participants × 366 days) is under 40 million rows; this keeps row numbers well inside
/// `u32` and bounds the time a runaway file takes, not memory (rows are streamed).
pub const DEFAULT_MAX_ROWS: u32 = 500_000_000;
/// Default [`ReadOptions::max_cols`]: a card row has about 35 columns and a whole year
/// across one row about 370; a cell with data further right is almost always a stray.
pub const DEFAULT_MAX_COLS: usize = 512;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            encoding: None,
            max_rows: DEFAULT_MAX_ROWS,
            max_cols: DEFAULT_MAX_COLS,
        }
    }
}

/// A stream of rows from one sheet.
pub trait RowSource {
    /// Overwrite `row` with the next row; `false` at the end of the sheet.
    ///
    /// Blank rows are not skipped here (the caller decides), but rows that the
    /// workbook does not store at all (no cell with a value) are simply not
    /// returned, so row numbers can jump.
    fn next_row(&mut self, row: &mut Row) -> Result<bool>;

    /// Run `check` on every row parsed from now on, where it is parsed (a source that
    /// parses on a thread of its own); the rest ignore it, and rows stay unchecked.
    fn set_precheck(&mut self, _check: Precheck) {}
}

/// An opened CSV file or workbook.
pub struct Book {
    inner: BookKind,
}

enum BookKind {
    Csv(csvread::CsvBook),
    Workbook(workbook::WorkBook),
}

/// Extensions [`Book::open`] accepts, for messages.
const ACCEPTED: &str = ".csv .tsv .txt .xlsx .xlsm .xls .xlsb .ods";

impl Book {
    /// Open `path`, choosing the reader by extension: `.csv`, `.tsv`, `.txt`
    /// (tab-separated if the first lines have tabs but no commas), `.xlsx`,
    /// `.xlsm`, `.xls`, `.xlsb`, `.ods`.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<Book> {
        let file = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        let inner = match ext.as_str() {
            "csv" | "tsv" | "txt" => BookKind::Csv(csvread::CsvBook::open(path, file, &ext, opts)?),
            "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => {
                BookKind::Workbook(workbook::WorkBook::open(path, file, &ext, opts)?)
            }
            _ => {
                let shown = if ext.is_empty() {
                    "拡張子なし".to_string()
                } else {
                    format!(".{ext}")
                };
                anyhow::bail!(
                    "{file}: この種類のファイル（{shown}）は読めません。読めるのは {ACCEPTED} です。\
                     Excel で CSV か Excel ブック（.xlsx）として保存し直してください。 \
                     (unsupported file type; accepted: {ACCEPTED})"
                );
            }
        };
        Ok(Book { inner })
    }

    /// The file name as given to [`Book::open`], as used in error messages.
    pub fn file_name(&self) -> &str {
        match &self.inner {
            BookKind::Csv(c) => c.file_name(),
            BookKind::Workbook(w) => w.file_name(),
        }
    }

    /// Sheet names in workbook order. CSV: one sheet named after the file
    /// stem ("steps" for steps.csv).
    pub fn sheet_names(&self) -> Vec<String> {
        match &self.inner {
            BookKind::Csv(c) => vec![c.sheet_name().to_string()],
            BookKind::Workbook(w) => w.sheet_names(),
        }
    }

    /// The SHA-256 of the file computed while its rows were read to the end, for
    /// the readers that hash on the way (CSV); `None` otherwise or before.
    pub fn read_sha256(&self) -> Option<String> {
        match &self.inner {
            BookKind::Csv(c) => c.read_sha256(),
            BookKind::Workbook(_) => None,
        }
    }

    /// CSV only: the encoding detected or forced. If detection guessed UTF-8
    /// from an all-ASCII start and CP932 text turned up later, this reports
    /// [`Encoding::Cp932`] once the reader has reached that row (it parses a
    /// few chunks ahead of the rows handed out).
    pub fn encoding(&self) -> Option<Encoding> {
        match &self.inner {
            BookKind::Csv(c) => Some(c.encoding()),
            BookKind::Workbook(_) => None,
        }
    }

    /// Stream the rows of `sheet`. May be called again for another pass.
    pub fn rows(&mut self, sheet: &str) -> Result<Box<dyn RowSource + '_>> {
        match &mut self.inner {
            BookKind::Csv(c) => c.rows(sheet),
            BookKind::Workbook(w) => w.rows(sheet),
        }
    }
}

/// "「A」「B」" for messages listing sheet names.
fn quote_names(names: &[String]) -> String {
    let mut s = String::new();
    for n in names {
        s.push('「');
        s.push_str(n);
        s.push('」');
    }
    if s.is_empty() {
        s.push_str("（なし）");
    }
    s
}

/// The error for a sheet name that is not in the book.
fn sheet_not_found(file: &str, sheet: &str, names: &[String]) -> anyhow::Error {
    anyhow::anyhow!(
        "{file}: シート「{sheet}」が見つかりません。このファイルのシートは {} です。\
         シート名を確かめて指定し直してください。 (sheet not found)",
        quote_names(names)
    )
}

/// Open a file, with an operator-friendly message on failure.
fn open_file(path: &Path, file: &str) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "{file}: ファイルが見つかりません。ファイル名と置き場所を確かめてください。 \
             (file not found)"
        ),
        std::io::ErrorKind::PermissionDenied => anyhow::anyhow!(
            "{file}: ファイルを開く権限がありません。Excel などで開いていれば閉じてから、\
             もう一度実行してください。 (permission denied)"
        ),
        _ => anyhow::anyhow!(
            "{file}: ファイルを開けません（{e}）。ファイル名と置き場所を確かめてください。 \
             (cannot open file)"
        ),
    })
}

/// A generic read failure.
fn read_error(file: &str, e: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "{file}: ファイルを読めません（{e}）。ファイルをコピーし直してから、もう一度実行してください。 \
         (read error)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_names() {
        assert_eq!(cell_name(12, 2), "C12");
        assert_eq!(cell_name(1, 0), "A1");
        assert_eq!(cell_name(1, 25), "Z1");
        assert_eq!(cell_name(1, 26), "AA1");
        assert_eq!(cell_name(1, 27), "AB1");
        assert_eq!(cell_name(1, 701), "ZZ1");
        assert_eq!(cell_name(1, 702), "AAA1");
        assert_eq!(cell_name(1_048_576, 16383), "XFD1048576");
        // Absurd inputs do not panic.
        assert!(!cell_name(u32::MAX, usize::MAX).is_empty());
    }

    #[test]
    fn row_accessors() {
        let mut row = Row::new();
        row.reset(7);
        row.put_text(0, "歩数");
        row.put(1, Slot::Number(8000.0));
        row.put(2, Slot::Number(0.5));
        row.put(3, Slot::Bool(true));
        row.put_error(4, &"#N/A");
        row.put(5, Slot::Date(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap()));
        assert_eq!(row.number(), 7);
        assert_eq!(row.len(), 6);
        assert_eq!(row.get(0), CellRef::Text("歩数"));
        assert_eq!(row.get(99), CellRef::Empty);
        assert_eq!(row.raw_text(1), "8000");
        assert_eq!(row.raw_text(2), "0.5");
        assert_eq!(row.raw_text(3), "TRUE");
        assert_eq!(row.raw_text(4), "#N/A");
        assert_eq!(row.raw_text(5), "2024-05-01");
        assert_eq!(row.raw_text(6), "");
        assert!(!row.is_blank());

        row.reset(8);
        row.put_text(0, " \u{3000}");
        row.put(2, Slot::Empty);
        assert!(row.is_blank());
        assert_eq!(row.len(), 3);
    }

    #[test]
    fn number_format() {
        assert_eq!(format_number(8000.0), "8000");
        assert_eq!(format_number(7999.5), "7999.5");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(8800.000000000002), "8800");
        assert_eq!(format_number(-12.25), "-12.25");
        assert_eq!(format_number(1e20), "100000000000000000000");
    }

    #[test]
    fn unknown_extension() {
        let err = Book::open(Path::new("steps.pdf"), &ReadOptions::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("steps.pdf: "), "{err}");
        assert!(err.contains(".xlsx"), "{err}");
        assert!(err.contains(".csv"), "{err}");
    }
}
