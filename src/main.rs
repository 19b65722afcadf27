//! `stepcard` binary: parse arguments, run, print `error: …` and exit with the code the
//! README documents (0 done, 1 refused, 2 usage).

fn main() {
    // Files the tool creates are its owner's only, whatever the caller's umask: the
    // database's sidecars (`-wal`, `-shm`) and the xlsx writer's spill files included.
    #[cfg(unix)]
    unsafe {
        // SAFETY: umask only sets the process's file-mode mask.
        libc::umask(0o077);
    }
    // A panic inside a workbook reader (or the xlsx writer) is caught and reported as an
    // error naming the file; a closed stdout or stderr (`| head`) ends the command
    // quietly, as a reader that stopped early expects; any other panic is a bug, told
    // plainly rather than as a stack trace.
    std::panic::set_hook(Box::new(|info| {
        if stepcard::sheet::in_guarded_read() || stepcard::output::in_guarded_write() {
            return;
        }
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") {
            std::process::exit(0);
        }
        let text = stepcard::output::terminal_safe(&format!(
            "error: stepcard の内部エラーです。データは変更されていません（途中の取込みは取り消されます）。\
             このメッセージを開発者に伝えてください (internal error: {info})"
        ));
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{text}");
    }));
    let cli = stepcard::cli::help::parse();
    let db = cli.db.clone();
    match stepcard::run(cli) {
        Ok(()) => {}
        Err(err) if stepcard::output::is_broken_pipe(&err) => {}
        Err(err) => {
            use std::io::Write;
            let at = stepcard::output::explain::Where { db: &db };
            let text =
                stepcard::output::terminal_safe(&stepcard::output::explain::message(&err, &at));
            let _ = writeln!(std::io::stderr(), "{text}");
            std::process::exit(stepcard::exit_code(&err));
        }
    }
}
