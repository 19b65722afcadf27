//! Workbook reading through calamine: .xlsx/.xlsm and .xlsb are streamed
//! cell by cell (never materialized), .xls and .ods are read as a calamine
//! `Range` (those readers parse the whole file when it is opened).
//!
//! Defences against damaged or hostile files:
//! - the file's first bytes are checked before calamine sees it (zip vs
//!   OLE/CFB container vs HTML/text), so an encrypted .xlsx (an OLE container)
//!   or a ".xls" that is really a web page gets a clear message;
//! - `worksheet_range` is never called on .xlsx/.xlsb (calamine allocates a
//!   dense grid from the declared or actual extent, which for a sheet with
//!   cells at A1 and XFD1048576 is hundreds of GB);
//! - a cell with data at column >= `max_cols` or row >= `max_rows` is an error
//!   naming the cell;
//! - every call into calamine runs under `catch_unwind`, so a panic inside it
//!   (for example an arithmetic overflow on a reversed `<dimension>` in a
//!   debug build) becomes an ordinary error naming the file. This needs
//!   `panic = "unwind"` (the default); with `panic = "abort"` it cannot help.

use std::fs::File;
use std::io::{BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use anyhow::{anyhow, Result};
use calamine::{
    Cell, CellErrorType, Data, DataRef, ExcelDateTime, Ods, OdsError, Range, Reader, Xls, XlsError,
    Xlsb, XlsbError, Xlsx, XlsxError,
};
use chrono::NaiveDate;

use super::{cell_name, open_file, read_error, sheet_not_found, ReadOptions, Row, RowSource, Slot};

type Buf = BufReader<File>;

/// An opened workbook.
pub(crate) struct WorkBook {
    file: String,
    kind: Kind,
    max_rows: u32,
    max_cols: usize,
}

enum Kind {
    Xlsx(Box<Xlsx<Buf>>),
    Xlsb(Box<Xlsb<Buf>>),
    Xls(Box<Xls<Buf>>),
    Ods(Box<Ods<Buf>>),
}

/// What the first bytes of the file look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    /// `PK\x03\x04` (also `PK\x05\x06`, an empty zip): xlsx, xlsm, xlsb, ods.
    Zip,
    /// `D0 CF 11 E0 A1 B1 1A E1`: OLE compound file: .xls, or an encrypted
    /// (password-protected) xlsx/xlsb.
    Ole,
    Empty,
    /// Starts with `<` (after an optional BOM and whitespace): HTML or XML.
    Markup,
    /// No NUL bytes: CSV or other text.
    Text,
    Unknown,
}

const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

fn sniff(head: &[u8]) -> Magic {
    if head.is_empty() {
        return Magic::Empty;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Magic::Zip;
    }
    if head.starts_with(OLE_MAGIC) {
        return Magic::Ole;
    }
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'<') {
        return Magic::Markup;
    }
    if !head.contains(&0) {
        return Magic::Text;
    }
    Magic::Unknown
}

/// Read the first bytes of the file (up to 512).
fn read_head(path: &Path, file: &str) -> Result<Vec<u8>> {
    let f = open_file(path, file)?;
    let mut head = Vec::with_capacity(512);
    f.take(512)
        .read_to_end(&mut head)
        .map_err(|e| read_error(file, &e))?;
    Ok(head)
}

/// Run `f`, turning a panic inside calamine into an error naming the file.
fn guarded<T>(file: &str, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| panic_error(file))
}

fn panic_error(file: &str) -> anyhow::Error {
    anyhow!(
        "{file}: ブックの内容を読めません（読み込み中に想定外の形式に出会いました）。\
         Excel で開き直して「Excel ブック (*.xlsx)」として保存し直してください。 \
         (internal error while reading the workbook)"
    )
}

fn damaged_error(file: &str, what: &str, detail: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow!(
        "{file}: ブックが壊れているか、途中で切れています（{what}）。\
         Excel で開き直して保存し直してください。 (workbook is damaged or truncated: {detail})"
    )
}

