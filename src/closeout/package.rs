//! The return package (返還データ): every table of the database as a CSV file (UTF-8
//! with BOM so Excel opens it, CRLF), a README for the municipality, and
//! `manifest.json` with each file's record count and SHA-256, in one zip. Generic over
//! the schema: every table in `sqlite_master` (SQLite's own excepted) in name order, rows
//! in rowid / primary-key order, so tables added later are covered without code here.
//! Entries are written in a fixed order with a fixed time; with a password every entry
//! is AES-256 encrypted (WinZip AE-2, readable by 7-Zip; AES uses a random salt, so an
//! encrypted package is not byte-identical from run to run, the plain one is).

use crate::output::{neutralize, sha256_hex};
use anyhow::{bail, Context, Result};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

#[cfg(test)]
use crate::db::closeout::counts;
use crate::db::closeout::{self as store, tables, Table};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};
use std::path::Path;

pub const FORMAT: &str = "stepcard-return-package/1";
pub const MANIFEST: &str = "manifest.json";
pub const README: &str = "README.txt";

/// The program as the package, record and certificate name it (no personal data).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProgramSummary {
    pub name: String,
    pub municipality: String,
    pub department: String,
    pub contractor: String,
    /// The contractor's address and representative (certificate); empty when the
    /// program file has none, and then left out of the JSON.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contractor_address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contractor_representative: String,
    pub contract_no: String,
    pub start: String,
    pub end: String,
}

impl ProgramSummary {
    pub fn of(p: &crate::program::Program) -> ProgramSummary {
        ProgramSummary {
            name: p.program.name.clone(),
            municipality: p.program.municipality.clone(),
            department: p.program.department.clone(),
            contractor: p.program.contractor.clone(),
            contractor_address: p.program.contractor_address.clone(),
            contractor_representative: p.program.contractor_representative.clone(),
            contract_no: p.program.contract_no.clone(),
            start: p.program.start.to_string(),
            end: p.program.end.to_string(),
        }
    }
}

/// The audit log as it stood when the package was made: its last entry is the
/// close-out's own, and the package's `audit_log.csv` ends with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditHead {
    pub entries: i64,
    pub head: String,
}

/// One file of the package.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestFile {
    pub name: String,
    /// The table the file holds (none for the README).
    pub table: Option<String>,
    /// The data category in Japanese (登録者名簿, 歩数記録, …).
    pub category: String,
    /// Data rows (the header row not counted); none for the README.
    pub records: Option<u64>,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub program: ProgramSummary,
    pub created_at: String,
    pub schema_version: i64,
    pub audit: AuditHead,
    /// none / AES-256
    pub encryption: String,
    pub csv: CsvRules,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CsvRules {
    pub encoding: String,
    pub newline: String,
    pub header: String,
    pub null: String,
    pub formula_guard: String,
    pub blob: String,
}

impl CsvRules {
    fn current() -> CsvRules {
        CsvRules {
            encoding: "UTF-8 (BOM)".into(),
            newline: "CRLF".into(),
            header: "first row: column names as in the database".into(),
            null: "empty field".into(),
            formula_guard: "text beginning with = + - @ TAB or CR is written with a leading ' so a spreadsheet does not run it"
                .into(),
            blob: "hexadecimal".into(),
        }
    }
}

/// The Japanese name of a table's data, for the manifest and the certificate. Tables
/// not listed here (added by a later version) are named by their table name.
pub fn category(table: &str) -> String {
    let ja = match table {
        "participants" => "登録者名簿",
        "participant_history" => "登録者名簿の変更履歴",
        "steps" => "歩数記録",
        "steps_history" => "歩数記録の変更履歴",
        "batches" => "取込み記録",
        "rejected_rows" => "保管中の誤り行（入力原票の写し）",
        "problems" => "取込み時の誤り一覧",
        "audit_log" => "監査ログ（操作記録）",
        "exports" => "書出し記録",
        "meta" => "事業の設定（プログラムファイル）",
        "orders" => "景品申込み",
        "shipments" => "発送記録",
        "mailings" => "参加案内の発送記録",
        "guidance_mailed" => "参加案内の送付先（参加者別）",
        "survey_answers" => "アンケート回答",
        "card_mailings" => "記録台紙の送付記録",
        "cards_sent" => "記録台紙の送付先（参加者別）",
        "verify_runs" => "ベリファイの記録（入力者・件数）",
        "verify_discrepancies" => "ベリファイの不一致と誤りの側",
        "keying_refusals" => "入力者別の取込みの誤り件数",
        _ => return table.to_string(),
    };
    ja.to_string()
}

