//! What the handling-status report (取扱状況報告) says, gathered from the places that
//! hold it: the program (handlers), the audit log (operations, and every file written,
//! taken from the chained entries rather than the `exports` index, so a copy cannot be
//! hidden by deleting an index row), the disk (is each copy still there, unchanged?) and
//! the database (records held now). No personal data: counts, names of handlers, file
//! names and hashes only. `output::handling_report` lays it out.

use crate::audit::{self, Entry, Verification};
use crate::db::handling as store;
use crate::program::Program;
use anyhow::Result;
use rusqlite::Connection;
use std::path::Path;

pub struct HandlingReport {
    pub program: Program,
    pub made_at: String,
    pub operator: String,
    pub db_path: String,
    pub chain: Verification,
    pub entries: Vec<Entry>,
    pub copies: Vec<Copy>,
    pub holdings: Vec<Holding>,
    /// Who keyed what (入力品質): aggregates only.
    pub quality: crate::quality::Quality,
}

/// A file the tool wrote (a copy of data leaving the database), as the log records it,
/// and what is on disk now.
#[derive(Debug, Clone)]
pub struct Copy {
    pub seq: i64,
    pub at: String,
    pub operator: String,
    pub command: String,
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub now: OnDisk,
    /// A later entry that wrote the same path (this copy was replaced by that one).
    pub overwritten_by: Option<i64>,
    /// Known only from the `exports` index: its audit entry is gone or does not list it.
    pub index_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDisk {
    Missing,
    /// The file is there; its SHA-256 now.
    Present(String),
    /// There but unreadable (a folder now, or no permission).
    Unreadable,
}

impl Copy {
    pub fn exists(&self) -> bool {
        !matches!(self.now, OnDisk::Missing)
    }
    /// Whether the file on disk is byte for byte what was written; None when not there.
    pub fn matches(&self) -> Option<bool> {
        match &self.now {
            OnDisk::Present(h) => Some(*h == self.sha256),
            OnDisk::Unreadable => Some(false),
            OnDisk::Missing => None,
        }
    }
}

/// Records held in one table now.
#[derive(Debug, Clone)]
pub struct Holding {
    pub label: String,
    pub table: String,
    pub rows: i64,
    pub personal: &'static str,
    pub note: String,
}

/// Known tables: label and whether they hold personal data. A table not listed (added
/// by a later capability) is still counted, marked for review, so nothing held is left
/// out of the report.
const TABLES: &[(&str, &str, &str)] = &[
    ("participants", "登録者（名簿）", PERSONAL),
    ("participant_history", "登録者の変更前の値", PERSONAL),
    ("steps", "歩数", LINKED),
    ("steps_history", "置き換えた歩数（履歴）", LINKED),
    ("rejected_rows", "保留した誤りの行（入力のまま）", MAYBE),
    ("problems", "誤りの記録（入力値を含む）", MAYBE),
    ("orders", "景品の申込み", LINKED),
    ("shipments", "発送の記録", NONE),
    ("mailings", "郵送（参加案内など）の記録", NONE),
    ("guidance_mailed", "参加案内を送った参加者", LINKED),
    ("survey_answers", "アンケートの回答", LINKED),
    ("batches", "取込みの記録", NONE),
    ("exports", "複製（出力ファイル）の索引", NONE),
    ("audit_log", "監査ログ", NONE),
    ("meta", "設定（プログラム・監査ログの控え）", NONE),
    ("card_mailings", "記録台紙の送付（回ごと）", NONE),
    ("cards_sent", "記録台紙の送付先（参加者別）", LINKED),
    ("verify_runs", "ベリファイの記録（入力者・件数）", NONE),
    (
        "verify_discrepancies",
        "ベリファイの不一致と誤りの側（入力品質）",
        LINKED,
    ),
    (
        "keying_refusals",
        "入力者別の取込みの誤り件数（入力品質）",
        NONE,
    ),
];
const PERSONAL: &str = "含む";
const LINKED: &str = "参加者番号で個人に結びつく";
const MAYBE: &str = "含む場合あり";
const NONE: &str = "含まない";
const UNKNOWN: &str = "要確認（未分類の表）";

pub fn gather(
    conn: &Connection,
    program: &Program,
    operator: &str,
    db_path: &Path,
    chain: Verification,
) -> Result<HandlingReport> {
    let entries = audit::entries(conn)?;
    let mut copies = copies(&entries);
    copies.extend(index_only_copies(conn, &copies)?);
    copies.sort_by_key(|c| c.seq);
    let holdings = holdings(conn)?;
    Ok(HandlingReport {
        program: program.clone(),
        made_at: crate::now(),
        operator: operator.to_string(),
        db_path: std::path::absolute(db_path)
            .unwrap_or_else(|_| db_path.to_path_buf())
            .display()
            .to_string(),
        chain,
        entries,
        copies,
        holdings,
        quality: crate::db::quality::quality(conn)?,
    })
}

/// Every file every entry wrote, in order, with its state on disk now.
pub fn copies(entries: &[Entry]) -> Vec<Copy> {
    let mut out: Vec<Copy> = Vec::new();
    for e in entries {
        for f in e.files() {
            out.push(Copy {
                seq: e.seq,
                at: e.at.clone(),
                operator: e.operator.clone(),
                command: e.command.clone(),
                now: on_disk(Path::new(&f.path)),
                path: f.path,
                sha256: f.sha256,
                bytes: f.bytes,
                overwritten_by: None,
                index_only: false,
            });
        }
    }
    for i in 0..out.len() {
        out[i].overwritten_by = out[i + 1..]
            .iter()
            .find(|later| later.path == out[i].path && later.seq != out[i].seq)
            .map(|later| later.seq);
    }
    out
}

/// Files in the `exports` index that no audit entry lists: the entry that wrote them was
/// removed or changed. They are reported too, so deleting a log entry does not hide a copy.
fn index_only_copies(conn: &Connection, from_log: &[Copy]) -> Result<Vec<Copy>> {
    let known: std::collections::HashSet<(i64, &str, &str)> = from_log
        .iter()
        .map(|c| (c.seq, c.path.as_str(), c.sha256.as_str()))
        .collect();
    let mut out = Vec::new();
    for row in store::exports_index(conn)? {
        let store::IndexedExport {
            seq,
            at,
            path,
            sha256,
            bytes,
        } = row;
        if known.contains(&(seq, path.as_str(), sha256.as_str())) {
            continue;
        }
        out.push(Copy {
            seq,
            at,
            operator: String::new(),
            command: String::new(),
            now: on_disk(Path::new(&path)),
            path,
            sha256,
            bytes: u64::try_from(bytes).unwrap_or(0),
            overwritten_by: None,
            index_only: true,
        });
    }
    Ok(out)
}

fn on_disk(path: &Path) -> OnDisk {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => OnDisk::Missing,
        Err(_) => OnDisk::Unreadable,
        Ok(m) if !m.is_file() => OnDisk::Unreadable,
        Ok(_) => match crate::output::sha256_file(path) {
            Ok((h, _)) => OnDisk::Present(h),
            Err(_) => OnDisk::Unreadable,
        },
    }
}