fn password_error(file: &str) -> anyhow::Error {
    anyhow!(
        "{file}: パスワードで保護されたブックは読めません。\
         Excel でパスワードを解除して保存し直してください。 (workbook is password-protected)"
    )
}

fn unreadable_error(file: &str, detail: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow!(
        "{file}: ブックを読めません（{detail}）。\
         Excel で開き直して「Excel ブック (*.xlsx)」として保存し直してください。 \
         (cannot read workbook)"
    )
}

/// The file's content does not match its extension.
fn not_a_workbook_error(file: &str, ext: &str, magic: Magic) -> anyhow::Error {
    match magic {
        Magic::Empty => anyhow!(
            "{file}: ファイルが空です（0 バイト）。保存し直したファイルを指定してください。 \
             (file is empty)"
        ),
        Magic::Markup => anyhow!(
            "{file}: 拡張子は .{ext} ですが、中身は Excel ブックではなく Web ページ（HTML）か \
             XML 形式の表です。Excel で開き、「Excel ブック (*.xlsx)」として保存し直してください。 \
             (not a real workbook: HTML/XML)"
        ),
        Magic::Text => anyhow!(
            "{file}: 拡張子は .{ext} ですが、中身は Excel ブックではなくテキスト（CSV など）です。\
             拡張子を .csv に直して指定するか、Excel で開いて「Excel ブック (*.xlsx)」として\
             保存し直してください。 (not a real workbook: text/CSV)"
        ),
        Magic::Zip | Magic::Ole | Magic::Unknown => anyhow!(
            "{file}: 拡張子は .{ext} ですが、中身がその形式のブックではありません。\
             Excel で開き、「Excel ブック (*.xlsx)」として保存し直してください。 \
             (file content does not match the .{ext} extension)"
        ),
    }
}

fn xlsx_error(file: &str, e: XlsxError) -> anyhow::Error {
    match e {
        XlsxError::Password => password_error(file),
        XlsxError::Zip(z) => damaged_error(file, "zip を読めません", &z),
        XlsxError::Io(io) => damaged_error(file, "ファイルを最後まで読めません", &io),
        other => unreadable_error(file, &other),
    }
}

fn xlsb_error(file: &str, e: XlsbError) -> anyhow::Error {
    match e {
        XlsbError::Zip(z) => damaged_error(file, "zip を読めません", &z),
        XlsbError::Io(io) => damaged_error(file, "ファイルを最後まで読めません", &io),
        other => unreadable_error(file, &other),
    }
}

fn xls_error(file: &str, e: XlsError) -> anyhow::Error {
    match e {
        XlsError::Password => password_error(file),
        XlsError::Cfb(c) => damaged_error(file, "OLE コンテナを読めません", &c),
        XlsError::Io(io) => damaged_error(file, "ファイルを最後まで読めません", &io),
        other => unreadable_error(file, &other),
    }
}

fn ods_error(file: &str, e: OdsError) -> anyhow::Error {
    match e {
        OdsError::Password => password_error(file),
        OdsError::Zip(z) => damaged_error(file, "zip を読めません", &z),
        OdsError::Io(io) => damaged_error(file, "ファイルを最後まで読めません", &io),
        other => unreadable_error(file, &other),
    }
}

fn open_xlsx(path: &Path, file: &str) -> Result<Kind> {
    let rs = BufReader::new(open_file(path, file)?);
    match guarded(file, || Xlsx::new(rs))? {
        Ok(x) => Ok(Kind::Xlsx(Box::new(x))),
        Err(e) => Err(xlsx_error(file, e)),
    }
}

fn open_xlsb(path: &Path, file: &str) -> Result<Kind> {
    let rs = BufReader::new(open_file(path, file)?);
    match guarded(file, || Xlsb::new(rs))? {
        Ok(x) => Ok(Kind::Xlsb(Box::new(x))),
        Err(e) => Err(xlsb_error(file, e)),
    }
}