/// `返還データ_R7-健-0123.zip`: a name that is safe on Windows whatever the contract
/// number holds.
pub fn file_stem_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\\' | '/' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect::<String>()
        .trim()
        .trim_end_matches('.')
        .to_string()
}

/// The package password from its file: the first line, without its line end. An empty
/// one is refused (a package "encrypted" with nothing is not protected).
pub fn read_password(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{}: パスワードファイルを読めません。場所と名前を確かめてください (cannot read the password file)",
            path.display()
        )
    })?;
    let first = text.lines().next().unwrap_or("");
    let pw = first.trim_end_matches(['\r', '\n']);
    if pw.trim().is_empty() {
        return Err(crate::usage(format!(
            "{}: パスワードファイルが空です。1 行目にパスワードを書いてください (the password file is empty)",
            path.display()
        )));
    }
    Ok(pw.to_string())
}

/// One table as CSV (BOM, CRLF, formula-guarded text) written to `out` as it is read
/// from the database; its row count.
fn write_table_csv<W: Write>(conn: &Connection, t: &Table, mut out: W) -> Result<u64> {
    let mut n = 0u64;
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .buffer_capacity(1 << 16)
        .from_writer(out);
    w.write_record(t.columns.iter().map(|c| neutralize(c).into_owned()))?;
    let mut field = String::new();
    store::for_each_row(conn, t, |r| {
        for i in 0..t.columns.len() {
            field.clear();
            match r.get_ref(i)? {
                ValueRef::Null => {}
                ValueRef::Integer(v) => {
                    use std::fmt::Write as _;
                    let _ = write!(field, "{v}");
                }
                ValueRef::Real(v) => field.push_str(&v.to_string()),
                ValueRef::Text(b) => field.push_str(&neutralize(&String::from_utf8_lossy(b))),
                ValueRef::Blob(b) => field.push_str(&crate::output::hex(b)),
            }
            w.write_field(field.as_bytes())?;
        }
        w.write_record(None::<&[u8]>)?;
        n += 1;
        Ok(())
    })?;
    w.flush()?;
    Ok(n)
}

/// One table as CSV bytes, and its row count.
#[cfg(test)]
fn table_csv(conn: &Connection, t: &Table) -> Result<(Vec<u8>, u64)> {
    let mut buf = Vec::new();
    let n = write_table_csv(conn, t, &mut buf)?;
    Ok((buf, n))
}

/// A writer that hashes and counts what passes through it.
pub struct Hashing<W> {
    inner: W,
    hash: sha2::Sha256,
    bytes: u64,
}

