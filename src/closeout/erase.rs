//! Cryptographic erase first: the key slots (`stepcard.db.keys`, which wrap the
//! database's SQLCipher key) are overwritten and removed, so every copy of the encrypted
//! database anywhere (free blocks, an old WAL, a journal, a backup) is unreadable.
//! Then, as before, erasure at the application level: the database's rows deleted in one transaction with
//! `secure_delete=ON` (SQLite overwrites deleted content with zeros), the WAL
//! checkpointed and truncated, the file vacuumed, the database file checked for the
//! values it held, then every file of the database overwritten with zeros and removed;
//! the exports the tool recorded likewise where asked. This is logical erasure, not
//! media sanitization (NIST SP 800-88): what the file system or the disk keeps of
//! earlier blocks (free space, journals, SSD wear levelling, snapshots, backups) is out
//! of its reach, and the certificate says so.

use super::scan::Search;
pub use super::state::sync_dir;
use super::state::{DbCheck, ErasedFile, ExportFile};
use crate::db::closeout as store;
use anyhow::{bail, Context, Result};
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The database and the files SQLite keeps beside it, with their Japanese names.
pub fn db_files(db: &Path) -> Vec<(PathBuf, &'static str)> {
    let with = |suffix: &str| {
        let mut n = db.file_name().unwrap_or_default().to_os_string();
        n.push(suffix);
        db.with_file_name(n)
    };
    vec![
        (db.to_path_buf(), "データベース本体"),
        (with("-wal"), "WAL（先行書込みログ）"),
        (with("-shm"), "共有メモリ索引"),
        (with("-journal"), "ロールバックジャーナル"),
    ]
}

fn abs(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Size and SHA-256 of each database file that exists, taken before erasure (with no
/// connection open, so the files are at rest).
pub fn hash_db_files(db: &Path) -> Result<Vec<ErasedFile>> {
    let mut out = Vec::new();
    for (p, role) in db_files(db) {
        if p.exists() {
            let (sha256, bytes) = crate::output::sha256_file(&p)?;
            out.push(ErasedFile {
                path: abs(&p),
                role: role.into(),
                bytes,
                sha256,
                status: "pending".into(),
            });
        }
    }
    Ok(out)
}

/// Overwrite a file's bytes with zeros, sync, and remove it. Returns the size.
pub fn overwrite_and_remove(path: &Path) -> Result<u64> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("{}: 消去できません (cannot erase)", path.display()))?
        .len();
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        let zeros = vec![0u8; 1 << 16];
        let mut left = len;
        while left > 0 {
            let k = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..k])?;
            left -= k as u64;
        }
        f.sync_all()?;
        drop(f);
        std::fs::remove_file(path)
    })();
    res.with_context(|| {
        format!(
            "{}: 消去できません。ファイルが開かれていないか、書込み権限があるかを確かめてください (cannot erase)",
            path.display()
        )
    })?;
    sync_dir(path);
    Ok(len)
}

/// The key slots as they stand just before erasure (kept in the close-out state, so a
/// run resumed after they are gone still knows what it destroyed).
pub fn key_file_info(db: &Path) -> Result<Option<super::state::KeysErased>> {
    let p = crate::keys::path_for(db);
    if !p.exists() {
        return Ok(None);
    }
    let (sha256, bytes) = crate::output::sha256_file(&p)?;
    let slots = crate::keys::load(db)?.map(|k| k.slots.len()).unwrap_or(0) as u64;
    Ok(Some(super::state::KeysErased {
        path: abs(&p),
        bytes,
        sha256,
        slots,
        database_encrypted: db.exists() && !crate::db::is_plaintext(db),
        status: "pending".into(),
    }))
}

/// Destroy the database key: overwrite the key slots' file, sync it, remove it, sync
/// its folder. Idempotent (a resumed run finds it gone).
pub fn destroy_keys(db: &Path, keys: &mut Option<super::state::KeysErased>) -> Result<()> {
    let p = crate::keys::path_for(db);
    if p.exists() {
        overwrite_and_remove(&p)?;
    }
    if let Some(k) = keys.as_mut() {
        k.status = "erased".into();
    }
    Ok(())
}

/// Erase a plain database's files as the close-out does (rows deleted with
/// `secure_delete`, WAL truncated, VACUUM, then every file overwritten and removed):
/// `stepcard encrypt` uses it on the old file once the encrypted copy is verified.
pub fn erase_plain_database(db: &Path) -> Result<Vec<ErasedFile>> {
    let mut files = hash_db_files(db)?;
    store::erase_rows(db)?;
    remove_db_files(db, &mut files)?;
    Ok(files)
}

