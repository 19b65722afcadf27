//! `stepcard` binary: parse arguments, run, print `error: …` and exit with the code the
//! README documents (0 done, 1 refused, 2 usage).

use clap::Parser;

fn main() {
    let cli = stepcard::cli::Cli::parse();
    match stepcard::run(cli) {
        Ok(()) => {}
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(stepcard::exit_code(&err));
        }
    }
}
