//! CSV / TSV reading: encoding detection (UTF-8, UTF-8 with BOM, CP932),
//! delimiter choice, and streaming records into a reused [`Row`].
//!
//! Every cell is [`CellRef::Text`](super::CellRef::Text) (or `Empty` for an
//! empty field). In the UTF-8 path a row is validated and copied into the
//! row's buffer without allocating; CP932 fields are decoded straight into
//! the same buffer.
//!
//! Parsing runs on a thread of its own, a few hundred rows ahead of the
//! importer: on a long sheet the reader and the database each keep a core
//! busy instead of taking turns. Rows travel in chunks and come back to be
//! refilled, so after warm-up nothing is allocated per row, and at most
//! [`IN_FLIGHT`] chunks exist, so memory stays bounded whatever the file size.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use anyhow::{bail, Result};
use encoding_rs::{DecoderResult, SHIFT_JIS};

use super::{
    open_file, read_error, sheet_not_found, Encoding, Precheck, ReadOptions, Row, RowSource, Slot,
};

/// How much of the file is looked at to detect the encoding and delimiter.
const SNIFF_LEN: usize = 64 * 1024;

/// Longest record (one row, with any lines a quoted field spans) the reader
/// takes. The csv parser holds a whole record in memory before handing it
/// over, so this is what bounds the reader's memory on a file with an
/// unclosed quote (the rest of the file becomes one field) or with no line
/// breaks at all. A 370-day card row is about 3 KB and a roster row with a
/// long address well under 1 KB; 1 MiB is hundreds of times either.
pub(crate) const MAX_RECORD_BYTES: u64 = 1024 * 1024;

/// Read size of the parser's buffer: also the slack allowed over
/// [`MAX_RECORD_BYTES`] before a record is refused.
const READ_BUF: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// An opened CSV/TSV file (one sheet named after the file stem).
pub(crate) struct CsvBook {
    path: PathBuf,
    file: String,
    sheet: String,
    /// Encoding in use; may switch from UTF-8 to CP932 while reading (an
    /// all-ASCII start followed by CP932 text), shared with the parsing thread.
    encoding: SharedEncoding,
    /// The encoding was detected (not forced) and nothing but ASCII was seen
    /// in the first 64 KiB, so a later switch to CP932 is safe.
    may_switch: bool,
    has_bom: bool,
    delimiter: u8,
    max_rows: u32,
    max_cols: usize,
    /// The SHA-256 (hex) of the whole file, set when a read of its rows reached the end:
    /// the file is hashed while it is parsed, not in a pass of its own.
    digest: Arc<std::sync::Mutex<Option<String>>>,
}

impl CsvBook {
    pub(crate) fn open(path: &Path, file: String, ext: &str, opts: &ReadOptions) -> Result<Self> {
        let mut f = open_file(path, &file)?;
        let mut head = Vec::with_capacity(SNIFF_LEN);
        let at_eof =
            read_prefix(&mut f, &mut head, SNIFF_LEN).map_err(|e| read_error(&file, &e))?;

        check_not_binary(&file, &head)?;

        let has_bom = head.starts_with(UTF8_BOM);
        let body = head
            .get(if has_bom { UTF8_BOM.len() } else { 0 }..)
            .unwrap_or(&[]);
        let (encoding, may_switch) = match opts.encoding {
            Some(Encoding::Cp932) => (Encoding::Cp932, false),
            Some(Encoding::Utf8 | Encoding::Utf8Bom) => (utf8_kind(has_bom), false),
            None if has_bom => (Encoding::Utf8Bom, false),
            None if prefix_is_utf8(body, at_eof) => (Encoding::Utf8, body.is_ascii()),
            None => (Encoding::Cp932, false),
        };
        // Only strip the BOM when reading as UTF-8; forced CP932 reads bytes as they are.
        let has_bom = has_bom && encoding != Encoding::Cp932;

        let delimiter = if ext == "tsv" || looks_tab_separated(body) {
            b'\t'
        } else {
            b','
        };
        let sheet = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(CsvBook {
            path: path.to_path_buf(),
            file,
            sheet,
            encoding: SharedEncoding::new(encoding),
            may_switch,
            has_bom,
            delimiter,
            max_rows: opts.max_rows,
            max_cols: opts.max_cols,
            digest: Arc::default(),
        })
    }

    /// The SHA-256 of the file as its rows were last read to the end (`None` before).
    pub(crate) fn read_sha256(&self) -> Option<String> {
        self.digest.lock().ok().and_then(|d| d.clone())
    }

    pub(crate) fn file_name(&self) -> &str {
        &self.file
    }