impl<W> Hashing<W> {
    pub fn new(inner: W) -> Self {
        use sha2::Digest;
        Hashing {
            inner,
            hash: sha2::Sha256::new(),
            bytes: 0,
        }
    }
    /// The inner writer, the SHA-256 (hex) and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        use sha2::Digest;
        let h = self.hash.finalize();
        (self.inner, crate::output::hex(&h), self.bytes)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn readme(manifest: &Manifest) -> String {
    let p = &manifest.program;
    let mut s = String::from("\u{FEFF}");
    s.push_str("返還データ（stepcard）\r\n\r\n");
    s.push_str(&format!("事業名: {}\r\n", p.name));
    s.push_str(&format!("委託元: {} {}\r\n", p.municipality, p.department));
    s.push_str(&format!("受託者: {}\r\n", p.contractor));
    s.push_str(&format!("契約番号: {}\r\n", p.contract_no));
    s.push_str(&format!("事業期間: {} 〜 {}\r\n", p.start, p.end));
    s.push_str(&format!("作成日時: {}\r\n\r\n", manifest.created_at));
    s.push_str(
        "この zip には、上記の事業で受託者が stepcard に保管していたデータのすべてが、\
         テーブルごとの CSV ファイルとして入っています。\r\n\
         - 文字コードは UTF-8（BOM 付き）、改行は CRLF です。Excel でそのまま開けます。\r\n\
         - 1 行目は列名（データベースの列名）です。空欄は値がないことを表します。\r\n\
         - 表計算ソフトで数式として実行されないよう、= + - @ タブ 改行 で始まる文字列には先頭に ' を付けています。\r\n\
         - manifest.json に各ファイルの件数と SHA-256 を記載しています。消去記録（JSON）と照合できます:\r\n\
         \x20   stepcard close-out --verify 消去記録.json --package 返還データ.zip\r\n\
         - audit_log.csv（監査ログ）の最後の行のハッシュは、消去証明書に記載した「監査ログ最終ハッシュ」と一致します。\r\n\r\n\
         ファイル一覧（件数）:\r\n",
    );
    for f in manifest.files.iter().filter(|f| f.table.is_some()) {
        s.push_str(&format!(
            "  {:<28} {}  {} 件\r\n",
            f.name,
            f.category,
            f.records.unwrap_or(0)
        ));
    }
    s
}

/// The fixed time of every entry: the program's last day (a zip cannot hold a date
/// before 1980 or after 2107; such a program gets 1980-01-01).
fn entry_time(end: &str) -> zip::DateTime {
    use chrono::Datelike;
    chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d")
        .ok()
        .and_then(|d| {
            zip::DateTime::from_date_and_time(
                u16::try_from(d.year()).ok()?,
                d.month() as u8,
                d.day() as u8,
                0,
                0,
                0,
            )
            .ok()
        })
        .unwrap_or(zip::DateTime::DEFAULT)
}

/// Tables with more rows than this are written with zip64 sizes, so that an entry of
/// more than 4 GiB (10⁶ participants' steps) can be written without seeking back.
const LARGE_ROWS: u64 = 4_000_000;

/// Write the package to `out` as it is built, never holding a table: each table's CSV
/// goes straight into its zip entry while being hashed for the manifest. The zip is
/// written as a stream (each entry's sizes and CRC after its data), so `out` is never
/// sought and can hash the whole file on the way.
pub fn build_into<W: Write>(
    conn: &Connection,
    program: ProgramSummary,
    created_at: &str,
    audit: AuditHead,
    password: Option<&str>,
    out: W,
) -> Result<(W, Manifest)> {
    use zip::write::SimpleFileOptions;
    let base = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(entry_time(&program.end))
        .system(zip::System::Unix)
        .unix_permissions(0o600);
    let opts = match password {
        Some(pw) => base.with_aes_encryption(zip::AesMode::Aes256, pw),
        None => base,
    };
    let rows = store::counts(conn)?;
    let mut zw = zip::ZipWriter::new_stream(out);
    let mut manifest = Manifest {
        format: FORMAT.into(),
        program,
        created_at: created_at.into(),
        schema_version: crate::db::schema_version(),
        audit,
        encryption: if password.is_some() {
            "AES-256"
        } else {
            "none"
        }
        .into(),
        csv: CsvRules::current(),
        files: Vec::new(),
    };
    for t in tables(conn)? {
        let name = format!("{}.csv", t.name);
        let large = rows.iter().any(|(n, c)| *n == t.name && *c > LARGE_ROWS);
        zw.start_file(name.as_str(), opts.large_file(large))?;
        let mut h = Hashing::new(&mut zw);
        let records = write_table_csv(conn, &t, &mut h)?;
        let (_, sha256, bytes) = h.finish();
        manifest.files.push(ManifestFile {
            name,
            category: category(&t.name),
            table: Some(t.name),
            records: Some(records),
            bytes,
            sha256,
        });
    }
    let text = readme(&manifest);
    zw.start_file(README, opts)?;
    zw.write_all(text.as_bytes())?;
    manifest.files.push(ManifestFile {
        name: README.into(),
        table: None,
        category: "説明".into(),
        records: None,
        bytes: text.len() as u64,
        sha256: sha256_hex(text.as_bytes()),
    });
    let json = serde_json::to_vec_pretty(&manifest)?;
    zw.start_file(MANIFEST, opts)?;
    zw.write_all(&json)?;
    let out = zw.finish()?.into_inner();
    Ok((out, manifest))
}

/// Build the package in memory: the zip bytes and its manifest (tests only).
#[cfg(test)]
pub fn build(
    conn: &Connection,
    program: ProgramSummary,
    created_at: &str,
    audit: AuditHead,
    password: Option<&str>,
) -> Result<(Vec<u8>, Manifest)> {
    build_into(conn, program, created_at, audit, password, Vec::new())
}

/// Write the package to `path` (owner-only, through a temporary file renamed into
/// place once synced), hashing it on the way: its record and manifest. Memory stays
/// flat whatever the size of the database.
pub fn write(
    path: &Path,
    conn: &Connection,
    program: ProgramSummary,
    created_at: &str,
    audit: AuditHead,
    password: Option<&str>,
) -> Result<(crate::output::FileRecord, Manifest)> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let res = (|| -> Result<(String, u64, Manifest)> {
        let f = crate::output::create_private(&tmp)?;
        let w = Hashing::new(std::io::BufWriter::with_capacity(1 << 16, f));
        let (w, manifest) = build_into(conn, program, created_at, audit, password, w)?;
        let (buf, sha256, bytes) = w.finish();
        let f = buf.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok((sha256, bytes, manifest))
    })();
    match res {
        Ok((sha256, bytes, manifest)) => Ok((
            crate::output::FileRecord {
                path: std::path::absolute(path)
                    .unwrap_or_else(|_| path.to_path_buf())
                    .display()
                    .to_string(),
                sha256,
                bytes,
            },
            manifest,
        )),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.context(format!("{}: 書き込めません (cannot write)", path.display())))
        }
    }
}

