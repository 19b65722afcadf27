//! Contract close-out (特記事項 11–12): return everything to the municipality, erase it,
//! check nothing is left, and record and certify the erasure. Each step is checked
//! before the next and saved in a state file (`state.rs`) once done, so a crash never
//! leaves the data erased without a package, nor a certificate without an erasure, and
//! running the command again finishes what was started:
//!
//! 1. the audit log verifies; the close-out writes its own entry (the last one: the
//!    package's `audit_log.csv` ends with it, and its hash is the certificate's);
//! 2. the return package is written, re-read and checked against its manifest and the
//!    database (state `packaged`);
//! 3. the database and (with `--erase-exports`) the recorded exports are erased
//!    (state `erased`);
//! 4. the remnant scan finds none of the participants' values (state `verified`);
//! 5. the erasure record and certificate are written (state `done`).
//!
//! The values the scan looks for are never written anywhere but the return package (a
//! state file holding names would itself be a remnant): before erasure the package is
//! checked to give back exactly the values the database gave (one fingerprint of them
//! all, computed row by row on both sides), and the scan reads them from it, which is
//! the municipality's copy and is on disk before anything is erased (with
//! `--package-password-file` if encrypted), the same way on a first run and after a
//! crash. Many participants are searched for in batches (`scan::Search`): one batch's
//! spellings in memory at a time, the places scanned once per batch.

pub mod certificate;
pub mod erase;
pub mod package;
pub mod record;
pub mod scan;
pub mod state;

use crate::db::closeout as store;
use crate::program::{Program, Role};
use crate::{audit, now};
use anyhow::{bail, Context, Result};
use package::{AuditHead, ProgramSummary};
use rusqlite::Connection;
use scan::{Search, Source};
use state::{PackageInfo, RunInfo, State, Step};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the operator asked for.
pub struct Options {
    /// The database to close out (it may already be erased when a close-out resumes).
    pub db: PathBuf,
    /// The operator as given (`--operator`); checked against the program's responsible
    /// handler when a close-out resumes without its database.
    pub operator: Option<String>,
    /// Say nothing on stderr.
    pub quiet: bool,
    pub return_dir: PathBuf,
    pub confirm: String,
    pub erase_exports: bool,
    /// Erase the imported source files still as imported (`--erase-inputs`).
    pub erase_inputs: bool,
    pub password: Option<String>,
}

/// The database opened for a fresh close-out by the caller, who has checked that the
/// operator is a designated handler (and recorded a refusal if not).
pub struct Opened {
    pub conn: Connection,
    pub program: Program,
    pub operator: String,
    /// The close-out's audit entry, filled in as it goes.
    pub detail: audit::Detail,
}

impl Opened {
    /// Write the close-out's audit entry with this status.
    fn record(&mut self, status: &str) -> Result<i64> {
        self.detail.status = status.to_string();
        audit::append(
            &self.conn,
            &now(),
            &self.operator,
            "close-out",
            &self.detail,
        )
    }
}

/// What a finished close-out wrote.
#[derive(Debug)]
pub struct Outcome {
    pub package: String,
    pub record: String,
    pub certificate: String,
    pub certificate_no: String,
    pub values: u64,
    pub files_scanned: u64,
    pub erased_exports: usize,
    pub kept_exports: usize,
}

pub(crate) use state::fault;

/// The return package's, the record's and the certificate's file names.
pub fn file_names(contract_no: &str) -> (String, String, String) {
    let c = package::file_stem_safe(contract_no);
    (
        format!("返還データ_{c}.zip"),
        format!("消去記録_{c}.json"),
        format!("消去証明書_{c}.xlsx"),
    )
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| absolute(p))
}

/// The database's folder, as the scan walks it.
fn db_dir(db: &Path) -> PathBuf {
    let parent = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    canonical(parent)
}

/// Run (or finish) the close-out of the database `opts.db`. `open` opens it for a fresh
/// close-out; a resumed one finds it erased and works from its state file.
pub fn run(opts: &Options, open: impl FnOnce() -> Result<Opened>) -> Result<Outcome> {
    let db = &opts.db;
    match state::load(db)? {
        None => start(opts, open),
        Some(s) if s.step == Step::Packaging => {
            // Nothing was erased: what there is of the package (or of its temporary
            // file, after a crash while writing) is incomplete. Start again.
            let (pkg, _, _) = file_names(&s.contract_no);
            if let Ok(entries) = std::fs::read_dir(&s.return_dir) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name == pkg || name.starts_with(&format!("{pkg}.tmp-")) {
                        erase::overwrite_and_remove(&e.path())?;
                    }
                }
            }
            std::fs::remove_file(state::path_for(db))?;
            start(opts, open)
        }
        Some(s) if s.step == Step::Done => bail!(
            "{}: 契約 {} の契約終了の手続きは {} に完了しています。二度は実行しません。消去証明書: {}{} \
             (this close-out is already complete{})",
            db.display(),
            s.contract_no,
            s.completed_at.as_deref().map(crate::shown_time).unwrap_or_else(|| "?".into()),
            s.certificate_path.as_deref().unwrap_or("?"),
            if db.exists() {
                format!(
                    "。いまこの場所にあるデータベースは新しく作られたものです。それを契約終了するには、\
                     完了の記録 {} を証明書と一緒に別のフォルダへ移してから、もう一度実行してください",
                    state::path_for(db).display()
                )
            } else {
                "。証明書の確認は `stepcard close-out --verify 消去記録.json --package 返還データ.zip` でできます".into()
            },
            if db.exists() {
                format!(
                    "; the database now at this path is a new one: move {} away, keeping it with the certificate, to close it out",
                    state::path_for(db).display()
                )
            } else {
                String::new()
            }
        ),
        Some(s) => resume(s, opts),
    }
}

