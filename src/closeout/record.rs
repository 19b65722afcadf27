//! The erasure record (消去記録): a JSON file stating what was returned, what was
//! erased, how, what is not covered, and how the erasure was checked. It is the
//! machine-readable twin of the certificate, and what `close-out --verify` checks a
//! package against. It holds no personal data: counts, names of files, hashes.

use super::package::{AuditHead, ManifestFile, ProgramSummary};
use super::state::{DbCheck, ErasedFile, ExportFile, KeysErased, RunInfo, ScanSummary, State};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT: &str = "stepcard-erasure-record/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReturnPackage {
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub encryption: String,
    pub created_at: String,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Category {
    pub table: String,
    pub category: String,
    pub records: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Method {
    pub summary: String,
    pub steps: Vec<String>,
    pub standard: String,
    pub not_covered: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    pub summary: String,
    pub scan: ScanSummary,
    pub database_after_logical_erasure: DbCheck,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub format: String,
    pub certificate_no: String,
    pub issued_on: String,
    /// The municipality the certificate is addressed to (its head: 新宿区長).
    pub addressee: String,
    pub program: ProgramSummary,
    pub responsible_handler: String,
    pub started_at: String,
    pub erased_at: String,
    pub completed_at: String,
    pub audit: AuditHead,
    pub return_package: ReturnPackage,
    pub categories: Vec<Category>,
    pub erased_files: Vec<ErasedFile>,
    /// The key slots destroyed first (cryptographic erase); absent in records of
    /// databases made before encryption.
    #[serde(default)]
    pub keys: Option<KeysErased>,
    pub exports: Vec<ExportFile>,
    /// The imported source files and what became of them.
    #[serde(default)]
    pub inputs: Vec<ExportFile>,
    pub method: Method,
    pub verification: Verification,
    pub certificate_file: String,
    pub runs: Vec<RunInfo>,
}

/// 新宿区 -> 新宿区長, 東京都 -> 東京都知事.
pub fn addressee(municipality: &str) -> String {
    let m = municipality.trim();
    if m.ends_with('都') || m.ends_with('道') || m.ends_with('府') || m.ends_with('県') {
        format!("{m}知事")
    } else {
        format!("{m}長")
    }
}

/// How the database was erased: `crypto` when it was SQLCipher-encrypted and its key
/// slots were destroyed (cryptographic erase), else logical erasure only.
pub fn method(erase_exports: bool, crypto: bool) -> Method {
    let mut steps = vec![
        "返還データ（全テーブルの CSV と manifest.json）を作成し、読み直して件数と SHA-256 を照合した後に消去を開始".to_string(),
    ];
    if crypto {
        steps.extend([
            "暗号化消去: データベース（SQLCipher、AES-256 で最初の書込みから暗号化）の鍵を包んだ鍵ファイル（取扱者ごとの鍵スロット）を 0 で上書きし、ディスクへ書き出してから削除（フォルダも同期）。\
             これにより、データベースと -wal・-shm の暗号文は、ディスクの空き領域・ジャーナル・複製に残ったものを含め、どこにあっても復号できない".to_string(),
            "暗号化されたままのデータベースファイルに参加者の情報（平文）が無いことを検索で確認".to_string(),
        ]);
    } else {
        steps.extend([
            "SQLite の secure_delete を有効にし、全テーブルの全行を一つのトランザクションで削除（削除した内容は 0 で上書きされる）".to_string(),
            "WAL をチェックポイントして切り詰め（wal_checkpoint(TRUNCATE)）、VACUUM でデータベースファイルを再構成".to_string(),
            "削除後のデータベースファイルに参加者の情報が残っていないことを検索で確認".to_string(),
        ]);
    }
    steps.push(
        "データベース本体と -wal・-shm・-journal の各ファイルを 0 で上書きしてから削除".to_string(),
    );
    steps.push(if erase_exports {
        "監査ログに記録された書出しファイル（印刷・運送会社向けの平文のファイル）のうち、記録どおりの内容（SHA-256 が一致）のものを 0 で上書きしてから削除".to_string()
    } else {
        "書出しファイルは消去していない（--erase-exports の指定なし。一覧に状態を記載）".to_string()
    });
    steps.push(
        "消去後、データベースのフォルダ（サブフォルダを含む）と書出し先のフォルダの全ファイル（xlsx・zip 等は展開して）を、\
         参加者番号・氏名・フリガナ・電話番号・メールアドレスについて UTF-8・CP932・UTF-16 で検索"
            .to_string(),
    );
    let mut not_covered = Vec::new();
    if crypto {
        not_covered.push(
            "書出しファイルと取り込んだ元のファイルは暗号化されていない平文のファイルであり、0 による上書きと削除で消去した。\
             ディスクの空き領域（SSD のウェアレベリング、ジャーナル、スナップショット）にそれらの旧データが残る可能性は、上書き消去では除けない"
                .to_string(),
        );
    } else {
        not_covered.push(
            "ディスクの空き領域（ファイルシステムが既に解放した領域、SSD のウェアレベリング、ジャーナル、スナップショットに残る旧データ）".to_string(),
        );
    }
    not_covered.push(format!(
        "バックアップ（OS・クラウド同期・バックアップソフトによる複製）{}",
        if crypto {
            "。ただしデータベースの暗号文の複製は鍵の消去により復号できない"
        } else {
            ""
        }
    ));
    not_covered.push(
        "stepcard の外で作られた複製（取込み前の元ファイル、印刷物、メール添付、手作業の複写など）。ただし検索したフォルダにあるものは検索の対象とした".to_string(),
    );
    Method {
        summary: if crypto {
            "データベースの暗号化消去（SQLCipher AES-256 の鍵の破棄）と、そのファイルの 0 による上書きと削除 \
             (cryptographic erase of the database (SQLCipher AES-256), plus overwrite and removal of its files)"
                .into()
        } else {
            "アプリケーション（stepcard）による論理消去: 削除した内容を 0 で上書きする設定での全行削除、\
             更新ログ（WAL）の書き戻しと切り詰め、ファイルの再構成、0 による上書きの後のファイル削除"
                .into()
        },
        steps,
        standard: if crypto {
            "データベースについては NIST SP 800-88 の暗号化消去（Cryptographic Erase）。書出しファイル・元ファイルについてはアプリケーション層での上書き消去であり、記憶媒体のサニタイズではない"
                .into()
        } else {
            "アプリケーション層での論理消去であり、NIST SP 800-88 にいう記憶媒体のサニタイズ（Clear・Purge・Destroy）ではない".into()
        },
        not_covered,
    }
}

/// The record as of a finished state (Verified).
pub fn build(
    state: &State,
    program: &ProgramSummary,
    certificate_no: &str,
    certificate_file: &str,
    completed_at: &str,
) -> Result<Record> {
    let pkg = state
        .package
        .as_ref()
        .context("internal: no package in the close-out state")?;
    let scan = state.scan.clone().unwrap_or_default();
    let by_kind = scan
        .values_by_kind
        .iter()
        .map(|k| format!("{} {}", k.kind, k.values))
        .collect::<Vec<_>>()
        .join("・");
    let summary = format!(
        "{}（計 {} 件、表記と文字コードの組合せ {} 通り）を {} ファイル（zip 内 {} 件を含む、{} バイト）で検索し、検出 {} 件（{} 件中）",
        by_kind,
        scan.values,
        scan.patterns,
        scan.files,
        scan.zip_entries,
        scan.bytes,
        scan.hits,
        scan.values
    );
    Ok(Record {
        format: FORMAT.into(),
        certificate_no: certificate_no.into(),
        issued_on: completed_at.get(..10).unwrap_or(completed_at).into(),
        addressee: addressee(&program.municipality),
        program: program.clone(),
        responsible_handler: state.operator.clone(),
        started_at: state.started_at.clone(),
        erased_at: state.erased_at.clone().unwrap_or_default(),
        completed_at: completed_at.into(),
        audit: AuditHead {
            entries: state.audit_entries,
            head: state.audit_head.clone(),
        },
        return_package: ReturnPackage {
            name: pkg.name.clone(),
            path: pkg.path.clone(),
            sha256: pkg.sha256.clone(),
            bytes: pkg.bytes,
            encryption: pkg.manifest.encryption.clone(),
            created_at: pkg.manifest.created_at.clone(),
            files: pkg.manifest.files.clone(),
        },
        categories: pkg
            .manifest
            .files
            .iter()
            .filter_map(|f| {
                Some(Category {
                    table: f.table.clone()?,
                    category: f.category.clone(),
                    records: f.records?,
                })
            })
            .collect(),
        erased_files: state.db_files.clone(),
        keys: state.keys.clone(),
        exports: state.exports.clone(),
        inputs: state.inputs.clone(),
        method: method(
            state.erase_exports,
            state
                .keys
                .as_ref()
                .is_some_and(|k| k.database_encrypted && k.status == "erased"),
        ),
        verification: Verification {
            summary,
            scan,
            database_after_logical_erasure: state.db_check.clone().unwrap_or_default(),
        },
        certificate_file: certificate_file.into(),
        runs: state.runs.clone(),
    })
}

pub fn load(path: &Path) -> Result<Record> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("{}: 消去記録を読めません。場所と名前を確かめてください (cannot read the erasure record)", path.display())
    })?;
    let r: Record = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: stepcard の消去記録（JSON）として読めません (not a stepcard erasure record)",
            path.display()
        )
    })?;
    if r.format != FORMAT {
        anyhow::bail!(
            "{}: 形式 {} の消去記録は読めません (unknown record format)",
            path.display(),
            r.format
        );
    }
    Ok(r)
}
