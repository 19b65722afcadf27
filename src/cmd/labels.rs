//! `labels --shipment N | --guidance --out FILE [--layout NAME] [--start-at K]`:
//! mailing labels, `.xlsx` laid out on the label sheet (see `crate::output::labels`) or
//! `.csv` for a word processor's mail merge.
//!
//! `--guidance` is the participation-guidance mailing (参加案内): card participants
//! (not app users) not yet sent it. The mailing and each participant it reached are
//! recorded in the same transaction as the file, so nobody is mailed twice; `--resend`
//! includes those already mailed and records the resend.

use crate::cli::LabelsArgs;
use crate::output::labels::{self, LabelText, Layout, BUILTIN};
use crate::output::{TableFormat, Value};
use crate::sheet::normalize::Channel;
use crate::Ctx;
use anyhow::{bail, Result};
use rusqlite::Connection;

/// Everything about the label sheet decided before reading any personal data.
struct Sheet {
    format: TableFormat,
    layout: Layout,
    offset: (f64, f64),
}

fn sheet(ctx: &Ctx, args: &LabelsArgs) -> Result<Sheet> {
    let format = TableFormat::from_path(&args.out)?;
    let Some(layout) = labels::find_layout(&args.layout, &ctx.program) else {
        let mut names: Vec<String> = BUILTIN.iter().map(|b| b.name.to_string()).collect();
        if let Some(n) = ctx.program.labels.as_ref().and_then(|l| l.layout.clone()) {
            names.push(n);
        }
        return Err(crate::usage(format!(
            "--layout「{}」というラベル用紙はありません。使えるのは {} です（独自の用紙はプログラムファイルの [labels] に） (unknown layout)",
            args.layout,
            names.join("、")
        )));
    };
    let per_page = layout.per_page();
    if args.start_at == 0 || args.start_at > per_page {
        return Err(crate::usage(format!(
            "--start-at は 1〜{per_page} にしてください（{} は 1 枚 {per_page} 面です） (start position out of range)",
            layout.name
        )));
    }
    if format == TableFormat::Csv && args.start_at != 1 {
        return Err(crate::usage(
            "--start-at はラベル用紙 (.xlsx) のときだけ使えます。差し込み印刷 (.csv) では印刷側で指定してください",
        ));
    }
    let offset = ctx
        .program
        .labels
        .as_ref()
        .map(|l| (l.offset_x_mm, l.offset_y_mm))
        .unwrap_or((0.0, 0.0));
    Ok(Sheet {
        format,
        layout,
        offset,
    })
}

/// Who gets a label: participant, name, postal code, address, address2.
type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn texts(rows: &[Row]) -> (Vec<LabelText>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (id, name, postal, address, address2) in rows {
        let postal = postal.clone().unwrap_or_default();
        let address = address.clone().unwrap_or_default();
        if postal.is_empty() {
            problems.push(format!(
                "{id}「郵便番号」: 郵便番号がありません。名簿に入れて roster import --update で取り込み直してください (postal_code.missing)"
            ));
        }
        if address.trim().is_empty() {
            problems.push(format!(
                "{id}「住所」: 住所がありません。名簿に入れて roster import --update で取り込み直してください (address.missing)"
            ));
        }
        out.push(LabelText {
            participant_id: id.clone(),
            postal_code: postal,
            address,
            address2: address2.clone(),
            name: name.clone(),
        });
    }
    (out, problems)
}

/// The rendered file, the number of sheets and of labels set smaller than usual.
struct Rendered {
    bytes: Vec<u8>,
    pages: usize,
    shrunk: usize,
}

