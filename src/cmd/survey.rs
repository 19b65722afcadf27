//! `survey import FILE`: questionnaire answers (事前・事後アンケート) keyed from paper,
//! against the questions the program file declares (see `crate::import::survey`).

use super::Ctx;
use crate::cli::ImportOpts;
use crate::import::batch::{self, Spec};
use crate::import::survey::{columns, SurveyImporter};
use crate::import::Options;
use anyhow::{bail, Result};
use std::path::Path;

pub fn import(ctx: &mut Ctx, file: &Path, opts: &ImportOpts) -> Result<()> {
    if ctx.program.survey.questions.is_empty() {
        bail!(
            "プログラムファイルにアンケートの設問（[[survey.questions]]）がないため、回答を取り込めません。\
             設問を書いたプログラムファイルで init したデータベースを使ってください (no questions declared)"
        );
    }
    let program = ctx.program.clone();
    let cols = columns(&program);
    let spec = Spec {
        kind: "survey",
        columns: &cols,
        card_days: false,
        verified: false,
    };
    let mut participants = Some(crate::db::participants::ids(&ctx.conn)?);
    let opts = Options::from(opts);
    let Some(batch) = batch::run(&mut ctx.session(), file, &opts, &spec, &mut |b| {
        Ok(Box::new(SurveyImporter::new(
            &program,
            participants.take().unwrap_or_default(),
            b,
        )))
    })?
    else {
        return Ok(());
    };
    // What the batch holds, by timing: questionnaires and answers.
    let rows = crate::db::survey::batch_totals(&ctx.conn, batch)?;
    for (timing, people, answers) in &rows {
        let key = if timing == "事前" { "pre" } else { "post" };
        ctx.detail.count(&format!("respondents_{key}"), *people);
        ctx.detail.count(&format!("answers_{key}"), *answers);
        ctx.say(format!("  {timing}: {people} 人分、回答 {answers} 件"));
    }
    Ok(())
}