/// Rows held now in every table of the database, known tables first.
pub fn holdings(conn: &Connection) -> Result<Vec<Holding>> {
    let names = store::table_names(conn)?;
    let rank = |n: &str| TABLES.iter().position(|t| t.0 == n).unwrap_or(TABLES.len());
    let mut names = names;
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    let mut out = Vec::new();
    for name in names {
        let rows = store::row_count(conn, &name)?;
        let (label, personal) = TABLES
            .iter()
            .find(|t| t.0 == name)
            .map(|t| (t.1.to_string(), t.2))
            .unwrap_or_else(|| (name.clone(), UNKNOWN));
        let note = note(conn, &name)?;
        out.push(Holding {
            label,
            table: name,
            rows,
            personal,
            note,
        });
    }
    Ok(out)
}

/// A breakdown where it helps the reader: participants by channel, steps by people.
fn note(conn: &Connection, table: &str) -> Result<String> {
    Ok(match table {
        "participants" => store::participants_by_channel(conn)?
            .into_iter()
            .map(|(channel, n)| format!("{channel} {n} 名"))
            .collect::<Vec<_>>()
            .join("・"),
        "steps" => match store::steps_span(conn)? {
            (people, Some(f), Some(l)) => format!("{people} 名分、{f} 〜 {l}"),
            _ => String::new(),
        },
        "batches" => match store::undone_batches(conn)? {
            0 => String::new(),
            undone => format!("うち取消済 {undone} 件"),
        },
        _ => String::new(),
    })
}

/// A command's name as an auditor reads it.
pub fn command_ja(command: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("init", "データベースの作成"),
        ("roster import", "名簿の取込み"),
        ("roster export", "名簿の書出し"),
        ("steps import", "歩数の取込み"),
        ("steps export", "歩数の書出し"),
        ("steps verify", "ベリファイ"),
        ("batches list", "取込みの一覧"),
        ("batches show", "取込みの詳細"),
        ("batches undo", "取込みの取消し"),
        ("points", "ポイント"),
        ("orders import", "景品申込みの取込み"),
        ("ship", "発送"),
        ("labels", "宛名ラベル"),
        ("survey import", "アンケートの取込み"),
        ("report", "評価報告"),
        ("audit", "監査・取扱状況報告"),
        ("prizes", "景品の一覧"),
        ("status", "データベースの要約"),
        ("template", "入力用シートの書出し"),
        ("quality", "入力品質"),
        ("cards", "記録台紙の書出し"),
        ("close-out", "返還・消去"),
        ("demo", "デモ"),
        ("open", "データベースを開く"),
        ("handlers add", "パスワードの登録"),
        ("handlers passwd", "パスワードの変更"),
        ("handlers remove", "パスワードの削除"),
        ("handlers list", "パスワードの一覧"),
        ("encrypt", "暗号化への移行"),
    ];
    match NAMES.iter().find(|(k, _)| *k == command) {
        Some((_, ja)) => format!("{ja}（{command}）"),
        None => command.to_string(),
    }
}

