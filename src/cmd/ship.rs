//! `ship --out FILE [--format xlsx|csv|yamato-b2|yupack] [--dry-run]` and
//! `ship --reprint N --out FILE`: the next shipment is every accepted order not yet
//! shipped; it is checked whole (addresses present, and for a carrier file every value
//! encodable in CP932 and within its column's length), written, and marked shipped in
//! one transaction with the file's SHA-256. A problem anywhere and nothing is written
//! and nothing marked. An order is in at most one shipment, so a second `ship` never
//! sends it again.

use crate::cli::{ShipArgs, ShipFormat};
use crate::output::carrier::{self, Carrier, Item, Parcel, Problem};
use crate::output::shiplist::{self, ListRow};
use crate::Ctx;
use anyhow::{bail, Result};
use chrono::NaiveDate;
use rusqlite::Connection;
use std::path::Path;

/// The file name's extension decides between .xlsx and .csv; `--format` must agree.
fn resolve_format(given: Option<ShipFormat>, out: &Path) -> Result<ShipFormat> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match (given, ext.as_deref()) {
        (None, Some("xlsx")) | (Some(ShipFormat::Xlsx), Some("xlsx")) => Ok(ShipFormat::Xlsx),
        (None, Some("csv")) => Ok(ShipFormat::Csv),
        (Some(f @ (ShipFormat::Csv | ShipFormat::YamatoB2 | ShipFormat::Yupack)), Some("csv")) => {
            Ok(f)
        }
        (Some(f), _) => Err(crate::usage(format!(
            "{}: --format {} の出力ファイルは {} にしてください (the file name must end in {})",
            out.display(),
            f.as_str(),
            if f == ShipFormat::Xlsx { ".xlsx" } else { ".csv" },
            if f == ShipFormat::Xlsx { ".xlsx" } else { ".csv" },
        ))),
        (None, _) => Err(crate::usage(format!(
            "{}: 出力ファイルは .xlsx か .csv にしてください。送り状ソフト用は --format yamato-b2 か --format yupack と .csv (the output must end in .xlsx or .csv)",
            out.display()
        ))),
    }
}

const SELECT: &str =
    "SELECT o.id, o.participant_id, p.name, p.postal_code, p.address, p.address2, p.phone, \
     o.prize_code, o.quantity FROM orders o LEFT JOIN participants p ON p.id = o.participant_id";
/// Sorted by postal code (the order a carrier or the post office sorts in), then by
/// participant so each participant's prizes are together.
const ORDER: &str =
    "ORDER BY p.postal_code IS NULL, p.postal_code, o.participant_id, o.prize_code, o.id";