/// One entry as read back.
#[derive(Debug, Clone)]
pub struct EntryRead {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    /// CSV data rows, counted by parsing the file (not trusted from the manifest).
    pub records: Option<u64>,
    /// A CSV that could not be parsed, and why.
    pub unreadable: Option<String>,
}

/// A package as read back from disk.
#[derive(Debug, Clone)]
pub struct PackageRead {
    pub sha256: String,
    pub bytes: u64,
    pub encrypted: bool,
    pub entries: Vec<EntryRead>,
    pub manifest: Option<Manifest>,
    /// The bytes of the entries asked for (by name).
    pub kept: Vec<(String, Vec<u8>)>,
}

fn zip_error(path: &Path, e: zip::result::ZipError) -> anyhow::Error {
    match e {
        zip::result::ZipError::InvalidPassword => anyhow::anyhow!(
            "{}: パスワードが違います。返還データを作ったときのパスワードファイルを --package-password-file に指定してください \
             (wrong password for the package)",
            path.display()
        ),
        zip::result::ZipError::UnsupportedArchive(m) if m.contains("assword") => anyhow::anyhow!(
            "{}: 返還データは暗号化されています。作ったときのパスワードファイルを --package-password-file に指定してください \
             (the package is encrypted; give --package-password-file)",
            path.display()
        ),
        e => anyhow::anyhow!(
            "{}: 返還データ（zip）を読めません: {e} (cannot read the package)",
            path.display()
        ),
    }
}

fn open_entry<'a, R: Read + Seek>(
    ar: &'a mut zip::ZipArchive<R>,
    i: usize,
    password: Option<&str>,
) -> zip::result::ZipResult<zip::read::ZipFile<'a, R>> {
    match password {
        Some(pw) => ar.by_index_decrypt(i, pw.as_bytes()),
        None => ar.by_index(i),
    }
}

/// Rows of a CSV entry (BOM stripped): header and data rows.
pub fn parse_csv(bytes: &[u8]) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let headers = r.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        rows.push(rec?.iter().map(str::to_string).collect());
    }
    Ok((headers, rows))
}