fn render(s: &Sheet, start_at: usize, texts: &[LabelText]) -> Result<Rendered> {
    if s.format == TableFormat::Csv {
        let rows: Vec<Vec<Value>> = texts.iter().map(labels::csv_row).collect();
        return Ok(Rendered {
            bytes: crate::output::csv_bytes(&labels::CSV_HEADERS, &rows)?,
            pages: 0,
            shrunk: 0,
        });
    }
    let grid = labels::grid(&s.layout, s.offset.0, s.offset.1);
    let placed = match labels::place(&s.layout, &grid, start_at, texts) {
        Ok(p) => p,
        Err(bad) => bail!(
            "ラベル {} 枚に文字が収まりません。切り詰めずに止め、ファイルは書き出していません (labels that do not fit; nothing written):\n{}\n\
             大きいラベル用紙（--layout a4-12 など）を使うか、名簿の住所・方書（建物名）を分けて roster import --update で取り込み直してください。",
            bad.len(),
            bad.iter()
                .map(|b| format!("  - {}「{}」{} 行目: {} (label.does_not_fit)", b.participant_id, b.part.as_ja(), b.line, b.message))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let pages = placed.iter().map(|p| p.page + 1).max().unwrap_or(0);
    let shrunk = placed
        .iter()
        .filter(|p| {
            p.lines
                .iter()
                .any(|l| l.part == labels::Part::Address && l.size_pt < labels::BASE_ADDRESS_PT)
        })
        .count();
    let dt = super::ship::created_datetime(&crate::now());
    Ok(Rendered {
        bytes: labels::render_xlsx(&grid, &placed, Some(&dt))?,
        pages,
        shrunk,
    })
}

fn done_message(s: &Sheet, path: &str, n: usize, r: &Rendered, start_at: usize) -> String {
    if s.format == TableFormat::Csv {
        return format!(
            "{path}: 宛名 {n} 件を差し込み印刷用 CSV に書き出しました（個人情報の複製として記録しました）"
        );
    }
    let what = BUILTIN
        .iter()
        .find(|b| b.name == s.layout.name)
        .map(|b| b.what.to_string())
        .unwrap_or_else(|| {
            format!(
                "独自の用紙 {}×{} 面 {}×{} mm",
                s.layout.cols, s.layout.rows, s.layout.width_mm, s.layout.height_mm
            )
        });
    let mut m = format!(
        "{path}: ラベル {n} 枚（{}、A4 {} 枚{}）を書き出しました（個人情報の複製として記録しました）。\
         印刷は A4・倍率 100 %（「実際のサイズ」、拡大縮小なし）で",
        what,
        r.pages,
        if start_at > 1 {
            format!("、1 枚目は {start_at} 面目から")
        } else {
            String::new()
        }
    );
    if r.shrunk > 0 {
        m.push_str(&format!(
            "\n  住所が長いため文字を小さくしたラベル: {} 枚",
            r.shrunk
        ));
    }
    m
}

pub fn run(ctx: &mut Ctx, args: &LabelsArgs) -> Result<()> {
    let s = sheet(ctx, args)?;
    ctx.detail.arg("layout", s.layout.name.clone());
    ctx.detail.arg("start_at", args.start_at as u64);
    match args.shipment {
        Some(n) => shipment(ctx, args, &s, n),
        None => guidance(ctx, args, &s),
    }
}

fn shipment(ctx: &mut Ctx, args: &LabelsArgs, s: &Sheet, n: i64) -> Result<()> {
    ctx.detail.arg("shipment", n);
    let exists: i64 =
        ctx.conn
            .query_row("SELECT count(*) FROM shipments WHERE id = ?1", [n], |r| {
                r.get(0)
            })?;
    if exists == 0 {
        let last: i64 =
            ctx.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM shipments", [], |r| {
                    r.get(0)
                })?;
        bail!(
            "発送番号 {n} はありません（{}） (no such shipment)",
            if last == 0 {
                "まだ発送がありません。先に stepcard ship".to_string()
            } else {
                format!("発送は 1〜{last}")
            }
        );
    }
    let rows = select(
        &ctx.conn,
        "SELECT DISTINCT p.id, p.name, p.postal_code, p.address, p.address2 FROM orders o \
         JOIN participants p ON p.id = o.participant_id WHERE o.shipment_id = ?1 \
         ORDER BY p.postal_code IS NULL, p.postal_code, p.id",
        [n],
    )?;
    let (texts, problems) = texts(&rows);
    if !problems.is_empty() {
        bail!(
            "発送 {n} の宛名 {} 件に問題があります。ファイルは書き出していません:\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
    let r = render(s, args.start_at, &texts)?;
    let rec = crate::output::write_bytes(&args.out, &r.bytes)?;
    ctx.detail.count("labels", texts.len() as u64);
    ctx.detail.count("sheets", r.pages as u64);
    ctx.say(done_message(s, &rec.path, texts.len(), &r, args.start_at));
    ctx.detail.file(rec);
    Ok(())
}

fn select<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<Vec<Row>>>()?;
    Ok(rows)
}

fn guidance(ctx: &mut Ctx, args: &LabelsArgs, s: &Sheet) -> Result<()> {
    let card = Channel::Card.as_ja();
    if args.resend {
        ctx.detail.arg("resend", true);
    }
    let wanted: Vec<String> = args
        .participant
        .iter()
        .map(|p| crate::sheet::normalize::normalize(p).into_owned())
        .collect();
    if !wanted.is_empty() {
        ctx.detail.count("participants_named", wanted.len() as u64);
    }
    let operator = ctx.operator.clone();
    let created_at = crate::now();
    let tx = crate::db::begin_write(&mut ctx.conn)?;
    // Named participants must exist, be card participants, and (without --resend) not
    // have been mailed: each refusal is named.
    let mut refusals = Vec::new();
    for id in &wanted {
        use rusqlite::OptionalExtension;
        let channel: Option<String> = tx
            .query_row(
                "SELECT channel FROM participants WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        match channel {
            None => refusals.push(format!("{id}: 名簿にありません (participant.unknown)")),
            Some(c) if c != card => refusals.push(format!(
                "{id}: 利用区分が「{c}」です。参加案内の郵送は台紙の参加者だけです (not a card participant)"
            )),
            Some(_) => {
                let mailed: Option<(i64, String)> = tx
                    .query_row(
                        "SELECT mailing_id, mailed_at FROM guidance_mailed WHERE participant_id = ?1 ORDER BY mailing_id DESC LIMIT 1",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let (Some((m, at)), false) = (mailed, args.resend) {
                    refusals.push(format!(
                        "{id}: 参加案内は送付済みです（郵送 {m}、{}）。もう一度送るときは --resend (already mailed)",
                        at.get(..10).unwrap_or(&at)
                    ));
                }
            }
        }
    }
    if !refusals.is_empty() {
        drop(tx);
        bail!(
            "参加案内のラベルを作れません。ファイルは書き出していません:\n  - {}",
            refusals.join("\n  - ")
        );
    }
    let mailed_filter = if args.resend {
        ""
    } else {
        "AND NOT EXISTS (SELECT 1 FROM guidance_mailed g WHERE g.participant_id = p.id)"
    };
    let mut rows = select(
        &tx,
        &format!(
            "SELECT p.id, p.name, p.postal_code, p.address, p.address2 FROM participants p \
             WHERE p.channel = ?1 {mailed_filter} ORDER BY p.postal_code IS NULL, p.postal_code, p.id"
        ),
        [card],
    )?;
    if !wanted.is_empty() {
        rows.retain(|r| wanted.contains(&r.0));
    }
    if rows.is_empty() {
        drop(tx);
        let (cards, mailed): (i64, i64) = ctx.conn.query_row(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM guidance_mailed g WHERE g.participant_id = p.id)) FROM participants p WHERE p.channel = ?1",
            [card],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        ctx.detail.count("labels", 0);
        ctx.say(format!(
            "参加案内を送る参加者はいません: 台紙の参加者 {cards} 名のうち {mailed} 名は送付済みです。ファイルは書き出していません (nobody to mail)"
        ));
        return Ok(());
    }
    let (texts, problems) = texts(&rows);
    if !problems.is_empty() {
        drop(tx);
        bail!(
            "参加案内の宛名 {} 件に問題があります。ファイルは書き出さず、郵送も記録していません:\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
    let r = match render(s, args.start_at, &texts) {
        Ok(r) => r,
        Err(e) => {
            drop(tx);
            return Err(e);
        }
    };
    let sha = crate::output::sha256_hex(&r.bytes);
    let format = if s.format == TableFormat::Csv {
        "csv".to_string()
    } else {
        s.layout.name.clone()
    };
    tx.execute(
        "INSERT INTO mailings(kind, created_at, operator, format, file_sha256, participants, resend) VALUES ('guidance', ?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![created_at, operator, format, sha, texts.len() as i64, args.resend],
    )?;
    let mailing = tx.last_insert_rowid();
    let mut resent = 0i64;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO guidance_mailed(participant_id, mailing_id, mailed_at, resend) \
             VALUES (?1, ?2, ?3, EXISTS (SELECT 1 FROM guidance_mailed g WHERE g.participant_id = ?1))",
        )?;
        let mut again =
            tx.prepare("SELECT EXISTS (SELECT 1 FROM guidance_mailed WHERE participant_id = ?1)")?;
        for t in &texts {
            let before: bool = again.query_row([&t.participant_id], |r| r.get(0))?;
            resent += i64::from(before);
            stmt.execute(rusqlite::params![t.participant_id, mailing, created_at])?;
        }
    }
    let rec = crate::output::write_bytes(&args.out, &r.bytes)?;
    if let Err(e) = tx.commit() {
        let _ = std::fs::remove_file(&args.out);
        return Err(anyhow::Error::new(e).context(
            "郵送を記録できなかったため、書き出したファイルを消しました (the mailing was not recorded; the file was removed)",
        ));
    }
    ctx.detail.count("mailing", mailing);
    ctx.detail.count("labels", texts.len() as u64);
    ctx.detail.count("resent", resent);
    ctx.detail.count("sheets", r.pages as u64);
    ctx.say(done_message(s, &rec.path, texts.len(), &r, args.start_at));
    ctx.say(format!(
        "  参加案内の郵送 {mailing} として {} 名を記録しました{}。次回の --guidance ではこの人たちを除きます",
        texts.len(),
        if resent > 0 {
            format!("（うち再送 {resent} 名）")
        } else {
            String::new()
        }
    ));
    ctx.detail.file(rec);
    Ok(())
}
