//! `cards --out 台紙.pdf [--participants all|FILE] [--months 2025-05..2025-07]`: the
//! pre-printed point cards (see `crate::output::cards`), one A4 page per participant and
//! period, for the participation-guidance envelope. The cards written and each
//! participant they were printed for are recorded in the same transaction as the file
//! (`card_mailings`, `cards_sent`), so the handling report and the audit know who was
//! sent cards.

use super::Ctx;
use crate::cli::CardsArgs;
use crate::db::mailings::{self, CardHolder};
use crate::output::cards::{self, Card};
use crate::output::pdf::{self, Pdf};
use crate::sheet::normalize::Channel;
use anyhow::{bail, Context, Result};
use chrono::{Datelike, NaiveDate};
use std::path::Path;

/// `2025-05` (after NFKC, so `２０２５－０５` too; `2025/5` as well).
fn parse_month(s: &str) -> Option<NaiveDate> {
    let s = crate::sheet::normalize::normalize(s);
    let (y, m) = s.trim().split_once(['-', '/'])?;
    NaiveDate::from_ymd_opt(y.trim().parse().ok()?, m.trim().parse().ok()?, 1)
}

/// The months asked for, checked against the program period (usage error otherwise).
fn months(ctx: &Ctx, arg: Option<&str>) -> Result<(NaiveDate, NaiveDate)> {
    let (start, end) = (ctx.program.program.start, ctx.program.program.end);
    let first_m = start.with_day(1).unwrap_or(start);
    let last_m = end.with_day(1).unwrap_or(end);
    let Some(arg) = arg else {
        return Ok((first_m, last_m));
    };
    let bad = || {
        crate::usage(format!(
            "--months「{arg}」が読めません。2025-05..2025-07 のように 年-月..年-月 で（1 か月なら 2025-05）書いてください (months as YYYY-MM..YYYY-MM)"
        ))
    };
    let (a, b) = match arg.split_once("..") {
        Some((a, b)) => (
            parse_month(a).ok_or_else(bad)?,
            parse_month(b).ok_or_else(bad)?,
        ),
        None => {
            let m = parse_month(arg).ok_or_else(bad)?;
            (m, m)
        }
    };
    if a > b {
        return Err(crate::usage(format!(
            "--months「{arg}」: 始めの月が終わりの月より後です。順に書いてください (the first month is after the last)"
        )));
    }
    if a < first_m || b > last_m {
        return Err(crate::usage(format!(
            "--months「{arg}」: 事業期間 {}〜{} の外の月を含みます。{}-{:02}..{}-{:02} の中で指定してください (months outside the program period)",
            start,
            end,
            first_m.year(),
            first_m.month(),
            last_m.year(),
            last_m.month()
        )));
    }
    Ok((a, b))
}

/// Participant numbers from a file, one a line (the first comma- or tab-separated field;
/// a heading 参加者番号 and blank lines are skipped), handed to `f` with their line
/// numbers as they are read.
fn each_id_in_file(path: &Path, mut f: impl FnMut(usize, &str) -> Result<()>) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "{}: 参加者番号のファイルを開けません。パスを確かめてください (cannot read the participants file)",
            path.display()
        )
    })?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t.trim_start_matches('\u{FEFF}')),
        Err(_) => encoding_rs::SHIFT_JIS.decode(&bytes).0,
    };
    let mut any = false;
    for (i, line) in text.lines().enumerate() {
        let first = line.split([',', '\t']).next().unwrap_or_default();
        let norm = crate::sheet::normalize::normalize(first.trim().trim_matches('"'));
        let id = norm.trim();
        if id.is_empty() || (!any && matches!(id, "参加者番号" | "participant_id")) {
            continue;
        }
        any = true;
        f(i + 1, id)?;
    }
    Ok(())
}

/// Note the participants to print cards for in the transaction's working table (see
/// `mailings::cards_begin`): every card participant, or those the file names, each once
/// in the file's order: how many. Every refusal stops it.
fn note_holders(tx: &rusqlite::Connection, args: &CardsArgs) -> Result<i64> {
    let card = Channel::Card.as_ja();
    mailings::cards_begin(tx)?;
    if args.participants == "all" {
        return Ok(mailings::cards_note_all(tx, card)? as i64);
    }
    let path = Path::new(&args.participants);
    let mut refused = Vec::new();
    let mut n = 0;
    each_id_in_file(path, |line, id| {
        match mailings::card_holder_of(tx, id)? {
            None => refused.push(format!(
                "{}:{line}: 参加者番号「{id}」は名簿にありません (not on the roster)",
                path.display()
            )),
            Some(h) if h.channel.as_deref() != Some(card) => refused.push(format!(
                "{}:{line}: 参加者番号「{id}」は{}の参加者です。台紙は台紙の参加者だけに作ります (not a card participant)",
                path.display(),
                h.channel.as_deref().unwrap_or("参加方法未登録")
            )),
            Some(h) => n += mailings::cards_note(tx, &h)? as i64,
        }
        Ok(())
    })?;
    if !refused.is_empty() {
        bail!(
            "台紙を作れません。ファイルは書き出していません:\n  - {}\n名簿を確かめるか、ファイルから外してください",
            refused.join("\n  - ")
        );
    }
    Ok(n)
}

