//! The hash-chained audit log. Every command appends one entry: time, operator, command,
//! counts, and each file written with its SHA-256, never personal data. Each entry's
//! hash covers its canonical form and the previous entry's hash, so editing, removing or
//! reordering an entry breaks the chain at that entry.
//!
//! A chain alone cannot show that entries were cut off its end (the shorter chain is
//! still a valid chain), so every append also stores the last sequence number and head
//! hash in `meta` (`audit_last_seq`, `audit_head`), in the same transaction, and
//! `verify` compares the chain against them. The next entry continues from those values,
//! not from the table's last row, so a later command does not heal such a break. What
//! remains undetectable from inside the database is a rewrite of the whole chain
//! together with those two values: that is why the handling-status report and the
//! close-out certificate carry the head hash, so a copy held outside the database can
//! be compared.

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value as Json;

use crate::db::audit::{self as store, Stored};
use crate::output::{sha256_hex, FileRecord};

/// The hash the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `meta` keys holding the chain's last sequence number and head hash.
pub use crate::db::audit::{META_HEAD, META_LAST_SEQ};

/// The status of an entry recording a file about to be written (its path and purpose
/// in `args`): a possible copy until a later entry of the same command lists it.
pub const COPY_PENDING: &str = "copy pending";
/// The status of an entry saying a pending file was not written after all.
pub const COPY_NOT_WRITTEN: &str = "copy not written";

/// What a command reports for its audit entry.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Detail {
    pub status: String,
    pub counts: serde_json::Map<String, Json>,
    pub files: Vec<FileRecord>,
    /// Input files read, by name and SHA-256.
    pub files_read: Vec<serde_json::Value>,
    pub args: serde_json::Map<String, Json>,
    /// The operating-system account that ran the command, beside the handler who
    /// authenticated (filled in by [`append`] when empty; absent in entries written
    /// before it was recorded, whose hashes stay as they were).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_user: String,
}

impl Detail {
    pub fn count(&mut self, key: &str, n: impl Into<Json>) {
        self.counts.insert(key.to_string(), n.into());
    }
    pub fn arg(&mut self, key: &str, v: impl Into<Json>) {
        self.args.insert(key.to_string(), v.into());
    }
    pub fn files_read_push(&mut self, name: &str, sha256: &str) {
        self.files_read
            .push(serde_json::json!({ "name": name, "sha256": sha256 }));
    }
    pub fn file(&mut self, f: FileRecord) {
        self.files.push(f);
    }
}

fn canonical(
    seq: i64,
    at: &str,
    operator: &str,
    command: &str,
    detail: &str,
    prev: &str,
) -> String {
    // Fields separated by a newline, with the JSON detail as stored: a fixed form that
    // `verify` can recompute byte for byte. It is unambiguous because no field holds a
    // raw newline: the detail is JSON (newlines escaped), the others are cleaned by
    // `one_line` on append, and `verify` refuses an entry whose field has one.
    format!("{seq}\n{at}\n{operator}\n{command}\n{detail}\n{prev}")
}

/// A field as stored in the chain: control characters (a newline typed into
/// `--operator`, say) become spaces, so fields cannot be shifted across separators.
fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// Append an entry. Outside a transaction it takes the write lock first (`BEGIN
/// IMMEDIATE`), so two commands finishing at once queue on the busy timeout instead of
/// racing for the same sequence number; inside the caller's transaction it commits with
/// the work. Either way the entry, its export rows and the chain's control values in
/// `meta` are written together or not at all.
pub fn append(
    conn: &Connection,
    at: &str,
    operator: &str,
    command: &str,
    detail: &Detail,
) -> Result<i64> {
    let with_user;
    let detail = if detail.os_user.is_empty() {
        with_user = Detail {
            os_user: crate::os_user(),
            ..detail.clone()
        };
        &with_user
    } else {
        detail
    };
    store::atomically(conn, || {
        let (seq, prev) = next_link(conn)?;
        let e = link(
            seq,
            at,
            operator,
            command,
            serde_json::to_string(detail)?,
            prev,
        );
        store::insert(conn, &e, &detail.files)?;
        Ok(seq)
    })
}