/// Overwrite and remove every file of the database (main, `-wal`, `-shm`, `-journal`),
/// marking each one's entry in `files` erased.
fn remove_db_files(db: &Path, files: &mut [ErasedFile]) -> Result<()> {
    for (p, _) in db_files(db) {
        if p.exists() {
            overwrite_and_remove(&p)?;
        }
        let ap = abs(&p);
        if let Some(f) = files.iter_mut().find(|f| f.path == ap) {
            f.status = "erased".into();
        }
    }
    Ok(())
}

/// Erase the database: logical erasure, then a scan of the remaining database files for
/// the values they held (it must find none: the proof that erasure happened inside the
/// file, not only by removing it), then overwrite and remove every file of it.
pub fn erase_database(db: &Path, search: &Search, files: &mut [ErasedFile]) -> Result<DbCheck> {
    let mut check = DbCheck::default();
    if db.exists() && crate::db::is_plaintext(db) {
        // A plain database (the tests' switch) is erased row by row first. An
        // encrypted one is not: its key is already destroyed, so nothing in it can be
        // read by anyone, the tool included.
        let opened = store::erase_rows(db);
        if let Err(e) = opened {
            // A database already overwritten by an interrupted run no longer opens: it
            // holds nothing, and the in-file check below confirms it.
            if store::still_opens(db) {
                return Err(e);
            }
        }
    }
    if db.exists() {
        super::state::fault("erasing");
    }
    let present: Vec<PathBuf> = db_files(db)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.exists())
        .collect();
    // An encrypted database is ciphertext whose key is gone. Each of its files is read
    // once and must be random bytes throughout, or zeros (no plaintext page anywhere); such a file
    // is not searched value by value (at 10^5 participants that was 1.3 GB read once per
    // batch of the search). A file that is not (the shared-memory index, or anything
    // unexpected) is searched, a match counting only from 8 bytes (a shorter one is
    // chance in random bytes: see CIPHERTEXT_MIN_MATCH).
    let ciphertext = db.exists() && !crate::db::is_plaintext(db);
    let mut to_search = Vec::new();
    for p in &present {
        if ciphertext && ciphertext_or_blank(p)? {
            check.files += 1;
            check.bytes += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            check.ciphertext_files += 1;
        } else {
            to_search.push(p.clone());
        }
    }
    let present = to_search;
    let report = search.check(&[], |scanner| {
        if ciphertext {
            scanner.min_match = super::scan::CIPHERTEXT_MIN_MATCH;
        }
        for p in &present {
            scanner.file(p);
        }
    })?;
    check.files += report.files;
    check.bytes += report.bytes;
    check.hits = report.hits.len() as u64;
    if check.hits > 0 || !report.unreadable.is_empty() {
        bail!(
            "{}: 行を削除した後のデータベースファイルに個人情報が {} か所残っています。ファイルは削除せず、消去を中止しました。\
             返還データは作成済みです。開発元に連絡してください (values remain in the database file after logical erasure; stopped)\n  {}",
            db.display(),
            check.hits,
            super::scan::describe(&report).join("\n  ")
        );
    }
    remove_db_files(db, files)?;
    Ok(check)
}

/// Whether a file is ciphertext throughout: read whole, every 64 KiB of it (an
/// SQLCipher page; the last, shorter part too when it has 4 KiB) is either all zero
/// bytes (SQLite never writes the page holding the byte at 1 GiB, its lock page) or has
/// byte counts a chi-square test finds uniform (under 400 for 255 degrees of freedom:
/// random bytes give 255 ± 23, so a false alarm is about one in 10^7 windows; a
/// plaintext page, or a few KiB of text inside one, gives well over a thousand).
pub fn ciphertext_or_blank(p: &Path) -> Result<bool> {
    use std::io::Read;
    const WINDOW: usize = 64 << 10;
    const SHORTEST: usize = 4 << 10;
    let mut f = std::fs::File::open(p)?;
    let mut buf = vec![0u8; WINDOW];
    let mut windows = 0u64;
    loop {
        let mut n = 0;
        while n < WINDOW {
            let got = f.read(&mut buf[n..])?;
            if got == 0 {
                break;
            }
            n += got;
        }
        if n < SHORTEST {
            return Ok(windows > 0);
        }
        let mut counts = [0u32; 256];
        for &b in &buf[..n] {
            counts[b as usize] += 1;
        }
        if counts[0] as usize == n {
            windows += 1;
            if n < WINDOW {
                return Ok(true);
            }
            continue;
        }
        let e = n as f64 / 256.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| {
                let d = f64::from(c) - e;
                d * d / e
            })
            .sum();
        if chi2 > 400.0 {
            return Ok(false);
        }
        windows += 1;
        if n < WINDOW {
            return Ok(true);
        }
    }
}