/// Data rows of a CSV read from `r` (a leading BOM skipped).
fn count_csv<R: Read>(r: R) -> Result<u64> {
    let mut r = std::io::BufReader::with_capacity(1 << 16, r);
    {
        use std::io::BufRead;
        let head = r.fill_buf()?;
        if head.starts_with(b"\xEF\xBB\xBF") {
            r.consume(3);
        }
    }
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(r);
    let mut rec = csv::ByteRecord::new();
    let mut n = 0u64;
    while r.read_byte_record(&mut rec)? {
        n += 1;
    }
    Ok(n)
}

/// Read a package back: every entry decompressed (decrypted with the password), hashed
/// and, for CSV files, its rows counted; the manifest parsed.
pub fn read(path: &Path, password: Option<&str>, keep: &[&str]) -> Result<PackageRead> {
    let (sha256, bytes) = crate::output::sha256_file(path)?;
    let f = std::fs::File::open(path).with_context(|| {
        format!(
            "{}: 返還データを開けません (cannot open the package)",
            path.display()
        )
    })?;
    let mut ar =
        zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| zip_error(path, e))?;
    let mut encrypted = false;
    let mut entries = Vec::new();
    let mut manifest = None;
    let mut kept = Vec::new();
    for i in 0..ar.len() {
        let is_enc = ar
            .by_index_raw(i)
            .map_err(|e| zip_error(path, e))?
            .encrypted();
        encrypted |= is_enc;
        let pw = if is_enc {
            match password {
                Some(p) => Some(p),
                None => {
                    return Err(zip_error(
                        path,
                        zip::result::ZipError::UnsupportedArchive(
                            "Password required to decrypt file",
                        ),
                    ))
                }
            }
        } else {
            None
        };
        let mut e = open_entry(&mut ar, i, pw).map_err(|e| zip_error(path, e))?;
        let name = e.name().map_err(|e| zip_error(path, e))?.to_string();
        let damaged = |err: std::io::Error| {
            anyhow::anyhow!(
                "{}: 返還データの {name} を読めません: {err} (cannot read this entry; the file is damaged or the password is wrong)",
                path.display()
            )
        };
        // Entries are read as a stream: hashed and (CSV) counted on the way; only the
        // manifest and the entries asked for are held.
        let hold = name == MANIFEST || keep.contains(&name.as_str());
        let mut data = Vec::new();
        let mut h = Hashing::new(&mut e);
        let (records, unreadable) = if hold {
            h.read_to_end(&mut data).map_err(damaged)?;
            if name.ends_with(".csv") {
                match count_csv(data.as_slice()) {
                    Ok(n) => (Some(n), None),
                    Err(err) => (None, Some(err.to_string())),
                }
            } else {
                (None, None)
            }
        } else if name.ends_with(".csv") {
            let counted = count_csv(&mut h);
            // Whatever the parse stopped at, the rest is still hashed (and a damaged
            // entry still refused).
            std::io::copy(&mut h, &mut std::io::sink()).map_err(damaged)?;
            match counted {
                Ok(n) => (Some(n), None),
                Err(err) => match err.downcast::<csv::Error>() {
                    Ok(c) if !matches!(c.kind(), csv::ErrorKind::Io(_)) => {
                        (None, Some(c.to_string()))
                    }
                    Ok(c) => match c.into_kind() {
                        csv::ErrorKind::Io(io) => return Err(damaged(io)),
                        _ => unreachable!("matched as Io"),
                    },
                    Err(other) => match other.downcast::<std::io::Error>() {
                        Ok(io) => return Err(damaged(io)),
                        Err(other) => (None, Some(other.to_string())),
                    },
                },
            }
        } else {
            std::io::copy(&mut h, &mut std::io::sink()).map_err(damaged)?;
            (None, None)
        };
        let (_, sha, n) = h.finish();
        drop(e);
        if name == MANIFEST {
            manifest = Some(serde_json::from_slice::<Manifest>(&data).with_context(|| {
                format!(
                    "{}: manifest.json を読めません (the manifest is damaged)",
                    path.display()
                )
            })?);
        }
        if keep.contains(&name.as_str()) {
            kept.push((name.clone(), data));
        }
        entries.push(EntryRead {
            sha256: sha,
            bytes: n,
            name,
            records,
            unreadable,
        });
    }
    Ok(PackageRead {
        sha256,
        bytes,
        encrypted,
        entries,
        manifest,
        kept,
    })
}