    pub(crate) fn sheet_name(&self) -> &str {
        &self.sheet
    }

    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding.get()
    }

    pub(crate) fn rows(&mut self, sheet: &str) -> Result<Box<dyn RowSource + 'static>> {
        if sheet != self.sheet {
            return Err(sheet_not_found(
                &self.file,
                sheet,
                std::slice::from_ref(&self.sheet),
            ));
        }
        let mut f = open_file(&self.path, &self.file)?;
        if self.has_bom {
            f.seek(SeekFrom::Start(UTF8_BOM.len() as u64))
                .map_err(|e| read_error(&self.file, &e))?;
        }
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .buffer_capacity(READ_BUF)
            .from_reader(Capped {
                inner: f,
                read: 0,
                record_start: 0,
                tripped: false,
                hash: Some({
                    use sha2::Digest;
                    let mut h = sha2::Sha256::new();
                    if self.has_bom {
                        h.update(UTF8_BOM);
                    }
                    h
                }),
                digest: self.digest.clone(),
            });
        let parser = Parser {
            file: self.file.clone(),
            encoding: self.encoding.clone(),
            max_rows: self.max_rows,
            max_cols: self.max_cols,
            reader,
            record: csv::ByteRecord::new(),
            count: 0,
            ascii_so_far: self.may_switch,
        };
        Ok(Box::new(CsvRows::start(parser, &self.file)?))
    }
}

/// The encoding of a CSV book, readable by the book and settable by the
/// parsing thread.
#[derive(Clone)]
struct SharedEncoding(Arc<AtomicU8>);

impl SharedEncoding {
    fn new(e: Encoding) -> Self {
        SharedEncoding(Arc::new(AtomicU8::new(Self::code(e))))
    }
    fn code(e: Encoding) -> u8 {
        match e {
            Encoding::Utf8 => 0,
            Encoding::Utf8Bom => 1,
            Encoding::Cp932 => 2,
        }
    }
    fn get(&self) -> Encoding {
        match self.0.load(Ordering::Relaxed) {
            0 => Encoding::Utf8,
            1 => Encoding::Utf8Bom,
            _ => Encoding::Cp932,
        }
    }
    fn set(&self, e: Encoding) {
        self.0.store(Self::code(e), Ordering::Relaxed);
    }
}

/// `Utf8Bom` if the file starts with a BOM, else `Utf8`.
fn utf8_kind(has_bom: bool) -> Encoding {
    if has_bom {
        Encoding::Utf8Bom
    } else {
        Encoding::Utf8
    }
}

/// Is this prefix of the file valid UTF-8? A multi-byte character cut off by
/// the end of the prefix is fine unless the prefix is the whole file.
fn prefix_is_utf8(bytes: &[u8], at_eof: bool) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        // error_len() == None: the input ended in the middle of a character.
        Err(e) => !at_eof && e.error_len().is_none(),
    }
}

/// Tab-separated if the first lines contain tabs but no commas.
fn looks_tab_separated(head: &[u8]) -> bool {
    let mut tabs = 0usize;
    let mut commas = 0usize;
    for line in head.split(|&b| b == b'\n').take(20) {
        tabs += line.iter().filter(|&&b| b == b'\t').count();
        commas += line.iter().filter(|&&b| b == b',').count();
    }
    tabs > 0 && commas == 0
}

/// Refuse files that are clearly not text: workbooks saved with a .csv name,
/// UTF-16 text (Excel's "Unicode text").
fn check_not_binary(file: &str, head: &[u8]) -> Result<()> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"\xD0\xCF\x11\xE0") {
        bail!(
            "{file}: 中身が CSV ではなく Excel ブックです。拡張子を .xlsx（古い形式なら .xls）に\
             直して指定するか、Excel で「CSV」として保存し直してください。 \
             (this is an Excel workbook, not CSV)"
        );
    }
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        bail!(
            "{file}: UTF-16（Excel の「Unicode テキスト」）のファイルは読めません。\
             Excel で「CSV UTF-8」か「CSV」として保存し直してください。 \
             (UTF-16 text is not supported)"
        );
    }
    Ok(())
}

