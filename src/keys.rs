//! Handlers' key slots (restic-style): the database is encrypted with one random
//! 256-bit key, and each handler's password wraps that key in a slot of its own. The
//! slots live beside the database (`stepcard.db.keys`, JSON, owner-only). A slot holds
//! the handler's name, the Argon2id parameters and salt, the nonce and the wrapped key
//! (XChaCha20-Poly1305, the handler's name bound as associated data), and when it was
//! made. Nothing in the file is secret without a password; destroying it is the
//! cryptographic erase of the database (NIST SP 800-88): every copy of the ciphertext
//! anywhere becomes unreadable.
//!
//! The file also keeps the count of consecutive wrong passwords (for the growing delay)
//! and the refusals not yet in the audit log: the database cannot be opened without the
//! right password, so a refusal is written to the log at the next successful open.

use anyhow::{bail, Context, Result};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "stepcard-keys/1";

/// Refusals kept for the audit log at most (older ones are counted, not listed).
const MAX_REFUSALS: usize = 200;

/// The key file's `cipher` for databases whose pages SQLCipher authenticates with
/// HMAC-SHA256 (every database from this build on). A key file without it belongs to
/// a database written with SQLCipher 4's default, HMAC-SHA512, and keeps it.
///
/// Why: on a long import SQLCipher's page HMAC was the largest cost after SQLite's
/// own insert; this CPU computes SHA-256 in hardware (SHA-NI) and SHA-512 in software,
/// and the 10,000-participant import spent 5.5 % of its CPU in SHA-512 against 2.6 %
/// in SHA-256 (perf). HMAC-SHA256 authenticates a page as well: its 256-bit tag is
/// far beyond forgery.
pub const CIPHER_HMAC_SHA256: &str = "sqlcipher4-hmac-sha256";

/// The database key, and how the database's pages are authenticated. Zeroed when
/// dropped.
pub struct DbKey {
    key: [u8; 32],
    hmac_sha256: bool,
}

impl DbKey {
    /// A new random key, for a new database (HMAC-SHA256: see [`CIPHER_HMAC_SHA256`]).
    pub fn random() -> Result<DbKey> {
        let mut k = [0u8; 32];
        random(&mut k)?;
        Ok(DbKey {
            key: k,
            hmac_sha256: true,
        })
    }
    /// The key as SQLCipher's raw-key literal wants it (64 hex digits).
    pub fn hex(&self) -> String {
        hex(&self.key)
    }
    /// The SQLCipher pragma value for the page HMAC, when it is not SQLCipher's
    /// default (HMAC-SHA512).
    pub fn hmac_algorithm(&self) -> Option<&'static str> {
        self.hmac_sha256.then_some("HMAC_SHA256")
    }
    /// The key file's `cipher` for a database written with this key.
    pub fn cipher(&self) -> Option<String> {
        self.hmac_sha256.then(|| CIPHER_HMAC_SHA256.to_string())
    }
}