/// Stream one CSV entry of a package to `f` (decrypted with the password, its BOM
/// skipped), never holding it: the entry is hashed on the way (what `f` leaves unread
/// too) and must be what the manifest says, `sha256`, or the read is refused.
pub fn stream_csv_entry(
    path: &Path,
    password: Option<&str>,
    name: &str,
    sha256: &str,
    f: impl FnOnce(&mut dyn Read) -> Result<()>,
) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| {
        format!(
            "{}: 返還データを開けません (cannot open the package)",
            path.display()
        )
    })?;
    let mut ar =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| zip_error(path, e))?;
    let i = ar.index_for_name(name).with_context(|| {
        format!(
            "{}: 返還データに {name} がありません (the entry is missing from the package)",
            path.display()
        )
    })?;
    let encrypted = ar
        .by_index_raw(i)
        .map_err(|e| zip_error(path, e))?
        .encrypted();
    let e =
        open_entry(&mut ar, i, password.filter(|_| encrypted)).map_err(|e| zip_error(path, e))?;
    let mut h = Hashing::new(e);
    let res = {
        let mut r = std::io::BufReader::with_capacity(1 << 16, &mut h);
        {
            use std::io::BufRead;
            let head = r.fill_buf()?;
            if head.starts_with(b"\xEF\xBB\xBF") {
                r.consume(3);
            }
        }
        let res = f(&mut r);
        res.and_then(|()| Ok(std::io::copy(&mut r, &mut std::io::sink()).map(|_| ())?))
    };
    let (_, sha, _) = h.finish();
    if sha != sha256 {
        bail!(
            "{}: 返還データの {name} が作成時と違います（SHA-256 {sha}、作成時 {sha256}）。返還データを作成時のものに戻してから、\
             もう一度実行してください (the entry differs from the package as written)",
            path.display()
        );
    }
    res.with_context(|| {
        format!(
            "{}: 返還データの {name} を読めません (cannot read this entry)",
            path.display()
        )
    })
}

/// Every way the package read back differs from the files listed (a record's list, or
/// the manifest as built): missing, extra, different hash, size or record count. Empty
/// when they agree. Messages in Japanese with an English gloss, naming the entry.
pub fn differences(expected: &[ManifestFile], read: &PackageRead) -> Vec<String> {
    let mut out = Vec::new();
    for f in expected {
        let Some(e) = read.entries.iter().find(|e| e.name == f.name) else {
            out.push(format!(
                "{}: 返還データにありません (missing from the package)",
                f.name
            ));
            continue;
        };
        if e.sha256 != f.sha256 {
            out.push(format!(
                "{}: SHA-256 が違います（記録 {}、返還データ {}）(hash differs)",
                f.name, f.sha256, e.sha256
            ));
        }
        if e.bytes != f.bytes {
            out.push(format!(
                "{}: 大きさが違います（記録 {} バイト、返還データ {} バイト）(size differs)",
                f.name, f.bytes, e.bytes
            ));
        }
        if let Some(why) = &e.unreadable {
            out.push(format!(
                "{}: CSV として読めません: {why} (not readable as CSV)",
                f.name
            ));
        } else if f.records.is_some() && e.records != f.records {
            out.push(format!(
                "{}: 件数が違います（記録 {} 件、返還データ {} 件）(record count differs)",
                f.name,
                f.records.unwrap_or(0),
                e.records.unwrap_or(0)
            ));
        }
    }
    for e in &read.entries {
        if e.name != MANIFEST && !expected.iter().any(|f| f.name == e.name) {
            out.push(format!(
                "{}: 記録にないファイルが返還データに入っています (an entry not in the record)",
                e.name
            ));
        }
    }
    match &read.manifest {
        None => out.push(format!("{MANIFEST}: 返還データにありません (missing from the package)")),
        Some(m) if m.files != expected => out.push(format!(
            "{MANIFEST}: 中のファイル一覧が記録と違います (the manifest inside the package differs from the record)"
        )),
        Some(_) => {}
    }
    out
}

