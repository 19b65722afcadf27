//! The close-out's progress, kept in a small file next to the database
//! (`stepcard.db.closeout.json`, owner-only) so that a crash or a refused step never
//! leaves the work half done: re-running `close-out` reads it and carries on from the
//! step reached. It holds no personal data: the program file, paths, hashes and counts.
//! The identifiers the remnant scan looks for are never written here; after a crash they
//! are read again from the return package (see `closeout::needles_for`).

use super::package::Manifest;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "stepcard-closeout-state/1";

/// How far the close-out got. Each step is saved only after its work is done and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The package is being written: nothing is erased yet; a re-run starts again.
    Packaging,
    /// The package is written, re-read and checked: erasure may begin.
    Packaged,
    /// The database (and exports, if asked) are erased: the remnant scan is next.
    Erased,
    /// The remnant scan found nothing: the record and certificate are next.
    Verified,
    /// The record and certificate are written.
    Done,
}

impl Step {
    pub fn as_ja(self) -> &'static str {
        match self {
            Step::Packaging => "返還データの作成中",
            Step::Packaged => "返還データ作成済み・消去前",
            Step::Erased => "消去済み・残存検査前",
            Step::Verified => "残存検査済み・証明書作成前",
            Step::Done => "完了",
        }
    }
}

/// The return package as written and checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageInfo {
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub manifest: Manifest,
}

/// A file of the database, hashed just before erasure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErasedFile {
    pub path: String,
    /// データベース本体, WAL, 共有メモリ, ジャーナル
    pub role: String,
    pub bytes: u64,
    pub sha256: String,
    /// erased / not_found
    pub status: String,
}

/// A copy the tool wrote (the `exports` table), and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportFile {
    pub path: String,
    /// The SHA-256 the tool recorded when it wrote the file (the last one, if written
    /// more than once).
    pub sha256: String,
    pub bytes: u64,
    /// Every SHA-256 recorded for this path (a file rewritten keeps the same path).
    #[serde(default)]
    pub recorded: Vec<String>,
    /// pending / erased / not_found / changed / kept
    pub status: String,
}

impl ExportFile {
    pub fn status_ja(&self) -> &'static str {
        match self.status.as_str() {
            "erased" => "消去済み",
            "not_found" => "記録の場所に無し（移動・削除済み）",
            "changed" => "書出し後に内容が変わっているため消去せず",
            "kept" => "消去せず（--erase-exports 指定なし）",
            _ => "未処理",
        }
    }
}

/// The check of the database files after the logical erasure, before they were removed.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct DbCheck {
    pub files: u64,
    pub bytes: u64,
    pub hits: u64,
    /// Of `files`, those read whole and found to be ciphertext throughout (every 64 KiB
    /// of them uniformly random bytes), so not searched value by value: the encrypted
    /// database once its key is destroyed.
    #[serde(default)]
    pub ciphertext_files: u64,
}

/// The key slots' file, destroyed first (cryptographic erase of the database).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeysErased {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    /// Key slots it held (one per handler with a password).
    pub slots: u64,
    /// The database was SQLCipher-encrypted (false only for a plain test database).
    pub database_encrypted: bool,
    /// pending / erased
    pub status: String,
}

/// What the remnant scan covered and found (counts only: hits are reported, not stored).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ScanSummary {
    pub at: String,
    /// Distinct personal values searched for (identifiers, names, phone numbers …).
    pub values: u64,
    /// Byte patterns searched (spelling variants × encodings).
    pub patterns: u64,
    pub values_by_kind: Vec<KindCount>,
    /// Values too short to search without false alarms (fewer than 4 bytes).
    pub skipped_short: u64,
    /// Participants' names equal to a designated handler's (on the certificate by
    /// right), not searched for; their numbers and phones are.
    #[serde(default)]
    pub skipped_handler_names: u64,
    /// Batches of participants the search took (one batch's spellings in memory at a
    /// time, every place scanned once per batch); 0 in records written before batches.
    #[serde(default)]
    pub batches: u64,
    pub encodings: Vec<String>,
    pub places: Vec<String>,
    pub excluded: Vec<String>,
    pub files: u64,
    pub bytes: u64,
    pub zip_entries: u64,
    pub hits: u64,
    pub unreadable: u64,
}