fn open_xls(path: &Path, file: &str) -> Result<Kind> {
    let rs = BufReader::new(open_file(path, file)?);
    match guarded(file, || Xls::new(rs))? {
        Ok(x) => Ok(Kind::Xls(Box::new(x))),
        Err(e) => Err(xls_error(file, e)),
    }
}

fn open_ods(path: &Path, file: &str) -> Result<Kind> {
    let rs = BufReader::new(open_file(path, file)?);
    match guarded(file, || Ods::new(rs))? {
        Ok(x) => Ok(Kind::Ods(Box::new(x))),
        Err(e) => Err(ods_error(file, e)),
    }
}

impl WorkBook {
    /// Open a workbook; `ext` is the lower-case extension without the dot.
    pub(crate) fn open(path: &Path, file: String, ext: &str, opts: &ReadOptions) -> Result<Self> {
        let magic = sniff(&read_head(path, &file)?);
        let kind = match (ext, magic) {
            ("xlsx" | "xlsm", Magic::Zip) => open_xlsx(path, &file)?,
            // An OLE container named .xlsx is either an encrypted workbook or
            // an old .xls that was renamed: read the latter, refuse the former.
            ("xlsx" | "xlsm", Magic::Ole) => match open_xls(path, &file) {
                Ok(kind) => kind,
                Err(_) => return Err(password_error(&file)),
            },
            ("xls", Magic::Ole) => open_xls(path, &file)?,
            // A newer workbook saved with an .xls name: Excel opens it too.
            ("xls", Magic::Zip) => open_xlsx(path, &file)?,
            ("xlsb", Magic::Zip) => open_xlsb(path, &file)?,
            ("xlsb", Magic::Ole) => return Err(password_error(&file)),
            ("ods", Magic::Zip) => open_ods(path, &file)?,
            (_, Magic::Zip | Magic::Ole) => {
                return Err(not_a_workbook_error(&file, ext, magic));
            }
            (_, Magic::Empty | Magic::Markup | Magic::Text) => {
                return Err(not_a_workbook_error(&file, ext, magic));
            }
            (_, Magic::Unknown) => {
                return Err(damaged_error(
                    &file,
                    "Excel ブックの形式ではありません",
                    &"unknown file signature",
                ));
            }
        };
        Ok(WorkBook {
            file,
            kind,
            max_rows: opts.max_rows,
            max_cols: opts.max_cols,
        })
    }

    pub(crate) fn file_name(&self) -> &str {
        &self.file
    }

    pub(crate) fn sheet_names(&self) -> Vec<String> {
        match &self.kind {
            Kind::Xlsx(x) => x.sheet_names(),
            Kind::Xlsb(x) => x.sheet_names(),
            Kind::Xls(x) => x.sheet_names(),
            Kind::Ods(x) => x.sheet_names(),
        }
    }

    pub(crate) fn rows(&mut self, sheet: &str) -> Result<Box<dyn RowSource + '_>> {
        let names = self.sheet_names();
        if !names.iter().any(|n| n == sheet) {
            return Err(sheet_not_found(&self.file, sheet, &names));
        }
        let ctx = Ctx {
            file: &self.file,
            sheet: sheet.to_string(),
            max_rows: self.max_rows,
            max_cols: self.max_cols,
        };
        let file = ctx.file;
        match &mut self.kind {
            Kind::Xlsx(x) => {
                let mut reader = match guarded(file, || x.worksheet_cells_reader(sheet))? {
                    Ok(r) => r,
                    Err(XlsxError::NotAWorksheet(_)) => return Err(ctx.not_a_worksheet()),
                    Err(e) => return Err(ctx.sheet_damaged(&e)),
                };
                let next: NextCell<'_> =
                    Box::new(move || reader.next_cell().map_err(|e| e.to_string()));
                Ok(Box::new(StreamRows::new(next, ctx)))
            }
            Kind::Xlsb(x) => {
                let mut reader = match guarded(file, || x.worksheet_cells_reader(sheet))? {
                    Ok(r) => r,
                    Err(e) => return Err(ctx.sheet_damaged(&e)),
                };
                let next: NextCell<'_> =
                    Box::new(move || reader.next_cell().map_err(|e| e.to_string()));
                Ok(Box::new(StreamRows::new(next, ctx)))
            }
            Kind::Xls(x) => {
                let range = match guarded(file, || x.worksheet_range(sheet))? {
                    Ok(r) => r,
                    Err(e) => return Err(ctx.sheet_damaged(&e)),
                };
                RangeRows::boxed(range, ctx)
            }
            Kind::Ods(x) => {
                let range = match guarded(file, || x.worksheet_range(sheet))? {
                    Ok(r) => r,
                    Err(e) => return Err(ctx.sheet_damaged(&e)),
                };
                RangeRows::boxed(range, ctx)
            }
        }
    }
}

