//! `stepcard` binary: parse arguments, run, print `error: …` and exit with the code the
//! README documents (0 done, 1 refused, 2 usage).

use clap::Parser;

fn main() {
    // A panic inside a workbook reader is caught and reported as an error naming the file;
    // any other panic is a bug, told plainly rather than as a stack trace.
    std::panic::set_hook(Box::new(|info| {
        if stepcard::sheet::in_guarded_read() {
            return;
        }
        eprintln!(
            "error: stepcard の内部エラーです。データは変更されていません（途中の取込みは取り消されます）。\
             このメッセージを開発者に伝えてください (internal error: {info})"
        );
    }));
    let cli = stepcard::cli::Cli::parse();
    match stepcard::run(cli) {
        Ok(()) => {}
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(stepcard::exit_code(&err));
        }
    }
}
