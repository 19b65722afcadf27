//! `close-out --return-dir DIR --confirm CONTRACT_NO [--erase-exports] [--package-password-file F]`
//! and `close-out --verify RECORD --package ZIP [--package-password-file F]`. The package's
//! password is its own file, never a handler's login password (`--password-file`): the
//! municipality receives the package password. The work is in
//! `crate::closeout`; this file reads the arguments and tells the operator the result.

use crate::cli::{Cli, CloseOutArgs};
use crate::closeout;
use crate::cmd::Ctx;
use anyhow::Result;

pub fn run(cli: &Cli, args: &CloseOutArgs) -> Result<()> {
    let password = match &args.package_password_file {
        Some(p) => Some(closeout::package::read_password(p)?),
        None => None,
    };
    if let (Some(record), Some(package)) = (&args.verify, &args.package) {
        let expected = closeout::ExpectedRecord {
            certificate: args.certificate.clone(),
            sha256: args.record_sha256.clone(),
        };
        for line in closeout::verify(record, package, password.as_deref(), &expected)? {
            println!("{line}");
        }
        return Ok(());
    }
    let (Some(return_dir), Some(confirm)) = (&args.return_dir, &args.confirm) else {
        return Err(crate::usage(
            "--return-dir と --confirm を指定してください（照合だけなら --verify と --package）\
             (give --return-dir and --confirm, or --verify with --package)",
        ));
    };
    let opts = closeout::Options {
        db: cli.db.clone(),
        operator: cli.operator.clone(),
        quiet: cli.quiet,
        return_dir: return_dir.clone(),
        confirm: confirm.clone(),
        erase_exports: args.erase_exports,
        erase_inputs: args.erase_inputs,
        password,
    };
    let open = || {
        let ctx = Ctx::open(cli, "close-out")?;
        Ok(closeout::Opened {
            conn: ctx.conn,
            program: ctx.program,
            operator: ctx.operator,
            detail: ctx.detail,
        })
    };
    let out = closeout::run(&opts, open)?;
    if !cli.quiet {
        eprintln!(
            "契約終了の手続きが完了しました。証明書番号 {}（書出しファイル: 消去 {} 件、消去せず {} 件）\
             (close-out complete)\n  返還データ: {}\n  消去記録: {}\n  消去証明書: {}\n  消去証明書（PDF、そのまま印刷できます）: {}\n\
             消去証明書を印刷し、取扱責任者が押印して、返還データとともに委託元へ提出してください。",
            out.certificate_no,
            out.erased_exports,
            out.kept_exports,
            out.package,
            out.record,
            out.certificate,
            std::path::Path::new(&out.certificate)
                .with_extension("pdf")
                .display()
        );
    }
    println!("{}", out.package);
    println!("{}", out.record);
    println!("{}", out.certificate);
    Ok(())
}