impl Drop for DbKey {
    fn drop(&mut self) {
        for b in self.key.iter_mut() {
            // SAFETY: a plain write through a valid reference; volatile so the zeroing
            // is not optimised away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| anyhow::anyhow!("乱数を得られません (no OS randomness): {e}"))
}

/// Argon2id's cost, recorded in each slot so it can be raised later without breaking
/// older slots.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Kdf {
    pub algorithm: String,
    /// Memory in KiB.
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Kdf {
    /// OWASP's Argon2id memory (19 MiB) with 16 passes instead of its minimum 2, 1 lane:
    /// about 0.1 s of CPU per password here. 64 MiB was tried: it lifted every command's
    /// peak memory from 28 to 71 MiB, over the 64 MiB the import keeps to
    /// (examples/bench.rs). The test suite sets a hidden switch for a cheap cost (still
    /// recorded in the slot).
    pub fn default_for_new_slot() -> Kdf {
        if std::env::var_os("STEPCARD_TEST_CHEAP_KDF").is_some() {
            return Kdf {
                algorithm: "argon2id".into(),
                m_kib: 64,
                t: 1,
                p: 1,
            };
        }
        Kdf {
            algorithm: "argon2id".into(),
            m_kib: 19 * 1024,
            t: 16,
            p: 1,
        }
    }

    fn derive(&self, password: &str, salt: &[u8]) -> Result<[u8; 32]> {
        if self.algorithm != "argon2id" {
            bail!(
                "鍵ファイルの方式 {} は読めません (unknown KDF)",
                self.algorithm
            );
        }
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| anyhow::anyhow!("鍵ファイルの Argon2id の設定が不正です: {e}"))?;
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        a.hash_password_into(password.as_bytes(), salt, &mut out)
            .map_err(|e| anyhow::anyhow!("Argon2id: {e}"))?;
        Ok(out)
    }
}

/// One handler's slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Slot {
    pub handler: String,
    pub kdf: Kdf,
    pub salt: String,
    pub nonce: String,
    /// The database key sealed with the key derived from the password (hex).
    pub wrapped_key: String,
    pub created_at: String,
}

/// A refusal waiting to be written to the audit log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Refusal {
    pub at: String,
    /// The name given (`--operator`), as typed.
    pub operator: String,
    pub os_user: String,
    /// `wrong password` / `no key slot` / `not a designated handler`.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFile {
    pub format: String,
    /// How the database's pages are authenticated: [`CIPHER_HMAC_SHA256`], or absent
    /// for SQLCipher 4's default (HMAC-SHA512), as databases of earlier builds were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The designated handlers of the program (names only, as on the certificate), so a
    /// name with no slot can be told apart from a stranger before the database opens.
    pub designated: Vec<String>,
    pub slots: Vec<Slot>,
    /// Wrong passwords in a row since the last successful open.
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub refusals: Vec<Refusal>,
    /// Refusals dropped from the list above when it was full.
    #[serde(default)]
    pub refusals_dropped: u64,
}

/// `stepcard.db` -> `stepcard.db.keys`, beside the real file (a database reached
/// through a symlink has one key file, beside its target).
pub fn path_for(db: &Path) -> PathBuf {
    let real = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let db = real.as_path();
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".keys");
    db.with_file_name(name)
}

/// Handler names compare as the program compares them (spaces and width ignored).
fn same(a: &str, b: &str) -> bool {
    crate::program::handler_key(a) == crate::program::handler_key(b)
}

impl KeyFile {
    /// The key file of a new database, written with `key`.
    pub fn new(designated: Vec<String>, key: &DbKey) -> KeyFile {
        KeyFile {
            format: FORMAT.into(),
            cipher: key.cipher(),
            designated,
            slots: Vec::new(),
            failures: 0,
            refusals: Vec::new(),
            refusals_dropped: 0,
        }
    }