/// The entry placed at `seq` after `prev`, its fields cleaned and its hash computed.
fn link(seq: i64, at: &str, operator: &str, command: &str, detail: String, prev: String) -> Stored {
    let (at, operator, command) = (one_line(at), one_line(operator), one_line(command));
    let hash = sha256_hex(canonical(seq, &at, &operator, &command, &detail, &prev).as_bytes());
    Stored {
        seq,
        at: at.into_owned(),
        operator: operator.into_owned(),
        command: command.into_owned(),
        detail,
        prev_hash: prev,
        hash,
    }
}

/// The sequence number and previous hash for the next entry. They continue from the
/// control values in `meta`, not from whatever row is last in the table: an entry cut
/// off the end (or re-hashed) therefore stays a visible break after later appends,
/// instead of being healed by the next command.
fn next_link(conn: &Connection) -> Result<(i64, String)> {
    let table = store::last(conn)?;
    let (last, head) = store::control(conn)?;
    Ok(chain_on(table.map(|t| t.0), last, head))
}

/// Where the next entry goes, given the table's last sequence number and the control
/// values.
fn chain_on(table_seq: Option<i64>, last: Option<i64>, head: Option<String>) -> (i64, String) {
    let table_seq_or_0 = table_seq.unwrap_or(0);
    match (table_seq, last, head) {
        (None, None, None) => (1, GENESIS.to_string()),
        (_, Some(last), Some(head)) => (table_seq_or_0.max(last) + 1, head),
        // The control values were removed: the entry chains to nothing, marking where
        // they went missing.
        (_, last, _) => (
            table_seq_or_0.max(last.unwrap_or(0)) + 1,
            GENESIS.to_string(),
        ),
    }
}

/// The chain's state.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Entries read (up to and including the first broken one).
    pub entries: i64,
    /// The last good entry's hash (the head when the chain is intact).
    pub head: String,
    /// The first entry found wrong, with what is wrong with it.
    pub broken: Option<(i64, String)>,
}

/// Recompute the chain from the first entry and compare its end with the control values
/// in `meta`. Names the first entry that was changed, removed or moved.
pub fn verify(conn: &Connection) -> Result<Verification> {
    // The log holds one entry per command: small enough to hold while checking, which
    // lets a broken entry be compared with every other one.
    let all = store::all(conn)?;
    let (last, head) = store::control(conn)?;
    let mut v = check_chain(&all, last, head);
    if v.broken.is_none() {
        let program = crate::db::meta_get(conn, "program_toml")?;
        v.broken = check_program(&all, program.as_deref()).or(check_index(
            &all,
            &crate::db::handling::exports_index(conn)?,
        ));
    }
    Ok(v)
}

/// Why the stored program cannot be trusted, if it was changed since `init`.
pub fn program_changed(conn: &Connection) -> Result<Option<String>> {
    let program = crate::db::meta_get(conn, "program_toml")?;
    Ok(check_program(&store::all(conn)?, program.as_deref()).map(|(_, why)| why))
}

/// The program file (handlers, roles) governs who may touch the data: the text stored
/// must be the one `init` read, whose SHA-256 its chained entry holds.
pub fn check_program(all: &[Stored], program: Option<&str>) -> Option<(i64, String)> {
    let init = all.iter().find(|e| e.command == "init")?;
    let detail: Json = serde_json::from_str(&init.detail).ok()?;
    let recorded = detail
        .get("files_read")?
        .as_array()?
        .first()?
        .get("sha256")?
        .as_str()?
        .to_string();
    let now = program.map(|p| sha256_hex(p.as_bytes()));
    if now.as_deref() == Some(recorded.as_str()) {
        return None;
    }
    Some((
        init.seq,
        format!(
            "データベースに保存されたプログラム（取扱者・役割を含む）が、記録 {} に記録された init 時のもの（SHA-256 {}）と違います。\
             stepcard 以外の方法で書き換えられています (the stored program file was changed outside stepcard)",
            init.seq,
            &recorded[..recorded.len().min(16)]
        ),
    ))
}

