//! `steps verify FIRST SECOND [--out REPORT] [--import]`: double-entry verification
//! (ベリファイ). Both keyings are read as the import reads them and compared by meaning;
//! the figures go to stdout, the first findings to stderr, all of them to the report.
//! Exit 0 only when the keyings agree and every agreed value is valid; `--import` then
//! imports the first keying as one batch recorded as verified.

use super::Ctx;
use crate::cli::VerifyArgs;
use crate::import::steps::{self, Verified};
use crate::import::{print_problems, Layout, Options};
use crate::output::TableFormat;
use crate::verify::report::{self, Meta};
use crate::verify::{read_keying, Ids, Side, Verification};
use anyhow::{bail, Result};
use std::path::Path;

pub fn run(ctx: &mut Ctx, args: &VerifyArgs) -> Result<()> {
    if let Some(out) = &args.out {
        TableFormat::from_path(out)?;
    }
    if same_file(&args.first, &args.second) {
        return Err(crate::usage(format!(
            "{}: 同じファイルを1回目と2回目の両方に指定しています。2人目が入力したファイルを2回目に指定してください \
             (the same file was given twice)",
            args.first.display()
        )));
    }
    let mut opts = Options::from(args);
    let keyers = keyers(ctx, &args.keyed_by)?;
    opts.keyed_by = Some(keyers.0.clone());
    let layout: Option<Layout> = args.layout.map(Into::into);
    ctx.detail.arg("import", args.import);
    let nothing_imported = if args.import {
        "。何も取り込んでいません (nothing imported)"
    } else {
        ""
    };

    let mut ids = Ids::default();
    let a = read_keying(&args.first, Side::First, &opts, layout, &mut ids)?;
    ctx.detail.files_read_push(&a.file_name, &a.sha256);
    let b = read_keying(&args.second, Side::Second, &opts, layout, &mut ids)?;
    ctx.detail.files_read_push(&b.file_name, &b.sha256);
    let mut unreadable = Vec::new();
    for k in [&a, &b] {
        if !k.header_problems.is_empty() {
            print_problems(ctx.quiet, &k.file_name, &k.header_problems);
            unreadable.push(k.file_name.clone());
        }
    }
    if !unreadable.is_empty() {
        bail!(
            "{}: 見出しを読めないため照合できません。見出し行を直してから、もう一度ベリファイしてください{nothing_imported} \
             (header problems; nothing compared)",
            unreadable.join("、")
        );
    }
    if a.sha256 == b.sha256 {
        ctx.say(
            "注意: 2つのファイルの内容がまったく同じです。別の人が別々に入力したものか確かめてください \
             (the two files are byte-identical)",
        );
    }

    let conn = &ctx.conn;
    let mut on_roster = |pid: &str| crate::db::participants::exists(conn, pid);
    let v = Verification::new(a, b, ids, &ctx.program, &mut on_roster)?;
    record_run(ctx, &v, &keyers)?;
    let findings = v.findings();
    if let Some(out) = &args.out {
        let meta = Meta {
            at: crate::now(),
            operator: ctx.operator.clone(),
            program: ctx.program.program.name.clone(),
        };
        let rec = crate::output::verify_report::write(out, &v, &findings, &meta)?;
        ctx.say(format!(
            "照合結果: {}（指摘 {} 件） (report written)",
            out.display(),
            findings.len()
        ));
        ctx.detail.file(rec);
    }
    report::print_summary(&v)?;
    report::print_findings(ctx.quiet, &findings, args.out.is_some());

    // Prefixed: with --import the import's own counts go into the same audit entry.
    let o = &v.outcome;
    let d = &mut ctx.detail;
    d.count("verify_first_entries", o.first_keys);
    d.count("verify_second_entries", o.second_keys);
    d.count("verify_matched", o.matched());
    d.count("verify_agreeing", o.agreeing);
    d.count("verify_mismatches", o.mismatches.len() as u64);
    d.count("verify_only_first", o.only_first.len() as u64);
    d.count("verify_only_second", o.only_second.len() as u64);
    d.count("verify_duplicates", o.dups.len() as u64);
    d.count("verify_duplicate_conflicts", o.conflicting_dups() as u64);
    d.count("verify_unreadable", v.reading_problems() as u64);
    d.count("verify_agreed_invalid", v.checks.len() as u64);
    d.count("verify_agree", v.agree());

    if !v.agree() {
        let differ = [
            ("不一致", o.mismatches.len()),
            ("1回目のみ", o.only_first.len()),
            ("2回目のみ", o.only_second.len()),
            ("値の違う重複", o.conflicting_dups()),
            ("読めない入力", v.reading_problems()),
        ];
        let listed: Vec<String> = differ
            .iter()
            .chain(std::iter::once(&("一致した値の誤り", v.checks.len())))
            .filter(|(_, n)| *n > 0)
            .map(|(what, n)| format!("{what} {n} 件"))
            .collect();
        let head = if differ.iter().any(|(_, n)| *n > 0) {
            "2回の入力が一致しません"
        } else {
            "2回の入力は一致しましたが、一致した値に誤りがあります"
        };
        bail!(
            "{head}（{}）。台紙と照らして誤っている方の入力を直し、もう一度ベリファイしてください{}{nothing_imported} \
             (the keyings disagree or have problems)",
            listed.join("、"),
            if args.out.is_none() {
                "。--out 照合結果.xlsx で全件を書き出せます"
            } else {
                ""
            }
        );
    }
    ctx.say(format!(
        "2回の入力は一致し（{} 件）、値もすべて正しいことを確かめました (the keyings agree)",
        o.agreeing
    ));
    if args.import {
        import_verified(ctx, &args.first, &opts, layout, &v.a.sha256)?;
    }
    Ok(())
}