/// The order entries must have: tables by name, then the README, then the manifest.
pub fn entry_order_problems(read: &PackageRead, expected: &[ManifestFile]) -> Option<String> {
    let got: Vec<&str> = read.entries.iter().map(|e| e.name.as_str()).collect();
    let mut want: Vec<&str> = expected.iter().map(|f| f.name.as_str()).collect();
    want.push(MANIFEST);
    (got != want).then(|| {
        format!(
            "返還データの並び順が違います（{}）(entry order differs)",
            got.join(", ")
        )
    })
}

/// Check the written package before anything is erased: re-read from disk, every entry
/// against the manifest as built, the manifest inside against it, the record counts
/// against the database's, the order of entries, and the whole file's hash.
pub fn check_written(
    path: &Path,
    password: Option<&str>,
    built: &Manifest,
    sha256: &str,
    db_counts: &[(String, u64)],
    keep: &[&str],
) -> Result<PackageRead> {
    let read = read(path, password, keep)?;
    let mut problems = differences(&built.files, &read);
    if let Some(m) = &read.manifest {
        if m != built {
            problems.push(format!(
                "{MANIFEST}: 書いた内容と違います (the manifest differs from the one written)"
            ));
        }
    }
    if let Some(p) = entry_order_problems(&read, &built.files) {
        problems.push(p);
    }
    if read.sha256 != sha256 {
        problems.push(format!(
            "返還データのファイル全体の SHA-256 が書いたものと違います ({} / {}) (the file on disk differs)",
            read.sha256, sha256
        ));
    }
    if password.is_some() != read.encrypted {
        problems
            .push("暗号化の有無が指定と違います (encryption differs from what was asked)".into());
    }
    for (table, n) in db_counts {
        let name = format!("{table}.csv");
        match built.files.iter().find(|f| f.name == name) {
            Some(f) if f.records == Some(*n) => {}
            Some(f) => problems.push(format!(
                "{name}: データベースは {n} 件、返還データは {} 件です (count differs from the database)",
                f.records.unwrap_or(0)
            )),
            None => problems.push(format!(
                "{name}: テーブル {table} が返還データにありません (table missing from the package)"
            )),
        }
    }
    if !problems.is_empty() {
        bail!(
            "{}: 返還データを読み直したところ、内容が一致しません。何も消去していません (the package does not check out; nothing was erased):\n  {}",
            path.display(),
            problems.join("\n  ")
        );
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE b(id INTEGER PRIMARY KEY, t TEXT, r REAL, x BLOB);
             CREATE TABLE a(k TEXT, n INTEGER, PRIMARY KEY(n, k)) WITHOUT ROWID;
             INSERT INTO b VALUES (2, '=SUM(A1)', 1.5, x'00ff'), (1, '山田 太郎', NULL, NULL);
             INSERT INTO a VALUES ('z', 2), ('y', 1), ('x', 2);",
        )
        .unwrap();
        c
    }

    fn summary() -> ProgramSummary {
        ProgramSummary {
            name: "p".into(),
            municipality: "m".into(),
            department: "d".into(),
            contractor: "c".into(),
            contractor_address: String::new(),
            contractor_representative: String::new(),
            contract_no: "R7-1".into(),
            start: "2025-05-14".into(),
            end: "2026-03-31".into(),
        }
    }

    #[test]
    fn tables_in_name_order_rows_in_key_order() {
        let c = db();
        let t = tables(&c).unwrap();
        assert_eq!(
            t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(t[0].order_by, "\"n\", \"k\"");
        let (csv, n) = table_csv(&c, &t[0]).unwrap();
        assert_eq!(n, 3);
        assert_eq!(csv, b"\xEF\xBB\xBFk,n\r\ny,1\r\nx,2\r\nz,2\r\n");
        let (csv, _) = table_csv(&c, &t[1]).unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(
            text,
            "\u{FEFF}id,t,r,x\r\n1,山田 太郎,,\r\n2,'=SUM(A1),1.5,00ff\r\n"
        );
    }

    #[test]
    fn package_is_deterministic_and_checks_out() {
        let c = db();
        let audit = AuditHead {
            entries: 3,
            head: "ab".repeat(32),
        };
        let (z1, m1) = build(
            &c,
            summary(),
            "2026-03-31T10:00:00+09:00",
            audit.clone(),
            None,
        )
        .unwrap();
        let (z2, _) = build(&c, summary(), "2026-03-31T10:00:00+09:00", audit, None).unwrap();
        assert_eq!(z1, z2, "same database, same time: same bytes");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.zip");
        std::fs::write(&p, &z1).unwrap();
        let counts = counts(&c).unwrap();
        check_written(&p, None, &m1, &sha256_hex(&z1), &counts, &[]).unwrap();
        let names: Vec<_> = m1.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.csv", "b.csv", "README.txt"]);
        let mut ar = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
        let e = ar.by_index(0).unwrap();
        let t = e.last_modified().unwrap();
        assert_eq!((t.year(), t.month(), t.day(), t.hour()), (2026, 3, 31, 0));
    }

    #[test]
    fn package_streamed_to_its_file_is_hashed_on_the_way() {
        let c = db();
        let audit = AuditHead {
            entries: 3,
            head: "ab".repeat(32),
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.zip");
        for pw in [None, Some("秘密")] {
            let (rec, m) = write(&p, &c, summary(), "t", audit.clone(), pw).unwrap();
            let (sha, bytes) = crate::output::sha256_file(&p).unwrap();
            assert_eq!((rec.sha256.as_str(), rec.bytes), (sha.as_str(), bytes));
            let read =
                check_written(&p, pw, &m, &rec.sha256, &counts(&c).unwrap(), &["b.csv"]).unwrap();
            let (_, rows) = parse_csv(&read.kept[0].1).unwrap();
            assert_eq!(rows.len(), 2);
            assert_eq!(read.entries[0].records, Some(3));
        }
        // No temporary file is left beside the package.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn encrypted_package_needs_its_password() {
        let c = db();
        let audit = AuditHead {
            entries: 1,
            head: "00".repeat(32),
        };
        let (z, m) = build(&c, summary(), "t", audit, Some("秘密のパスワード")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.zip");
        std::fs::write(&p, &z).unwrap();
        let counts = counts(&c).unwrap();
        check_written(
            &p,
            Some("秘密のパスワード"),
            &m,
            &sha256_hex(&z),
            &counts,
            &[],
        )
        .unwrap();
        let err = read(&p, None, &[]).unwrap_err().to_string();
        assert!(err.contains("暗号化されています"), "{err}");
        let err = read(&p, Some("違う"), &[]).unwrap_err().to_string();
        assert!(err.contains("パスワードが違います"), "{err}");
    }

    #[test]
    fn differences_name_the_entry() {
        let c = db();
        let audit = AuditHead {
            entries: 1,
            head: "00".repeat(32),
        };
        let (z, m) = build(&c, summary(), "t", audit, None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.zip");
        std::fs::write(&p, &z).unwrap();
        let r = read(&p, None, &[]).unwrap();
        assert!(differences(&m.files, &r).is_empty());
        let mut changed = m.files.clone();
        changed[1].sha256 = "0".repeat(64);
        changed[0].records = Some(9);
        let d = differences(&changed, &r);
        assert!(d.iter().any(|s| s.starts_with("b.csv: SHA-256")), "{d:?}");
        assert!(d.iter().any(|s| s.starts_with("a.csv: 件数")), "{d:?}");
    }

    #[test]
    fn password_file_rules() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "abc def\r\n").unwrap();
        assert_eq!(read_password(&p).unwrap(), "abc def");
        std::fs::write(&p, "\n").unwrap();
        assert!(read_password(&p).is_err());
        assert_eq!(file_stem_safe("R7/健:01?"), "R7_健_01_");
    }
}