/// The `exports` index must hold exactly the files the chained entries list: a row
/// deleted (a copy hidden from the close-out) or added is named.
pub fn check_index(
    all: &[Stored],
    index: &[crate::db::handling::IndexedExport],
) -> Option<(i64, String)> {
    let mut listed: Vec<(i64, String, String)> = Vec::new();
    for e in all {
        let Ok(d) = serde_json::from_str::<Json>(&e.detail) else {
            continue;
        };
        for f in d
            .get("files")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(p), Some(s)) = (
                f.get("path").and_then(Json::as_str),
                f.get("sha256").and_then(Json::as_str),
            ) {
                listed.push((e.seq, p.to_string(), s.to_string()));
            }
        }
    }
    let mut rows: Vec<(i64, String, String)> = index
        .iter()
        .map(|r| (r.seq, r.path.clone(), r.sha256.clone()))
        .collect();
    for (seq, path, sha) in &listed {
        match rows.iter().position(|r| r.0 == *seq && r.1 == *path && r.2 == *sha) {
            Some(i) => {
                rows.remove(i);
            }
            None => {
                return Some((
                    *seq,
                    format!(
                        "記録 {seq} の複製 {path} が複製の索引（exports）にありません。索引が stepcard 以外の方法で書き換えられています (the copy is missing from the exports index)"
                    ),
                ))
            }
        }
    }
    rows.first().map(|(seq, path, _)| {
        (
            *seq,
            format!(
                "複製の索引（exports）に、監査ログの記録 {seq} にない複製 {path} があります。索引が stepcard 以外の方法で書き換えられています (the exports index holds a copy no entry lists)"
            ),
        )
    })
}

/// The chain's state from its stored entries (in sequence order) and the control values
/// (last sequence number, head hash).
pub fn check_chain(all: &[Stored], last: Option<i64>, stored_head: Option<String>) -> Verification {
    /// Whether the entry's hash matches its content placed at position `seq`.
    fn hashes_at(e: &Stored, seq: i64) -> bool {
        ![&e.at, &e.operator, &e.command]
            .iter()
            .any(|f| f.contains('\n'))
            && sha256_hex(
                canonical(seq, &e.at, &e.operator, &e.command, &e.detail, &e.prev_hash).as_bytes(),
            ) == e.hash
    }
    let mut prev = GENESIS.to_string();
    let mut n = 0i64;
    for (i, e) in all.iter().enumerate() {
        let expected = i as i64 + 1;
        let seq = e.seq;
        n += 1;
        let broken = if seq != expected {
            Some((
                expected,
                if seq == expected + 1 {
                    format!(
                        "記録 {expected} がありません（削除されています）(entry {expected} is missing; the next is {seq})"
                    )
                } else {
                    format!(
                        "記録 {expected}〜{} がありません（削除されています）(entries {expected}-{} are missing; the next is {seq})",
                        seq - 1,
                        seq - 1
                    )
                },
            ))
        } else if !hashes_at(e, seq) {
            // Content that hashes correctly at another position was moved here.
            let upper = all.last().map_or(0, |l| l.seq).max(all.len() as i64) + 1;
            match (1..=upper).find(|&k| k != seq && hashes_at(e, k)) {
                Some(k) => Some((
                    seq,
                    format!(
                        "記録 {seq} の位置に元の記録 {k} があります（記録の入替えか削除）(entry {seq} holds what was entry {k}: entries reordered or removed)"
                    ),
                )),
                None => Some((
                    seq,
                    format!("記録 {seq} の内容が書き換えられています (entry {seq} was changed)"),
                )),
            }
        } else if e.prev_hash != prev {
            // The entry is intact where it is, but names another predecessor.
            match all.iter().find(|o| o.hash == e.prev_hash) {
                _ if seq > 1 && e.prev_hash == GENESIS => Some((
                    seq,
                    format!(
                        "記録 {seq} は記録の控え（最終番号と先頭ハッシュ）が消された状態で書き加えられました。それより前の末尾の削除を確かめられません (entry {seq} was appended after the chain's control values were removed)"
                    ),
                )),
                // It names an earlier entry: those between were put in afterwards.
                Some(o) if o.seq < seq - 1 => Some((
                    o.seq + 1,
                    format!(
                        "記録 {}〜{} は stepcard 以外の方法で書き加えられています（記録 {seq} は記録 {} の次に書かれました）(entries {}-{} were added outside stepcard)",
                        o.seq + 1,
                        seq - 1,
                        o.seq,
                        o.seq + 1,
                        seq - 1
                    ),
                )),
                Some(o) => Some((
                    seq,
                    format!(
                        "記録 {seq} は元は記録 {} の次にありました（記録の入替えか削除）(entry {seq} followed entry {}: entries reordered or removed)",
                        o.seq, o.seq
                    ),
                )),
                None if seq > 1 => Some((
                    seq - 1,
                    format!(
                        "記録 {} が書き換えられ、ハッシュも計算し直されています（記録 {seq} が指す元のハッシュと違います）(entry {} was changed and re-hashed)",
                        seq - 1,
                        seq - 1
                    ),
                )),
                None => Some((
                    seq,
                    format!("記録 {seq} の内容が書き換えられています (entry {seq} was changed)"),
                )),
            }
        } else {
            None
        };
        if broken.is_some() {
            return Verification {
                entries: n,
                head: prev,
                broken,
            };
        }
        prev = e.hash.clone();
    }
    let broken = check_control(last, stored_head, n, &prev);
    Verification {
        entries: n,
        head: prev,
        broken,
    }
}