    pub fn slot(&self, handler: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| same(&s.handler, handler))
    }

    pub fn is_designated(&self, name: &str) -> bool {
        self.designated.iter().any(|d| same(d, name))
    }

    /// Add (or replace) `handler`'s slot, wrapping `key` with `password`.
    pub fn put(&mut self, handler: &str, password: &str, key: &DbKey) -> Result<()> {
        let kdf = Kdf::default_for_new_slot();
        let mut salt = [0u8; 16];
        random(&mut salt)?;
        let mut nonce = [0u8; 24];
        random(&mut nonce)?;
        let kek = kdf.derive(password, &salt)?;
        let cipher = XChaCha20Poly1305::new((&kek).into());
        let wrapped = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &key.key,
                    aad: aad(handler).as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("鍵を包めません (cannot wrap the key)"))?;
        let slot = Slot {
            handler: handler.to_string(),
            kdf,
            salt: hex(&salt),
            nonce: hex(&nonce),
            wrapped_key: hex(&wrapped),
            created_at: crate::now(),
        };
        self.slots.retain(|s| !same(&s.handler, handler));
        self.slots.push(slot);
        Ok(())
    }

    /// Remove `handler`'s slot; false if there was none.
    pub fn remove(&mut self, handler: &str) -> bool {
        let before = self.slots.len();
        self.slots.retain(|s| !same(&s.handler, handler));
        self.slots.len() != before
    }

    /// The database key, if `password` opens `handler`'s slot.
    pub fn unlock(&self, handler: &str, password: &str) -> Result<Option<DbKey>> {
        let Some(slot) = self.slot(handler) else {
            return Ok(None);
        };
        let salt = unhex(&slot.salt)?;
        let nonce = unhex(&slot.nonce)?;
        let wrapped = unhex(&slot.wrapped_key)?;
        if nonce.len() != 24 {
            bail!("鍵ファイルが壊れています (bad nonce)");
        }
        let kek = slot.kdf.derive(password, &salt)?;
        let cipher = XChaCha20Poly1305::new((&kek).into());
        let Ok(plain) = cipher.decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &wrapped,
                aad: aad(&slot.handler).as_bytes(),
            },
        ) else {
            return Ok(None);
        };
        let Ok(k) = <[u8; 32]>::try_from(plain.as_slice()) else {
            bail!("鍵ファイルが壊れています (bad key length)");
        };
        let hmac_sha256 = match self.cipher.as_deref() {
            None => false,
            Some(CIPHER_HMAC_SHA256) => true,
            Some(other) => bail!(
                "鍵ファイルの暗号方式 {other} はこの stepcard では読めません。新しい版の stepcard で開いてください (unknown cipher)"
            ),
        };
        Ok(Some(DbKey {
            key: k,
            hmac_sha256,
        }))
    }

    /// Note a refusal (to be written to the audit log at the next successful open).
    pub fn refused(&mut self, operator: &str, reason: &str) {
        if self.refusals.len() >= MAX_REFUSALS {
            self.refusals.remove(0);
            self.refusals_dropped += 1;
        }
        self.refusals.push(Refusal {
            at: crate::now(),
            operator: operator.to_string(),
            os_user: crate::os_user(),
            reason: reason.to_string(),
        });
    }

    /// The delay after this many wrong passwords in a row: none for the first three,
    /// then 1, 2, 4 … seconds, at most 30.
    pub fn delay(failures: u32) -> std::time::Duration {
        if failures < 3 {
            return std::time::Duration::ZERO;
        }
        std::time::Duration::from_secs((1u64 << (failures - 3).min(5)).min(30))
    }
}

fn aad(handler: &str) -> String {
    format!(
        "stepcard key slot: {}",
        crate::program::handler_key(handler)
    )
}

/// What a successful unlock gives: the database key, and the refusals since the last
/// successful open, for the audit log.
pub struct Unlocked {
    pub key: DbKey,
    pub refusals: Vec<Refusal>,
    pub refusals_dropped: u64,
}

/// Open `given`'s slot with their password. A name without a slot and a wrong
/// password are refused (exit 1) and noted in the key file; after three wrong
/// passwords in a row each refusal waits longer.
pub fn unlock_for(db: &Path, given: &str, password_file: Option<&Path>) -> Result<Unlocked> {
    let Some(mut kf) = load(db)? else {
        bail!(
            "{}: 鍵ファイル {} がありません。データベースと同じフォルダに、作成時の鍵ファイルを戻してください。\
             契約終了の手続きで消去された後なら、データはもう読めません (the key file is missing)",
            db.display(),
            path_for(db).display()
        );
    };
    if kf.slot(given).is_none() {
        let designated = kf.is_designated(given);
        kf.refused(
            given,
            if designated {
                REFUSED_NO_SLOT
            } else {
                REFUSED_STRANGER
            },
        );
        save(db, &kf)?;
        if designated {
            bail!(
                "{given} さんのパスワードが登録されていません。取扱責任者が `stepcard handlers add \"{given}\"` で\
                 登録するまで、データを扱えません (no key slot for this handler: the responsible handler must run `handlers add`)"
            );
        }
        bail!(
            "{given} さんは取扱者として指定されていません。データを扱えるのは指定された取扱者だけです \
             (契約の特記事項; not a designated handler). 指定されている取扱者: {}",
            kf.designated.join("、")
        );
    }
    let password = read_password(password_file, &format!("{given} さんのパスワード: "))?;
    match kf.unlock(given, &password)? {
        Some(key) => Ok(Unlocked {
            key,
            refusals: kf.refusals.clone(),
            refusals_dropped: kf.refusals_dropped,
        }),
        None => {
            kf.failures += 1;
            kf.refused(given, REFUSED_WRONG_PASSWORD);
            save(db, &kf)?;
            let wait = KeyFile::delay(kf.failures);
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            bail!(
                "{given} さんのパスワードが違います（{} 回続けて失敗）。パスワードファイルの 1 行目か入力を確かめてください。\
                 この拒否は監査ログに記録されます (wrong password; the refusal is recorded)",
                kf.failures
            );
        }
    }
}