/// Who ran an entry's command: the handler who authenticated (their password opened
/// their key slot) and, beneath, the operating-system account (none in entries made
/// before it was recorded).
pub fn who(e: &Entry) -> String {
    match e.os_user() {
        "" => e.operator.clone(),
        u => format!("{}\nOS: {u}", e.operator),
    }
}

/// An entry's status as an auditor reads it.
pub fn status_ja(status: &str) -> String {
    match status {
        "ok" => "完了".into(),
        "refused" => "拒否（データ・状態）".into(),
        "usage error" => "指定の誤り".into(),
        "refused: not a designated handler" => "拒否（指定された取扱者ではない）".into(),
        "refused: wrong password" => "拒否（パスワードの誤り）".into(),
        "refused: no key slot" => "拒否（パスワード未登録の取扱者）".into(),
        "refused: return package check failed" => "拒否（返還データの照合に失敗）".into(),
        "refusals not listed" => "拒否の記録の一部を省略".into(),
        "pending" => "途中".into(),
        crate::audit::COPY_PENDING => "複製の書出し予定".into(),
        crate::audit::COPY_NOT_WRITTEN => "複製は書き出されず".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Detail;
    use crate::output::FileRecord;

    fn entry(seq: i64, files: &[(&str, &str)]) -> Entry {
        let mut d = Detail::default();
        for (p, h) in files {
            d.file(FileRecord {
                path: p.to_string(),
                sha256: h.to_string(),
                bytes: 3,
            });
        }
        Entry {
            seq,
            at: "t".into(),
            operator: "山田 太郎".into(),
            command: "roster export".into(),
            detail: serde_json::to_value(&d).unwrap(),
            hash: String::new(),
        }
    }

    #[test]
    fn copies_know_what_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let same = dir.path().join("same.csv");
        let changed = dir.path().join("changed.csv");
        let gone = dir.path().join("gone.csv");
        let twice = dir.path().join("twice.csv");
        std::fs::write(&same, b"abc").unwrap();
        std::fs::write(&changed, b"abd").unwrap();
        std::fs::write(&twice, b"abc").unwrap();
        let abc = crate::output::sha256_hex(b"abc");
        let p = |x: &Path| x.display().to_string();
        let entries = vec![
            entry(
                1,
                &[(&p(&same), &abc), (&p(&changed), &abc), (&p(&gone), &abc)],
            ),
            entry(2, &[(&p(&twice), "00")]),
            entry(3, &[(&p(&twice), &abc)]),
        ];
        let c = copies(&entries);
        assert_eq!(c.len(), 5);
        assert_eq!((c[0].exists(), c[0].matches()), (true, Some(true)));
        assert_eq!((c[1].exists(), c[1].matches()), (true, Some(false)));
        assert_eq!((c[2].exists(), c[2].matches()), (false, None));
        assert_eq!(c[3].overwritten_by, Some(3));
        assert_eq!(c[3].matches(), Some(false));
        assert_eq!((c[4].overwritten_by, c[4].matches()), (None, Some(true)));
    }

    #[test]
    fn a_copy_whose_entry_was_removed_is_still_reported() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE exports(id INTEGER PRIMARY KEY, audit_seq INTEGER, path TEXT, sha256 TEXT, bytes INTEGER, at TEXT);
             INSERT INTO exports(audit_seq, path, sha256, bytes, at) VALUES (1,'/x/a.csv','aa',3,'t'),(2,'/x/b.csv','bb',4,'t');",
        )
        .unwrap();
        let logged = copies(&[entry(1, &[("/x/a.csv", "aa")])]);
        let extra = index_only_copies(&c, &logged).unwrap();
        assert_eq!(extra.len(), 1);
        assert_eq!((extra[0].seq, extra[0].path.as_str()), (2, "/x/b.csv"));
        assert!(extra[0].index_only);
    }

    #[test]
    fn unknown_tables_are_counted_for_review() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE participants(id TEXT, channel TEXT); INSERT INTO participants VALUES ('1','台紙'),('2','台紙'),('3','アプリ');
             CREATE TABLE mystery(id INTEGER); INSERT INTO mystery VALUES (1);
             CREATE TABLE audit_log(seq INTEGER);",
        )
        .unwrap();
        let h = holdings(&c).unwrap();
        let names: Vec<&str> = h.iter().map(|h| h.table.as_str()).collect();
        assert_eq!(names, ["participants", "audit_log", "mystery"]);
        assert_eq!(h[0].rows, 3);
        assert_eq!(h[0].personal, PERSONAL);
        assert_eq!(h[0].note, "台紙 2 名・アプリ 1 名");
        assert_eq!(h[2].personal, UNKNOWN);
    }
}
