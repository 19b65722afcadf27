//! The one table that turns what SQLite, the file system, the xlsx writer and zip say
//! into what an operator can act on: what happened, where, and what to do next, in
//! Japanese. `main` prints it for any error whose text would otherwise reach the
//! operator in English only; a message of stepcard's own that names the cause keeps its
//! words and gains this line when the cause is a library's.

use std::path::Path;

/// Where the failing command was working: the database named by `--db`.
pub struct Where<'a> {
    pub db: &'a Path,
}

/// The Japanese explanation of the first cause in the chain that the table knows.
pub fn explain(err: &anyhow::Error, at: &Where) -> Option<String> {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<rusqlite::Error>() {
            if let Some(s) = sqlite(e, at) {
                return Some(s);
            }
        }
        if let Some(e) = cause.downcast_ref::<rust_xlsxwriter::XlsxError>() {
            return Some(xlsx(e));
        }
        if let Some(e) = cause.downcast_ref::<zip::result::ZipError>() {
            return Some(zip_error(e));
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return Some(io_ja(e));
        }
        if let Some(csv::ErrorKind::Io(e)) = cause.downcast_ref::<csv::Error>().map(|e| e.kind()) {
            return Some(io_ja(e));
        }
    }
    None
}

/// SQLite's result codes (the primary code of an extended one).
fn sqlite(e: &rusqlite::Error, at: &Where) -> Option<String> {
    use rusqlite::ffi::ErrorCode as C;
    let db = at.db.display();
    let code = match e {
        rusqlite::Error::SqliteFailure(f, _) => f.code,
        _ => return None,
    };
    Some(match code {
        C::DatabaseCorrupt => format!(
            "{db}: データベースのファイルが壊れています。これ以上操作せず、取扱責任者に連絡してください。\
             バックアップがあれば、それを別の名前で復元して `stepcard audit verify` で確かめてください"
        ),
        C::NotADatabase => format!(
            "{db}: stepcard のデータベースとして読めません（別の種類のファイルか、壊れているか、鍵が違います）。\
             --db で指定したファイルを確かめてください"
        ),
        C::ReadOnly => format!(
            "{db}: データベースに書き込めません（読み取り専用です）。ファイルとフォルダの書込み権限を確かめてください。\
             データは変わっていません"
        ),
        C::DiskFull => format!(
            "{db}: ディスクの空きがないため書き込めませんでした。この操作は取り消し、データは変わっていません。\
             空きを作ってからもう一度実行してください"
        ),
        C::CannotOpen => format!(
            "{db}: データベースを開けません。フォルダがあるか、権限があるかを確かめてください"
        ),
        C::DatabaseBusy | C::DatabaseLocked => format!(
            "{db}: ほかの stepcard がこのデータベースを使っています。その操作が終わってからもう一度実行してください"
        ),
        C::SystemIoFailure => format!(
            "{db}: データベースの読み書きで入出力エラーが起きました（ディスクの不具合か空き不足）。\
             この操作は取り消しました。ディスクを確かめてからもう一度実行してください"
        ),
        C::PermissionDenied => format!(
            "{db}: データベースを使う権限がありません。ファイルの持ち主と権限を確かめてください"
        ),
        C::TooBig => "データが大きすぎて保存できません。ファイルを分けて取り込んでください".to_string(),
        C::FileLockingProtocolFailed => format!(
            "{db}: データベースをロックできません。ネットワークドライブではなく、この PC のディスクに置いてください"
        ),
        _ => return None,
    })
}

/// An OS error as the operator is told it.
pub fn io_ja(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    #[cfg(unix)]
    match e.raw_os_error() {
        Some(libc::ENOSPC) => {
            return "ディスクの空きがありません。空きを作ってからもう一度実行してください。\
                    書きかけのファイルは残していません"
                .into()
        }
        Some(libc::EFBIG) => {
            return "ファイルの大きさの上限を超えました（ulimit などの制限）。制限を確かめてください".into()
        }
        Some(libc::EROFS) => {
            return "読み取り専用の場所には書き込めません。書き込める場所を指定してください".into()
        }
        Some(libc::EISDIR) => {
            return "ファイルの名前を指定するところにフォルダが指定されています。ファイル名を付けてください".into()
        }
        Some(libc::ENOTDIR) => {
            return "場所の途中にフォルダでないものがあります。指定した場所を確かめてください".into()
        }
        Some(libc::ELOOP) => {
            return "シンボリックリンクには書き込みません（別のファイルを上書きしないため）。普通のファイル名を指定してください".into()
        }
        _ => {}
    }
    match e.kind() {
        K::NotFound => "ファイルかフォルダが見つかりません。名前と場所（フォルダがあるか）を確かめてください".into(),
        K::PermissionDenied => "権限がないため読み書きできません。ファイルとフォルダの権限を確かめてください".into(),
        K::AlreadyExists => "同じ名前のファイルが既にあります。別の名前を指定してください".into(),
        K::InvalidData => "ファイルの中身を読めません（文字コードか形式が違います）。保存し直してください".into(),
        K::UnexpectedEof => "ファイルが途中で終わっています（壊れているか、書きかけです）。保存し直してください".into(),
        K::Interrupted => "中断されました。もう一度実行してください".into(),
        K::BrokenPipe => "出力の受け手が先に終わりました".into(),
        _ => "ファイルの読み書きでエラーが起きました。ファイルの場所と権限、ディスクの空きを確かめてください".into(),
    }
}