/// After the refusals `u` carried are in the audit log: clear them and the failure
/// count (refusals made meanwhile by another process stay).
pub fn settle(db: &Path, u: &Unlocked) -> Result<()> {
    let Some(mut kf) = load(db)? else {
        return Ok(());
    };
    if kf.failures == 0 && u.refusals.is_empty() && kf.refusals_dropped == 0 {
        return Ok(());
    }
    kf.refusals.retain(|r| !u.refusals.contains(r));
    kf.refusals_dropped = kf.refusals_dropped.saturating_sub(u.refusals_dropped);
    kf.failures = 0;
    save(db, &kf)
}

pub const REFUSED_WRONG_PASSWORD: &str = "refused: wrong password";
pub const REFUSED_NO_SLOT: &str = "refused: no key slot";
pub const REFUSED_STRANGER: &str = "refused: not a designated handler";

pub fn load(db: &Path) -> Result<Option<KeyFile>> {
    let p = path_for(db);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "{}: 鍵ファイルを読めません (cannot read the key file)",
                    p.display()
                )
            })
        }
    };
    let kf: KeyFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: 鍵ファイルが壊れています。取扱責任者に報告してください (the key file is damaged)",
            p.display()
        )
    })?;
    if kf.format != FORMAT {
        bail!(
            "{}: この stepcard では読めない形式の鍵ファイルです ({})",
            p.display(),
            kf.format
        );
    }
    Ok(Some(kf))
}

/// Save atomically and durably, owner-only: a temporary file beside it, synced, renamed
/// over it, the folder synced. Not through the file writer of copies: the key file is
/// one of the database's own files, which that writer rightly refuses to overwrite.
pub fn save(db: &Path, kf: &KeyFile) -> Result<()> {
    use std::io::Write;
    let p = path_for(db);
    let mut tmp_name = p.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = p.with_file_name(tmp_name);
    let text = serde_json::to_string_pretty(kf)?;
    let res = (|| -> std::io::Result<()> {
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f = crate::output::create_new_private(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &p)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| {
            format!(
                "{}: 鍵ファイルを書けません (cannot write the key file)",
                p.display()
            )
        });
    }
    crate::closeout::state::sync_dir(&p);
    Ok(())
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("鍵ファイルが壊れています (bad hex)");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16)
                .map_err(|_| anyhow::anyhow!("鍵ファイルが壊れています (bad hex)"))
        })
        .collect()
}

/// Where a password comes from: `--password-file` / `STEPCARD_PASSWORD_FILE` (its first
/// line), else a prompt without echo at a terminal. Never an argument or a plain
/// environment variable.
pub fn read_password(file: Option<&Path>, prompt: &str) -> Result<String> {
    if let Some(f) = file {
        return password_from_file(f);
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password(prompt)
            .context("パスワードを読めません (cannot read the password)")?;
        if p.is_empty() {
            bail!("パスワードが空です (empty password)");
        }
        return Ok(p);
    }
    Err(crate::usage(
        "パスワードが必要です。端末から実行して入力するか、1 行目にパスワードを書いたファイルを \
         --password-file FILE か環境変数 STEPCARD_PASSWORD_FILE で指定してください \
         (a password is needed: run at a terminal, or give --password-file / STEPCARD_PASSWORD_FILE)",
    ))
}