/// Orders with the participant's current address, and each order's id.
fn load(
    conn: &Connection,
    program: &crate::program::Program,
    shipment: Option<i64>,
    label: i64,
) -> Result<Vec<(i64, ListRow)>> {
    // The pending orders, or one shipment's: `?1` is NULL for the pending ones.
    let sql = format!(
        "{SELECT} WHERE (?1 IS NULL AND o.status = 'accepted' AND o.shipment_id IS NULL) \
         OR o.shipment_id = ?1 {ORDER}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([shipment], |r| {
            let code: String = r.get(7)?;
            Ok((
                r.get::<_, i64>(0)?,
                ListRow {
                    shipment: label,
                    participant_id: r.get(1)?,
                    name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    postal_code: r.get(3)?,
                    address: r.get(4)?,
                    address2: r.get(5)?,
                    phone: r.get(6)?,
                    prize_name: program
                        .prize(&code)
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                    prize_code: code,
                    quantity: r.get(8)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// One parcel per participant (the rows are sorted so a participant's rows are together).
fn parcels(rows: &[ListRow]) -> Vec<Parcel> {
    let mut out: Vec<Parcel> = Vec::new();
    for r in rows {
        let item = Item {
            code: r.prize_code.clone(),
            name: r.prize_name.clone(),
            quantity: r.quantity,
        };
        match out.last_mut() {
            Some(p) if p.participant_id == r.participant_id => p.items.push(item),
            _ => out.push(Parcel {
                shipment: r.shipment,
                participant_id: r.participant_id.clone(),
                name: r.name.clone(),
                postal_code: r.postal_code.clone(),
                address: r.address.clone(),
                address2: r.address2.clone(),
                phone: r.phone.clone(),
                items: vec![item],
            }),
        }
    }
    out
}

/// Problems a shipping list has whatever its format: a parcel cannot go without a
/// postal code and an address, nor to someone not on the roster.
fn destination_problems(parcels: &[Parcel]) -> Vec<Problem> {
    let mut out = Vec::new();
    for p in parcels {
        let mut add = |code: &'static str, column: &str, message: &str| {
            out.push(Problem {
                participant_id: p.participant_id.clone(),
                code,
                column: column.into(),
                message: message.into(),
            })
        };
        if p.name.is_empty() {
            add(
                "participant.unknown",
                "参加者番号",
                "名簿にない参加者です。名簿を取り込み直してください",
            );
            continue;
        }
        if p.postal_code.as_deref().unwrap_or("").is_empty() {
            add(
                "postal_code.missing",
                "郵便番号",
                "郵便番号がありません。名簿に入れて roster import --update で取り込み直してください",
            );
        }
        if p.address.as_deref().unwrap_or("").trim().is_empty() {
            add(
                "address.missing",
                "住所",
                "住所がありません。名簿に入れて roster import --update で取り込み直してください",
            );
        }
    }
    out
}

/// The file's bytes and what to tell the operator about it.
struct Rendered {
    bytes: Vec<u8>,
    notes: Vec<String>,
}

pub fn created_datetime(created_at: &str) -> rust_xlsxwriter::ExcelDateTime {
    let parsed = chrono::NaiveDateTime::parse_from_str(
        created_at.get(..19).unwrap_or(""),
        "%Y-%m-%dT%H:%M:%S",
    );
    use chrono::{Datelike, Timelike};
    parsed
        .ok()
        .and_then(|d| {
            rust_xlsxwriter::ExcelDateTime::from_ymd(
                d.year() as u16,
                d.month() as u8,
                d.day() as u8,
            )
            .and_then(|x| x.and_hms(d.hour() as u16, d.minute() as u8, d.second() as f64))
            .ok()
        })
        .unwrap_or_else(|| rust_xlsxwriter::ExcelDateTime::from_ymd(2000, 1, 1).unwrap_or_default())
}

fn ship_date(created_at: &str) -> NaiveDate {
    NaiveDate::parse_from_str(created_at.get(..10).unwrap_or(""), "%Y-%m-%d")
        .unwrap_or_else(|_| crate::today())
}

fn render(
    program: &crate::program::Program,
    format: ShipFormat,
    shipment: i64,
    rows: &[ListRow],
    created_at: &str,
) -> Result<std::result::Result<Rendered, Vec<Problem>>> {
    let parcels = parcels(rows);
    let mut problems = destination_problems(&parcels);
    let mut notes = Vec::new();
    let missing_phone: Vec<&str> = parcels
        .iter()
        .filter(|p| p.phone.as_deref().unwrap_or("").is_empty())
        .map(|p| p.participant_id.as_str())
        .collect();
    let carrier = match format {
        ShipFormat::YamatoB2 => Some(Carrier::YamatoB2),
        ShipFormat::Yupack => Some(Carrier::Yupack),
        ShipFormat::Xlsx | ShipFormat::Csv => None,
    };
    let bytes = match carrier {
        None => {
            if !missing_phone.is_empty() {
                notes.push(format!(
                    "電話番号のない参加者が {} 名います（発送リストの電話番号は空欄です）: {}",
                    missing_phone.len(),
                    missing_phone.join("、")
                ));
            }
            if !problems.is_empty() {
                return Ok(Err(problems));
            }
            match format {
                ShipFormat::Csv => shiplist::csv(rows)?,
                _ => shiplist::xlsx(
                    &format!("{} 発送リスト（発送番号 {shipment}）", program.program.name),
                    rows,
                    &created_datetime(created_at),
                )?,
            }
        }
        Some(c) => {
            let sender = match carrier::sender(program, c) {
                Ok(s) => s,
                Err(keys) => bail!(
                    "{}の送り状データには、プログラムファイルの [shipping] に次の値が必要です: {}。\
                     プログラムファイルに書き足して init からやり直すか、--format xlsx の発送リストを使ってください \
                     (the carrier format needs these program-file keys)",
                    c.as_ja(),
                    keys.join("、")
                ),
            };
            // Participants already refused (no address) are not checked again.
            let refused: std::collections::BTreeSet<&str> =
                problems.iter().map(|p| p.participant_id.as_str()).collect();
            let rest: Vec<Parcel> = parcels
                .iter()
                .filter(|p| !refused.contains(p.participant_id.as_str()))
                .cloned()
                .collect();
            match carrier::render(c, &rest, &sender, ship_date(created_at)) {
                Err(more) => {
                    problems.extend(more);
                    return Ok(Err(problems));
                }
                Ok(_) if !problems.is_empty() => return Ok(Err(problems)),
                Ok(w) => {
                    if w.jis_mapped > 0 {
                        notes.push(format!(
                            "JIS と CP932 で対応の違う文字 {} 字を CP932 の字で書きました（〜→～ など、同じ文字です）",
                            w.jis_mapped
                        ));
                    }
                    for (pid, chars) in &w.vendor_chars {
                        notes.push(format!(
                            "{pid}: 機種依存文字 {} を含みます。送り状ソフトや印字で表示されないことがあります。取込み後に確かめてください",
                            chars.iter().map(|c| format!("「{c}」")).collect::<String>()
                        ));
                    }
                    notes.extend(w.notes);
                    w.bytes
                }
            }
        }
    };
    Ok(Ok(Rendered { bytes, notes }))
}

fn refusal(problems: &[Problem], what: &str, nothing: &str) -> anyhow::Error {
    let mut by_code: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in problems {
        *by_code.entry(p.code).or_default() += 1;
    }
    anyhow::anyhow!(
        "{what}: {} 件の問題があります。{nothing}:\n{}\n  （内訳: {}）",
        problems.len(),
        problems
            .iter()
            .map(|p| format!("  - {p}"))
            .collect::<Vec<_>>()
            .join("\n"),
        by_code
            .iter()
            .map(|(c, n)| format!("{c} {n} 件"))
            .collect::<Vec<_>>()
            .join("、")
    )
}

pub fn run(ctx: &mut Ctx, args: &ShipArgs) -> Result<()> {
    if let Some(n) = args.reprint {
        return reprint(ctx, n, args);
    }
    let format = resolve_format(args.format, &args.out)?;
    ctx.detail.arg("format", format.as_str());
    if args.dry_run {
        ctx.detail.arg("dry_run", true);
    }
    let program = ctx.program.clone();
    let operator = ctx.operator.clone();
    let created_at = crate::now();
    let tx = crate::db::begin_write(&mut ctx.conn)?;
    let id: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM shipments", [], |r| {
        r.get(0)
    })?;
    let orders = load(&tx, &program, None, id)?;
    if orders.is_empty() {
        drop(tx);
        let shipped: i64 = ctx.conn.query_row(
            "SELECT count(*) FROM orders WHERE shipment_id IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        ctx.detail.count("orders", 0);
        ctx.say(format!(
            "発送する申込みはありません: 受付済みで未発送の申込みは 0 件です（発送済み {shipped} 件）。ファイルは書き出していません (nothing to ship)"
        ));
        return Ok(());
    }
    let rows: Vec<ListRow> = orders.iter().map(|(_, r)| r.clone()).collect();
    let rendered = match render(&program, format, id, &rows, &created_at)? {
        Ok(r) => r,
        Err(problems) => {
            drop(tx);
            ctx.detail.count("problems", problems.len() as u64);
            return Err(refusal(
                &problems,
                &format!("発送 {id} を作れません"),
                "ファイルは書き出さず、発送済みにもしていません (nothing written, nothing marked shipped)",
            ));
        }
    };
    let participants = parcels(&rows).len();
    let quantity: i64 = rows.iter().map(|r| r.quantity).sum();
    let mut per_prize: std::collections::BTreeMap<&str, i64> = Default::default();
    for r in &rows {
        *per_prize.entry(r.prize_code.as_str()).or_default() += r.quantity;
    }
    let summary = format!(
        "{} 名・{} 件（{}）",
        participants,
        rows.len(),
        per_prize
            .iter()
            .map(|(c, q)| format!("{c} × {q}"))
            .collect::<Vec<_>>()
            .join("、")
    );
    ctx.detail.count("shipment", id);
    ctx.detail.count("orders", rows.len() as u64);
    ctx.detail.count("participants", participants as u64);
    ctx.detail.count("quantity", quantity);
    for (c, q) in &per_prize {
        ctx.detail.count(&format!("prize.{c}"), *q);
    }
    if args.dry_run {
        drop(tx);
        ctx.say(format!(
            "確認のみ (--dry-run): 次の発送（発送番号 {id}）は {summary}です。問題はありません。ファイルは書き出さず、発送済みにもしていません"
        ));
        for n in &rendered.notes {
            ctx.say(format!("  注意: {n}"));
        }
        return Ok(());
    }
    let sha = crate::output::sha256_hex(&rendered.bytes);
    tx.execute(
        "INSERT INTO shipments(id, created_at, operator, format, file_sha256, orders, participants, quantity) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
        rusqlite::params![id, created_at, operator, format.as_str(), sha, rows.len() as i64, participants as i64, quantity],
    )?;
    let mut marked = 0usize;
    {
        let mut stmt = tx.prepare(
            "UPDATE orders SET shipment_id = ?1 WHERE id = ?2 AND shipment_id IS NULL AND status = 'accepted'",
        )?;
        for (order, _) in &orders {
            marked += stmt.execute(rusqlite::params![id, order])?;
        }
    }
    if marked != orders.len() {
        bail!(
            "internal: {marked} of {} orders marked; nothing committed",
            orders.len()
        );
    }
    let rec = crate::output::write_bytes(&args.out, &rendered.bytes)?;
    if let Err(e) = tx.commit() {
        let _ = std::fs::remove_file(&args.out);
        return Err(anyhow::Error::new(e).context(format!(
            "発送 {id} を記録できなかったため、書き出したファイルを消しました (the shipment was not recorded; the file was removed)"
        )));
    }
    ctx.say(format!(
        "発送 {id}: {summary}を発送済みにしました。{}: {}（個人情報の複製として記録しました）",
        rec.path,
        match format {
            ShipFormat::Xlsx | ShipFormat::Csv => "発送リスト",
            ShipFormat::YamatoB2 => "ヤマト B2クラウド取込み用 CSV (CP932)",
            ShipFormat::Yupack => "ゆうパックプリントR取込み用 CSV (CP932)",
        }
    ));
    for n in &rendered.notes {
        ctx.say(format!("  注意: {n}"));
    }
    ctx.say(format!(
        "  宛名ラベルは `stepcard labels --shipment {id} --out FILE.xlsx` で作れます。書き出し直しは `stepcard ship --reprint {id} --out FILE`"
    ));
    ctx.detail.file(rec);
    Ok(())
}

fn reprint(ctx: &mut Ctx, n: i64, args: &ShipArgs) -> Result<()> {
    use rusqlite::OptionalExtension;
    ctx.detail.arg("reprint", n);
    let Some((created_at, original, sha)) = ctx
        .conn
        .query_row(
            "SELECT created_at, format, file_sha256 FROM shipments WHERE id = ?1",
            [n],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?
    else {
        let last: i64 =
            ctx.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM shipments", [], |r| {
                    r.get(0)
                })?;
        bail!(
            "発送番号 {n} はありません（発送は {}） (no such shipment)",
            if last == 0 {
                "まだありません".to_string()
            } else {
                format!("1〜{last} です")
            }
        );
    };
    // Without --format, a .csv reprint of a carrier file stays a carrier file.
    let given = args.format.or_else(|| {
        let ext = args
            .out
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match (original.as_str(), ext.as_deref()) {
            ("yamato-b2", Some("csv")) => Some(ShipFormat::YamatoB2),
            ("yupack", Some("csv")) => Some(ShipFormat::Yupack),
            _ => None,
        }
    });
    let format = resolve_format(given, &args.out)?;
    ctx.detail.arg("format", format.as_str());
    let program = ctx.program.clone();
    let rows: Vec<ListRow> = load(&ctx.conn, &program, Some(n), n)?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let rendered = match render(&program, format, n, &rows, &created_at)? {
        Ok(r) => r,
        Err(problems) => {
            return Err(refusal(
                &problems,
                &format!("発送 {n} を書き出し直せません"),
                "ファイルは書き出していません (nothing written)",
            ))
        }
    };
    let rec = crate::output::write_bytes(&args.out, &rendered.bytes)?;
    let same = if format.as_str() != original {
        format!("元の形式（{original}）とは別の形式で書きました")
    } else if rec.sha256 == sha {
        "元のファイルと同じ内容です (identical to the original)".to_string()
    } else {
        "元のファイルと内容が違います: 発送後に名簿の住所などが更新されています (differs from the original: the roster changed since)".to_string()
    };
    ctx.detail.count("shipment", n);
    ctx.detail.count("orders", rows.len() as u64);
    ctx.detail.arg("identical", rec.sha256 == sha);
    ctx.say(format!(
        "発送 {n}（{created_at}、{} 件）を書き出し直しました: {}。{same}",
        rows.len(),
        rec.path
    ));
    for note in &rendered.notes {
        ctx.say(format!("  注意: {note}"));
    }
    ctx.detail.file(rec);
    Ok(())
}
