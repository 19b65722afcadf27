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
//! - an .xls is pre-scanned (OLE sector chains, DIMENSIONS records, cell
//!   positions) before calamine parses it, because calamine's .xls reader
//!   builds every sheet's grid at open time and a single damaged record can
//!   make it allocate 137 GB or loop forever (see "`.xls` pre-scan" below);
//! - every call into calamine runs under `catch_unwind`, so a panic inside it
//!   (for example an arithmetic overflow on a reversed `<dimension>` in a
//!   debug build) becomes an ordinary error naming the file. This needs
//!   `panic = "unwind"` (the default); with `panic = "abort"` it cannot help.
//!   The default panic hook still prints calamine's panic message to stderr.
//!
//! Residual risks and how each is bounded (calamine allocates before we can look):
//! - .xlsx: `Xlsx::new` reads the whole shared-strings table at open; it is
//!   streamed once beforehand (`shared_strings_guard`) and refused over
//!   `MAX_SHARED_STRINGS` strings or `MAX_SHARED_STRINGS_BYTES` of XML, or
//!   when its `uniqueCount` (which calamine reserves) does not fit the part;
//! - .ods: `Ods::new` parses all of `content.xml` at open; calamine caps each
//!   row at 16384 columns, the sheet at 1,048,576 rows and the final grid at
//!   100 M cells (~3.2 GB), but a crafted file can still use gigabytes before
//!   our limits are checked on the finished range;
//! - .xls: within the pre-scan's limits calamine may still build a grid of up
//!   to 65536 x 256 cells (~0.5 GB) for a hostile file.

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

use super::guard::{damaged_error, guarded, panic_error, Ctx, OLE_MAGIC};
use super::xls_scan::xls_guard;
use super::xml_scan;
use super::{open_file, read_error, sheet_not_found, ReadOptions, Row, RowSource, Slot};

type Buf = BufReader<File>;