/// File, sheet and limits, for bounds checks and messages.
struct Ctx<'a> {
    file: &'a str,
    sheet: String,
    max_rows: u32,
    max_cols: usize,
}

impl Ctx<'_> {
    /// A cell with data at 0-based (row, col) must lie inside the limits.
    fn check(&self, row: u64, col: u64) -> Result<()> {
        let max_cols = u64::try_from(self.max_cols).unwrap_or(u64::MAX);
        if row < u64::from(self.max_rows) && col < max_cols {
            return Ok(());
        }
        let (file, sheet) = (self.file, &self.sheet);
        let number = u32::try_from(row.saturating_add(1)).unwrap_or(u32::MAX);
        let name = cell_name(number, usize::try_from(col).unwrap_or(usize::MAX));
        let (max_rows, max_cols) = (self.max_rows, self.max_cols);
        Err(anyhow!(
            "{file}: シート「{sheet}」のセル {name}（{sheet}!{name}）にデータがあり、\
             読み込む範囲（{max_cols} 列 × {max_rows} 行）から大きく外れています。\
             そのセルを削除するか、必要なデータだけを新しいシートにコピーしてから、\
             もう一度実行してください。 \
             (sheet has data far outside the expected area: {sheet}!{name})"
        ))
    }

    fn sheet_damaged(&self, detail: &dyn std::fmt::Display) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        anyhow!(
            "{file}: シート「{sheet}」が壊れていて読めません（{detail}）。\
             Excel で開き直して保存し直してください。 (sheet is damaged)"
        )
    }

    fn damaged_near(&self, row: u32, detail: &dyn std::fmt::Display) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        anyhow!(
            "{file}: シート「{sheet}」の {row}行目付近が壊れていて読めません（{detail}）。\
             Excel で開き直して保存し直してください。 (sheet is damaged near row {row})"
        )
    }

    /// A cell of an earlier row after a later one: Excel writes rows in order, so the
    /// sheet was damaged or made by a tool that broke the format. Read on, the earlier
    /// row would come round a second time.
    fn out_of_order(&self, row: u32, col: u32, after: u32) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        let name = cell_name(
            row.saturating_add(1),
            usize::try_from(col).unwrap_or(usize::MAX),
        );
        anyhow!(
            "{file}: シート「{sheet}」のセル {name}（{sheet}!{name}）が {after}行目より後に置かれていて、\
             行の並びが壊れています。Excel で開き直して保存し直してください。 \
             (sheet is damaged: cell {sheet}!{name} comes after row {after})"
        )
    }

    fn not_a_worksheet(&self) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        anyhow!(
            "{file}: シート「{sheet}」はグラフなどのシートで、表のデータがありません。\
             データの入ったシートを指定してください。 (not a worksheet)"
        )
    }
}

/// A cell value reduced to what [`Row`] stores.
enum Value<'v> {
    /// Empty cell: not stored, does not start a row.
    Skip,
    Text(&'v str),
    Number(f64),
    Date(NaiveDate),
    Bool(bool),
    Error(&'v CellErrorType),
}

fn text(s: &str) -> Value<'_> {
    if s.is_empty() {
        Value::Skip
    } else {
        Value::Text(s)
    }
}