fn xlsx(e: &rust_xlsxwriter::XlsxError) -> String {
    use rust_xlsxwriter::XlsxError as X;
    match e {
        X::MaxStringLengthExceeded => {
            "セルの文字数が Excel の上限（32,767 文字）を超えています。CSV で書き出してください"
                .into()
        }
        X::RowColumnLimitError => {
            "Excel の行数・列数の上限を超えています。CSV で書き出すか、範囲を分けてください".into()
        }
        X::IoError(io_err) => format!("Excel ファイルを書けません: {}", io_ja(io_err)),
        X::ZipError(_) => {
            "Excel ファイルを書けません（圧縮に失敗しました）。ディスクの空きを確かめてください"
                .into()
        }
        _ => "Excel ファイルを書けません。出力先のフォルダと空き容量を確かめてください".into(),
    }
}

fn zip_error(e: &zip::result::ZipError) -> String {
    use zip::result::ZipError as Z;
    match e {
        Z::Io(io_err) => io_ja(io_err),
        Z::InvalidArchive(_) => {
            "ファイルが壊れているか、Excel・zip の形式ではありません。Excel で開いて保存し直してください".into()
        }
        Z::UnsupportedArchive(_) => {
            "パスワード付き（暗号化）か、対応していない形式です。パスワードを外して保存し直してください".into()
        }
        Z::FileNotFound => "ファイルの中に必要な部分がありません（Excel のブックではないか、壊れています）".into(),
        Z::InvalidPassword => "パスワードが違います".into(),
        _ => "zip の読み書きでエラーが起きました。ファイルを確かめてください".into(),
    }
}

/// Whether a message is already told in Japanese (kana or kanji in it).
pub fn is_japanese(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c as u32, 0x3040..=0x30FF | 0x4E00..=0x9FFF | 0xFF01..=0xFF5E))
}

/// The whole text `main` prints for an error: the Japanese explanation first when the
/// error's own words are a library's English, after them when stepcard's message
/// already says what happened.
pub fn message(err: &anyhow::Error, at: &Where) -> String {
    let own = format!("{err:#}");
    match explain(err, at) {
        None => format!("error: {own}"),
        Some(ja) if !is_japanese(&err.to_string()) => format!("error: {ja}\n  ({own})"),
        Some(ja) if own.contains(ja.as_str()) => format!("error: {own}"),
        Some(ja) => format!("error: {own}\n  → {ja}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn at() -> Where<'static> {
        Where {
            db: Path::new("stepcard.db"),
        }
    }

    fn sqlite_err(code: i32) -> anyhow::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None).into()
    }

    #[test]
    fn each_sqlite_code_a_user_meets_is_told_in_japanese() {
        for (code, needle) in [
            (ffi::SQLITE_CORRUPT, "壊れています"),
            (
                ffi::SQLITE_NOTADB,
                "stepcard のデータベースとして読めません",
            ),
            (ffi::SQLITE_READONLY, "読み取り専用"),
            (ffi::SQLITE_FULL, "ディスクの空きがない"),
            (ffi::SQLITE_CANTOPEN, "データベースを開けません"),
            (ffi::SQLITE_BUSY, "ほかの stepcard"),
            (ffi::SQLITE_IOERR, "入出力エラー"),
            (ffi::SQLITE_IOERR_WRITE, "入出力エラー"),
        ] {
            let m = message(&sqlite_err(code), &at());
            assert!(m.starts_with("error: stepcard.db: "), "{m}");
            assert!(m.contains(needle), "{code}: {m}");
        }
    }

    #[test]
    fn each_io_error_a_user_meets_is_told_in_japanese() {
        use std::io::{Error, ErrorKind};
        for (e, needle) in [
            (
                Error::from_raw_os_error(libc::ENOSPC),
                "ディスクの空きがありません",
            ),
            (Error::from_raw_os_error(libc::EFBIG), "大きさの上限"),
            (Error::from_raw_os_error(libc::EROFS), "読み取り専用"),
            (
                Error::from_raw_os_error(libc::EISDIR),
                "フォルダが指定されています",
            ),
            (Error::from_raw_os_error(libc::ELOOP), "シンボリックリンク"),
            (Error::from(ErrorKind::NotFound), "見つかりません"),
            (Error::from(ErrorKind::PermissionDenied), "権限がない"),
            (Error::from(ErrorKind::AlreadyExists), "既にあります"),
        ] {
            let m = message(&anyhow::Error::from(e), &at());
            assert!(m.contains(needle), "{m}");
            // The English original stays, short, after the Japanese.
            assert!(m.starts_with("error: ") && m.contains("\n  ("), "{m}");
        }
    }

    #[test]
    fn xlsx_and_zip_errors_are_told_in_japanese() {
        let m = message(
            &anyhow::Error::from(rust_xlsxwriter::XlsxError::MaxStringLengthExceeded),
            &at(),
        );
        assert!(m.contains("32,767 文字"), "{m}");
        let m = message(
            &anyhow::Error::from(zip::result::ZipError::UnsupportedArchive("x")),
            &at(),
        );
        assert!(m.contains("パスワード付き"), "{m}");
        let m = message(
            &anyhow::Error::from(zip::result::ZipError::InvalidArchive("bad".into())),
            &at(),
        );
        assert!(m.contains("形式ではありません"), "{m}");
    }

    #[test]
    fn stepcard_s_own_message_keeps_its_words_and_gains_the_cause() {
        let e = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::ENOSPC))
            .context("out.xlsx: 書き込めません");
        let m = message(&e, &at());
        assert!(m.starts_with("error: out.xlsx: 書き込めません"), "{m}");
        assert!(m.contains("→ ディスクの空きがありません"), "{m}");
        // A message with no library cause is printed as it is.
        let plain = anyhow::anyhow!("取込み 9 はありません");
        assert_eq!(message(&plain, &at()), "error: 取込み 9 はありません");
    }
}