/// A new password: from `file`, or asked twice at a terminal.
pub fn read_new_password(file: Option<&Path>, who: &str) -> Result<String> {
    if file.is_some() {
        return read_password(file, "");
    }
    let a = read_password(None, &format!("{who} さんの新しいパスワード: "))?;
    let b = read_password(None, "もう一度入力してください: ")?;
    if a != b {
        bail!("2 回の入力が一致しません。もう一度実行してください (the passwords differ)");
    }
    Ok(a)
}

/// The first line of a password file. One readable by others is used, with a warning.
pub fn password_from_file(f: &Path) -> Result<String> {
    let text = std::fs::read_to_string(f).with_context(|| {
        format!(
            "{}: パスワードファイルを読めません。場所と名前を確かめてください (cannot read the password file)",
            f.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(f) {
            if m.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "注意: {}: パスワードファイルが所有者以外にも読める設定です。`chmod 600` で所有者だけにしてください \
                     (warning: the password file is readable by others)",
                    f.display()
                );
            }
        }
    }
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        bail!(
            "{}: パスワードファイルの 1 行目が空です (the password file's first line is empty)",
            f.display()
        );
    }
    Ok(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_opens_with_its_password_only() {
        std::env::set_var("STEPCARD_TEST_CHEAP_KDF", "1");
        let key = DbKey::random().unwrap();
        let mut kf = KeyFile::new(vec!["山田 太郎".into(), "佐藤 花子".into()], &key);
        kf.put("山田 太郎", "secret", &key).unwrap();
        let k = kf.unlock("山田　太郎", "secret").unwrap().unwrap();
        assert_eq!(k.hex(), key.hex());
        assert!(kf.unlock("山田 太郎", "Secret").unwrap().is_none());
        assert!(kf.unlock("佐藤 花子", "secret").unwrap().is_none());
        // A slot renamed to another handler does not open (the name is bound).
        kf.slots[0].handler = "佐藤 花子".into();
        assert!(kf.unlock("佐藤 花子", "secret").unwrap().is_none());
    }

    #[test]
    fn the_key_file_names_the_page_hmac_and_an_unknown_one_is_refused() {
        std::env::set_var("STEPCARD_TEST_CHEAP_KDF", "1");
        let key = DbKey::random().unwrap();
        let mut kf = KeyFile::new(vec!["山田 太郎".into()], &key);
        kf.put("山田 太郎", "secret", &key).unwrap();
        assert_eq!(kf.cipher.as_deref(), Some(CIPHER_HMAC_SHA256));
        let k = kf.unlock("山田 太郎", "secret").unwrap().unwrap();
        assert_eq!(k.hmac_algorithm(), Some("HMAC_SHA256"));
        // An earlier build's key file has no `cipher`: SQLCipher's default stays.
        kf.cipher = None;
        let k = kf.unlock("山田 太郎", "secret").unwrap().unwrap();
        assert_eq!(k.hmac_algorithm(), None);
        assert_eq!(k.cipher(), None);
        kf.cipher = Some("sqlcipher9-something".into());
        let Err(e) = kf.unlock("山田 太郎", "secret") else {
            panic!("an unknown cipher opened");
        };
        let e = e.to_string();
        assert!(e.contains("暗号方式"), "{e}");
    }

    #[test]
    fn the_delay_grows_and_is_capped() {
        assert_eq!(KeyFile::delay(2).as_secs(), 0);
        assert_eq!(KeyFile::delay(3).as_secs(), 1);
        assert_eq!(KeyFile::delay(5).as_secs(), 4);
        assert_eq!(KeyFile::delay(40).as_secs(), 30);
    }
}