/// Largest serial number Excel accepts (10000-01-01 in the 1900 system).
const MAX_SERIAL: f64 = 2_958_466.0;

/// A date-formatted number: the calendar date in the workbook's date system
/// (calamine's `to_ymd_hms_milli` applies the 1900/1904 epoch the workbook
/// declares). Durations, out-of-range serials and Excel's phantom
/// 1900-02-29 / 1900-01-00 stay numbers.
fn excel_date(dt: &ExcelDateTime) -> Value<'static> {
    let serial = dt.as_f64();
    if dt.is_duration() || !(serial.is_finite() && (1.0..MAX_SERIAL).contains(&serial)) {
        return Value::Number(serial);
    }
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    match NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d)) {
        Some(date) => Value::Date(date),
        None => Value::Number(serial),
    }
}

/// An ISO 8601 date or date-time (`t="d"` cells, ODS dates): the date part.
fn iso_date(s: &str) -> Value<'_> {
    let date = s.get(..10).and_then(|head| {
        let rest = s.get(10..).unwrap_or("");
        if rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ') {
            NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
        } else {
            None
        }
    });
    match date {
        Some(d) => Value::Date(d),
        None => text(s),
    }
}

fn value_of_ref<'v>(d: &'v DataRef<'_>) -> Value<'v> {
    match d {
        DataRef::Empty => Value::Skip,
        DataRef::Int(i) => Value::Number(*i as f64),
        DataRef::Float(f) => Value::Number(*f),
        DataRef::String(s) => text(s),
        DataRef::SharedString(s) => text(s),
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::DateTime(dt) => excel_date(dt),
        DataRef::DateTimeIso(s) => iso_date(s),
        DataRef::DurationIso(s) => text(s),
        DataRef::Error(e) => Value::Error(e),
    }
}

fn value_of(d: &Data) -> Value<'_> {
    match d {
        Data::Empty => Value::Skip,
        Data::Int(i) => Value::Number(*i as f64),
        Data::Float(f) => Value::Number(*f),
        Data::String(s) => text(s),
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(dt) => excel_date(dt),
        Data::DateTimeIso(s) => iso_date(s),
        Data::DurationIso(s) => text(s),
        Data::Error(e) => Value::Error(e),
    }
}

/// Store `v` at `col`; `col` has been bounds-checked.
fn put(row: &mut Row, col: usize, v: Value<'_>) {
    match v {
        Value::Skip => {}
        Value::Text(s) => row.put_text(col, s),
        Value::Number(n) => row.put(col, Slot::Number(n)),
        Value::Date(d) => row.put(col, Slot::Date(d)),
        Value::Bool(b) => row.put(col, Slot::Bool(b)),
        Value::Error(e) => row.put_error(col, e),
    }
}

type NextCell<'a> = Box<dyn FnMut() -> std::result::Result<Option<Cell<DataRef<'a>>>, String> + 'a>;

/// Rows assembled from a stream of cells in sheet order (xlsx, xlsb). A row
/// ends when a cell of another row arrives; that cell waits in `pending`.
struct StreamRows<'a> {
    next: NextCell<'a>,
    pending: Option<Cell<DataRef<'a>>>,
    done: bool,
    /// 1-based number of the last row seen, for messages.
    last_row: u32,
    ctx: Ctx<'a>,
}

impl<'a> StreamRows<'a> {
    fn new(next: NextCell<'a>, ctx: Ctx<'a>) -> Self {
        StreamRows {
            next,
            pending: None,
            done: false,
            last_row: 0,
            ctx,
        }
    }

    fn fetch(&mut self) -> Result<Option<Cell<DataRef<'a>>>> {
        if self.done {
            return Ok(None);
        }
        let next = &mut self.next;
        match catch_unwind(AssertUnwindSafe(next)) {
            Ok(Ok(Some(cell))) => Ok(Some(cell)),
            Ok(Ok(None)) => {
                self.done = true;
                Ok(None)
            }
            Ok(Err(msg)) => {
                self.done = true;
                Err(self.ctx.damaged_near(self.last_row.saturating_add(1), &msg))
            }
            Err(_) => {
                self.done = true;
                Err(panic_error(self.ctx.file))
            }
        }
    }
}

