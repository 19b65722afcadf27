//! `labels --shipment N | --guidance --out FILE [--layout NAME] [--start-at K]`:
//! mailing labels laid out on the label sheet (see `crate::output::labels`), as `.pdf`
//! (drawn in millimetres: each label exactly where the layout says, any number of
//! sheets in one file) or `.xlsx`, or `.csv` for a word processor's mail merge.
//!
//! `--guidance` is the participation-guidance mailing (参加案内): card participants
//! (not app users) not yet sent it. The mailing and each participant it reached are
//! recorded in the same transaction as the file, so nobody is mailed twice; `--resend`
//! includes those already mailed and records the resend.

use super::Ctx;
use crate::cli::LabelsArgs;
use crate::db::{mailings, shipments};
use crate::output::labels::{self, LabelText, Layout, Rendered, BUILTIN};
use crate::output::TableFormat;
use crate::sheet::normalize::Channel;
use crate::shipping::{self, Recipient};
use anyhow::{bail, Result};

/// Everything about the label sheet decided before reading any personal data.
struct Sheet {
    /// Csv, or Xlsx for a laid-out sheet (also when `pdf`).
    format: TableFormat,
    /// The laid-out sheet is drawn as a PDF.
    pdf: bool,
    layout: Layout,
    offset: (f64, f64),
}

fn sheet(ctx: &Ctx, args: &LabelsArgs) -> Result<Sheet> {
    let pdf = crate::output::pdf::is_pdf(&args.out);
    let format = if pdf {
        TableFormat::Xlsx
    } else {
        TableFormat::from_path(&args.out).map_err(|_| {
            crate::usage(format!(
                "{}: ラベルは .pdf（ラベル用紙に正確な位置で）、.xlsx（ラベル用紙）、.csv（差し込み印刷）のどれかで書き出します。拡張子を直してください (the output must end in .pdf, .xlsx or .csv)",
                args.out.display()
            ))
        })?
    };
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
            "--start-at はラベル用紙 (.pdf か .xlsx) のときだけ使えます。差し込み印刷 (.csv) では印刷側で指定してください",
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
        pdf,
        layout,
        offset,
    })
}

/// The recipients checked as they pass, nothing kept: how many there are, or every
/// missing postal code and address (and, for a PDF, every character its font cannot
/// print), one per line. On a label sheet (`.pdf`, `.xlsx`) each label is also fitted where
/// it will be laid out, so one that does not fit stops the run before a file is written.
fn check(
    s: &Sheet,
    start_at: usize,
    rows: &mut dyn Iterator<Item = Recipient>,
) -> Result<std::result::Result<usize, Vec<String>>> {
    let (mut n, mut problems, mut unprintable_labels) = (0, Vec::new(), Vec::new());
    let mut fits = (s.format != TableFormat::Csv)
        .then(|| labels::FitCheck::new(&s.layout, s.offset, start_at));
    for r in rows {
        n += 1;
        shipping::address_problems(
            &r.participant_id,
            r.postal_code.as_deref(),
            r.address.as_deref(),
            &mut problems,
        );
        if problems.is_empty() && (s.pdf || fits.is_some()) {
            let t = labels::label_text(&r);
            if s.pdf {
                unprintable_labels.extend(unprintable(&t));
            }
            if let Some(f) = fits.as_mut() {
                f.check(&t);
            }
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems.iter().map(ToString::to_string).collect()));
    }
    if !unprintable_labels.is_empty() {
        return Ok(Err(unprintable_labels));
    }
    if let Some(f) = fits {
        f.finish()?;
    }
    Ok(Ok(n))
}

/// A label with characters the PDF's font lacks (they would print as boxes), named.
fn unprintable(t: &LabelText) -> Option<String> {
    let all = format!(
        "{}{}{}{}",
        t.postal_code,
        t.address,
        t.address2.as_deref().unwrap_or_default(),
        t.name
    );
    let missing = crate::output::pdf::missing_chars(&all);
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "{}: {} は PDF のフォント（JIS 第1・第2水準と機種依存文字）にないため印刷できません。名簿の字を直す（𠮷 → 吉 など）か、--out を .xlsx にしてください (characters the PDF font lacks)",
        t.participant_id,
        missing
            .iter()
            .map(|c| format!("「{c}」(U+{:04X})", *c as u32))
            .collect::<Vec<_>>()
            .join("、")
    ))
}

fn render(s: &Sheet, start_at: usize, texts: &[LabelText]) -> Result<Rendered> {
    let created = crate::output::xlsx::created_datetime(&crate::now());
    labels::render(&s.layout, s.offset, start_at, texts, &created)
}

/// The label files written: one, or (more labels than one `.xlsx` can hold) several,
/// `NAME-1.xlsx`, `NAME-2.xlsx`…, each rendered and written before the next is made.
struct Written {
    files: Vec<crate::output::FileRecord>,
    /// Labels in each file.
    counts: Vec<usize>,
    /// The file's hash, or with several files the hash of their hashes (one per line).
    sha256: String,
    rendered: Rendered,
}