/// Import the first keying as a verified batch, provided it is still the file verified.
/// If that content (same sheets) is already a batch, that batch is marked verified.
fn import_verified(
    ctx: &mut Ctx,
    first: &Path,
    opts: &Options,
    layout: Option<Layout>,
    verified_sha: &str,
) -> Result<()> {
    match steps::import_verified(&mut ctx.session(), first, opts, layout, verified_sha)? {
        Verified::Marked { file_name, batch } => {
            ctx.say(format!(
                "{file_name}: この内容は取込み {batch} で取り込み済みです。取込み {batch} をベリファイ済みとして記録しました \
                 (already imported as batch {batch}; marked verified)"
            ));
            ctx.detail.count("marked_verified_batch", batch);
        }
        Verified::Imported(Some(batch)) => ctx.say(format!(
            "取込み {batch} をベリファイ済みとして記録しました (batch {batch} recorded as verified)"
        )),
        Verified::Imported(None) => {}
    }
    Ok(())
}

/// Who keyed the first and the second file: `--keyed-by` twice, or the operator for both.
fn keyers(ctx: &Ctx, given: &[String]) -> Result<(String, String)> {
    match given {
        [] => Ok((ctx.operator.clone(), ctx.operator.clone())),
        [a, b] => Ok((ctx.keyer(Some(a))?, ctx.keyer(Some(b))?)),
        _ => Err(crate::usage(
            "--keyed-by は 1回目・2回目の順に2回指定してください（例: --keyed-by \"山田 太郎\" --keyed-by \"佐藤 花子\"） \
             (give --keyed-by twice: who keyed the first file, then the second)",
        )),
    }
}

/// Keep the run for the keying quality figures: who keyed each file, its cells, and
/// each discrepancy (settled later by the batch that keys the card again).
fn record_run(ctx: &mut Ctx, v: &Verification, keyers: &(String, String)) -> Result<()> {
    let o = &v.outcome;
    let dups = |side| o.dups.iter().filter(|d| d.side == side).count() as u64;
    let discs = crate::verify::discrepancies::discrepancies(v);
    let at = crate::now();
    let run = crate::db::quality::Run {
        at: &at,
        operator: &ctx.operator,
        first: (
            &keyers.0,
            &v.a.file_name,
            &v.a.sha256,
            v.a.rows,
            o.first_keys + dups(Side::First),
        ),
        second: (
            &keyers.1,
            &v.b.file_name,
            &v.b.sha256,
            v.b.rows,
            o.second_keys + dups(Side::Second),
        ),
        agreeing: o.agreeing,
    };
    if crate::db::quality::record_run(&ctx.conn, &run, &discs)?.is_some() {
        ctx.detail
            .count("verify_discrepancies_recorded", discs.len() as u64);
    }
    ctx.detail
        .arg("keyed_by", vec![keyers.0.clone(), keyers.1.clone()]);
    Ok(())
}

/// The same file under two names (or the same name twice).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