/// Names with a character the embedded font cannot print (it would come out as a box),
/// and any such character in the program's own texts.
fn unprintable(
    program: &crate::program::Program,
    rows: &mut dyn Iterator<Item = CardHolder>,
) -> Vec<String> {
    let mut out = Vec::new();
    let fixed = pdf::missing_chars(&cards::fixed_texts(program));
    if !fixed.is_empty() {
        out.push(format!(
            "プログラムファイルの文に、台紙のフォントにない文字があります: {}",
            show(&fixed)
        ));
    }
    for h in rows {
        let m = pdf::missing_chars(&h.name);
        if !m.is_empty() {
            out.push(format!(
                "{}: 氏名「{}」の {} は台紙のフォント（JIS 第1・第2水準と機種依存文字）にありません",
                h.participant_id,
                h.name,
                show(&m)
            ));
        }
    }
    out
}

fn show(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| format!("「{c}」(U+{:04X})", *c as u32))
        .collect::<Vec<_>>()
        .join("、")
}

pub fn run(ctx: &mut Ctx, args: &CardsArgs) -> Result<()> {
    if !pdf::is_pdf(&args.out) {
        return Err(crate::usage(format!(
            "{}: 台紙は PDF に書き出します。--out は .pdf にしてください (the output must end in .pdf)",
            args.out.display()
        )));
    }
    if !(1..=28).contains(&args.due_day) {
        return Err(crate::usage(format!(
            "--due-day は 1〜28 にしてください（{}） (1 to 28)",
            args.due_day
        )));
    }
    let (first, last) = months(ctx, args.months.as_deref())?;
    let periods = cards::split_months(first, last);
    let span = format!(
        "{}-{:02}..{}-{:02}",
        first.year(),
        first.month(),
        last.year(),
        last.month()
    );
    ctx.detail.arg("months", span.clone());
    ctx.detail.arg("participants", args.participants.clone());
    if args.participants != "all" {
        let (sha, _) = crate::output::sha256_file(Path::new(&args.participants))?;
        ctx.detail.files_read_push(
            &crate::output::FileRecord::path_of(Path::new(&args.participants)),
            &sha,
        );
    }
    let created_at = crate::now();
    let operator = ctx.operator.clone();
    let program = &ctx.program;
    let tx = crate::db::begin_write(&mut ctx.conn)?;
    // The participants are noted in a working table of this transaction and streamed
    // from it (checked, drawn, recorded): never all held.
    let n = note_holders(&tx, args)?;
    if n == 0 {
        drop(tx);
        ctx.detail.count("cards", 0);
        ctx.say("台紙を作る参加者がいません（名簿に台紙の参加者がいません）。ファイルは書き出していません (nobody to print cards for)");
        return Ok(());
    }
    let bad = mailings::each_card_holder(&tx, |rows| Ok(unprintable(program, rows)))?;
    if !bad.is_empty() {
        bail!(
            "台紙に印刷できない文字があります。ファイルは書き出していません:\n  - {}\n\
             名簿の氏名を JIS 第1・第2水準の字（𠮷 → 吉 など）にして roster import --update で取り込み直してください (characters the font lacks)",
            bad.join("\n  - ")
        );
    }
    let title = format!("{} 記録台紙", program.program.name);
    let bottoms: Vec<cards::Bottom> = periods
        .iter()
        .map(|m| cards::bottom(program, m, cards::due_date(m, args.due_day)))
        .collect();
    let mut doc = Pdf::create(&args.out, &title)?;
    mailings::each_card_holder(&tx, |rows| {
        for h in rows {
            for (i, (months, bottom)) in periods.iter().zip(&bottoms).enumerate() {
                let card = Card {
                    participant_id: &h.participant_id,
                    name: &h.name,
                    months,
                    index: i + 1,
                    of: periods.len(),
                    bottom,
                };
                cards::draw(&mut doc, program, &card)?;
            }
        }
        Ok(())
    })?;
    let pages = doc.page_count();
    let rec = doc.finish()?;
    let new = mailings::NewCards {
        created_at: &created_at,
        operator: &operator,
        months: &span,
        file_sha256: &rec.sha256,
        cards_each: periods.len() as i64,
        participants: n,
    };
    let recorded = mailings::record_cards(&tx, &new).and_then(|id| {
        mailings::cards_done(&tx)?;
        tx.commit()?;
        Ok(id)
    });
    let id = match recorded {
        Ok(id) => id,
        Err(e) => {
            let _ = std::fs::remove_file(&args.out);
            return Err(e.context(
                "台紙の送付を記録できなかったため、書き出したファイルを消しました (the cards were not recorded; the file was removed)",
            ));
        }
    };
    ctx.detail.count("card_mailing", id);
    ctx.detail.count("participants", n as u64);
    ctx.detail.count("cards", pages as u64);
    let split = if periods.len() > 1 {
        format!(
            "。期間が 1 枚（{} か月）に収まらないため 1 人 {} 枚: {}",
            cards::MONTHS_PER_CARD,
            periods.len(),
            periods
                .iter()
                .map(|p| cards::months_ja(p))
                .collect::<Vec<_>>()
                .join("／")
        )
    } else {
        String::new()
    };
    ctx.say(format!(
        "{}: 記録台紙 {} 名分、A4 {pages} 枚を書き出しました（個人情報の複製として記録しました）{split}。\n  \
         印刷は A4・倍率 100 %（実際のサイズ）で。参加案内の封筒に同封してください。台紙の送付 {id} として {} 名を記録しました",
        rec.shown(),
        n,
        n
    ));
    ctx.detail.file(rec);
    Ok(())
}