fn split_path(out: &std::path::Path, i: usize) -> std::path::PathBuf {
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    out.with_file_name(format!("{stem}-{i}{ext}"))
}

fn write_labels(
    s: &Sheet,
    start_at: usize,
    count: usize,
    texts: &mut dyn Iterator<Item = LabelText>,
    out: &std::path::Path,
) -> Result<Written> {
    if s.pdf || s.format == TableFormat::Csv {
        // One file whatever the number (a PDF has no page-break limit, a mail-merge CSV
        // no sheet), drawn or written as the labels come: nothing is kept per label.
        let (rec, rendered, n) = if s.pdf {
            labels::write_pdf(out, &s.layout, s.offset, start_at, texts)?
        } else {
            let mut n = 0;
            let rec = crate::output::write_with(out, |w| {
                crate::output::csv_into(
                    &labels::CSV_HEADERS,
                    texts.inspect(|_| n += 1).map(|t| labels::csv_row(&t)),
                    w,
                )
            })?;
            let rendered = Rendered {
                bytes: Vec::new(),
                pages: 0,
                shrunk: 0,
            };
            (rec, rendered, n)
        };
        return Ok(Written {
            sha256: rec.sha256.clone(),
            files: vec![rec],
            counts: vec![n],
            rendered,
        });
    }
    let first = labels::labels_per_file(&s.layout, start_at).max(1);
    let rest = labels::labels_per_file(&s.layout, 1).max(1);
    let mut w = Written {
        files: Vec::new(),
        counts: Vec::new(),
        sha256: String::new(),
        rendered: Rendered {
            bytes: Vec::new(),
            pages: 0,
            shrunk: 0,
        },
    };
    // One file's labels at a time (at most what one file holds), rendered and written
    // before the next are read.
    let several = count > first;
    let mut hashes = String::new();
    let mut chunk: Vec<LabelText> = Vec::new();
    for i in 0.. {
        let size = if i == 0 { first } else { rest };
        chunk.clear();
        chunk.extend((&mut *texts).take(size));
        if i > 0 && chunk.is_empty() {
            break;
        }
        let r = render(s, if i == 0 { start_at } else { 1 }, &chunk)?;
        let path = if several {
            split_path(out, i + 1)
        } else {
            out.to_path_buf()
        };
        let rec = match crate::output::write_bytes(&path, &r.bytes) {
            Ok(rec) => rec,
            Err(e) => {
                remove_written(&w);
                return Err(e);
            }
        };
        hashes.push_str(&rec.sha256);
        hashes.push('\n');
        w.rendered.pages += r.pages;
        w.rendered.shrunk += r.shrunk;
        w.counts.push(chunk.len());
        w.files.push(rec);
        if !several {
            break;
        }
    }
    w.sha256 = if several {
        crate::output::sha256_hex(hashes.as_bytes())
    } else {
        w.files[0].sha256.clone()
    };
    Ok(w)
}

fn remove_written(w: &Written) {
    for f in &w.files {
        let _ = std::fs::remove_file(&f.path);
    }
}

/// The done message, with the files listed when the labels were split.
fn written_message(s: &Sheet, w: &Written, n: usize, start_at: usize) -> String {
    let mut m = done_message(s, &w.files[0].path, n, &w.rendered, start_at);
    if w.files.len() > 1 {
        let per = labels::labels_per_file(&s.layout, 1);
        m = done_message(s, "", n, &w.rendered, start_at)
            .trim_start_matches(": ")
            .to_string();
        m.push_str(&format!(
            "\n  ラベルが 1 ファイルに入る数（A4 1,024 枚、{per} 枚）を超えるため、{} ファイルに分けました。順に印刷してください:",
            w.files.len()
        ));
        let mut from = 1;
        for (f, c) in w.files.iter().zip(&w.counts) {
            m.push_str(&format!(
                "\n    {}（{}〜{} 枚目）",
                f.path,
                from,
                from + c - 1
            ));
            from += c;
        }
    }
    m
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
    if args.calibrate {
        return calibrate(ctx, args, &s);
    }
    ctx.detail.arg("start_at", args.start_at as u64);
    match args.shipment {
        Some(n) => shipment(ctx, args, &s, n),
        None => guidance(ctx, args, &s),
    }
}