fn check_confirm(given: &str, contract_no: &str) -> Result<()> {
    if given.trim() != contract_no.trim() {
        bail!(
            "--confirm の契約番号「{}」が、このデータベースの契約番号「{}」と一致しません。消去は取り消せないため、\
             契約番号を確かめて --confirm {} と入力してください。何も変えていません \
             (the confirmation does not match the contract number; nothing was changed)",
            given.trim(),
            contract_no,
            contract_no
        );
    }
    Ok(())
}

fn check_responsible(program: &Program, operator: &str) -> Result<String> {
    match program.handler(operator) {
        Some(h) if h.role == Role::Responsible => Ok(h.name.clone()),
        Some(h) => bail!(
            "{} さんは{}です。契約終了の手続き（返還・消去・証明書）は取扱責任者が行います: {} \
             (close-out is for the responsible handler)",
            h.name,
            h.role.as_ja(),
            responsible_names(program)
        ),
        None => bail!(
            "{operator} さんは取扱者として指定されていません。契約終了の手続きは取扱責任者が行います: {} \
             (not a designated handler)",
            responsible_names(program)
        ),
    }
}

fn responsible_names(p: &Program) -> String {
    p.handlers
        .iter()
        .filter(|h| h.role == Role::Responsible)
        .map(|h| h.name.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

/// The participants' values from the database, a row's values at a time (never all of
/// them as strings at once).
fn each_source_from_db(
    conn: &Connection,
    mut each: impl FnMut(&mut BTreeSet<Source>),
) -> Result<()> {
    let mut row = BTreeSet::new();
    store::participant_values(conn, |id, name, kana, phone, email| {
        scan::sources_of(id, name, kana, phone, email, &mut row);
        each(&mut row);
        row.clear();
    })?;
    store::participant_places(conn, |id, postal, a1, a2, birth| {
        scan::places_of(id, postal, a1, a2, birth, &mut row);
        each(&mut row);
        row.clear();
    })?;
    store::participant_history(conn, |id, old| {
        history_sources(id, old, &mut row);
        each(&mut row);
        row.clear();
    })?;
    Ok(())
}

fn history_sources(id: &str, old_json: &str, out: &mut BTreeSet<Source>) {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(old_json) {
        let f = |k: &str| v.get(k).and_then(|x| x.as_str());
        scan::sources_of(id, f("name"), f("name_kana"), f("phone"), f("email"), out);
        scan::places_of(
            id,
            f("postal_code"),
            f("address"),
            f("address2"),
            f("birth_date"),
            out,
        );
    }
}

/// Undo the CSV formula guard (`'=…` back to `=…`).
fn unguard(s: &str) -> &str {
    match s.as_bytes() {
        [b'\'', b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r', ..] => &s[1..],
        _ => s,
    }
}

const SOURCE_ENTRIES: [&str; 2] = ["participants.csv", "participant_history.csv"];

/// The participants' values as one multiset fingerprint: how many, and the sum (per
/// 64-bit lane, wrapping) of each value's SHA-256 over its participant, kind and text.
/// The values read back from the package are compared with the database's by this, in
/// any order and without holding either side, at any number of participants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Digest {
    values: u64,
    sum: [u64; 4],
}

impl Digest {
    fn add(&mut self, s: &Source) {
        use sha2::{Digest as _, Sha256};
        let mut h = Sha256::new();
        h.update(s.participant.as_bytes());
        h.update([0, s.kind as u8, 0]);
        h.update(s.text.as_bytes());
        let d = h.finalize();
        for (lane, b) in self.sum.iter_mut().zip(d.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            *lane = lane.wrapping_add(u64::from_le_bytes(w));
        }
        self.values += 1;
    }
}

/// The values of each row of the package's participant files whose participant `keep`
/// accepts, one row at a time: each entry is streamed out of the zip (decrypted,
/// hashed against the manifest's `files`) through the CSV reader, never held.
fn each_package_row(
    pkg: &Path,
    password: Option<&str>,
    files: &[package::ManifestFile],
    keep: impl Fn(&str) -> bool,
    mut each: impl FnMut(&mut BTreeSet<Source>),
) -> Result<()> {
    let mut out = BTreeSet::new();
    for name in SOURCE_ENTRIES {
        let Some(f) = files.iter().find(|f| f.name == name) else {
            continue;
        };
        package::stream_csv_entry(pkg, password, name, &f.sha256, |body| {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(false)
                .from_reader(body);
            let headers: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
            let col = |k: &str| headers.iter().position(|h| h == k);
            let mut rec = csv::StringRecord::new();
            while r.read_record(&mut rec)? {
                let cell = |k: &str| -> Option<String> {
                    col(k)
                        .and_then(|i| rec.get(i))
                        .map(|s| unguard(s).to_string())
                        .filter(|s| !s.is_empty())
                };
                if name == "participants.csv" {
                    let Some(id) = cell("id") else { continue };
                    if !keep(&id) {
                        continue;
                    }
                    scan::sources_of(
                        &id,
                        cell("name").as_deref(),
                        cell("name_kana").as_deref(),
                        cell("phone").as_deref(),
                        cell("email").as_deref(),
                        &mut out,
                    );
                    scan::places_of(
                        &id,
                        cell("postal_code").as_deref(),
                        cell("address").as_deref(),
                        cell("address2").as_deref(),
                        cell("birth_date").as_deref(),
                        &mut out,
                    );
                } else if let (Some(id), Some(old)) = (cell("participant_id"), cell("old_json")) {
                    if !keep(&id) {
                        continue;
                    }
                    history_sources(&id, &old, &mut out);
                }
                each(&mut out);
                out.clear();
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The fingerprint of the values read back from the package.
fn digest_of_package(
    pkg: &Path,
    password: Option<&str>,
    files: &[package::ManifestFile],
) -> Result<Digest> {
    let mut d = Digest::default();
    each_package_row(
        pkg,
        password,
        files,
        |_| true,
        |row| row.iter().for_each(|s| d.add(s)),
    )?;
    Ok(d)
}

/// What builds the needles: the program's handlers' names, and what the program file
/// itself says, are left out.
fn needles_builder(program: &Program, program_toml: &str) -> scan::NeedlesBuilder {
    let handlers: Vec<String> = program.handlers.iter().map(|h| h.name.clone()).collect();
    let mut b = scan::NeedlesBuilder::new(&handlers);
    b.program_text(program_toml);
    b
}

/// The remnant scan's needles, batch by batch, from the return package: the
/// municipality's copy, on disk before anything is erased and checked to give back
/// exactly the database's values (and read again the same way when a close-out
/// resumes). The participants are split into batches of
/// [`scan::PARTICIPANTS_PER_BATCH`] by their numbers; each batch's needles are built
/// from the package's rows of its participants when the scan comes to it.
fn search_of(st: &State, password: Option<&str>) -> Result<Search<'static>> {
    let pkg = st
        .package
        .clone()
        .context("internal: no package in the close-out state")?;
    let program = Program::load_stored(&st.program_toml, "close-out state")?;
    let toml = st.program_toml.clone();
    let password = password.filter(|_| st.encrypted).map(str::to_string);
    let participants = pkg
        .manifest
        .files
        .iter()
        .find(|f| f.name == SOURCE_ENTRIES[0])
        .and_then(|f| f.records)
        .unwrap_or(0);
    Search::new(
        participants,
        per_batch(),
        move || needles_builder(&program, &toml),
        move |keep, each| {
            each_package_row(
                Path::new(&pkg.path),
                password.as_deref(),
                &pkg.manifest.files,
                keep,
                |row| row.iter().for_each(&mut *each),
            )
        },
    )
}

/// Participants per batch of the remnant scan ([`scan::PARTICIPANTS_PER_BATCH`]; the
/// tests set a small one with `STEPCARD_TEST_SCAN_BATCH` to run several batches on
/// a few participants).
fn per_batch() -> u64 {
    std::env::var("STEPCARD_TEST_SCAN_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &u64| n > 0)
        .unwrap_or(scan::PARTICIPANTS_PER_BATCH)
}

fn summary_of(counts: &scan::Counts) -> state::ScanSummary {
    state::ScanSummary {
        values: counts.values,
        patterns: counts.patterns,
        values_by_kind: counts
            .values_by_kind
            .iter()
            .map(|(k, n)| state::KindCount {
                kind: k.as_ja().to_string(),
                values: *n,
            })
            .collect(),
        skipped_short: counts.skipped_short,
        skipped_handler_names: counts.skipped_handler_names,
        encodings: scan::Enc::ALL
            .iter()
            .map(|e| e.name().to_string())
            .collect(),
        ..Default::default()
    }
}

/// A fresh close-out: checks, the audit entry, the package; then on to erasure.
fn start(opts: &Options, open: impl FnOnce() -> Result<Opened>) -> Result<Outcome> {
    let mut ctx = open()?;
    ctx.detail.arg(
        "return_dir",
        absolute(&opts.return_dir).display().to_string(),
    );
    ctx.detail.arg("erase_exports", opts.erase_exports);
    ctx.detail.arg("encrypted", opts.password.is_some());
    match prepare(&mut ctx, opts) {
        Ok(prepared) => package_and_go(ctx, opts, prepared),
        Err(e) => {
            let status = if crate::exit_code(&e) == 2 {
                "usage error"
            } else {
                "refused"
            };
            ctx.record(status)?;
            Err(e)
        }
    }
}

struct Prepared {
    return_dir: PathBuf,
    /// The database's values as one fingerprint, to check the package gives them back.
    digest: Digest,
}

/// Everything that can refuse before anything is written.
fn prepare(ctx: &mut Opened, opts: &Options) -> Result<Prepared> {
    check_responsible(&ctx.program, &ctx.operator)?;
    check_confirm(&opts.confirm, &ctx.program.program.contract_no)?;
    let return_dir = prepare_return_dir(&opts.return_dir, &opts.db)?;
    let (pkg, rec, cert) = file_names(&ctx.program.program.contract_no);
    for n in [&pkg, &rec, &cert] {
        let p = return_dir.join(n);
        if p.exists() {
            bail!(
                "{}: 同じ名前のファイルが返還フォルダにあります。上書きはしません。別の --return-dir を指定するか、\
                 このファイルを移してください (a file of this name is already in the return folder)",
                p.display()
            );
        }
    }
    let v = audit::verify(&ctx.conn)?;
    if let Some((seq, why)) = v.broken {
        bail!(
            "監査ログの検証に失敗しました: {why}。監査ログが正しくないままでは消去証明書を出せません。何も変えていません \
             (audit chain broken at entry {seq}; close-out stopped before anything was written)"
        );
    }
    // The values as strings only a row at a time, as the fingerprint is made.
    let mut digest = Digest::default();
    each_source_from_db(&ctx.conn, |row| row.iter().for_each(|s| digest.add(s)))?;
    Ok(Prepared { return_dir, digest })
}

fn prepare_return_dir(dir: &Path, db: &Path) -> Result<PathBuf> {
    let new = !dir.exists();
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "{}: 返還フォルダを作れません (cannot create the return folder)",
            dir.display()
        )
    })?;
    #[cfg(unix)]
    if new {
        // The package holds every participant's data: a folder made for it is owner-only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let dir = canonical(dir);
    let home = db_dir(db);
    if home.starts_with(&dir) {
        return Err(crate::usage(format!(
            "{}: 返還フォルダがデータベースのフォルダ（{}）と同じか、それを含んでいます。返還フォルダは消去後の検査から外すため、\
             別のフォルダ（例: {}）を指定してください (the return folder must not be or contain the database's folder)",
            dir.display(),
            home.display(),
            home.join("返還").display()
        )));
    }
    Ok(dir)
}

fn package_and_go(mut ctx: Opened, opts: &Options, prepared: Prepared) -> Result<Outcome> {
    let Prepared { return_dir, digest } = prepared;
    let program = ProgramSummary::of(&ctx.program);
    let (pkg_name, _, _) = file_names(&program.contract_no);
    let pkg_path = return_dir.join(&pkg_name);
    let counts = store::counts(&ctx.conn)?;
    let exports = erase::exports_of(&ctx.conn)?;
    let inputs = erase::inputs_of(&ctx.conn)?;
    let started_at = now();

    // The close-out's own audit entry comes before the package, so the package holds it
    // and the certificate's final hash is the package's last audit row.
    ctx.detail.status = "started: return package, then erasure".into();
    ctx.detail.arg("package", pkg_name.clone());
    for (t, n) in &counts {
        ctx.detail.count(t, *n);
    }
    audit::append(
        &ctx.conn,
        &started_at,
        &ctx.operator,
        "close-out",
        &ctx.detail,
    )?;
    // In the database too, so a command through another path to it (a symlink) refuses.
    crate::db::meta_set(
        &ctx.conn,
        crate::db::META_CLOSEOUT,
        &format!("{}\t{started_at}", canonical(&opts.db).display()),
    )?;
    let v = audit::verify(&ctx.conn)?;
    if v.broken.is_some() {
        bail!("監査ログの検証に失敗しました（close-out の記録の後）(audit chain broken after the close-out entry)");
    }
    let counts = store::counts(&ctx.conn)?;
    let audit_head = AuditHead {
        entries: v.entries,
        head: v.head.clone(),
    };

    let mut st = State {
        format: state::FORMAT.into(),
        step: Step::Packaging,
        contract_no: program.contract_no.clone(),
        program_toml: crate::db::meta_get(&ctx.conn, "program_toml")?.unwrap_or_default(),
        db_path: absolute(&opts.db).display().to_string(),
        return_dir: return_dir.display().to_string(),
        erase_exports: opts.erase_exports,
        encrypted: opts.password.is_some(),
        started_at: started_at.clone(),
        operator: ctx.operator.clone(),
        audit_entries: v.entries,
        audit_head: v.head.clone(),
        package: None,
        db_files: Vec::new(),
        exports,
        erase_inputs: opts.erase_inputs,
        erasing: false,
        keys: None,
        inputs,
        erased_at: None,
        db_check: None,
        scan: None,
        completed_at: None,
        certificate_no: None,
        record_path: None,
        certificate_path: None,
        runs: vec![RunInfo {
            at: started_at.clone(),
            operator: ctx.operator.clone(),
            from: Step::Packaging,
        }],
    };
    state::save(&opts.db, &st)?;

    let built = (|| -> Result<(crate::output::FileRecord, package::Manifest)> {
        let (rec, manifest) = package::write(
            &pkg_path,
            &ctx.conn,
            program.clone(),
            &started_at,
            audit_head.clone(),
            opts.password.as_deref(),
        )?;
        erase::sync_dir(&pkg_path);
        fault("packaging");
        let read = package::check_written(
            &pkg_path,
            opts.password.as_deref(),
            &manifest,
            &rec.sha256,
            &counts,
            &[],
        )?;
        drop(read);
        let from_pkg = digest_of_package(&pkg_path, opts.password.as_deref(), &manifest.files)?;
        if from_pkg != digest {
            bail!(
                "{}: 返還データから読み直した参加者の情報がデータベースと一致しません（データベース {} 件、返還データ {} 件）。\
                 何も消去していません (the package does not give back the participants' values; nothing was erased)",
                pkg_path.display(),
                digest.values,
                from_pkg.values
            );
        }
        Ok((rec, manifest))
    })();
    let (rec, manifest) = match built {
        Ok(b) => b,
        Err(e) => {
            // Nothing erased: take back the incomplete package and the state, and say so
            // in the audit log.
            if pkg_path.exists() {
                let _ = erase::overwrite_and_remove(&pkg_path);
            }
            let _ = std::fs::remove_file(state::path_for(&opts.db));
            let _ = crate::db::meta_delete(&ctx.conn, crate::db::META_CLOSEOUT);
            ctx.detail.status = "refused: return package check failed".into();
            let _ = audit::append(&ctx.conn, &now(), &ctx.operator, "close-out", &ctx.detail);
            return Err(e);
        }
    };

    // Close every connection before hashing and erasing the files.
    let Opened { conn, .. } = ctx;
    conn.close()
        .map_err(|(_, e)| e)
        .context("データベースを閉じられません (cannot close the database)")?;
    st.db_files = erase::hash_db_files(&opts.db)?;
    st.package = Some(PackageInfo {
        name: pkg_name,
        path: pkg_path.display().to_string(),
        sha256: rec.sha256,
        bytes: rec.bytes,
        manifest,
    });
    st.step = Step::Packaged;
    state::save(&opts.db, &st)?;
    say(opts, format!(
        "返還データを作成し、読み直して照合しました: {}（表の CSV {} ファイルと manifest.json）(return package written and checked)",
        pkg_path.display(),
        st.package.as_ref().map(|p| p.manifest.files.len()).unwrap_or(0)
    ));
    fault("packaged");
    let search = search_of(&st, opts.password.as_deref())?;
    carry_on(st, &search, opts)
}

fn say(opts: &Options, msg: impl AsRef<str>) {
    if !opts.quiet {
        eprintln!("{}", crate::output::terminal_safe(msg.as_ref()));
    }
}

/// A close-out interrupted after the package: check who runs it and with what, read the
/// values back from the package, and carry on.
fn resume(mut st: State, opts: &Options) -> Result<Outcome> {
    let program = Program::load_stored(&st.program_toml, "close-out state")?;
    let operator = opts
        .operator
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| crate::usage("操作者が指定されていません。--operator \"氏名\" で取扱責任者を指定してください (no operator given)"))?;
    let operator = check_responsible(&program, operator)?;
    check_confirm(&opts.confirm, &st.contract_no)?;
    let dir = canonical(&opts.return_dir);
    if dir != Path::new(&st.return_dir) {
        return Err(crate::usage(format!(
            "途中の契約終了の手続きは返還フォルダ {} で始まっています。同じ --return-dir を指定してください \
             (resume with the same --return-dir)",
            st.return_dir
        )));
    }
    if st.encrypted && opts.password.is_none() {
        return Err(crate::usage(
            "返還データは暗号化されています。続きを行うには、作ったときのパスワードファイルを --package-password-file に指定してください \
             (the package is encrypted: give --package-password-file to resume)",
        ));
    }
    let pkg = st
        .package
        .clone()
        .context("internal: no package in the close-out state")?;
    let pkg_path = PathBuf::from(&pkg.path);
    if !pkg_path.exists() {
        bail!(
            "{}: 返還データが見当たりません。消去が始まっているため作り直せません。返還データを元の場所に戻してから、\
             もう一度実行してください (the return package is missing; put it back and run again)",
            pkg_path.display()
        );
    }
    let read = package::read(
        &pkg_path,
        opts.password.as_deref().filter(|_| st.encrypted),
        &[],
    )?;
    let mut problems = package::differences(&pkg.manifest.files, &read);
    if read.sha256 != pkg.sha256 {
        problems.push(format!(
            "ファイル全体の SHA-256 が作成時と違います ({} / {})",
            read.sha256, pkg.sha256
        ));
    }
    if !problems.is_empty() {
        bail!(
            "{}: 返還データが作成時から変わっています。作成時のものに戻してから、もう一度実行してください \
             (the return package changed since it was written):\n  {}",
            pkg_path.display(),
            problems.join("\n  ")
        );
    }
    drop(read);
    let search = search_of(&st, opts.password.as_deref())?;
    st.erase_exports |= opts.erase_exports;
    st.erase_inputs |= opts.erase_inputs;
    st.runs.push(RunInfo {
        at: now(),
        operator: operator.clone(),
        from: st.step,
    });
    say(opts, format!(
        "途中の契約終了の手続きを続けます（{}）。検索する値は返還データから読み直しました (resuming the close-out)",
        st.step.as_ja()
    ));
    carry_on(st, &search, opts)
}

fn carry_on(mut st: State, search: &Search, opts: &Options) -> Result<Outcome> {
    let db = opts.db.clone();
    let pkg = st
        .package
        .clone()
        .context("internal: no package in the close-out state")?;
    let pkg_path = PathBuf::from(&pkg.path);
    let return_dir = PathBuf::from(&st.return_dir);
    let (_, rec_name, cert_name) = file_names(&st.contract_no);
    let protect = vec![
        pkg_path.clone(),
        return_dir.join(&rec_name),
        return_dir.join(&cert_name),
        return_dir.join(&cert_name).with_extension("pdf"),
    ];

    if st.step == Step::Packaged {
        // Resumed: the database must still be what was packaged, byte for byte (unless
        // its erasure had begun).
        let now_files = if st.erasing {
            st.db_files.clone()
        } else {
            erase::hash_db_files(&db)?
        };
        let changed: Vec<String> = st
            .db_files
            .iter()
            .filter(|f| f.status != "erased")
            .filter(|f| {
                !now_files
                    .iter()
                    .any(|n| n.path == f.path && n.sha256 == f.sha256)
            })
            .map(|f| f.path.clone())
            .chain(
                now_files
                    .iter()
                    .filter(|n| !st.db_files.iter().any(|f| f.path == n.path))
                    .map(|n| n.path.clone()),
            )
            .collect();
        if !changed.is_empty() {
            bail!(
                "データベースが返還データを作った後に変更されています（{}）。返還データに無いデータを消去することになるため、何も消去していません。\
                 取扱責任者に報告してください。返還データを作り直すには、状態ファイル {} を消してから close-out を最初から実行してください \
                 (the database changed after the package was made; nothing erased)",
                changed.join("、"),
                state::path_for(&db).display()
            );
        }
        if !st.erasing {
            st.keys = erase::key_file_info(&db)?;
        }
        st.erasing = true;
        state::save(&db, &st)?;
        erase::destroy_keys(&db, &mut st.keys)?;
        state::save(&db, &st)?;
        fault("keys-destroyed");
        let check = erase::erase_database(&db, search, &mut st.db_files)?;
        erase::erase_exports(&mut st.exports, st.erase_exports, &protect)?;
        erase::erase_exports(&mut st.inputs, st.erase_inputs, &protect)?;
        st.db_check = Some(check);
        st.erased_at = Some(now());
        st.step = Step::Erased;
        state::save(&db, &st)?;
        say(opts, format!(
            "データベースを消去しました（{} ファイル）。書出しファイル: 消去 {} 件、消去せず {} 件 (database erased)",
            st.db_files.len(),
            st.exports.iter().filter(|e| e.status == "erased").count(),
            st.exports.iter().filter(|e| e.status == "kept" || e.status == "changed").count()
        ));
        fault("erased");
    }

    if st.step == Step::Erased {
        // A resumed run may now erase the exports the first run kept.
        erase::erase_exports(&mut st.exports, st.erase_exports, &protect)?;
        erase::erase_exports(&mut st.inputs, st.erase_inputs, &protect)?;
        state::save(&db, &st)?;
        let inputs_left: Vec<String> = st
            .inputs
            .iter()
            .filter(|i| i.status == "kept" || i.status == "changed")
            .map(|i| {
                format!(
                    "{}: {}",
                    i.path,
                    if i.status == "kept" {
                        "取り込んだ元のファイルが残っています (an imported source file remains)"
                    } else {
                        "取り込んだ元のファイルが、内容が変わって残っています (an imported source file remains, changed)"
                    }
                )
            })
            .collect();
        if !inputs_left.is_empty() {
            bail!(
                "取り込んだ元のファイル（受託者が作成・保管した個人情報）が {} 件残っています。消去証明書は作成していません:\n  {}\n\
                 取り込んだときと同じ内容のものは --erase-inputs を付けて同じコマンドをもう一度実行すると消去します。\
                 内容が変わったものは消去するか、委託元へ渡して検査の対象外へ移してから、もう一度実行してください。続き（検査）から行います \
                 (imported source files remain: run again with --erase-inputs, or move them away)",
                inputs_left.len(),
                inputs_left.join("\n  ")
            );
        }
        let unsettled: Vec<&str> = st
            .exports
            .iter()
            .filter(|e| e.unsettled() && e.status == "kept")
            .map(|e| e.path.as_str())
            .collect();
        if !unsettled.is_empty() {
            bail!(
                "書出しが完了したと記録されていない複製（書出しの途中で止まったファイルか一時ファイル）が {} 件残っています。\
                 消去証明書は作成していません:\n  {}\n\
                 --erase-exports を付けて同じコマンドをもう一度実行すると消去します。続き（検査）から行います \
                 (possible copies never settled remain; run again with --erase-exports to erase them)",
                unsettled.len(),
                unsettled.join("\n  ")
            );
        }
        let (report, counts) = remnant_scan(&db, &st, search, &return_dir)?;
        let mut summary = summary_of(&counts);
        summary.batches = search.batches() as u64;
        summary.at = now();
        summary.places = report.places.clone();
        summary.excluded = report.excluded.clone();
        summary.files = report.files;
        summary.bytes = report.bytes;
        summary.zip_entries = report.zip_entries;
        summary.hits = report.hits.len() as u64;
        summary.unreadable = report.unreadable.len() as u64;
        let leftovers: Vec<String> = erase::db_files(&db)
            .into_iter()
            .filter(|(p, _)| p.exists())
            .map(|(p, _)| p.display().to_string())
            .collect();
        if !report.hits.is_empty() || !report.unreadable.is_empty() || !leftovers.is_empty() {
            let mut lines = scan::describe(&report);
            lines.extend(leftovers.iter().map(|p| {
                format!("{p}: データベースのファイルが残っています (a database file remains)")
            }));
            let kept: Vec<&str> = st
                .exports
                .iter()
                .filter(|e| e.status == "kept")
                .map(|e| e.path.as_str())
                .collect();
            bail!(
                "消去後の検査で、参加者の情報が残っているファイルが {} 件見つかりました。消去証明書は作成していません \
                 (remnants found: no certificate):\n  {}\n\
                 これらのファイルを消去するか、検査の対象外の場所へ移してから、同じコマンドをもう一度実行してください。\
                 続き（検査）から行います。{}(remove or move these files, then run the same command again; it resumes at the scan)",
                report.hits.iter().map(|h| &h.place).collect::<BTreeSet<_>>().len()
                    + report.unreadable.len()
                    + leftovers.len(),
                lines.join("\n  "),
                if kept.is_empty() || st.erase_exports {
                    String::new()
                } else {
                    "記録にある書出しファイルは --erase-exports を付けて実行すると消去します。".to_string()
                }
            );
        }
        st.scan = Some(summary);
        st.step = Step::Verified;
        state::save(&db, &st)?;
        say(
            opts,
            format!(
                "消去後の検査: {} 件の値を {} ファイルで検索し、検出 0 件 (remnant scan: 0 hits)",
                counts.values,
                report.files + report.zip_entries
            ),
        );
        fault("verified");
    }

    if st.step == Step::Verified {
        finish(opts, &mut st, search, &return_dir, &rec_name, &cert_name)?;
    }

    Ok(Outcome {
        package: pkg.path.clone(),
        record: st.record_path.clone().unwrap_or_default(),
        certificate: st.certificate_path.clone().unwrap_or_default(),
        certificate_no: st.certificate_no.clone().unwrap_or_default(),
        values: st.scan.as_ref().map(|s| s.values).unwrap_or(0),
        files_scanned: st.scan.as_ref().map(|s| s.files).unwrap_or(0),
        erased_exports: st.exports.iter().filter(|e| e.status == "erased").count(),
        kept_exports: st
            .exports
            .iter()
            .filter(|e| e.status == "kept" || e.status == "changed")
            .count(),
    })
}

/// Scan the database's folder (with subfolders) and each export's folder, leaving out
/// the return folder: the package there is the returned data, not a remnant.
fn remnant_scan(
    db: &Path,
    st: &State,
    search: &Search,
    return_dir: &Path,
) -> Result<(scan::Report, scan::Counts)> {
    let home = db_dir(db);
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for e in &st.exports {
        if let Some(parent) = Path::new(&e.path).parent() {
            if parent.is_dir() {
                let c = canonical(parent);
                if !c.starts_with(&home) && !c.starts_with(return_dir) {
                    dirs.insert(c);
                }
            }
        }
    }
    search.scan(&[return_dir.to_path_buf()], |scanner| {
        scanner.folder(&home, true);
        for d in &dirs {
            scanner.folder(d, false);
        }
    })
}

/// Write the record and the certificate, check neither holds a participant's value,
/// and mark the close-out done.
fn finish(
    opts: &Options,
    st: &mut State,
    search: &Search,
    return_dir: &Path,
    rec_name: &str,
    cert_name: &str,
) -> Result<()> {
    let program = Program::load_stored(&st.program_toml, "close-out state")?;
    let summary = ProgramSummary::of(&program);
    let completed_at = now();
    let date = completed_at.get(..10).unwrap_or("").replace('-', "");
    let certificate_no = format!("{}-消去-{}", st.contract_no, date);
    let record = record::build(st, &summary, &certificate_no, cert_name, &completed_at)?;
    let rec_path = return_dir.join(rec_name);
    let cert_path = return_dir.join(cert_name);
    let json = serde_json::to_vec_pretty(&record)?;
    let rec_file = crate::output::write_bytes(&rec_path, &json)?;
    let xlsx = crate::output::certificate::render(&record, rec_name, &rec_file.sha256)?;
    crate::output::write_bytes(&cert_path, &xlsx)?;
    // The same certificate as a PDF beside it, to print exactly as laid out and stamp.
    let cert_pdf = cert_path.with_extension("pdf");
    crate::output::certificate::write_pdf(&cert_pdf, &record, rec_name, &rec_file.sha256)?;
    erase::sync_dir(&cert_path);
    // Neither may hold a participant's value (a file name chosen after a person, say).
    let report = search.check(&[], |scanner| {
        scanner.file(&rec_path);
        scanner.file(&cert_path);
        scanner.file(&cert_pdf);
    })?;
    if !report.hits.is_empty() || !report.unreadable.is_empty() {
        let lines = scan::describe(&report);
        let _ = erase::overwrite_and_remove(&rec_path);
        let _ = erase::overwrite_and_remove(&cert_path);
        let _ = erase::overwrite_and_remove(&cert_pdf);
        bail!(
            "消去記録・消去証明書に参加者の情報が含まれてしまうため、作成を取りやめました（ファイル名などを確かめてください）\
             (the record or certificate would hold personal data; not written):\n  {}",
            lines.join("\n  ")
        );
    }
    st.certificate_no = Some(certificate_no);
    st.record_path = Some(rec_path.display().to_string());
    st.certificate_path = Some(cert_path.display().to_string());
    st.completed_at = Some(completed_at);
    st.step = Step::Done;
    state::save(&opts.db, st)?;
    Ok(())
}

/// `close-out --verify RECORD --package ZIP`: the package against its record. Returns
/// the lines to print when they agree; an error naming every difference otherwise.
/// Where `--verify` takes the erasure record's SHA-256 from: given on the command line,
/// or printed on the certificate (by default the one beside the record).
#[derive(Debug, Default, Clone)]
pub struct ExpectedRecord {
    pub certificate: Option<PathBuf>,
    pub sha256: Option<String>,
}

/// The record's SHA-256 as the certificate prints it (`SHA-256: …` in the 消去記録 row).
pub fn record_sha_from_certificate(path: &Path) -> Result<String> {
    use std::io::Read;
    let cant = || {
        format!(
            "{}: 消去証明書を読めません。--certificate で場所を指定するか、--record-sha256 で証明書に印刷された値を入力してください \
             (cannot read the certificate)",
            path.display()
        )
    };
    let f = std::fs::File::open(path).with_context(cant)?;
    let mut z = zip::ZipArchive::new(f).with_context(cant)?;
    let mut found = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i)?;
        if !e.name().is_ok_and(|n| n.ends_with(".xml")) {
            continue;
        }
        let mut s = String::new();
        if e.read_to_string(&mut s).is_err() {
            continue;
        }
        let mut rest = s.as_str();
        let label = crate::output::certificate::RECORD_SHA_LABEL;
        while let Some(k) = rest.find(label) {
            let h = &rest[k + label.len()..];
            let hex: String = h.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            if hex.len() == 64 {
                found.push(hex.to_ascii_lowercase());
            }
            rest = &h[hex.len().min(h.len())..];
        }
    }
    found.dedup();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(anyhow::anyhow!(cant())),
    }
}

pub fn verify(
    record_path: &Path,
    package_path: &Path,
    password: Option<&str>,
    expected: &ExpectedRecord,
) -> Result<Vec<String>> {
    let rec = record::load(record_path)?;
    // The record itself first: it must be the one the certificate certifies, or an
    // edited record (counts changed, dates moved) would vouch for itself.
    let (rec_sha, _) = crate::output::sha256_file(record_path)?;
    let (want, from) = match (&expected.sha256, &expected.certificate) {
        (Some(h), _) => (
            h.trim().to_ascii_lowercase(),
            "コマンドラインで指定された値".to_string(),
        ),
        (None, Some(c)) => (record_sha_from_certificate(c)?, c.display().to_string()),
        (None, None) => {
            let (_, _, cert) = file_names(&rec.program.contract_no);
            let c = record_path.parent().unwrap_or(Path::new(".")).join(cert);
            (record_sha_from_certificate(&c)?, c.display().to_string())
        }
    };
    if want != rec_sha {
        bail!(
            "{}: 消去記録の SHA-256 が消去証明書に印刷された値と違います（証明書 {want}（{from}）、この記録 {rec_sha}）。\
             消去記録が書き換えられています (the erasure record differs from the one the certificate certifies)",
            record_path.display()
        );
    }
    let (sha256, bytes) = crate::output::sha256_file(package_path).with_context(|| {
        format!(
            "{}: 返還データを読めません (cannot read the package)",
            package_path.display()
        )
    })?;
    let whole_matches = sha256 == rec.return_package.sha256;
    let mut ok = vec![format!(
        "消去記録: {}（証明書番号 {}、契約 {}）: SHA-256 {} は消去証明書の値と一致します (the record matches the certificate)",
        record_path.display(),
        rec.certificate_no,
        rec.program.contract_no,
        rec_sha
    )];
    let encrypted = rec.return_package.encryption != "none";
    if encrypted && password.is_none() {
        if whole_matches {
            ok.push(format!(
                "返還データ {} はファイル全体の SHA-256 が記録と一致します（{} バイト）。暗号化されているため中のファイルは開いていません \
                 (the whole file matches the record)",
                package_path.display(),
                bytes
            ));
            return Ok(ok);
        }
        bail!(
            "{}: ファイル全体の SHA-256 が記録と違います（記録 {}、このファイル {}）。暗号化されているため、どのファイルが違うかを\
             調べるには --package-password-file を指定してください (the package differs from the record)",
            package_path.display(),
            rec.return_package.sha256,
            sha256
        );
    }
    let read = package::read(package_path, password, &[])?;
    let mut problems = package::differences(&rec.return_package.files, &read);
    if let Some(m) = &read.manifest {
        if m.audit != rec.audit {
            problems.push(format!(
                "manifest.json: 監査ログの最終ハッシュ・件数が記録と違います（記録 {} 件 {}、返還データ {} 件 {}）(audit head differs)",
                rec.audit.entries, rec.audit.head, m.audit.entries, m.audit.head
            ));
        }
        if m.program.contract_no != rec.program.contract_no {
            problems.push(format!(
                "manifest.json: 契約番号が記録と違います（記録 {}、返還データ {}）(contract number differs)",
                rec.program.contract_no, m.program.contract_no
            ));
        }
    }
    if let Some(p) = package::entry_order_problems(&read, &rec.return_package.files) {
        problems.push(p);
    }
    if !whole_matches {
        problems.push(format!(
            "ファイル全体の SHA-256 が記録と違います（記録 {}、このファイル {}）(the zip file itself differs)",
            rec.return_package.sha256, sha256
        ));
    }
    if !problems.is_empty() {
        bail!(
            "{}: 返還データが消去記録と一致しません ({} differences):\n  {}",
            package_path.display(),
            problems.len(),
            problems.join("\n  ")
        );
    }
    ok.push(format!(
        "返還データ {} は消去記録と一致します: 表の CSV {} ファイルの件数と SHA-256、ファイル全体の SHA-256 {} (the package matches its record)",
        package_path.display(),
        rec.return_package.files.len(),
        sha256
    ));
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_guard_is_undone() {
        assert_eq!(unguard("'=1"), "=1");
        assert_eq!(unguard("'+81-3"), "+81-3");
        assert_eq!(unguard("'abc"), "'abc");
        assert_eq!(unguard("山田"), "山田");
    }

    #[test]
    fn addressee_is_the_head_of_the_municipality() {
        assert_eq!(record::addressee("新宿区"), "新宿区長");
        assert_eq!(record::addressee("横浜市"), "横浜市長");
        assert_eq!(record::addressee("東京都"), "東京都知事");
    }
}