/// Compare the chain's end (last sequence number `n`, head hash) with the control values
/// every append stores in `meta`.
fn check_control(
    last: Option<i64>,
    stored_head: Option<String>,
    n: i64,
    head: &str,
) -> Option<(i64, String)> {
    match (last, stored_head) {
        (Some(last), Some(h)) if last == n && h == head => None,
        (Some(last), _) if last > n => Some((
            n + 1,
            if last == n + 1 {
                format!(
                    "最後の記録 {last} が削除されています（控えの最終番号は {last}）(entry {last}, the last, was removed)"
                )
            } else {
                format!(
                    "記録 {}〜{last} が末尾から削除されています（控えの最終番号は {last}）(entries {}-{last} were removed from the end)",
                    n + 1,
                    n + 1
                )
            },
        )),
        (Some(last), _) if last < n => Some((
            last + 1,
            format!(
                "記録 {}〜{n} は stepcard 以外の方法で書き加えられています（控えの最終番号は {last}）(entries {}-{n} were added outside stepcard)",
                last + 1,
                last + 1
            ),
        )),
        (Some(_), Some(_)) => Some((
            n,
            format!(
                "最後の記録 {n} が控えの先頭ハッシュと一致しません（書き換えか差替え）(entry {n} does not match the stored head hash: changed or replaced)"
            ),
        )),
        _ if n == 0 => Some((
            1,
            "記録がひとつもありません。init が必ず記録 1 を書くため、すべて削除されています (the log is empty: every entry was removed)".to_string(),
        )),
        _ => Some((
            n,
            format!(
                "記録の控え（最終番号と先頭ハッシュ）が消されています。記録 {n} より後の削除を確かめられません (the chain's control values were removed)"
            ),
        )),
    }
}

/// One stored entry, its detail parsed, for reports.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub operator: String,
    pub command: String,
    /// The detail as stored; `Null` when it is not JSON (a damaged entry, which
    /// `verify` reports).
    pub detail: Json,
    pub hash: String,
}

impl Entry {
    /// The OS account that ran the command (empty in entries from before it was
    /// recorded).
    pub fn os_user(&self) -> &str {
        self.detail
            .get("os_user")
            .and_then(Json::as_str)
            .unwrap_or("")
    }