/// Marks, in an export's recorded hashes, a possible copy whose content was never
/// recorded (a pending record never settled, a temporary file): any content is the
/// tool's.
pub const ANY_CONTENT: &str = "*";

/// The copies the tool recorded, one per path (the last hash, and every hash it had):
/// the `exports` index, every file the chained audit entries list (so a row deleted
/// from the index is still found), every pending record not settled afterwards (a
/// crash between the record and the entry that lists the file), and the tool's
/// temporary files in every folder it wrote to.
pub fn exports_of(conn: &Connection) -> Result<Vec<ExportFile>> {
    let mut rows: Vec<(String, String, i64)> = store::exports_by_path(conn)?;
    let mut pending: Vec<String> = Vec::new();
    for e in crate::audit::entries(conn)? {
        for f in e.files() {
            pending.retain(|p| *p != f.path);
            rows.push((f.path, f.sha256, f.bytes as i64));
        }
        let path = e
            .detail
            .get("args")
            .and_then(|a| a.get("path"))
            .and_then(|p| p.as_str());
        match (e.status(), path) {
            (crate::audit::COPY_PENDING, Some(p)) => pending.push(p.to_string()),
            (crate::audit::COPY_NOT_WRITTEN, Some(p)) => pending.retain(|q| q != p),
            _ => {}
        }
    }
    let mut folders: BTreeSet<PathBuf> = BTreeSet::new();
    for (p, _, _) in &rows {
        if let Some(d) = Path::new(p).parent() {
            folders.insert(d.to_path_buf());
        }
    }
    for p in &pending {
        if let Some(d) = Path::new(p).parent() {
            folders.insert(d.to_path_buf());
        }
        rows.push((p.clone(), ANY_CONTENT.into(), 0));
    }
    for d in folders {
        let Ok(list) = std::fs::read_dir(&d) else {
            continue;
        };
        for f in list.flatten() {
            if crate::output::is_temp_name(&f.file_name().to_string_lossy()) {
                rows.push((abs(&f.path()), ANY_CONTENT.into(), 0));
            }
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<ExportFile> = Vec::new();
    for (path, sha256, bytes) in rows {
        match out.last_mut() {
            Some(last) if last.path == path => {
                if !last.recorded.contains(&sha256) {
                    last.recorded.push(sha256.clone());
                }
                if sha256 != ANY_CONTENT {
                    last.sha256 = sha256;
                    last.bytes = bytes as u64;
                }
            }
            _ => out.push(ExportFile {
                path,
                recorded: vec![sha256.clone()],
                sha256,
                bytes: bytes as u64,
                status: "pending".into(),
            }),
        }
    }
    Ok(out)
}

/// The source files imports read, from the chained entries: each command's `inputs`
/// (absolute paths) with the SHA-256 of every file it read (`files_read`). A file still
/// holding one of those contents is the source as imported.
pub fn inputs_of(conn: &Connection) -> Result<Vec<ExportFile>> {
    let mut out: Vec<ExportFile> = Vec::new();
    for e in crate::audit::entries(conn)? {
        if e.command == "init" {
            continue;
        }
        let Some(paths) = e
            .detail
            .get("args")
            .and_then(|a| a.get("inputs"))
            .and_then(|p| p.as_array())
        else {
            continue;
        };
        let shas: Vec<String> = e
            .detail
            .get("files_read")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| Some(f.get("sha256")?.as_str()?.to_string()))
            .collect();
        for p in paths.iter().filter_map(|p| p.as_str()) {
            let i = match out.iter().position(|x| x.path == p) {
                Some(i) => i,
                None => {
                    out.push(ExportFile {
                        path: p.to_string(),
                        sha256: String::new(),
                        bytes: 0,
                        recorded: Vec::new(),
                        status: "pending".into(),
                    });
                    out.len() - 1
                }
            };
            for s in &shas {
                if !out[i].recorded.contains(s) {
                    out[i].recorded.push(s.clone());
                    out[i].sha256 = s.clone();
                }
            }
        }
    }
    Ok(out)
}

impl ExportFile {
    /// A possible copy whose content the tool never recorded (unsettled, or temporary).
    pub fn unsettled(&self) -> bool {
        self.recorded.iter().any(|r| r == ANY_CONTENT)
    }
}

/// Erase each recorded export still on disk as the tool wrote it; one changed since is
/// left (it is not the tool's copy any more; the remnant scan decides whether it holds
/// personal data). Without `erase`, they are listed as kept.
pub fn erase_exports(exports: &mut [ExportFile], erase: bool, protect: &[PathBuf]) -> Result<()> {
    for e in exports.iter_mut() {
        if e.status == "erased" {
            continue;
        }
        let p = Path::new(&e.path);
        if !p.exists() {
            e.status = "not_found".into();
            continue;
        }
        if protect.iter().any(|k| k == p) {
            e.status = "changed".into();
            continue;
        }
        let (sha, bytes) = crate::output::sha256_file(p)?;
        if !e.recorded.contains(&sha) && !e.unsettled() {
            e.status = "changed".into();
            continue;
        }
        if !erase {
            e.status = "kept".into();
            continue;
        }
        e.bytes = bytes;
        e.sha256 = sha;
        overwrite_and_remove(p)?;
        e.status = "erased".into();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::scan::Needles;
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn logical_erasure_leaves_no_value_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        {
            let c = Connection::open(&db).unwrap();
            c.execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA secure_delete=ON;
                 CREATE TABLE p(id TEXT PRIMARY KEY, name TEXT) WITHOUT ROWID;
                 CREATE TABLE s(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);",
            )
            .unwrap();
            for i in 0..500 {
                c.execute(
                    "INSERT INTO p VALUES (?1, ?2)",
                    [format!("P{i:06}"), format!("試験 花子{i}")],
                )
                .unwrap();
                c.execute("INSERT INTO s(v) VALUES (?1)", [format!("P{i:06}")])
                    .unwrap();
            }
        }
        let mut src = BTreeSet::new();
        for i in 0..500 {
            super::super::scan::sources_of(
                &format!("P{i:06}"),
                Some(&format!("試験 花子{i}")),
                None,
                None,
                None,
                &mut src,
            );
        }
        let needles = Needles::build(&src);
        assert!(
            super::super::scan::hits_in_bytes(&needles, &std::fs::read(&db).unwrap()).unwrap() > 0
        );
        let mut files = hash_db_files(&db).unwrap();
        let check = erase_database(&db, &Search::of(needles), &mut files).unwrap();
        assert_eq!(check.hits, 0);
        assert!(check.files >= 1);
        for (p, _) in db_files(&db) {
            assert!(!p.exists(), "{} removed", p.display());
        }
        assert!(files.iter().all(|f| f.status == "erased"));
    }

    #[test]
    fn exports_erased_only_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        let b = dir.path().join("b.csv");
        std::fs::write(&a, "A").unwrap();
        std::fs::write(&b, "B changed").unwrap();
        let rec = |p: &Path, s: &str| ExportFile {
            path: p.display().to_string(),
            sha256: crate::output::sha256_hex(s.as_bytes()),
            bytes: 1,
            recorded: vec![crate::output::sha256_hex(s.as_bytes())],
            status: "pending".into(),
        };
        let mut ex = vec![
            rec(&a, "A"),
            rec(&b, "B"),
            rec(&dir.path().join("gone.csv"), "G"),
        ];
        erase_exports(&mut ex, false, &[]).unwrap();
        assert_eq!(
            ex.iter().map(|e| e.status.as_str()).collect::<Vec<_>>(),
            ["kept", "changed", "not_found"]
        );
        erase_exports(&mut ex, true, &[]).unwrap();
        assert_eq!(ex[0].status, "erased");
        assert!(!a.exists());
        assert!(
            b.exists(),
            "a changed file is not the tool's copy: left for the scan"
        );
    }

    /// Random bytes read as ciphertext; a plaintext page, a few KiB of text inside random
    /// bytes, zeros, or a file too short to judge do not.
    #[test]
    fn ciphertext_is_told_from_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut random = |len: usize| -> Vec<u8> {
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 32) as u8
                })
                .collect()
        };
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let cipher = write("cipher.db", &random(5 * 65536 + 9000));
        assert!(ciphertext_or_blank(&cipher).unwrap());
        let mut leaked = random(5 * 65536);
        let text = "C000123,井上 恵子,東京都新宿区西新宿2-8-1,03-5306-6777\n".repeat(80);
        leaked[3 * 65536..3 * 65536 + text.len()].copy_from_slice(text.as_bytes());
        assert!(text.len() < 8192);
        assert!(!ciphertext_or_blank(&write("leaked.db", &leaked)).unwrap());
        // SQLite's lock page (the 64 KiB at 1 GiB) is never written: zeros hold nothing.
        let mut with_lock_page = random(4 * 65536);
        with_lock_page[65536..2 * 65536].fill(0);
        assert!(ciphertext_or_blank(&write("lockpage.db", &with_lock_page)).unwrap());
        let mut half_zero = random(4 * 65536);
        half_zero[65536..65536 + 32768].fill(0);
        assert!(!ciphertext_or_blank(&write("half.db", &half_zero)).unwrap());
        assert!(!ciphertext_or_blank(&write("tiny.db", &random(1000))).unwrap());
    }
}