/// Read up to `limit` bytes; `true` if the end of the file was reached.
fn read_prefix(f: &mut File, buf: &mut Vec<u8>, limit: usize) -> std::io::Result<bool> {
    let mut chunk = [0u8; 8192];
    while buf.len() < limit {
        let want = (limit - buf.len()).min(chunk.len());
        let n = match f.read(&mut chunk[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(true);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(false)
}

/// Decode one CP932 field into `out`; `false` on a malformed byte sequence.
fn decode_cp932(field: &[u8], out: &mut String) -> bool {
    let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
    let mut input = field;
    loop {
        let need = decoder
            .max_utf8_buffer_length_without_replacement(input.len())
            .unwrap_or(input.len().saturating_mul(3))
            .max(4);
        out.reserve(need);
        let (result, read) = decoder.decode_to_string_without_replacement(input, out, true);
        match result {
            DecoderResult::InputEmpty => return true,
            DecoderResult::Malformed(_, _) => return false,
            DecoderResult::OutputFull => input = input.get(read..).unwrap_or(&[]),
        }
    }
}

/// Rows per chunk sent from the parsing thread.
const CHUNK_ROWS: usize = 2048;
/// A chunk is also closed at this much text, so wide or long rows do not
/// make chunks large.
const CHUNK_TEXT: usize = 256 * 1024;
/// Chunks in existence at once (queued, being filled, being read, coming
/// back): the bound on what the reader holds in memory.
const IN_FLIGHT: usize = 4;

enum Msg {
    Rows(Vec<Row>),
    Failed(anyhow::Error),
    End,
}

/// The rows of a CSV sheet, parsed on a thread of their own.
struct CsvRows {
    rx: Receiver<Msg>,
    /// Chunks go back to the parser to be refilled.
    back: SyncSender<Vec<Row>>,
    chunk: Vec<Row>,
    next: usize,
    /// Set once the parser has finished: `Ok` at the end, `Err(message)`
    /// after a failure (asked again, the failure is repeated).
    finished: Option<std::result::Result<(), String>>,
    file: String,
    parser: Option<std::thread::JoinHandle<()>>,
    /// The check the parsing thread runs on each row once it is set (see [`Precheck`]).
    precheck: Arc<std::sync::OnceLock<Precheck>>,
}

impl Drop for CsvRows {
    /// Hang up both channels, so the parser stops at its next send or wait, and wait
    /// for it: the thread never outlives the rows it reads.
    fn drop(&mut self) {
        drop(std::mem::replace(&mut self.rx, sync_channel(0).1));
        drop(std::mem::replace(&mut self.back, sync_channel(0).0));
        if let Some(handle) = self.parser.take() {
            let _ = handle.join();
        }
    }
}

impl CsvRows {
    fn start(mut parser: Parser, file: &str) -> Result<CsvRows> {
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        let (back, back_rx) = sync_channel::<Vec<Row>>(IN_FLIGHT);
        let precheck = Arc::new(std::sync::OnceLock::<Precheck>::new());
        let shared = precheck.clone();
        let handle = std::thread::Builder::new()
            .name("csv-reader".into())
            .spawn(move || {
                let mut made = 0usize;
                let mut check: Option<Precheck> = None;
                loop {
                    if check.is_none() {
                        check = shared.get().cloned();
                    }
                    // Reuse a chunk that came back; make a new one only while
                    // fewer than IN_FLIGHT exist, else wait for one.
                    let mut chunk = match back_rx.try_recv() {
                        Ok(c) => c,
                        Err(_) if made < IN_FLIGHT => {
                            made += 1;
                            Vec::with_capacity(CHUNK_ROWS)
                        }
                        Err(_) => match back_rx.recv() {
                            Ok(c) => c,
                            // The reader was dropped: nobody wants more rows.
                            Err(_) => return,
                        },
                    };
                    let (mut n, mut text) = (0usize, 0usize);
                    let mut outcome = None;
                    while n < CHUNK_ROWS && text < CHUNK_TEXT {
                        if n == chunk.len() {
                            chunk.push(Row::new());
                        }
                        match chunk.get_mut(n).map(|row| parser.next_row(row)) {
                            Some(Ok(true)) => {
                                if let (Some(f), Some(row)) = (&check, chunk.get_mut(n)) {
                                    f(row);
                                }
                                text += chunk.get(n).map_or(0, |r| r.text.len());
                                n += 1;
                            }
                            Some(Ok(false)) | None => {
                                outcome = Some(Msg::End);
                                break;
                            }
                            Some(Err(e)) => {
                                outcome = Some(Msg::Failed(e));
                                break;
                            }
                        }
                    }
                    chunk.truncate(n);
                    if n > 0 && tx.send(Msg::Rows(chunk)).is_err() {
                        return;
                    }
                    if let Some(last) = outcome {
                        let _ = tx.send(last);
                        return;
                    }
                }
            })
            .map_err(|e| read_error(file, &e))?;
        Ok(CsvRows {
            rx,
            back,
            chunk: Vec::new(),
            next: 0,
            finished: None,
            file: file.to_string(),
            parser: Some(handle),
            precheck,
        })
    }
}

impl RowSource for CsvRows {
    fn set_precheck(&mut self, check: Precheck) {
        let _ = self.precheck.set(check);
    }

    fn next_row(&mut self, row: &mut Row) -> Result<bool> {
        loop {
            if let Some(slot) = self.chunk.get_mut(self.next) {
                // The caller's row goes back in the chunk to be refilled.
                std::mem::swap(row, slot);
                self.next += 1;
                return Ok(true);
            }
            match &self.finished {
                Some(Ok(())) => return Ok(false),
                Some(Err(msg)) => return Err(anyhow::anyhow!("{msg}")),
                None => {}
            }
            if !self.chunk.is_empty() {
                // If the parser is gone the chunk is simply dropped.
                let _ = self.back.try_send(std::mem::take(&mut self.chunk));
            }
            self.next = 0;
            match self.rx.recv() {
                Ok(Msg::Rows(c)) => self.chunk = c,
                Ok(Msg::End) => self.finished = Some(Ok(())),
                Ok(Msg::Failed(e)) => {
                    self.finished = Some(Err(format!("{e:#}")));
                    return Err(e);
                }
                // The thread ended without saying so (it panicked): never
                // treat that as the end of the file.
                Err(_) => {
                    let e = read_error(
                        &self.file,
                        &"読み込み処理が途中で止まりました (reader thread stopped)",
                    );
                    self.finished = Some(Err(format!("{e:#}")));
                    return Err(e);
                }
            }
        }
    }
}

/// The file under the csv parser, refusing to feed it more than
/// [`MAX_RECORD_BYTES`] (plus one buffer) past the start of the current record.
struct Capped {
    inner: File,
    /// Bytes handed to the parser so far.
    read: u64,
    /// Parser position (bytes) where the current record starts.
    record_start: u64,
    /// The limit was hit: the parser's I/O error means "record too long".
    tripped: bool,
    /// The file's bytes hashed as they pass (on the parsing thread), the digest given
    /// to the book at the end of the file.
    hash: Option<sha2::Sha256>,
    digest: Arc<std::sync::Mutex<Option<String>>>,
}

impl Read for Capped {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        if self.read.saturating_sub(self.record_start) > MAX_RECORD_BYTES + READ_BUF as u64 {
            self.tripped = true;
            return Err(std::io::Error::other("record too long"));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if n > 0 {
            if let Some(h) = &mut self.hash {
                h.update(&buf[..n]);
            }
        } else if !buf.is_empty() {
            if let (Some(h), Ok(mut d)) = (self.hash.take(), self.digest.lock()) {
                *d = Some(h.finalize().iter().fold(String::new(), |mut s, b| {
                    use std::fmt::Write as _;
                    let _ = write!(s, "{b:02x}");
                    s
                }));
            }
        }
        Ok(n)
    }
}

/// The CSV parser proper: one record at a time into a [`Row`].
struct Parser {
    file: String,
    encoding: SharedEncoding,
    max_rows: u32,
    max_cols: usize,
    reader: csv::Reader<Capped>,
    record: csv::ByteRecord,
    /// Row number of the current record as Excel shows it: empty lines,
    /// which the csv parser skips, count as rows; a quoted field's line
    /// breaks do not.
    count: u32,
    /// Still allowed to switch from UTF-8 to CP932: detection was automatic
    /// and every byte so far was ASCII (identical in both encodings).
    ascii_so_far: bool,
}

impl Parser {
    /// Number of fields up to the last non-empty one.
    fn used_len(&self) -> usize {
        self.record
            .iter()
            .rposition(|f| !f.is_empty())
            .map_or(0, |p| p + 1)
    }

    /// Fill `row` from the record as UTF-8. `Err(())` on invalid UTF-8.
    ///
    /// The record keeps its fields back to back in one buffer: that buffer is checked
    /// and copied once, and each field must start and end on a character boundary (two
    /// fields holding halves of one character are invalid even though their
    /// concatenation is not).
    fn fill_utf8(&self, row: &mut Row, len: usize) -> std::result::Result<(), ()> {
        let used: usize = self.record.iter().take(len).map(<[u8]>::len).sum();
        let bytes = self.record.as_slice().get(..used).ok_or(())?;
        let text = std::str::from_utf8(bytes).map_err(|_| ())?;
        let base = row.text.len();
        row.text.push_str(text);
        let mut start = 0;
        for field in self.record.iter().take(len) {
            let end = start + field.len();
            if field.is_empty() {
                row.cells.push(Slot::Empty);
            } else if text.is_char_boundary(start) && text.is_char_boundary(end) {
                row.cells.push(Slot::Text {
                    start: base + start,
                    end: base + end,
                });
            } else {
                return Err(());
            }
            start = end;
        }
        Ok(())
    }

    /// Fill `row` from the record as CP932. `Err(())` on malformed bytes.
    fn fill_cp932(&self, row: &mut Row, len: usize) -> std::result::Result<(), ()> {
        for field in self.record.iter().take(len) {
            if field.is_empty() {
                row.cells.push(Slot::Empty);
                continue;
            }
            let start = row.text.len();
            if !decode_cp932(field, &mut row.text) {
                return Err(());
            }
            row.cells.push(Slot::Text {
                start,
                end: row.text.len(),
            });
        }
        Ok(())
    }

    fn utf8_error(&self) -> anyhow::Error {
        let (file, n) = (&self.file, self.count);
        anyhow::anyhow!(
            "{file}: {n}行目に UTF-8 として読めない文字があります。\
             Excel の「CSV」（Shift_JIS）で保存したファイルなら --encoding cp932 を指定するか、\
             Excel で「CSV UTF-8」として保存し直してください。 (invalid UTF-8 in row {n})"
        )
    }

    fn cp932_error(&self) -> anyhow::Error {
        let (file, n) = (&self.file, self.count);
        anyhow::anyhow!(
            "{file}: {n}行目に CP932（Shift_JIS）として読めない文字があります。\
             UTF-8 のファイルなら --encoding utf8 を指定するか、\
             Excel で「CSV UTF-8」として保存し直してください。 (invalid CP932 in row {n})"
        )
    }
}

impl Parser {
    fn next_row(&mut self, row: &mut Row) -> Result<bool> {
        let file = &self.file;
        let line_before = self.reader.position().line();
        let more = match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => more,
            Err(_) if self.reader.get_ref().tripped => {
                let n = self.count.saturating_add(1);
                let mib = MAX_RECORD_BYTES / 1024 / 1024;
                bail!(
                    "{file}: {n}行目から始まる行が長すぎます（1 行 {mib} MiB まで）。\
                     引用符（\"）の閉じ忘れで後ろの行が一つにつながっているか、CSV ではないファイルです。\
                     Excel で開いて確かめ、保存し直してください。 \
                     (row {n} is longer than {mib} MiB: unclosed quote?)"
                );
            }
            Err(e) => {
                let n = self.count.saturating_add(1);
                bail!(
                    "{file}: {n}行目を読めません（{e}）。ファイルをコピーし直すか、\
                     Excel で保存し直してから、もう一度実行してください。 (cannot read row {n})"
                );
            }
        };
        if !more {
            return Ok(false);
        }
        let pos = self.reader.position();
        let (line_after, byte_after) = (pos.line(), pos.byte());
        self.reader.get_mut().record_start = byte_after;
        // One line per record is the common case. More lines: empty lines the
        // parser skipped (Excel shows each as a row) and line breaks inside
        // quoted fields (which stay in their row).
        let lines = line_after.saturating_sub(line_before);
        let skipped = if lines <= 1 {
            0
        } else {
            let inside = self
                .record
                .as_slice()
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            lines.saturating_sub(1 + inside)
        };
        let next = u64::from(self.count) + 1 + skipped;
        self.count = match u32::try_from(next) {
            Ok(n) if n <= self.max_rows => n,
            _ => {
                let max = self.max_rows;
                bail!(
                    "{file}: 行が多すぎます（上限 {max} 行）。ファイルを分けるか、\
                     不要な行を削除してください。 (too many rows; limit {max})"
                );
            }
        };
        let len = self.used_len();
        if len > self.max_cols {
            let (n, max) = (self.count, self.max_cols);
            bail!(
                "{file}: {n}行目に {len} 列あり、上限の {max} 列を超えています。\
                 不要な列を削除して保存し直してください。 (row {n} has {len} columns; limit {max})"
            );
        }

        row.reset(self.count);
        match self.encoding.get() {
            Encoding::Cp932 => {
                if self.fill_cp932(row, len).is_err() {
                    return Err(self.cp932_error());
                }
            }
            Encoding::Utf8 | Encoding::Utf8Bom => {
                if self.fill_utf8(row, len).is_err() {
                    if !self.ascii_so_far {
                        return Err(self.utf8_error());
                    }
                    // Everything before was ASCII, so it reads the same in
                    // CP932: this is an Excel "CSV" file after all.
                    row.reset(self.count);
                    if self.fill_cp932(row, len).is_err() {
                        return Err(self.utf8_error());
                    }
                    self.encoding.set(Encoding::Cp932);
                    self.ascii_so_far = false;
                } else if self.ascii_so_far && !row.text.is_ascii() {
                    // Real UTF-8 text: from now on invalid bytes are an error.
                    self.ascii_so_far = false;
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Book, CellRef, Encoding, ReadOptions, Row};
    use std::io::Write;
    use std::path::PathBuf;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        path
    }

    /// All rows as (number, raw texts).
    fn read_all(book: &mut Book) -> anyhow::Result<Vec<(u32, Vec<String>)>> {
        let sheet = book.sheet_names()[0].clone();
        let mut src = book.rows(&sheet)?;
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

    fn open(path: &std::path::Path) -> Book {
        Book::open(path, &ReadOptions::default()).unwrap()
    }

    fn sjis(s: &str) -> Vec<u8> {
        let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(s);
        assert!(!bad);
        bytes.into_owned()
    }

    /// The file is hashed while its rows are read (no pass of its own): the digest,
    /// BOM included, is there once the rows were read to the end, and only then.
    #[test]
    fn the_file_is_hashed_while_it_is_read() {
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend("番号,歩数\n".as_bytes());
        for i in 0..50_000 {
            bytes.extend(format!("C{i:06},{}\n", i % 20_000).as_bytes());
        }
        let p = write(&dir, "long.csv", &bytes);
        let mut book = open(&p);
        assert_eq!(book.read_sha256(), None, "nothing read yet");
        assert_eq!(read_all(&mut book).unwrap().len(), 50_001);
        let want: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(book.read_sha256(), Some(want));
    }

    #[test]
    fn utf8_plain() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "steps.csv",
            "番号,氏名,歩数\n1,山田 太郎,8000\n".as_bytes(),
        );
        let mut book = open(&p);
        assert_eq!(book.sheet_names(), vec!["steps".to_string()]);
        assert_eq!(book.encoding(), Some(Encoding::Utf8));
        let rows = read_all(&mut book).unwrap();
        assert_eq!(
            rows,
            vec![
                (1, vec!["番号".into(), "氏名".into(), "歩数".into()]),
                (2, vec!["1".into(), "山田 太郎".into(), "8000".into()]),
            ]
        );
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice("氏名,歩数\r\n佐藤,1200\r\n".as_bytes());
        let p = write(&dir, "steps.csv", &bytes);
        let mut book = open(&p);
        assert_eq!(book.encoding(), Some(Encoding::Utf8Bom));
        assert_eq!(Encoding::Utf8Bom.to_string(), "UTF-8 (BOM)");
        let rows = read_all(&mut book).unwrap();
        assert_eq!(rows[0].1[0], "氏名");
        assert_eq!(rows[1], (2, vec!["佐藤".into(), "1200".into()]));
    }

    #[test]
    fn cp932_detected() {
        let dir = tempfile::tempdir().unwrap();
        // ソ and 表 have 0x5C ("\") as second byte; ① and ～ are CP932 extensions.
        let p = write(&dir, "card.csv", &sjis("氏名,メモ\nソフト表示,①～③\n"));
        let mut book = open(&p);
        assert_eq!(book.encoding(), Some(Encoding::Cp932));
        assert_eq!(Encoding::Cp932.to_string(), "CP932");
        let rows = read_all(&mut book).unwrap();
        assert_eq!(
            rows[1].1,
            vec!["ソフト表示".to_string(), "①～③".to_string()]
        );
    }

    #[test]
    fn forced_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "card.csv", &sjis("氏名\n高橋\n"));
        // Forcing UTF-8 on a CP932 file: clear error naming the row.
        let opts = ReadOptions {
            encoding: Some(Encoding::Utf8),
            ..ReadOptions::default()
        };
        let mut book = Book::open(&p, &opts).unwrap();
        assert_eq!(book.encoding(), Some(Encoding::Utf8));
        let err = read_all(&mut book).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: 1行目に UTF-8", p.display())),
            "{err}"
        );
        assert!(err.contains("--encoding cp932"), "{err}");

        // Forcing CP932 on an ASCII file works (ASCII is the same).
        let p2 = write(&dir, "ascii.csv", b"a,b\n1,2\n");
        let opts = ReadOptions {
            encoding: Some(Encoding::Cp932),
            ..ReadOptions::default()
        };
        let mut book = Book::open(&p2, &opts).unwrap();
        assert_eq!(book.encoding(), Some(Encoding::Cp932));
        assert_eq!(read_all(&mut book).unwrap()[1].1, vec!["1", "2"]);

        // Forcing CP932 on UTF-8 text that is not valid CP932 -> error.
        let p3 = write(&dir, "utf8.csv", "名前\n\u{1F600}\n".as_bytes());
        let mut book = Book::open(&p3, &opts).unwrap();
        let err = read_all(&mut book).unwrap_err().to_string();
        assert!(err.contains("行目に CP932"), "{err}");
    }

    #[test]
    fn title_row_above_header() {
        let dir = tempfile::tempdir().unwrap();
        let text = "令和6年度 歩数カード,,\n,,\n番号,氏名,歩数\n1,田中,5000\n,,\n2,鈴木,6000\n";
        let p = write(&dir, "steps.csv", &sjis(text));
        let mut book = open(&p);
        let rows = read_all(&mut book).unwrap();
        let numbers: Vec<u32> = rows.iter().map(|r| r.0).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(rows[0].1, vec!["令和6年度 歩数カード"]); // trailing empties trimmed
        assert!(rows[1].1.is_empty());
        assert_eq!(rows[2].1[2], "歩数");
        assert_eq!(rows[5].1, vec!["2", "鈴木", "6000"]);
    }

    #[test]
    fn quoted_fields_with_commas_and_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let text = "氏名,住所,歩数\n\"山田, 太郎\",\"東京都\n千代田区\",\"8,000\"\n次,\"\"\"引用\"\"\",1\n";
        let p = write(&dir, "steps.csv", text.as_bytes());
        let mut book = open(&p);
        let rows = read_all(&mut book).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1],
            (
                2,
                vec![
                    "山田, 太郎".into(),
                    "東京都\n千代田区".into(),
                    "8,000".into()
                ]
            )
        );
        // The multi-line field counts as one row.
        assert_eq!(
            rows[2],
            (3, vec!["次".into(), "\"引用\"".into(), "1".into()])
        );
    }

    #[test]
    fn tsv_and_tab_sniffing() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "steps.tsv",
            "氏名\t歩数, 備考\n田中\t5000\n".as_bytes(),
        );
        let rows = read_all(&mut open(&p)).unwrap();
        assert_eq!(rows[0].1, vec!["氏名", "歩数, 備考"]);
        assert_eq!(rows[1].1, vec!["田中", "5000"]);

        let p = write(&dir, "steps.txt", "氏名\t歩数\n田中\t5000\n".as_bytes());
        let rows = read_all(&mut open(&p)).unwrap();
        assert_eq!(rows[1].1, vec!["田中", "5000"]);

        let p = write(&dir, "tabs.csv", "氏名\t歩数\n田中\t5000\n".as_bytes());
        let rows = read_all(&mut open(&p)).unwrap();
        assert_eq!(rows[1].1, vec!["田中", "5000"]);

        let p = write(&dir, "commas.txt", "氏名,歩数\n田中,5000\n".as_bytes());
        let rows = read_all(&mut open(&p)).unwrap();
        assert_eq!(rows[1].1, vec!["田中", "5000"]);
    }

    #[test]
    fn invalid_utf8_late_in_utf8_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = "氏名,歩数\n".as_bytes().to_vec();
        for i in 0..10_000 {
            bytes.extend_from_slice(format!("名前{i},{i}\n").as_bytes());
        }
        assert!(bytes.len() > 64 * 1024);
        bytes.extend_from_slice(b"\xFF\xFE,1\n");
        let p = write(&dir, "late.csv", &bytes);
        let mut book = open(&p);
        assert_eq!(book.encoding(), Some(Encoding::Utf8));
        let err = read_all(&mut book).unwrap_err().to_string();
        assert!(
            err.contains("10002行目に UTF-8 として読めない文字"),
            "{err}"
        );
        assert!(err.contains("--encoding cp932"), "{err}");
    }

    #[test]
    fn ascii_start_then_cp932_switches() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"id,steps,note\n".to_vec();
        for i in 0..8_000 {
            bytes.extend_from_slice(format!("{i},{},\n", i * 3).as_bytes());
        }
        assert!(bytes.len() > 64 * 1024);
        bytes.extend_from_slice(&sjis("8000,12,雨のため休み\n"));
        let p = write(&dir, "late.csv", &bytes);
        let mut book = open(&p);
        assert_eq!(book.encoding(), Some(Encoding::Utf8));
        let rows = read_all(&mut book).unwrap();
        assert_eq!(rows.len(), 8_002);
        assert_eq!(
            rows[8_001],
            (
                8_002,
                vec!["8000".into(), "12".into(), "雨のため休み".into()]
            )
        );
        assert_eq!(book.encoding(), Some(Encoding::Cp932));
    }

    #[test]
    fn empty_file_and_bom_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "empty.csv", b"");
        let mut book = open(&p);
        assert!(read_all(&mut book).unwrap().is_empty());
        let p = write(&dir, "bom.csv", b"\xEF\xBB\xBF");
        let mut book = open(&p);
        assert_eq!(book.encoding(), Some(Encoding::Utf8Bom));
        assert!(read_all(&mut book).unwrap().is_empty());
    }

    #[test]
    fn limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "many.csv", b"a\nb\nc\nd\n");
        let opts = ReadOptions {
            max_rows: 3,
            ..ReadOptions::default()
        };
        let mut book = Book::open(&p, &opts).unwrap();
        let err = read_all(&mut book).unwrap_err().to_string();
        assert!(err.contains("上限 3 行"), "{err}");

        let p = write(&dir, "wide.csv", b"a,b,c,,,,\na,b,c,d\n");
        let opts = ReadOptions {
            max_cols: 3,
            ..ReadOptions::default()
        };
        let mut book = Book::open(&p, &opts).unwrap();
        let err = read_all(&mut book).unwrap_err().to_string();
        assert!(err.contains("2行目に 4 列"), "{err}");
    }

    /// Excel shows an empty line as a row (a one-column sheet saved as CSV has them):
    /// rows after it keep Excel's numbers, and a bad byte is reported where it is.
    #[test]
    fn empty_lines_count_as_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = sjis("歩数\r\n\r\n\r\n\"一\r\n二\"\r\n\r\n8000\r\n9000");
        let p = write(&dir, "blank.csv", &bytes);
        let rows = read_all(&mut open(&p)).unwrap();
        let numbers: Vec<u32> = rows.iter().map(|r| r.0).collect();
        assert_eq!(numbers, vec![1, 4, 6, 7]);
        assert_eq!(rows[1].1, vec!["一\r\n二"]);
        // A bad CP932 byte in row 3, after two empty rows.
        bytes = sjis("氏名\n\n");
        bytes.extend_from_slice(b"\x81\x20\n");
        bytes.extend_from_slice(&sjis("田中\n"));
        let p = write(&dir, "bad.csv", &bytes);
        let err = read_all(&mut open(&p)).unwrap_err().to_string();
        assert!(err.contains("3行目に CP932"), "{err}");
    }

    /// An unclosed quote makes the rest of the file one record: refused once the record
    /// passes the limit, instead of being held whole in memory.
    #[test]
    fn a_record_longer_than_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("氏名,住所\n田中,\"東京都\n");
        let line = "鈴木,大阪府\n";
        while text.len() as u64 <= super::MAX_RECORD_BYTES + 200 * 1024 {
            text.push_str(line);
        }
        let p = write(&dir, "quote.csv", text.as_bytes());
        let err = read_all(&mut open(&p)).unwrap_err().to_string();
        assert!(
            err.contains("2行目から始まる行が長すぎます（1 行 1 MiB まで）"),
            "{err}"
        );
        assert!(err.contains("引用符"), "{err}");
        // The same file with the quote closed reads.
        let fixed = text.replacen("\"東京都", "東京都", 1);
        let p = write(&dir, "fixed.csv", fixed.as_bytes());
        assert!(read_all(&mut open(&p)).unwrap().len() > 1000);
    }

    #[test]
    fn cells_are_text_or_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", b"1,,  ,TRUE\n");
        let mut book = open(&p);
        let mut src = book.rows("s").unwrap();
        let mut row = Row::new();
        assert!(src.next_row(&mut row).unwrap());
        assert_eq!(row.get(0), CellRef::Text("1"));
        assert_eq!(row.get(1), CellRef::Empty);
        assert_eq!(row.get(2), CellRef::Text("  "));
        assert_eq!(row.get(3), CellRef::Text("TRUE"));
        assert!(!row.is_blank());
        assert!(!src.next_row(&mut row).unwrap());
    }

    #[test]
    fn wrong_sheet_missing_file_and_workbook_named_csv() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "steps.csv", b"a\n");
        let mut book = open(&p);
        let err = book.rows("Sheet1").err().unwrap().to_string();
        assert!(err.contains("シート「Sheet1」が見つかりません"), "{err}");
        assert!(err.contains("「steps」"), "{err}");

        let missing = dir.path().join("nope.csv");
        let err = Book::open(&missing, &ReadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("ファイルが見つかりません"), "{err}");

        let p = write(&dir, "book.csv", b"PK\x03\x04rest");
        let err = Book::open(&p, &ReadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("Excel ブックです"), "{err}");

        let p = write(&dir, "u16.txt", b"\xFF\xFEa\x00");
        let err = Book::open(&p, &ReadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("UTF-16"), "{err}");
    }

    #[test]
    fn reading_twice_and_rows_are_recycled() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("氏名,歩数\n");
        for i in 0..30_000 {
            text.push_str(&format!("名前{i},{i}\n"));
        }
        let p = write(&dir, "s.csv", text.as_bytes());
        let mut book = open(&p);
        assert_eq!(read_all(&mut book).unwrap().len(), 30_001);
        assert_eq!(read_all(&mut book).unwrap().len(), 30_001);

        // The caller's row goes back to the parser and is refilled: a buffer
        // handed in comes round again instead of a new one per row.
        let mut src = book.rows("s").unwrap();
        let mut row = Row::new();
        row.text.reserve(1 << 20);
        let marked = row.text.as_ptr();
        let (mut n, mut came_back) = (0, 0);
        while src.next_row(&mut row).unwrap() {
            n += 1;
            if row.text.as_ptr() == marked {
                came_back += 1;
                assert!(row.text.capacity() >= 1 << 20);
            }
        }
        assert_eq!(n, 30_001);
        assert!(came_back >= 2, "{came_back}");
    }

    /// How many holders the book's encoding has: the book, plus one per parsing thread
    /// still alive.
    fn encoding_holders(book: &Book) -> usize {
        match &book.inner {
            super::super::BookKind::Csv(c) => std::sync::Arc::strong_count(&c.encoding.0),
            super::super::BookKind::Workbook(_) => 0,
        }
    }

    #[test]
    fn the_parsing_thread_ends_with_its_rows() {
        // Found by fuzzing (LeakSanitizer): the thread was detached and could still be
        // running after its rows were dropped. Now dropping the rows waits for it,
        // whether they were read to the end, stopped early, or stopped at an error.
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("a,b\n");
        for i in 0..20_000 {
            text.push_str(&format!("{i},{i}\n"));
        }
        let p = write(&dir, "s.csv", text.as_bytes());
        let mut book = open(&p);
        assert_eq!(encoding_holders(&book), 1);
        for stop_after in [0, 1, 700, usize::MAX] {
            let mut src = book.rows("s").unwrap();
            let mut row = Row::new();
            let mut n = 0;
            while n < stop_after && src.next_row(&mut row).unwrap() {
                n += 1;
            }
            drop(src);
            assert_eq!(encoding_holders(&book), 1, "stopped after {stop_after}");
        }
    }

    #[test]
    fn reader_dropped_early_and_error_after_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("a,b\n");
        for i in 0..5_000 {
            text.push_str(&format!("{i},{i}\n"));
        }
        let p = write(&dir, "s.csv", text.as_bytes());
        let mut book = open(&p);
        {
            // Stop after a few rows: the parsing thread must not hang.
            let mut src = book.rows("s").unwrap();
            let mut row = Row::new();
            assert!(src.next_row(&mut row).unwrap());
        }
        // Every row before a bad one arrives, then the error, then it repeats.
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"\xFF,1\n");
        let p = write(&dir, "bad.csv", &bytes);
        let opts = ReadOptions {
            encoding: Some(Encoding::Utf8),
            ..ReadOptions::default()
        };
        let mut book = Book::open(&p, &opts).unwrap();
        let mut src = book.rows("bad").unwrap();
        let mut row = Row::new();
        let mut n = 0;
        let err = loop {
            match src.next_row(&mut row) {
                Ok(true) => n += 1,
                Ok(false) => panic!("end before the bad row"),
                Err(e) => break e.to_string(),
            }
        };
        assert_eq!(n, 5_001);
        assert!(err.contains("5002行目に UTF-8"), "{err}");
        let again = src.next_row(&mut row).unwrap_err().to_string();
        assert_eq!(again, err);
    }
}
