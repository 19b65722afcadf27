//! What the close-out reads from and does to the database: its tables as the return
//! package writes them, the participants' values the remnant scan looks for, the
//! exports the audit log recorded, and the erasure of every row (`secure_delete`, WAL
//! checkpoint, `VACUUM`). The procedure around them is `crate::closeout`.

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, Row};
use std::path::Path;

/// A table to export and the order its rows are written in.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub order_by: String,
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Every user table, in name order (SQLite's own `sqlite_*` tables excepted).
pub fn tables(conn: &Connection) -> Result<Vec<Table>> {
    let mut stmt = conn.prepare(
        "SELECT name, wr FROM pragma_table_list WHERE schema='main' AND type='table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    let list: Vec<(String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (name, without_rowid) in list {
        let mut cols = conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
        let info: Vec<(String, i64)> = cols
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut pk: Vec<(i64, &String)> = info
            .iter()
            .filter(|(_, k)| *k > 0)
            .map(|(n, k)| (*k, n))
            .collect();
        pk.sort();
        let order_by = if without_rowid {
            pk.iter()
                .map(|(_, n)| quote_ident(n))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "rowid".to_string()
        };
        out.push(Table {
            columns: info.into_iter().map(|(n, _)| n).collect(),
            name,
            order_by,
        });
    }
    Ok(out)
}

/// Rows per table, for the certificate and the check of the package.
pub fn counts(conn: &Connection) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for t in tables(conn)? {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {}", quote_ident(&t.name)),
            [],
            |r| r.get(0),
        )?;
        out.push((t.name, n as u64));
    }
    Ok(out)
}

/// Every row of a table in its order, each handed to `f` (the CSV writer reads its
/// cells with `get_ref`).
pub fn for_each_row(
    conn: &Connection,
    t: &Table,
    mut f: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    let cols = t
        .columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols} FROM {} ORDER BY {}",
        quote_ident(&t.name),
        t.order_by
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(r)?;
    }
    Ok(())
}

/// The participants' stored values the remnant scan looks for: `(id, name, name_kana,
/// phone, email)` of each participant in id order.
pub fn participant_values(
    conn: &Connection,
    mut f: impl FnMut(&str, Option<&str>, Option<&str>, Option<&str>, Option<&str>),
) -> Result<()> {
    let mut stmt =
        conn.prepare("SELECT id, name, name_kana, phone, email FROM participants ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let name: Option<String> = r.get(1)?;
        let kana: Option<String> = r.get(2)?;
        let phone: Option<String> = r.get(3)?;
        let email: Option<String> = r.get(4)?;
        f(
            &id,
            name.as_deref(),
            kana.as_deref(),
            phone.as_deref(),
            email.as_deref(),
        );
    }
    Ok(())
}

/// The participants' postal codes, addresses and birth dates: `(id, postal_code,
/// address, address2, birth_date)` in id order.
pub fn participant_places(
    conn: &Connection,
    mut f: impl FnMut(&str, Option<&str>, Option<&str>, Option<&str>, Option<&str>),
) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT id, postal_code, address, address2, birth_date FROM participants ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let v: Vec<Option<String>> = (1..5).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?;
        f(
            &id,
            v[0].as_deref(),
            v[1].as_deref(),
            v[2].as_deref(),
            v[3].as_deref(),
        );
    }
    Ok(())
}

/// The participants' earlier values: `(participant id, old values as JSON)` in the
/// order they were replaced.
pub fn participant_history(conn: &Connection, mut f: impl FnMut(&str, &str)) -> Result<()> {
    let mut stmt =
        conn.prepare("SELECT participant_id, old_json FROM participant_history ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let old: String = r.get(1)?;
        f(&id, &old);
    }
    Ok(())
}

/// The `exports` index as `(path, sha256, bytes)`, by path, each path's rows in the
/// order they were written.
pub fn exports_by_path(conn: &Connection) -> Result<Vec<(String, String, i64)>> {
    let mut stmt = conn.prepare("SELECT path, sha256, bytes FROM exports ORDER BY path, id")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Delete every row, checkpoint and truncate the WAL, vacuum. One transaction for the
/// rows, so a crash leaves either everything or nothing deleted (and the return package
/// is already on disk either way).
pub fn erase_rows(db: &Path) -> Result<()> {
    let mut conn = Connection::open(db).with_context(|| {
        format!(
            "{}: 消去のためにデータベースを開けません (cannot open the database to erase it)",
            db.display()
        )
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute_batch("PRAGMA secure_delete=ON;")?;
    let on: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
    if on != 1 {
        bail!("{}: secure_delete を有効にできません。消去を中止しました (secure_delete could not be enabled)", db.display());
    }
    let mut names: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let v = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        v
    };
    // SQLite's own tables that can hold copies of values (autoincrement counters and
    // statistics samples) are cleared too where they exist.
    for internal in ["sqlite_sequence", "sqlite_stat1", "sqlite_stat4"] {
        let exists: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1",
            [internal],
            |r| r.get(0),
        )?;
        if exists > 0 {
            names.push(internal.to_string());
        }
    }
    let tx = crate::db::begin_write(&mut conn)?;
    for t in &names {
        tx.execute(&format!("DELETE FROM {}", quote_ident(t)), [])?;
    }
    tx.commit()?;
    checkpoint(&conn, db)?;
    conn.execute_batch("VACUUM;")?;
    checkpoint(&conn, db)?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

fn checkpoint(conn: &Connection, db: &Path) -> Result<()> {
    let (busy, _log, _done): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    if busy != 0 {
        bail!(
            "{}: 他のプログラムがデータベースを使っているため、WAL を書き戻せません。stepcard を使っている他の画面を閉じて、\
             もう一度 close-out を実行してください (the WAL could not be checkpointed: the database is in use)",
            db.display()
        );
    }
    Ok(())
}

/// Whether the file still opens as a database (one overwritten by an interrupted
/// erasure does not).
pub fn still_opens(db: &Path) -> bool {
    Connection::open(db)
        .and_then(|c| {
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .is_ok()
}