    pub fn status(&self) -> &str {
        self.detail
            .get("status")
            .and_then(Json::as_str)
            .unwrap_or("")
    }

    /// The files this command wrote, as recorded (path, sha256, bytes).
    pub fn files(&self) -> Vec<FileRecord> {
        self.detail
            .get("files")
            .and_then(Json::as_array)
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| {
                        Some(FileRecord {
                            path: f.get("path")?.as_str()?.to_string(),
                            sha256: f.get("sha256")?.as_str()?.to_string(),
                            bytes: f.get("bytes")?.as_u64()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The input files this command read, by name.
    pub fn files_read(&self) -> Vec<String> {
        self.detail
            .get("files_read")
            .and_then(Json::as_array)
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| Some(f.get("name")?.as_str()?.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The counts as a line an auditor reads: `追加 60、重複 0`.
    pub fn counts_text(&self) -> String {
        match self.detail.get("counts").and_then(Json::as_object) {
            Some(m) => counts_text(m),
            None => String::new(),
        }
    }
}

/// Every entry in order.
pub fn entries(conn: &Connection) -> Result<Vec<Entry>> {
    Ok(store::all(conn)?
        .into_iter()
        .map(|e| Entry {
            seq: e.seq,
            at: e.at,
            operator: e.operator,
            command: e.command,
            detail: serde_json::from_str(&e.detail).unwrap_or(Json::Null),
            hash: e.hash,
        })
        .collect())
}

/// Japanese labels of the count keys commands record; an unknown key is shown as is.
const COUNT_LABELS: &[(&str, &str)] = &[
    ("batch", "取込み番号"),
    ("rows", "読んだ行"),
    ("inserted", "追加"),
    ("duplicates", "重複"),
    ("replaced", "置換"),
    ("updated", "更新"),
    ("problems", "誤り"),
    ("rejected_rows", "保留行"),
    ("dry_run", "検査のみ"),
    ("already_imported_batch", "取込み済み（番号）"),
    ("participants", "参加者"),
    ("card_mailing", "台紙の送付番号"),
    ("cards", "台紙（枚）"),
    ("steps", "歩数"),
    ("batches", "取込み"),
    ("removed", "削除"),
    ("restored", "復元"),
    ("handlers", "取扱者"),
    ("prizes", "景品"),
    ("entries", "監査記録"),
    ("exports", "複製"),
    ("notices", "注意"),
    ("sheets", "枚数"),
    ("labels", "ラベル"),
    ("mailing", "郵送番号"),
    ("resent", "再送"),
    ("participants_named", "指定した参加者"),
    ("orders", "申込み"),
    ("orders_accepted", "受付した申込み"),
    ("orders_rejected", "却下した申込み"),
    ("quantity", "数量"),
    ("quantity_accepted", "受付数量"),
    ("shipment", "発送番号"),
    ("points_earned", "獲得ポイント"),
    ("points_used", "使用ポイント"),
    ("days", "日数"),
    ("active", "活動した参加者"),
    ("hidden_cells", "秘匿したセル"),
    ("marked_verified_batch", "ベリファイ済みにした取込み"),
    ("verify_first_entries", "1回目の入力"),
    ("verify_second_entries", "2回目の入力"),
    ("verify_agree", "一致"),
    ("verify_agreeing", "一致した日"),
    ("verify_matched", "照合した日"),
    ("verify_mismatches", "不一致"),
    ("verify_only_first", "1回目だけ"),
    ("verify_only_second", "2回目だけ"),
    ("verify_duplicates", "重複"),
    ("verify_duplicate_conflicts", "重複（値が違う）"),
    ("verify_unreadable", "読めない値"),
    ("verify_agreed_invalid", "一致したが誤り"),
    ("verify_discrepancies_recorded", "記録した不一致"),
    ("keyers", "入力者"),
    ("discrepancies", "不一致"),
    ("refusals", "拒否の記録"),
    ("respondents_pre", "事前の回答者"),
    ("answers_pre", "事前の回答"),
    ("respondents_post", "事後の回答者"),
    ("answers_post", "事後の回答"),
];

/// A count key as an auditor reads it: the table above, or a key made of a prefix and
/// a code (`rejected.prize.out_of_stock`, `prize.Q1`) with the code's meaning.
fn count_label(key: &str) -> String {
    if let Some((_, l)) = COUNT_LABELS.iter().find(|(k, _)| *k == key) {
        return (*l).to_string();
    }
    if let Some(code) = key.strip_prefix("rejected.") {
        let m = crate::validate::meaning(code);
        return if m.is_empty() {
            format!("却下（{code}）")
        } else {
            format!("却下（{m}）")
        };
    }
    if let Some(prize) = key.strip_prefix("prize.") {
        return format!("景品 {prize}");
    }
    key.to_string()
}

/// Counts in the order of `COUNT_LABELS` (the order an import reads), unknown keys last.
pub fn counts_text(m: &serde_json::Map<String, Json>) -> String {
    let rank = |k: &str| {
        COUNT_LABELS
            .iter()
            .position(|(key, _)| *key == k)
            .unwrap_or(COUNT_LABELS.len())
    };
    let mut items: Vec<(&String, &Json)> = m.iter().collect();
    items.sort_by_key(|(k, _)| rank(k));
    items
        .into_iter()
        .map(|(k, v)| {
            let label = count_label(k);
            let value = match v {
                Json::Bool(true) => "はい".to_string(),
                Json::Bool(false) => "いいえ".to_string(),
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{label} {value}")
        })
        .collect::<Vec<_>>()
        .join("、")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, at TEXT, operator TEXT, command TEXT, detail TEXT, prev_hash TEXT, hash TEXT);
             CREATE TABLE exports(id INTEGER PRIMARY KEY, audit_seq INTEGER, path TEXT, sha256 TEXT, bytes INTEGER, at TEXT);",
        )
        .unwrap();
        for i in 0..4 {
            let mut d = Detail::default();
            d.count("rows", i);
            append(
                &c,
                "2025-06-01T10:00:00+09:00",
                "山田 太郎",
                "steps import",
                &d,
            )
            .unwrap();
        }
        c
    }

    fn broken_at(c: &Connection) -> (i64, String) {
        verify(c).unwrap().broken.expect("the change is detected")
    }

    /// Rewrite an entry's hash to match its (changed) content, as a careful forger would.
    fn rehash(c: &Connection, seq: i64) {
        let (at, op, cmd, detail, prev): (String, String, String, String, String) = c
            .query_row(
                "SELECT at, operator, command, detail, prev_hash FROM audit_log WHERE seq=?1",
                [seq],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        let h = sha256_hex(canonical(seq, &at, &op, &cmd, &detail, &prev).as_bytes());
        c.execute(
            "UPDATE audit_log SET hash=?2 WHERE seq=?1",
            rusqlite::params![seq, h],
        )
        .unwrap();
    }

    #[test]
    fn intact_chain_verifies() {
        let c = db();
        let v = verify(&c).unwrap();
        assert_eq!(v.entries, 4);
        assert!(v.broken.is_none(), "{:?}", v.broken);
        assert_eq!(v.head.len(), 64);
        let last: String = c
            .query_row("SELECT hash FROM audit_log WHERE seq=4", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v.head, last);
        assert_eq!(
            crate::db::meta_get(&c, META_HEAD).unwrap().as_deref(),
            Some(last.as_str())
        );
    }

    #[test]
    fn an_edit_is_named() {
        let c = db();
        c.execute("UPDATE audit_log SET operator='x' WHERE seq=2", [])
            .unwrap();
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 2);
        assert!(why.contains("書き換えられています"), "{why}");
    }

    #[test]
    fn an_edit_with_its_hash_recomputed_is_named() {
        let c = db();
        c.execute(
            "UPDATE audit_log SET command='roster export' WHERE seq=2",
            [],
        )
        .unwrap();
        rehash(&c, 2);
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 2, "{why}");
        assert!(why.contains("計算し直されています"), "{why}");
    }

    #[test]
    fn the_last_entry_edited_and_rehashed_is_named() {
        let c = db();
        c.execute("UPDATE audit_log SET operator='x' WHERE seq=4", [])
            .unwrap();
        rehash(&c, 4);
        assert_eq!(broken_at(&c).0, 4);
    }

    #[test]
    fn deletions_are_named_first_middle_and_last() {
        for (gone, named) in [(1, 1), (3, 3), (4, 4)] {
            let c = db();
            c.execute("DELETE FROM audit_log WHERE seq=?1", [gone])
                .unwrap();
            let (seq, why) = broken_at(&c);
            assert_eq!(seq, named, "deleting {gone}: {why}");
            assert!(why.contains("削除"), "{why}");
        }
        // Two entries cut off the end.
        let c = db();
        c.execute("DELETE FROM audit_log WHERE seq>=3", []).unwrap();
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 3);
        assert!(why.contains("記録 3〜4 が末尾から削除"), "{why}");
    }

    #[test]
    fn a_deletion_with_the_rest_renumbered_is_named() {
        let c = db();
        c.execute_batch(
            "DELETE FROM audit_log WHERE seq=2; UPDATE audit_log SET seq=seq-1 WHERE seq>2;",
        )
        .unwrap();
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 2);
        assert!(why.contains("元の記録 3"), "{why}");
    }

    #[test]
    fn reorders_are_named() {
        // Swap the contents of entries 2 and 3, keeping their sequence numbers.
        let c = db();
        c.execute_batch(
            "UPDATE audit_log SET seq=100 WHERE seq=2; UPDATE audit_log SET seq=2 WHERE seq=3; UPDATE audit_log SET seq=3 WHERE seq=100;",
        )
        .unwrap();
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 2);
        assert!(why.contains("入替え"), "{why}");
    }