impl RowSource for StreamRows<'_> {
    fn next_row(&mut self, row: &mut Row) -> Result<bool> {
        let mut current: Option<u32> = None;
        loop {
            let cell = match self.pending.take() {
                Some(cell) => cell,
                None => match self.fetch()? {
                    Some(cell) => cell,
                    None => return Ok(current.is_some()),
                },
            };
            let (r, c) = cell.get_position();
            if matches!(value_of_ref(cell.get_value()), Value::Skip) {
                continue;
            }
            if let Err(e) = self.ctx.check(u64::from(r), u64::from(c)) {
                self.done = true;
                return Err(e);
            }
            match current {
                Some(cur) if cur != r => {
                    self.pending = Some(cell);
                    return Ok(true);
                }
                Some(_) => {}
                None => {
                    let number = r.saturating_add(1);
                    if number <= self.last_row {
                        self.done = true;
                        return Err(self.ctx.out_of_order(r, c, self.last_row));
                    }
                    current = Some(r);
                    self.last_row = number;
                    row.reset(number);
                }
            }
            // c < max_cols (checked), so it fits in usize.
            let col = usize::try_from(c).unwrap_or(usize::MAX);
            put(row, col, value_of_ref(cell.get_value()));
        }
    }
}

/// Rows of an in-memory calamine range (xls, ods). Positions are made
/// absolute with the range's start, so numbers match Excel.
struct RangeRows<'a> {
    range: Range<Data>,
    start: (u64, u64),
    size: (usize, usize),
    next: usize,
    ctx: Ctx<'a>,
}

impl<'a> RangeRows<'a> {
    fn boxed(range: Range<Data>, ctx: Ctx<'a>) -> Result<Box<dyn RowSource + 'a>> {
        let start = range
            .start()
            .map_or((0, 0), |(r, c)| (u64::from(r), u64::from(c)));
        let size = range.get_size();
        let rows = RangeRows {
            range,
            start,
            size,
            next: 0,
            ctx,
        };
        rows.check_extent()?;
        Ok(Box::new(rows))
    }

    /// Refuse up front a sheet with data outside the limits, naming the
    /// first such cell (the range is already in memory; this spares the
    /// caller from processing rows of a sheet that will fail anyway).
    fn check_extent(&self) -> Result<()> {
        let (h, w) = (self.size.0 as u64, self.size.1 as u64);
        let max_cols = u64::try_from(self.ctx.max_cols).unwrap_or(u64::MAX);
        if self.start.0.saturating_add(h) <= u64::from(self.ctx.max_rows)
            && self.start.1.saturating_add(w) <= max_cols
        {
            return Ok(());
        }
        for (i, j, v) in self.range.cells() {
            if !matches!(value_of(v), Value::Skip) {
                self.ctx
                    .check(self.start.0 + i as u64, self.start.1 + j as u64)?;
            }
        }
        Ok(())
    }
}

impl RowSource for RangeRows<'_> {
    fn next_row(&mut self, row: &mut Row) -> Result<bool> {
        let (height, width) = self.size;
        while self.next < height {
            let i = self.next;
            self.next += 1;
            let abs_row = self.start.0 + i as u64;
            let mut started = false;
            for j in 0..width {
                let Some(v) = self.range.get((i, j)) else {
                    continue;
                };
                let value = value_of(v);
                if matches!(value, Value::Skip) {
                    continue;
                }
                let abs_col = self.start.1 + j as u64;
                self.ctx.check(abs_row, abs_col)?;
                if !started {
                    started = true;
                    // abs_row < max_rows (checked), so + 1 fits in u32.
                    row.reset(u32::try_from(abs_row + 1).unwrap_or(u32::MAX));
                }
                put(row, usize::try_from(abs_col).unwrap_or(usize::MAX), value);
            }
            if started {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