fn shipment(ctx: &mut Ctx, args: &LabelsArgs, s: &Sheet, n: i64) -> Result<()> {
    ctx.detail.arg("shipment", n);
    if shipments::find(&ctx.conn, n)?.is_none() {
        let last = shipments::last_id(&ctx.conn)?;
        bail!(
            "発送番号 {n} はありません（{}） (no such shipment)",
            if last == 0 {
                "まだ発送がありません。先に stepcard ship".to_string()
            } else {
                format!("発送は 1〜{last}")
            }
        );
    }
    // The addressees stream from the database, sorted once, read twice (checked, then
    // written a file at a time), never all held.
    let (count, w) = shipments::with_sorted_recipients(&ctx.conn, n, |sorted| {
        let count = sorted
            .each(|rows| check(s, args.start_at, rows))?
            .or_else(|problems| {
                bail!(
                    "発送 {n} の宛名 {} 件に問題があります。ファイルは書き出していません:\n  - {}",
                    problems.len(),
                    problems.join("\n  - ")
                )
            })?;
        let w = sorted.each(|rows| {
            let mut texts = rows.map(|r| labels::label_text(&r));
            write_labels(s, args.start_at, count, &mut texts, &args.out)
        })?;
        Ok((count, w))
    })?;
    ctx.detail.count("labels", count as u64);
    ctx.detail.count("sheets", w.rendered.pages as u64);
    ctx.say(written_message(s, &w, count, args.start_at));
    for rec in w.files {
        ctx.detail.file(rec);
    }
    Ok(())
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
    let targets = wanted
        .iter()
        .map(|id| mailings::target(&tx, id))
        .collect::<Result<Vec<_>>>()?;
    let refusals = shipping::guidance_refusals(&targets, card, args.resend);
    if !refusals.is_empty() {
        drop(tx);
        bail!(
            "参加案内のラベルを作れません。ファイルは書き出していません:\n  - {}",
            refusals.join("\n  - ")
        );
    }
    // The addressees are noted in a working table of this transaction, then streamed
    // from it (checked, written a file at a time) and recorded from it: never all held.
    let count = mailings::guidance_note(&tx, card, args.resend, &wanted)?;
    if count == 0 {
        drop(tx);
        let (cards, mailed) = mailings::guidance_counts(&ctx.conn, card)?;
        ctx.detail.count("labels", 0);
        ctx.say(format!(
            "参加案内を送る参加者はいません: 台紙の参加者 {cards} 名のうち {mailed} 名は送付済みです。ファイルは書き出していません (nobody to mail)"
        ));
        return Ok(());
    }
    let count = match mailings::each_guidance(&tx, |rows| check(s, args.start_at, rows))? {
        Ok(n) => n,
        Err(problems) => {
            drop(tx);
            bail!(
                "参加案内の宛名 {} 件に問題があります。ファイルは書き出さず、郵送も記録していません:\n  - {}",
                problems.len(),
                problems.join("\n  - ")
            );
        }
    };
    let w = mailings::each_guidance(&tx, |rows| {
        let mut texts = rows.map(|r| labels::label_text(&r));
        write_labels(s, args.start_at, count, &mut texts, &args.out)
    })?;
    let sha = w.sha256.clone();
    let format = if s.format == TableFormat::Csv {
        "csv".to_string()
    } else if s.pdf {
        format!("{} pdf", s.layout.name)
    } else {
        s.layout.name.clone()
    };
    let mailing = mailings::NewMailing {
        created_at: &created_at,
        operator: &operator,
        format: &format,
        file_sha256: &sha,
        resend: args.resend,
    };
    let recorded = mailings::record_guidance(&tx, &mailing)
        .and_then(|r| mailings::guidance_done(&tx).map(|()| r));
    let (mailing, resent) = match recorded {
        Ok(x) => x,
        Err(e) => {
            remove_written(&w);
            return Err(e);
        }
    };
    if let Err(e) = tx.commit() {
        remove_written(&w);
        return Err(anyhow::Error::new(e).context(
            "郵送を記録できなかったため、書き出したファイルを消しました (the mailing was not recorded; the file was removed)",
        ));
    }
    ctx.detail.count("mailing", mailing);
    ctx.detail.count("labels", count as u64);
    ctx.detail.count("resent", resent);
    ctx.detail.count("sheets", w.rendered.pages as u64);
    ctx.say(written_message(s, &w, count, args.start_at));
    ctx.say(format!(
        "  参加案内の郵送 {mailing} として {} 名を記録しました{}。次回の --guidance ではこの人たちを除きます",
        count,
        if resent > 0 {
            format!("（うち再送 {resent} 名）")
        } else {
            String::new()
        }
    ));
    for rec in w.files {
        ctx.detail.file(rec);
    }
    Ok(())
}

/// `labels --calibrate`: the layout's rectangles on one A4 page, nothing personal.
fn calibrate(ctx: &mut Ctx, args: &LabelsArgs, s: &Sheet) -> Result<()> {
    if s.format != TableFormat::Xlsx {
        return Err(crate::usage(
            "--calibrate はラベル用紙 (.pdf か .xlsx) に書き出します。--out は .pdf か .xlsx にしてください",
        ));
    }
    ctx.detail.arg("calibrate", true);
    let rec = if s.pdf {
        labels::write_calibration_pdf(&args.out, &s.layout)?
    } else {
        let created = crate::output::xlsx::created_datetime(&crate::now());
        let bytes = labels::render_calibration(&s.layout, &created)?;
        crate::output::write_bytes(&args.out, &bytes)?
    };
    ctx.say(format!(
        "{}: 調整用シート（{}、{}×{} 面）を書き出しました。A4・倍率 100 %（実際のサイズ）で普通紙に印刷し、ラベル用紙に重ねて光に透かし、\
         枠のずれをプログラムファイル [labels] の offset_x_mm（右へ +）・offset_y_mm（下へ +）に書いてください",
        rec.shown(), s.layout.name, s.layout.cols, s.layout.rows
    ));
    ctx.detail.file(rec);
    Ok(())
}