    #[test]
    fn entries_added_outside_the_tool_are_named() {
        let c = db();
        // A well-formed entry 5 inserted straight into the table: the chain is valid,
        // but the control values were not moved on.
        let prev: String = c
            .query_row("SELECT hash FROM audit_log WHERE seq=4", [], |r| r.get(0))
            .unwrap();
        let detail = "{}";
        let h = sha256_hex(canonical(5, "t", "x", "roster export", detail, &prev).as_bytes());
        c.execute(
            "INSERT INTO audit_log VALUES (5,'t','x','roster export',?1,?2,?3)",
            rusqlite::params![detail, prev, h],
        )
        .unwrap();
        assert_eq!(broken_at(&c).0, 5);
        // and still after the next append.
        append(&c, "t", "山田 太郎", "batches list", &Detail::default()).unwrap();
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 5, "{why}");
        assert!(why.contains("stepcard 以外"), "{why}");
    }

    #[test]
    fn removed_control_values_are_reported() {
        let c = db();
        c.execute("DELETE FROM meta", []).unwrap();
        assert!(broken_at(&c).1.contains("控え"));
        let c = db();
        c.execute_batch("DELETE FROM meta; DELETE FROM audit_log;")
            .unwrap();
        assert_eq!(broken_at(&c).0, 1);
    }

    #[test]
    fn later_appends_do_not_heal_a_break_at_the_end() {
        let more = |c: &Connection| {
            append(c, "t", "山田 太郎", "batches list", &Detail::default()).unwrap();
        };
        // The last entry deleted, then two more commands.
        let c = db();
        c.execute("DELETE FROM audit_log WHERE seq=4", []).unwrap();
        more(&c);
        more(&c);
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 4, "{why}");
        assert!(why.contains("記録 4 がありません"), "{why}");

        // The last entry changed and re-hashed, then another command.
        let c = db();
        c.execute("UPDATE audit_log SET operator='x' WHERE seq=4", [])
            .unwrap();
        rehash(&c, 4);
        more(&c);
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 4, "{why}");
        assert!(why.contains("計算し直されています"), "{why}");

        // Everything deleted, then another command.
        let c = db();
        c.execute("DELETE FROM audit_log", []).unwrap();
        more(&c);
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 1, "{why}");
        assert!(why.contains("記録 1〜4 がありません"), "{why}");

        // The control values deleted with the last entry, then another command.
        let c = db();
        c.execute_batch("DELETE FROM audit_log WHERE seq=4; DELETE FROM meta;")
            .unwrap();
        more(&c);
        let (seq, why) = broken_at(&c);
        assert_eq!(seq, 4, "{why}");
        assert!(why.contains("控え"), "{why}");
    }

    #[test]
    fn a_newline_in_a_field_cannot_shift_fields() {
        let c = db();
        append(&c, "t", "a\nb", "audit", &Detail::default()).unwrap();
        let op: String = c
            .query_row("SELECT operator FROM audit_log WHERE seq=5", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(op, "a b");
        assert!(verify(&c).unwrap().broken.is_none());
        // A field with a newline, hashed correctly and with the control values moved on,
        // is still refused: the tool never writes one, and it would make the canonical
        // form ambiguous.
        c.execute(
            "UPDATE audit_log SET operator='a' || char(10) || 'b' WHERE seq=5",
            [],
        )
        .unwrap();
        rehash(&c, 5);
        let h: String = c
            .query_row("SELECT hash FROM audit_log WHERE seq=5", [], |r| r.get(0))
            .unwrap();
        crate::db::meta_set(&c, META_HEAD, &h).unwrap();
        assert_eq!(broken_at(&c).0, 5);
    }

    #[test]
    fn append_inside_a_transaction_rolls_back_with_it() {
        let mut c = db();
        let tx = c.transaction().unwrap();
        append(&tx, "t", "山田 太郎", "steps import", &Detail::default()).unwrap();
        drop(tx);
        let v = verify(&c).unwrap();
        assert_eq!(v.entries, 4);
        assert!(v.broken.is_none());
    }

    #[test]
    fn the_chain_is_checked_without_a_database() {
        let mut chain: Vec<Stored> = Vec::new();
        for seq in 1..=3 {
            let prev = chain.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
            chain.push(link(seq, "t", "山田 太郎", "points", "{}".into(), prev));
        }
        let head = chain[2].hash.clone();
        let v = check_chain(&chain, Some(3), Some(head.clone()));
        assert!(v.broken.is_none(), "{:?}", v.broken);
        assert_eq!((v.entries, v.head.as_str()), (3, head.as_str()));
        // The control values say there was a fourth.
        let (seq, why) = check_chain(&chain, Some(4), Some("x".into()))
            .broken
            .unwrap();
        assert_eq!(seq, 4);
        assert!(why.contains("最後の記録 4 が削除"), "{why}");
        // The next link continues from the control values, not from the table.
        assert_eq!(
            chain_on(Some(3), Some(4), Some("x".into())),
            (5, "x".into())
        );
        assert_eq!(chain_on(None, None, None), (1, GENESIS.into()));
        // An entry's content changed.
        chain[1].operator = "x".into();
        assert_eq!(
            check_chain(&chain, Some(3), Some(head)).broken.unwrap().0,
            2
        );
    }

    #[test]
    fn counts_read_as_japanese() {
        let mut d = Detail::default();
        d.count("inserted", 60);
        d.count("dry_run", true);
        d.count("orders_accepted", 3);
        d.count("rejected.prize.out_of_stock", 2);
        d.count("some_new_key", 1);
        let m = serde_json::to_value(&d).unwrap();
        let e = Entry {
            seq: 1,
            at: String::new(),
            operator: String::new(),
            command: String::new(),
            detail: m,
            hash: String::new(),
        };
        let stock = crate::validate::meaning("prize.out_of_stock");
        assert!(!stock.is_empty());
        assert_eq!(
            e.counts_text(),
            format!("追加 60、検査のみ はい、受付した申込み 3、却下（{stock}） 2、some_new_key 1")
        );
    }
}