/// Values searched for, of one kind (参加者番号, 氏名 …).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct KindCount {
    pub kind: String,
    pub values: u64,
}

/// One run of `close-out` (the first, and each resumption).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub at: String,
    pub operator: String,
    pub from: Step,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub format: String,
    pub step: Step,
    pub contract_no: String,
    /// The program file as stored in the database (no personal data: rules, prizes and
    /// the contractor's handlers), so the certificate can be written after erasure.
    pub program_toml: String,
    pub db_path: String,
    pub return_dir: String,
    pub erase_exports: bool,
    pub encrypted: bool,
    pub started_at: String,
    pub operator: String,
    pub audit_entries: i64,
    pub audit_head: String,
    pub package: Option<PackageInfo>,
    #[serde(default)]
    pub db_files: Vec<ErasedFile>,
    #[serde(default)]
    pub exports: Vec<ExportFile>,
    /// The erasure of the database has begun (from here on its files differ from what
    /// was packaged, by design).
    #[serde(default)]
    pub erasing: bool,
    /// The key slots, noted before erasure begins and destroyed first.
    #[serde(default)]
    pub keys: Option<KeysErased>,
    /// `--erase-inputs` was given (by this run or an earlier one).
    #[serde(default)]
    pub erase_inputs: bool,
    /// The source files imports read (path and every SHA-256 imported from it), and what
    /// became of them.
    #[serde(default)]
    pub inputs: Vec<ExportFile>,
    pub erased_at: Option<String>,
    pub db_check: Option<DbCheck>,
    pub scan: Option<ScanSummary>,
    pub completed_at: Option<String>,
    pub certificate_no: Option<String>,
    pub record_path: Option<String>,
    pub certificate_path: Option<String>,
    #[serde(default)]
    pub runs: Vec<RunInfo>,
}

/// `stepcard.db` -> `stepcard.db.closeout.json`.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".closeout.json");
    db.with_file_name(name)
}

pub fn load(db: &Path) -> Result<Option<State>> {
    let p = path_for(db);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "{}: 契約終了の進行記録を読めません (cannot read the close-out state)",
                    p.display()
                )
            })
        }
    };
    let state: State = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: 契約終了の進行記録が壊れています。消去記録・返還データと一緒に保管し、開発元に連絡してください \
             (the close-out state file is damaged)",
            p.display()
        )
    })?;
    if state.format != FORMAT {
        bail!(
            "{}: この stepcard では読めない形式の進行記録です ({}) (unknown close-out state format)",
            p.display(),
            state.format
        );
    }
    Ok(Some(state))
}

/// Save atomically (owner-only, written to a temporary name, synced, renamed, and the
/// folder synced): a step is only ever recorded once it is durable.
pub fn save(db: &Path, state: &State) -> Result<()> {
    let p = path_for(db);
    let text = serde_json::to_string_pretty(state)?;
    crate::output::write_bytes(&p, text.as_bytes())?;
    sync_dir(&p);
    Ok(())
}

/// Every other command refuses to touch a database whose close-out has started and not
/// finished: the return package was made from it, and a change now would not be in it.
pub fn refuse_if_in_progress(db: &Path) -> Result<()> {
    let Some(state) = load(db)? else {
        return Ok(());
    };
    if state.step == Step::Done {
        return Ok(());
    }
    bail!(
        "{}: 契約終了の手続き（close-out）が途中です（{}）。データは変更できません。\
         `stepcard close-out --return-dir {} --confirm {}` をもう一度実行して終わらせてください \
         (a close-out is in progress; run close-out again to finish it)",
        db.display(),
        state.step.as_ja(),
        state.return_dir,
        state.contract_no
    );
}

/// A crash simulated at a named point, for the tests of resumption (hidden: the
/// environment variable `STEPCARD_FAULT=close-out:<point>`).
pub(crate) fn fault(point: &str) {
    if std::env::var("STEPCARD_FAULT").ok().as_deref() == Some(&format!("close-out:{point}")) {
        eprintln!("STEPCARD_FAULT: simulated crash at close-out:{point}");
        std::process::exit(86);
    }
}

/// Make a rename or removal in `path`'s folder durable (best effort: not every
/// platform can sync a folder).
pub fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}