/// An opened workbook.
pub(crate) struct WorkBook {
    file: String,
    path: std::path::PathBuf,
    kind: Kind,
    max_rows: u32,
    max_cols: usize,
    /// .xlsx: each sheet's part in the zip, and how many shared strings there are.
    parts: SheetParts,
    strings: u64,
    /// .xlsx sheets already pre-scanned (a second pass need not scan again).
    checked: Vec<String>,
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

/// How many shared strings a workbook may hold. A long sheet of 10⁶ participants keyed
/// with text participant numbers holds about 10⁶; calamine keeps each as a `String`
/// (~40 bytes with its heap part), so this bounds that table near 80 MiB.
pub(crate) const MAX_SHARED_STRINGS: u64 = 2_000_000;
/// How many bytes of `sharedStrings.xml` (decompressed) a workbook may have: the strings'
/// text is at most this, whatever the zip declares.
pub(crate) const MAX_SHARED_STRINGS_BYTES: u64 = 64 * 1024 * 1024;

/// Checks `xl/sharedStrings.xml` before calamine reads it, by streaming the part once.
///
/// In that part `count` is the number of string *references* in the workbook (a participant
/// number on every row of a long sheet counts once per row) and `uniqueCount` the number of
/// strings the table holds. Excel writes e.g. `count="1233" uniqueCount="95"`, so only
/// `uniqueCount` says anything about the table's size. `Xlsx::new` reserves `uniqueCount`
/// entries before reading one, so a crafted value would abort the process: it must fit both
/// the part (each string takes at least `<si/>`, 5 bytes) and [`MAX_SHARED_STRINGS`].
/// What is actually stored is bounded too, while streaming: the part's decompressed size
/// (never trusting the size the zip declares) and the number of `<si>` strings.
fn shared_strings_guard(path: &Path, file: &str, xl_dir: &str) -> Result<u64> {
    let Ok(f) = File::open(path) else {
        return Ok(0); // calamine reports it
    };
    let Ok(mut z) = zip::ZipArchive::new(BufReader::new(f)) else {
        return Ok(0); // not a readable zip: calamine's error names it
    };
    let Some(i) = zip_index(&z, &format!("{xl_dir}sharedStrings.xml")) else {
        return Ok(0);
    };
    let Ok(entry) = z.by_index(i) else {
        return Ok(0);
    };
    let scan = scan_shared_strings(entry);
    let refuse = |what: String| {
        anyhow!(
            "{file}: ブックの共有文字列表（xl/sharedStrings.xml）が{what}。壊れているか細工されたファイルです。\
             元のブックを Excel で開き直して保存し直すか、CSV で保存して取り込んでください \
             (shared strings table refused)"
        )
    };
    if let Some(n) = scan.unique_count {
        let fits_part = n <= u128::from(scan.bytes / 5 + 1);
        if !fits_part || n > u128::from(MAX_SHARED_STRINGS) {
            return Err(refuse(format!(
                "宣言する文字列の数（uniqueCount={}）が内容に合わないか上限 {} を超えています",
                scan.unique_digits, MAX_SHARED_STRINGS
            )));
        }
    }
    if scan.bytes > MAX_SHARED_STRINGS_BYTES {
        return Err(refuse(format!(
            "上限 {} MiB を超えています",
            MAX_SHARED_STRINGS_BYTES / 1024 / 1024
        )));
    }
    if scan.strings > MAX_SHARED_STRINGS {
        return Err(refuse(format!(
            "上限 {} 個を超える文字列を持っています",
            MAX_SHARED_STRINGS
        )));
    }
    Ok(scan.strings)
}

/// The entry calamine opens for `path`: the same name ignoring ASCII case and with `\`
/// read as `/` (calamine's path cache), else the exact name.
fn zip_index<R: Read + std::io::Seek>(z: &zip::ZipArchive<R>, path: &str) -> Option<usize> {
    let want = path.to_ascii_lowercase();
    z.file_names()
        .filter_map(|n| n.ok())
        .find(|n| n.replace('\\', "/").to_ascii_lowercase() == want)
        .and_then(|n| z.index_for_name(&n))
        .or_else(|| z.index_for_name(path))
}

/// The .xlsx parts calamine reads at open and which part holds each sheet: the
/// workbook (`_rels/.rels` names it), its relationships and `<sheet>` list, as
/// calamine resolves them. Each of these parts, and `styles.xml`, is streamed with the
/// tokenizer's bounds, so a bomb in one of them is refused before calamine gathers it.
/// Returns the folder of the workbook part (`xl/`) and (sheet name, part path) pairs;
/// where a part cannot be read calamine reports it, so it is left out here.
fn xlsx_layout(path: &Path, file: &str) -> Result<(String, SheetParts)> {
    let mut parts = Vec::new();
    let Ok(f) = File::open(path) else {
        return Ok(("xl/".into(), parts));
    };
    let Ok(mut z) = zip::ZipArchive::new(BufReader::new(f)) else {
        return Ok(("xl/".into(), parts));
    };
    let bomb = |part: &str| {
        anyhow!(
            "{file}: ブックの {part} が大きすぎるか、巨大な空白などを含んでいます。\
             壊れているか細工されたファイルです。Excel で開き直して保存し直してください。 \
             (oversized part {part})"
        )
    };
    let read = |z: &mut zip::ZipArchive<BufReader<File>>,
                part: &str,
                wanted: &[u8],
                keys: &[&[u8]]|
     -> Result<Vec<Vec<Option<String>>>> {
        let Some(i) = zip_index(z, part) else {
            return Ok(Vec::new());
        };
        let Ok(entry) = z.by_index(i) else {
            return Ok(Vec::new());
        };
        xml_scan::collect_tags(entry, wanted, keys).map_err(|_| bomb(part))
    };
    let root = read(
        &mut z,
        "_rels/.rels",
        b"Relationship",
        &[b"Type", b"Target"],
    )?;
    let target = root
        .iter()
        .find(|a| {
            a.first()
                .and_then(|t| t.as_deref())
                .is_some_and(|t| t.ends_with("/relationships/officeDocument"))
        })
        .and_then(|a| a.get(1).cloned().flatten())
        .unwrap_or_else(|| "xl/workbook.xml".into());
    let (dir, name) = match target.rfind('/') {
        Some(i) => target.split_at(i + 1),
        None => ("", target.as_str()),
    };
    let dir = dir.strip_prefix('/').unwrap_or(dir).to_string();
    let name = if name.is_empty() {
        "workbook.xml"
    } else {
        name
    };
    let rels = read(
        &mut z,
        &format!("{dir}_rels/{name}.rels"),
        b"Relationship",
        &[b"Id", b"Target"],
    )?;
    let sheets = read(&mut z, &format!("{dir}{name}"), b"sheet", &[b"name", b"id"])?;
    read(&mut z, &format!("{dir}styles.xml"), b"-", &[])?;
    for sheet in sheets {
        let (Some(Some(sheet_name)), Some(Some(id))) = (sheet.first(), sheet.get(1)) else {
            continue;
        };
        let Some(target) = rels
            .iter()
            .find(|r| r.first().and_then(|i| i.as_deref()) == Some(id.as_str()))
            .and_then(|r| r.get(1).cloned().flatten())
        else {
            continue;
        };
        let part = match target.strip_prefix('/') {
            Some(abs) => abs.to_string(),
            None => format!("{dir}{target}"),
        };
        parts.push((sheet_name.clone(), part));
    }
    Ok((dir, parts))
}

/// Two sheets with one name (Excel forbids it, ignoring case): which one is meant
/// cannot be told, and calamine would only ever read the first.
fn duplicate_sheet_check(file: &str, names: &[String]) -> Result<()> {
    for (i, a) in names.iter().enumerate() {
        if let Some(b) = names[..i]
            .iter()
            .find(|b| b.to_lowercase() == a.to_lowercase())
        {
            return Err(anyhow!(
                "{file}: シート名「{b}」と「{a}」が重なっています（同じ名前のシートが二つあります）。\
                 どちらを読むか決められません。Excel で片方のシート名を変えて保存し直してください。 \
                 (two sheets named {a:?})"
            ));
        }
    }
    Ok(())
}

/// Stream `content.xml` of an .ods through [`xml_scan::OdsCheck`] before calamine
/// expands it whole.
fn ods_guard(path: &Path, file: &str, opts: &ReadOptions) -> Result<()> {
    let Ok(f) = File::open(path) else {
        return Ok(());
    };
    let Ok(mut z) = zip::ZipArchive::new(BufReader::new(f)) else {
        return Ok(());
    };
    let Ok(entry) = z.by_name("content.xml") else {
        return Ok(());
    };
    xml_scan::OdsCheck::new(file, opts.max_rows, opts.max_cols).run(entry)
}

/// What one streamed pass over `sharedStrings.xml` found.
#[derive(Debug, Default)]
struct SharedStringsScan {
    /// `uniqueCount` of `<sst>`, where it is given (`u128::MAX` when not a number).
    unique_count: Option<u128>,
    unique_digits: String,
    /// `<si>` elements seen (stops counting once over the limit).
    strings: u64,
    /// Decompressed bytes read (stops reading once over the limit).
    bytes: u64,
}

/// Reads at most [`MAX_SHARED_STRINGS_BYTES`] + 1 bytes in 64 KiB pieces, counting `<si>` and
/// `<si ` openings (a tag split between two pieces is caught by keeping the last 3 bytes).
fn scan_shared_strings(mut r: impl Read) -> SharedStringsScan {
    let mut scan = SharedStringsScan::default();
    let mut buf = vec![0u8; 64 * 1024 + 3];
    let mut carry = 0usize;
    let mut head: Vec<u8> = Vec::new();
    loop {
        let n = match r.read(&mut buf[carry..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        scan.bytes += n as u64;
        let end = carry + n;
        if head.len() < 4096 {
            let take = (4096 - head.len()).min(n);
            head.extend_from_slice(&buf[carry..carry + take]);
        }
        // `<si>` or `<x:si>` (some tools write the prefix): calamine matches the local
        // name. A prefixed one counts when its tag is not a closing one (`</x:si>`).
        let piece = &buf[..end];
        scan.strings += piece
            .windows(4)
            .enumerate()
            .filter(|(k, w)| {
                w[1..3] == *b"si"
                    && (w[3] == b'>' || w[3] == b' ' || w[3] == b'/')
                    && (w[0] == b'<'
                        || (w[0] == b':' && {
                            let head = &piece[k.saturating_sub(16)..*k];
                            head.iter()
                                .rposition(|&b| b == b'<')
                                .is_some_and(|lt| head.get(lt + 1) != Some(&b'/'))
                        }))
            })
            .count() as u64;
        if scan.bytes > MAX_SHARED_STRINGS_BYTES || scan.strings > MAX_SHARED_STRINGS {
            break;
        }
        // Keep the last 3 bytes: an opening split across pieces is counted once, next time.
        let keep = end.min(3);
        buf.copy_within(end - keep..end, 0);
        carry = keep;
    }
    let head = String::from_utf8_lossy(&head);
    // Only the `<sst ...>` start tag is read: `count` (references) is not a size.
    let sst = head
        .find("<sst")
        .map(|i| &head[i..])
        .map(|t| &t[..t.find('>').unwrap_or(t.len())]);
    if let Some(i) = sst.and_then(|t| t.find("uniqueCount=\"")) {
        let t = sst.unwrap_or_default();
        let digits: String = t[i + "uniqueCount=\"".len()..]
            .chars()
            .take_while(|c| *c != '"')
            .take(40)
            .collect();
        scan.unique_count = Some(digits.trim().parse().unwrap_or(u128::MAX));
        scan.unique_digits = digits;
    }
    scan
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

/// (sheet name, zip part) of each sheet of an .xlsx.
type SheetParts = Vec<(String, String)>;

/// An opened .xlsx, its sheets' parts and its shared-string count.
fn open_xlsx(path: &Path, file: &str) -> Result<(Kind, SheetParts, u64)> {
    let (dir, parts) = xlsx_layout(path, file)?;
    let strings = shared_strings_guard(path, file, &dir)?;
    let rs = BufReader::new(open_file(path, file)?);
    match guarded(file, || Xlsx::new(rs))? {
        Ok(x) => Ok((Kind::Xlsx(Box::new(x)), parts, strings)),
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

fn open_ods(path: &Path, file: &str, opts: &ReadOptions) -> Result<Kind> {
    ods_guard(path, file, opts)?;
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
        let mut parts = Vec::new();
        let mut strings = 0;
        let mut xlsx = |path: &Path, file: &str| -> Result<Kind> {
            let (kind, p, n) = open_xlsx(path, file)?;
            parts = p;
            strings = n;
            Ok(kind)
        };
        let kind = match (ext, magic) {
            ("xlsx" | "xlsm", Magic::Zip) => xlsx(path, &file)?,
            // An OLE container named .xlsx is either an encrypted workbook or
            // an old .xls that was renamed: read the latter, refuse the former.
            ("xlsx" | "xlsm", Magic::Ole) => {
                xls_guard(path, &file, opts)?;
                match open_xls(path, &file) {
                    Ok(kind) => kind,
                    Err(_) => return Err(password_error(&file)),
                }
            }
            ("xls", Magic::Ole) => {
                xls_guard(path, &file, opts)?;
                open_xls(path, &file)?
            }
            // A newer workbook saved with an .xls name: Excel opens it too.
            ("xls", Magic::Zip) => xlsx(path, &file)?,
            ("xlsb", Magic::Zip) => open_xlsb(path, &file)?,
            ("xlsb", Magic::Ole) => return Err(password_error(&file)),
            ("ods", Magic::Zip) => open_ods(path, &file, opts)?,
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
        let book = WorkBook {
            file,
            path: path.to_path_buf(),
            kind,
            max_rows: opts.max_rows,
            max_cols: opts.max_cols,
            parts,
            strings,
            checked: Vec::new(),
        };
        duplicate_sheet_check(&book.file, &book.sheet_names())?;
        Ok(book)
    }

    /// Pre-scan an .xlsx sheet's part once (see [`xml_scan`]): a damaged shared-string
    /// index, a repeated row or cell, or a bomb is refused before calamine reads it.
    fn check_xlsx_sheet(&mut self, sheet: &str) -> Result<()> {
        if self.checked.iter().any(|s| s == sheet) {
            return Ok(());
        }
        if let Some((_, part)) = self.parts.iter().find(|(n, _)| n == sheet) {
            let f = File::open(&self.path).map_err(|e| read_error(&self.file, &e))?;
            if let Ok(mut z) = zip::ZipArchive::new(BufReader::new(f)) {
                if let Some(entry) = zip_index(&z, part).and_then(|i| z.by_index(i).ok()) {
                    let place = xml_scan::Place {
                        file: &self.file,
                        sheet,
                    };
                    xml_scan::XlsxSheetCheck::new(place, self.strings).run(entry)?;
                }
            }
        }
        self.checked.push(sheet.to_string());
        Ok(())
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
        if matches!(self.kind, Kind::Xlsx(_)) {
            self.check_xlsx_sheet(sheet)?;
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
/// declares, and works without calamine's `chrono` feature). Durations,
/// out-of-range serials, times without a date (serial < 1 in the 1900
/// system) and Excel's phantom 1900-02-29 stay numbers.
fn excel_date(dt: &ExcelDateTime) -> Value<'static> {
    let serial = dt.as_f64();
    if dt.is_duration() || !(serial.is_finite() && (0.0..MAX_SERIAL).contains(&serial)) {
        return Value::Number(serial);
    }
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    if y < 1900 {
        // Serial 0..1 in the 1900 system: a time of day without a date.
        return Value::Number(serial);
    }
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
                Err(self.ctx.damaged_near(self.last_row.max(1), &msg))
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

#[cfg(test)]
mod tests {
    use super::super::{Book, CellRef, ReadOptions, Row};
    use super::{scan_shared_strings, MAX_SHARED_STRINGS, MAX_SHARED_STRINGS_BYTES};
    use chrono::NaiveDate;
    use std::io::{Read, Write};
    use std::path::{Path, PathBuf};

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn open(path: &Path) -> anyhow::Result<Book> {
        Book::open(path, &ReadOptions::default())
    }

    /// All rows of `sheet` as (number, raw texts).
    fn read_all(book: &mut Book, sheet: &str) -> anyhow::Result<Vec<(u32, Vec<String>)>> {
        let mut src = book.rows(sheet)?;
        let mut row = Row::new();
        let mut out = Vec::new();
        while src.next_row(&mut row)? {
            let cells = (0..row.len())
                .map(|c| row.raw_text(c).into_owned())
                .collect();
            out.push((row.number(), cells));
        }
        Ok(out)
    }

    fn err_text<T>(r: anyhow::Result<T>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A normal workbook made with rust_xlsxwriter.
    fn sample_xlsx() -> Vec<u8> {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut wb = Workbook::new();
        let date_fmt = Format::new().set_num_format("yyyy/mm/dd");
        let ws = wb.add_worksheet();
        ws.set_name("歩数").unwrap();
        ws.write_string(0, 0, "令和6年度 歩数カード").unwrap();
        for (c, h) in ["番号", "氏名", "歩数", "日付"].iter().enumerate() {
            ws.write_string(2, c as u16, *h).unwrap();
        }
        ws.write_number(3, 0, 1).unwrap();
        ws.write_string(3, 1, "ＡＢＣ　全角").unwrap();
        ws.write_number(3, 2, 8000.0).unwrap();
        let d = ExcelDateTime::from_ymd(2024, 5, 1).unwrap();
        ws.write_datetime_with_format(3, 3, &d, &date_fmt).unwrap();
        ws.write_number(5, 0, 2).unwrap();
        ws.write_string(5, 1, "鈴木").unwrap();
        ws.write_number(5, 2, 7999.5).unwrap();
        ws.write_boolean(5, 3, true).unwrap();
        // A styled but empty cell far away is not data.
        ws.write_blank(9, 40, &date_fmt).unwrap();
        let ws2 = wb.add_worksheet();
        ws2.set_name("集計").unwrap();
        ws2.write_string(0, 0, "合計").unwrap();
        ws2.write_number(0, 1, 15999.5).unwrap();
        wb.save_to_buffer().unwrap()
    }

    const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#;
    const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;
    /// Style 1 uses built-in number format 14 (a date).
    const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"#;

    /// Build a one-sheet xlsx by hand. `workbook_pr` goes before `<sheets>`;
    /// `sheet_data` is the body of the worksheet element.
    fn hand_xlsx(workbook_pr: &str, sheet_body: &str) -> Vec<u8> {
        let workbook = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">{workbook_pr}<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#
        );
        let sheet = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{sheet_body}</worksheet>"#
        );
        zip_of(&[
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", ROOT_RELS),
            ("xl/workbook.xml", &workbook),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/styles.xml", STYLES),
            ("xl/worksheets/sheet1.xml", &sheet),
        ])
    }

    fn zip_of(parts: &[(&str, &str)]) -> Vec<u8> {
        use zip::write::SimpleFileOptions;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in parts {
            let opts = if *name == "mimetype" {
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
            } else {
                SimpleFileOptions::default()
            };
            w.start_file(*name, opts).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn xlsx_values_positions_and_dates() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "steps.xlsx", &sample_xlsx());
        let mut book = open(&p).unwrap();
        assert_eq!(
            book.sheet_names(),
            vec!["歩数".to_string(), "集計".to_string()]
        );
        assert_eq!(book.encoding(), None);
        let rows = read_all(&mut book, "歩数").unwrap();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rows,
            vec![
                (1, s(&["令和6年度 歩数カード"])),
                (3, s(&["番号", "氏名", "歩数", "日付"])),
                (4, s(&["1", "ＡＢＣ　全角", "8000", "2024-05-01"])),
                (6, s(&["2", "鈴木", "7999.5", "TRUE"])),
            ]
        );

        let mut src = book.rows("歩数").unwrap();
        let mut row = Row::new();
        for _ in 0..3 {
            assert!(src.next_row(&mut row).unwrap());
        }
        assert_eq!(row.number(), 4);
        assert_eq!(row.get(0), CellRef::Number(1.0));
        assert_eq!(row.get(1), CellRef::Text("ＡＢＣ　全角"));
        assert_eq!(row.get(2), CellRef::Number(8000.0));
        assert_eq!(row.get(3), CellRef::Date(date(2024, 5, 1)));
        assert_eq!(row.get(4), CellRef::Empty);
        assert!(src.next_row(&mut row).unwrap());
        assert_eq!(row.get(2), CellRef::Number(7999.5));
        assert_eq!(row.get(3), CellRef::Bool(true));
        assert!(!src.next_row(&mut row).unwrap());
        assert!(!src.next_row(&mut row).unwrap());
        drop(src);

        // Second sheet by name.
        let rows = read_all(&mut book, "集計").unwrap();
        assert_eq!(rows, vec![(1, s(&["合計", "15999.5"]))]);
    }

    #[test]
    fn xlsx_missing_sheet_lists_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "steps.xlsx", &sample_xlsx());
        let mut book = open(&p).unwrap();
        let err = err_text(book.rows("Sheet1").map(|_| ()));
        assert!(
            err.starts_with(&format!(
                "{}: シート「Sheet1」が見つかりません",
                p.display()
            )),
            "{err}"
        );
        assert!(err.contains("「歩数」「集計」"), "{err}");
    }

    #[test]
    fn xlsx_1904_date_system() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"<sheetData><row r="1"><c r="A1" s="1"><v>0</v></c><c r="B1" s="1"><v>43586</v></c><c r="C1"><v>43586</v></c><c r="D1" t="s"><v>0</v></c></row></sheetData>"#;
        // D1 points at shared string 0, but there is no sharedStrings part:
        // that must be a clean error, not a panic. Use a sheet without it.
        let body_ok = body.replace(r#"<c r="D1" t="s"><v>0</v></c>"#, "");
        let p = write(
            &dir,
            "y1904.xlsx",
            &hand_xlsx(r#"<workbookPr date1904="1"/>"#, &body_ok),
        );
        let mut book = open(&p).unwrap();
        let mut src = book.rows("Sheet1").unwrap();
        let mut row = Row::new();
        assert!(src.next_row(&mut row).unwrap());
        assert_eq!(row.get(0), CellRef::Date(date(1904, 1, 1)));
        // 43586 is 2019-05-01 in the 1900 system, 1462 days later in 1904.
        assert_eq!(row.get(1), CellRef::Date(date(2023, 5, 2)));
        assert_eq!(row.get(2), CellRef::Number(43586.0));
        drop(src);

        // Same cells in the 1900 system.
        let p = write(&dir, "y1900.xlsx", &hand_xlsx("<workbookPr/>", &body_ok));
        let mut book = open(&p).unwrap();
        let rows = read_all(&mut book, "Sheet1").unwrap();
        assert_eq!(rows[0].1[1], "2019-05-01");

        let p = write(&dir, "badsst.xlsx", &hand_xlsx("", body));
        let mut book = open(&p).unwrap();
        let err = err_text(read_all(&mut book, "Sheet1"));
        assert!(err.contains("Sheet1!D1"), "{err}");
        assert!(err.contains("共有文字列は 0 個しかありません"), "{err}");
    }

    #[test]
    fn xlsx_cell_far_outside_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row></sheetData>"#;
        let p = write(&dir, "huge.xlsx", &hand_xlsx("", body));
        let mut book = open(&p).unwrap();
        let err = err_text(read_all(&mut book, "Sheet1"));
        assert!(err.starts_with(&format!("{}: ", p.display())), "{err}");
        assert!(err.contains("Sheet1!XFD1048576"), "{err}");
        assert!(err.contains("新しいシートにコピー"), "{err}");

        // Row limit: same message style naming the cell.
        let body = r#"<sheetData><row r="5"><c r="B5"><v>1</v></c></row></sheetData>"#;
        let p = write(&dir, "rows.xlsx", &hand_xlsx("", body));
        let opts = ReadOptions {
            max_rows: 4,
            ..ReadOptions::default()
        };
        let mut book = Book::open(&p, &opts).unwrap();
        let err = err_text(read_all(&mut book, "Sheet1"));
        assert!(err.contains("Sheet1!B5"), "{err}");
    }

    #[test]
    fn xlsx_reversed_dimension() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"<dimension ref="G1:B2"/><sheetData><row r="1"><c r="B1" t="inlineStr"><is><t>氏名</t></is></c><c r="C1"><v>5</v></c></row><row r="2"><c r="G2"><v>7</v></c></row></sheetData>"#;
        let p = write(&dir, "reversed.xlsx", &hand_xlsx("", body));
        let mut book = open(&p).unwrap();
        let result = read_all(&mut book, "Sheet1");
        if cfg!(debug_assertions) {
            // calamine subtracts the reversed bounds and overflows (a panic
            // with overflow checks on): caught and reported, no crash.
            let err = err_text(result);
            assert!(err.contains("ブックの内容を読めません"), "{err}");
        } else {
            let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
            assert_eq!(
                result.unwrap(),
                vec![
                    (1, s(&["", "氏名", "5"])),
                    (2, s(&["", "", "", "", "", "", "7"]))
                ]
            );
        }
    }

    #[test]
    fn xlsx_truncated_and_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let good = sample_xlsx();
        let p = write(&dir, "cut.xlsx", &good[..good.len() / 2]);
        let err = err_text(open(&p));
        assert_eq!(
            err.split(" (").next().unwrap(),
            format!(
                "{}: ブックが壊れているか、途中で切れています（zip を読めません）。\
                 Excel で開き直して保存し直してください。",
                p.display()
            )
        );

        let mut enc = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        enc.extend((0..4000u32).map(|i| (i * 7 % 251) as u8));
        let p = write(&dir, "locked.xlsx", &enc);
        let err = err_text(open(&p));
        assert!(
            err.contains(
                "パスワードで保護されたブックは読めません。Excel でパスワードを解除して保存し直してください"
            ),
            "{err}"
        );
        assert!(err.starts_with(&format!("{}: ", p.display())), "{err}");

        // A zip that is not a workbook at all.
        let p = write(&dir, "other.xlsx", &zip_of(&[("readme.txt", "hello")]));
        let err = err_text(open(&p));
        assert!(err.contains("ブックを読めません"), "{err}");
    }

    #[test]
    fn xls_that_is_not_xls() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "report.xls",
            b"<html><body><table><tr><td>1</td></tr></table></body></html>",
        );
        let err = err_text(open(&p));
        assert!(err.contains("Web ページ（HTML）"), "{err}");

        let p = write(&dir, "data.xls", "氏名,歩数\n田中,1\n".as_bytes());
        let err = err_text(open(&p));
        assert!(err.contains("テキスト（CSV など）"), "{err}");

        let p = write(&dir, "empty.xls", b"");
        let err = err_text(open(&p));
        assert!(err.contains("ファイルが空です"), "{err}");

        let p = write(&dir, "junk.xls", b"\x00\x01\x02\x03garbage");
        let err = err_text(open(&p));
        assert!(err.contains("壊れている"), "{err}");

        // An OLE container that is not a valid .xls.
        let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        ole.extend([0u8; 600]);
        let p = write(&dir, "bad.xls", &ole);
        let err = err_text(open(&p));
        assert!(
            err.contains("壊れている") || err.contains("読めません"),
            "{err}"
        );

        // An .xlsx saved under an .xls name is read as what it is.
        let p = write(&dir, "renamed.xls", &sample_xlsx());
        let mut book = open(&p).unwrap();
        assert_eq!(read_all(&mut book, "集計").unwrap().len(), 1);
    }

    // ---- a minimal BIFF8 .xls writer (OLE compound file, one FAT sector) ----

    fn rec(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut v = typ.to_le_bytes().to_vec();
        v.extend((data.len() as u16).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    fn xls_number(row: u16, col: u16, n: f64) -> Vec<u8> {
        let mut d = row.to_le_bytes().to_vec();
        d.extend(col.to_le_bytes());
        d.extend(0u16.to_le_bytes());
        d.extend(n.to_le_bytes());
        rec(0x0203, &d)
    }

    fn xls_label(row: u16, col: u16, s: &str) -> Vec<u8> {
        let units: Vec<u16> = s.encode_utf16().collect();
        let mut d = row.to_le_bytes().to_vec();
        d.extend(col.to_le_bytes());
        d.extend(0u16.to_le_bytes());
        d.extend((units.len() as u16).to_le_bytes());
        d.push(1); // fHighByte: UTF-16LE characters
        for u in units {
            d.extend(u.to_le_bytes());
        }
        rec(0x0204, &d)
    }

    fn xls_dimensions(
        rw_first: u32,
        rw_last_plus1: u32,
        col_first: u16,
        col_last_plus1: u16,
    ) -> Vec<u8> {
        let mut d = rw_first.to_le_bytes().to_vec();
        d.extend(rw_last_plus1.to_le_bytes());
        d.extend(col_first.to_le_bytes());
        d.extend(col_last_plus1.to_le_bytes());
        d.extend(0u16.to_le_bytes());
        rec(0x0200, &d)
    }

    fn bof(dt: u16) -> Vec<u8> {
        let mut d = 0x0600u16.to_le_bytes().to_vec();
        d.extend(dt.to_le_bytes());
        d.extend([0u8; 12]);
        rec(0x0809, &d)
    }

    /// A BIFF8 workbook stream with the given sheets (name, cell records).
    fn biff8(sheets: &[(&str, Vec<Vec<u8>>)]) -> Vec<u8> {
        let sheet_streams: Vec<Vec<u8>> = sheets
            .iter()
            .map(|(_, cells)| {
                let mut s = bof(0x0010);
                for c in cells {
                    s.extend_from_slice(c);
                }
                s.extend(rec(0x000A, &[]));
                s
            })
            .collect();
        let bound = |pos: u32, name: &str| {
            let units: Vec<u16> = name.encode_utf16().collect();
            let mut d = pos.to_le_bytes().to_vec();
            d.extend([0u8, 0u8, units.len() as u8, 1u8]);
            for u in units {
                d.extend(u.to_le_bytes());
            }
            rec(0x0085, &d)
        };
        // Globals: BOF, BoundSheet8 per sheet, EOF; positions need the size first.
        let mut globals_len = bof(0x0005).len() + rec(0x000A, &[]).len();
        for (name, _) in sheets {
            globals_len += bound(0, name).len();
        }
        let mut out = bof(0x0005);
        let mut pos = globals_len;
        for ((name, _), s) in sheets.iter().zip(&sheet_streams) {
            out.extend(bound(pos as u32, name));
            pos += s.len();
        }
        out.extend(rec(0x000A, &[]));
        for s in sheet_streams {
            out.extend(s);
        }
        out
    }

    /// Wrap a workbook stream in an OLE compound file (version 3).
    fn cfb(mut stream: Vec<u8>) -> Vec<u8> {
        const END: u32 = 0xFFFF_FFFE;
        const FREE: u32 = 0xFFFF_FFFF;
        // Keep it out of the mini stream.
        if stream.len() < 4096 {
            stream.resize(4096, 0);
        }
        let len = stream.len();
        stream.resize(len.div_ceil(512) * 512, 0);
        let n = stream.len() / 512;
        assert!(n <= 126);
        let mut header = vec![0u8; 512];
        header[..8].copy_from_slice(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1");
        header[24..26].copy_from_slice(&0x003Eu16.to_le_bytes());
        header[26..28].copy_from_slice(&3u16.to_le_bytes());
        header[28..30].copy_from_slice(&0xFFFEu16.to_le_bytes());
        header[30..32].copy_from_slice(&9u16.to_le_bytes());
        header[32..34].copy_from_slice(&6u16.to_le_bytes());
        header[44..48].copy_from_slice(&1u32.to_le_bytes());
        header[48..52].copy_from_slice(&1u32.to_le_bytes());
        header[56..60].copy_from_slice(&4096u32.to_le_bytes());
        header[60..64].copy_from_slice(&END.to_le_bytes());
        header[68..72].copy_from_slice(&END.to_le_bytes());
        for i in 0..109 {
            let v = if i == 0 { 0 } else { FREE };
            header[76 + i * 4..80 + i * 4].copy_from_slice(&v.to_le_bytes());
        }
        // FAT: sector 0 = FAT, 1 = directory, 2.. = the stream.
        let mut fat = vec![0xFFFF_FFFDu32, END];
        for i in 0..n {
            fat.push(if i + 1 == n { END } else { (i + 3) as u32 });
        }
        fat.resize(128, FREE);
        let fat: Vec<u8> = fat.iter().flat_map(|v| v.to_le_bytes()).collect();
        let entry = |name: &str, typ: u8, child: u32, start: u32, size: u32| {
            let mut e = vec![0u8; 128];
            let units: Vec<u16> = name.encode_utf16().collect();
            for (i, u) in units.iter().enumerate() {
                e[i * 2..i * 2 + 2].copy_from_slice(&u.to_le_bytes());
            }
            e[64..66].copy_from_slice(&(((units.len() + 1) * 2) as u16).to_le_bytes());
            e[66] = typ;
            e[67] = 1;
            e[68..72].copy_from_slice(&FREE.to_le_bytes());
            e[72..76].copy_from_slice(&FREE.to_le_bytes());
            e[76..80].copy_from_slice(&child.to_le_bytes());
            e[116..120].copy_from_slice(&start.to_le_bytes());
            e[120..124].copy_from_slice(&size.to_le_bytes());
            e
        };
        let mut dir = entry("Root Entry", 5, 1, END, 0);
        dir.extend(entry("Workbook", 2, FREE, 2, len as u32));
        dir.resize(512, 0);
        let mut out = header;
        out.extend(fat);
        out.extend(dir);
        out.extend(stream);
        out
    }

    #[test]
    fn xls_rows_and_positions() {
        let dir = tempfile::tempdir().unwrap();
        let sheet = vec![
            xls_dimensions(1, 5, 1, 4),
            xls_label(1, 1, "氏名"),
            xls_label(1, 2, "歩数"),
            xls_label(4, 1, "田中"),
            xls_number(4, 2, 8000.0),
            xls_number(4, 3, 0.25),
        ];
        let p = write(
            &dir,
            "old.xls",
            &cfb(biff8(&[("歩数", sheet), ("空", vec![])])),
        );
        let mut book = open(&p).unwrap();
        assert_eq!(
            book.sheet_names(),
            vec!["歩数".to_string(), "空".to_string()]
        );
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            read_all(&mut book, "歩数").unwrap(),
            vec![
                (2, s(&["", "氏名", "歩数"])),
                (5, s(&["", "田中", "8000", "0.25"])),
            ]
        );
        assert!(read_all(&mut book, "空").unwrap().is_empty());
    }

    fn ods_of(content_body: &str) -> Vec<u8> {
        let content = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>{content_body}</office:spreadsheet></office:body></office:document-content>"#
        );
        let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
        zip_of(&[
            ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
            ("META-INF/manifest.xml", manifest),
            ("content.xml", &content),
        ])
    }

    #[test]
    fn ods_rows() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"<table:table table:name="歩数"><table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row><table:table-row><table:table-cell/><table:table-cell office:value-type="string"><text:p>氏名</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>歩数</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="3"/></table:table-row><table:table-row><table:table-cell/><table:table-cell office:value-type="string"><text:p>田中</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="8000"><text:p>8000</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="2024-05-01"><text:p>2024/05/01</text:p></table:table-cell><table:table-cell office:value-type="boolean" office:boolean-value="false"><text:p>FALSE</text:p></table:table-cell></table:table-row></table:table><table:table table:name="Sheet2"><table:table-row><table:table-cell office:value-type="float" office:value="0.5"><text:p>0.5</text:p></table:table-cell></table:table-row></table:table>"#;
        let p = write(&dir, "steps.ods", &ods_of(body));
        let mut book = open(&p).unwrap();
        assert_eq!(
            book.sheet_names(),
            vec!["歩数".to_string(), "Sheet2".to_string()]
        );
        let rows = read_all(&mut book, "歩数").unwrap();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rows,
            vec![
                (3, s(&["", "氏名", "歩数"])),
                (6, s(&["", "田中", "8000", "2024-05-01", "FALSE"])),
            ]
        );
        let mut src = book.rows("歩数").unwrap();
        let mut row = Row::new();
        assert!(src.next_row(&mut row).unwrap());
        assert!(src.next_row(&mut row).unwrap());
        assert_eq!(row.get(2), CellRef::Number(8000.0));
        assert_eq!(row.get(3), CellRef::Date(date(2024, 5, 1)));
        drop(src);
        assert_eq!(
            read_all(&mut book, "Sheet2").unwrap(),
            vec![(1, s(&["0.5"]))]
        );
    }

    #[test]
    fn ods_wide_repeat_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"<table:table table:name="S"><table:table-row><table:table-cell office:value-type="string"><text:p>a</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="600" office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell></table:table-row></table:table>"#;
        let p = write(&dir, "wide.ods", &ods_of(body));
        // Refused by the pre-scan, before calamine expands the repeats.
        let err = err_text(open(&p));
        assert!(err.contains("S!SS2"), "{err}");
    }

    #[test]
    fn xls_far_cell_is_refused_before_calamine() {
        // calamine would allocate 65536 x 65536 cells (137 GB) and abort.
        let dir = tempfile::tempdir().unwrap();
        let sheet = vec![xls_number(0, 0, 1.0), xls_number(65535, 65535, 2.0)];
        let p = write(&dir, "far.xls", &cfb(biff8(&[("歩数", sheet)])));
        let err = err_text(open(&p));
        let cell = super::super::cell_name(65536, 65535);
        assert!(err.contains(&format!("歩数!{cell}")), "{err}");

        // Columns beyond IV (the .xls limit) are refused too, also in MulRk.
        let mut d = 0u16.to_le_bytes().to_vec();
        d.extend(300u16.to_le_bytes());
        d.extend([0u8; 6]);
        d.extend(300u16.to_le_bytes());
        let p = write(
            &dir,
            "mulrk.xls",
            &cfb(biff8(&[("S", vec![rec(0x00BD, &d)])])),
        );
        let err = err_text(open(&p));
        assert!(
            err.contains(&format!("S!{}", super::super::cell_name(1, 300))),
            "{err}"
        );
    }

    #[test]
    fn xls_damaged_dimensions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        // Huge: calamine would reserve ~11 PB and abort.
        let sheet = vec![
            xls_dimensions(0, u32::MAX, 0, 0xFFFF),
            xls_number(0, 0, 1.0),
        ];
        let p = write(&dir, "dims.xls", &cfb(biff8(&[("S", sheet)])));
        let err = err_text(open(&p));
        assert!(err.contains("シート「S」の範囲情報が壊れています"), "{err}");
        // Reversed: calamine's u32 subtraction would overflow.
        let sheet = vec![xls_dimensions(100, 5, 0, 3), xls_number(0, 0, 1.0)];
        let p = write(&dir, "rev.xls", &cfb(biff8(&[("S", sheet)])));
        let err = err_text(open(&p));
        assert!(err.contains("範囲情報が壊れています"), "{err}");
    }

    #[test]
    fn xls_sector_cycles_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = cfb(biff8(&[("S", vec![xls_number(0, 0, 1.0)])]));
        // The directory sector's FAT entry points at itself: calamine would
        // follow it forever, growing a buffer.
        let mut bad = good.clone();
        bad[512 + 4..512 + 8].copy_from_slice(&1u32.to_le_bytes());
        let p = write(&dir, "dircycle.xls", &bad);
        let err = err_text(open(&p));
        assert!(err.contains("OLE コンテナの構造が壊れています"), "{err}");

        // The workbook stream claims ~4 GB and its last sector loops back.
        let mut bad = good.clone();
        let n = (good.len() - 3 * 512) / 512;
        let last = 2 + n - 1;
        bad[512 + last * 4..512 + last * 4 + 4].copy_from_slice(&2u32.to_le_bytes());
        bad[1024 + 128 + 120..1024 + 128 + 124].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let p = write(&dir, "streamcycle.xls", &bad);
        let err = err_text(open(&p));
        assert!(err.contains("OLE コンテナの構造が壊れています"), "{err}");

        // The untouched file still reads, also when named .xlsx.
        let p = write(&dir, "fine.xlsx", &good);
        let mut book = open(&p).unwrap();
        assert_eq!(
            read_all(&mut book, "S").unwrap(),
            vec![(1, vec!["1".to_string()])]
        );
    }

    #[test]
    fn xlsx_absurd_cell_references() {
        let dir = tempfile::tempdir().unwrap();
        for body in [
            r#"<sheetData><row r="1"><c r="AAAAAAAAAAAAAAAA1"><v>1</v></c></row></sheetData>"#,
            r#"<sheetData><row r="99999999999"><c r="A99999999999"><v>1</v></c></row></sheetData>"#,
            r#"<sheetData><row r="4294967295"><c><v>1</v></c></row><row><c><v>1</v></c></row></sheetData>"#,
            r#"<dimension ref="A1:B2:C3"/><sheetData/>"#,
            r#"<sheetData><row r="1"><c r="A1" t="b"><v>7</v></c></row></sheetData>"#,
            r#"<sheetData><row r="1"><c r="A1"><v>1</v></c>"#,
        ] {
            let p = write(&dir, "refs.xlsx", &hand_xlsx("", body));
            let mut book = open(&p).unwrap();
            // Overflows inside calamine are caught (debug) or land outside
            // the limits (release); either way a clean error naming the file.
            let err = err_text(read_all(&mut book, "Sheet1"));
            assert!(err.starts_with(&format!("{}: ", p.display())), "{err}");
        }
    }

    /// A one-sheet xlsx with a shared-strings part, the way Excel and xlsxwriter write it.
    fn shared_xlsx(sst: &str, sheet_body: &str) -> Vec<u8> {
        let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
        let types = CONTENT_TYPES.replace(
            "</Types>",
            r#"<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#,
        );
        let workbook = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
        let sheet = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{sheet_body}</worksheet>"#
        );
        zip_of(&[
            ("[Content_Types].xml", &types),
            ("_rels/.rels", ROOT_RELS),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", rels),
            ("xl/styles.xml", STYLES),
            ("xl/sharedStrings.xml", sst),
            ("xl/worksheets/sheet1.xml", &sheet),
        ])
    }

    const SST_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main""#;

    /// Excel's `count` is the number of references: far above the number of strings when a
    /// participant number repeats on every row. Such a workbook must read, every cell right.
    #[test]
    fn xlsx_shared_strings_written_as_excel_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let rows = 1233u32;
        let mut body = String::from(
            r#"<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>"#,
        );
        for r in 2..=rows {
            let id = (r % 3) + 2; // strings 2, 3, 4 repeat on every row
            body.push_str(&format!(
                r#"<row r="{r}"><c r="A{r}" t="s"><v>{id}</v></c><c r="B{r}"><v>{r}</v></c></row>"#
            ));
        }
        body.push_str("</sheetData>");
        let sst = format!(
            r#"{SST_HEAD} count="{rows}" uniqueCount="5"><si><t>参加者番号</t></si><si><t>歩数</t></si><si><t>C000001</t></si><si><r><t>C0000</t></r><r><t>02</t></r></si><si><t xml:space="preserve">C000003</t></si></sst>"#
        );
        let p = write(&dir, "excel.xlsx", &shared_xlsx(&sst, &body));
        let mut book = open(&p).unwrap();
        let rows_read = read_all(&mut book, "Sheet1").unwrap();
        assert_eq!(rows_read.len(), rows as usize);
        assert_eq!(rows_read[0].1, vec!["参加者番号", "歩数"]);
        assert_eq!(rows_read[1].1, vec!["C000003", "2"]);
        assert_eq!(rows_read[2].1, vec!["C000001", "3"]);
        assert_eq!(rows_read[3].1, vec!["C000002", "4"]); // rich text, two runs
    }

    #[test]
    fn xlsx_shared_strings_that_lie_or_overflow_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        // uniqueCount far above what the part can hold (calamine would reserve it).
        let lie =
            format!(r#"{SST_HEAD} count="3" uniqueCount="100000000000"><si><t>x</t></si></sst>"#);
        let p = write(&dir, "lie.xlsx", &shared_xlsx(&lie, "<sheetData/>"));
        let err = err_text(open(&p));
        assert!(err.contains("uniqueCount=100000000000"), "{err}");
        assert!(err.starts_with(&format!("{}: ", p.display())), "{err}");
        // More strings than the limit, with no uniqueCount at all: counted while streaming.
        let mut many = format!("{SST_HEAD}>");
        many.push_str(&"<si/>".repeat(MAX_SHARED_STRINGS as usize + 1));
        many.push_str("</sst>");
        let p = write(&dir, "many.xlsx", &shared_xlsx(&many, "<sheetData/>"));
        let err = err_text(open(&p));
        assert!(err.contains("上限 2000000 個"), "{err}");
        // One string larger than the byte limit (a decompression bomb of text).
        let mut big = format!(r#"{SST_HEAD} uniqueCount="1"><si><t>"#);
        big.push_str(&"a".repeat(MAX_SHARED_STRINGS_BYTES as usize + 10));
        big.push_str("</t></si></sst>");
        let p = write(&dir, "big.xlsx", &shared_xlsx(&big, "<sheetData/>"));
        let err = err_text(open(&p));
        assert!(err.contains("64 MiB"), "{err}");
    }

    /// A shared-string index calamine would read as 0 (or not find) is an error at its cell.
    #[test]
    fn xlsx_bad_shared_string_indices_name_the_cell() {
        let dir = tempfile::tempdir().unwrap();
        let sst = format!(
            r#"{SST_HEAD} count="3" uniqueCount="2"><si><t>参加者番号</t></si><x:si><t>歩数</t></x:si></sst>"#
        );
        let body = |v: &str| {
            format!(
                r#"<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2"><v>1</v></c><c r="B2" t="s"><v>{v}</v></c></row></sheetData>"#
            )
        };
        // Both strings (one written with a namespace prefix) are valid indices.
        let p = write(&dir, "ok.xlsx", &shared_xlsx(&sst, &body("1")));
        let rows = read_all(&mut open(&p).unwrap(), "Sheet1").unwrap();
        assert_eq!(rows[1].1, vec!["1", "歩数"]);
        for (v, want) in [
            ("abc", "番号「abc」が正しくありません"),
            ("-1", "番号「-1」が正しくありません"),
            ("1.9", "番号「1.9」が正しくありません"),
            (" 1", "番号「 1」が正しくありません"),
            (
                "99999999999999999999",
                "番号「99999999999999999999」が正しくありません",
            ),
            (
                "2",
                "共有文字列の 2 番を指していますが、共有文字列は 2 個しかありません",
            ),
            (&"9".repeat(40), "…」が正しくありません"),
        ] {
            let p = write(&dir, "bad.xlsx", &shared_xlsx(&sst, &body(v)));
            let mut book = open(&p).unwrap();
            let err = err_text(read_all(&mut book, "Sheet1"));
            assert!(
                err.contains("シート「Sheet1」のセル B2（Sheet1!B2）"),
                "{v}: {err}"
            );
            assert!(err.contains(want), "{v}: {err}");
        }
    }

    /// A repeated row or cell is an error, never a silent choice of one of them.
    #[test]
    fn xlsx_repeated_rows_and_cells_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                r#"<sheetData><row r="2"><c r="A2"><v>1</v></c></row><row r="2"><c r="B2"><v>2</v></c></row></sheetData>"#,
                "2行目が二度書かれています",
            ),
            (
                r#"<sheetData><row r="3"><c r="A3"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row></sheetData>"#,
                "2行目が 3行目の後に置かれていて",
            ),
            (
                r#"<sheetData><row r="2"><c r="A2"><v>1</v></c><c r="A2"><v>2</v></c></row></sheetData>"#,
                "セル A2（Sheet1!A2）が二度書かれています",
            ),
            (
                r#"<sheetData><row r="2"><c r="C2"><v>1</v></c><c r="B2"><v>2</v></c></row></sheetData>"#,
                "セル B2（Sheet1!B2）がセル C2 の後に置かれていて",
            ),
            (
                r#"<sheetData><row r="2"><c r="A5"><v>1</v></c></row></sheetData>"#,
                "セル A5（Sheet1!A5）が 2行目の中に置かれていて",
            ),
            (
                r#"<sheetData><row r="2"><c><v>1</v></c><c r="A2"><v>2</v></c></row></sheetData>"#,
                "セル A2（Sheet1!A2）が二度書かれています",
            ),
            (
                r#"<sheetData><row r="1048577"><c><v>1</v></c></row></sheetData>"#,
                "行番号 1048577 があり",
            ),
        ];
        for (body, want) in cases {
            let p = write(&dir, "rep.xlsx", &hand_xlsx("", body));
            let mut book = open(&p).unwrap();
            let err = err_text(read_all(&mut book, "Sheet1"));
            assert!(err.contains(want), "{body}: {err}");
            assert!(
                err.starts_with(&format!("{}: シート「Sheet1」", p.display())),
                "{err}"
            );
        }
        // Rows and cells without `r` follow on: still read.
        let body = r#"<sheetData><row><c><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row><row r="5"><c r="B5"><v>4</v></c><c><v>5</v></c></row></sheetData>"#;
        let p = write(&dir, "seq.xlsx", &hand_xlsx("", body));
        let rows = read_all(&mut open(&p).unwrap(), "Sheet1").unwrap();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rows,
            vec![(1, s(&["1", "2"])), (2, s(&["3"])), (5, s(&["", "4", "5"]))]
        );
    }

    /// One workbook with two sheets of the same name.
    #[test]
    fn xlsx_duplicate_sheet_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut wb = rust_xlsxwriter::Workbook::new();
        wb.add_worksheet().set_name("S1").unwrap();
        wb.add_worksheet().set_name("S2").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        // Rename the second sheet in workbook.xml to S1 (rust_xlsxwriter refuses to).
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut parts = Vec::new();
        for i in 0..z.len() {
            let mut f = z.by_index(i).unwrap();
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            parts.push((
                f.name().unwrap().to_string(),
                text.replace(r#"name="S2""#, r#"name="s1""#),
            ));
        }
        let refs: Vec<(&str, &str)> = parts
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let p = write(&dir, "dup.xlsx", &zip_of(&refs));
        let err = err_text(open(&p));
        assert!(
            err.contains("シート名「S1」と「s1」が重なっています"),
            "{err}"
        );
    }

    /// Whitespace that calamine would gather into one buffer, and an oversized cell.
    #[test]
    fn xlsx_bombs_are_refused_while_streaming() {
        let dir = tempfile::tempdir().unwrap();
        let ws = " ".repeat(super::xml_scan::MAX_RUN_BYTES as usize + 10);
        let body = format!(r#"<sheetData><row r="1"><c r="A1"><v>1</v></c></row>{ws}</sheetData>"#);
        let p = write(&dir, "ws.xlsx", &hand_xlsx("", &body));
        let err = err_text(read_all(&mut open(&p).unwrap(), "Sheet1"));
        assert!(
            err.contains("1行目付近に、表のデータではない巨大な部分"),
            "{err}"
        );
        // Inside a tag.
        let body = format!(r#"<sheetData><row r="1"{ws}><c r="A1"><v>1</v></c></row></sheetData>"#);
        let p = write(&dir, "tag.xlsx", &hand_xlsx("", &body));
        let err = err_text(read_all(&mut open(&p).unwrap(), "Sheet1"));
        assert!(err.contains("巨大な部分"), "{err}");
        // Before sheetData (calamine reads up to it when the reader is made).
        let body = format!(r#"<sheetViews>{ws}</sheetViews><sheetData/>"#);
        let p = write(&dir, "head.xlsx", &hand_xlsx("", &body));
        let err = err_text(read_all(&mut open(&p).unwrap(), "Sheet1"));
        assert!(
            err.contains("先頭に、表のデータではない巨大な部分"),
            "{err}"
        );
        // One cell of more text than Excel can hold.
        let big = "あ".repeat(400_000);
        let body = format!(
            r#"<sheetData><row r="3"><c r="B3" t="inlineStr"><is><t>{big}</t></is></c></row></sheetData>"#
        );
        let p = write(&dir, "cell.xlsx", &hand_xlsx("", &body));
        let err = err_text(read_all(&mut open(&p).unwrap(), "Sheet1"));
        assert!(
            err.contains("セル B3（Sheet1!B3）の文字が長すぎます"),
            "{err}"
        );
        // Whitespace in styles.xml, read whole when the book is opened.
        let styles = STYLES.replace("<cellXfs", &format!("{ws}<cellXfs"));
        let mut parts = vec![
            ("[Content_Types].xml", CONTENT_TYPES.to_string()),
            ("_rels/.rels", ROOT_RELS.to_string()),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.to_string()),
            ("xl/styles.xml", styles),
        ];
        parts.push(("xl/workbook.xml", r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()));
        parts.push((
            "xl/worksheets/sheet1.xml",
            r#"<worksheet><sheetData/></worksheet>"#.to_string(),
        ));
        let refs: Vec<(&str, &str)> = parts.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let p = write(&dir, "styles.xlsx", &zip_of(&refs));
        let err = err_text(open(&p));
        assert!(err.contains("xl/styles.xml が大きすぎるか"), "{err}");
    }

    /// Repeats that calamine would expand into a grid of 2.5 million cells, and whitespace
    /// it would gather whole: refused while streaming `content.xml`, before calamine opens it.
    #[test]
    fn ods_bombs_are_refused_before_calamine() {
        let dir = tempfile::tempdir().unwrap();
        let rows = r#"<table:table-row><table:table-cell table:number-columns-repeated="500" office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell></table:table-row>"#.repeat(5000);
        let body = format!(r#"<table:table table:name="S">{rows}</table:table>"#);
        let p = write(&dir, "repeat.ods", &ods_of(&body));
        let err = err_text(open(&p));
        assert!(err.contains("上限（200 万セル"), "{err}");
        assert!(
            err.starts_with(&format!("{}: シート「S」", p.display())),
            "{err}"
        );
        // The same with one row element repeated 3000 times.
        let body = r#"<table:table table:name="S"><table:table-row table:number-rows-repeated="5000"><table:table-cell table:number-columns-repeated="500" office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell></table:table-row></table:table>"#;
        let p = write(&dir, "rowrep.ods", &ods_of(body));
        assert!(err_text(open(&p)).contains("上限（200 万セル"));
        // Trailing empty repeats (as LibreOffice writes them) cost nothing.
        let body = r#"<table:table table:name="S"><table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="16384"/></table:table-row><table:table-row><table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell><table:table-cell table:number-columns-repeated="16383"/></table:table-row></table:table>"#;
        let p = write(&dir, "empty.ods", &ods_of(body));
        let rows = read_all(&mut open(&p).unwrap(), "S").unwrap();
        assert_eq!(rows, vec![(1_048_576, vec!["1".to_string()])]);
        // Whitespace.
        let ws = " ".repeat(super::xml_scan::MAX_RUN_BYTES as usize + 10);
        let body = format!(
            r#"<table:table table:name="W"><table:table-row><table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell></table:table-row>{ws}</table:table>"#
        );
        let p = write(&dir, "ws.ods", &ods_of(&body));
        let err = err_text(open(&p));
        assert!(
            err.contains("シート「W」の 2行目付近に、表のデータではない巨大な部分"),
            "{err}"
        );
        // A long text repeated: counted once per copy calamine makes.
        let text = "x".repeat(100_000);
        let body = format!(
            r#"<table:table table:name="T"><table:table-row table:number-rows-repeated="100"><table:table-cell table:number-columns-repeated="10" office:value-type="string"><text:p>{text}</text:p></table:table-cell></table:table-row></table:table>"#
        );
        let p = write(&dir, "text.ods", &ods_of(&body));
        assert!(err_text(open(&p)).contains("MiB）を"));
    }

    /// An `<si>` split across two reads is counted once.
    #[test]
    fn shared_strings_scan_counts_across_pieces() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(2);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let xml = format!(
            r#"{SST_HEAD} count="9" uniqueCount="3"><si><t>a</t></si><si ><t>b</t></si><si/><sig/></sst>"#
        );
        let whole = scan_shared_strings(xml.as_bytes());
        let trickled = scan_shared_strings(Trickle(xml.as_bytes()));
        assert_eq!(whole.strings, 3);
        assert_eq!(trickled.strings, 3);
        assert_eq!(whole.unique_count, Some(3));
        assert_eq!(trickled.bytes, xml.len() as u64);
    }
}
