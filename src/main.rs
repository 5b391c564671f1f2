//! The `lzctl` binary: parse arguments, run, map the outcome to an exit code
//! (0 done, 2 changes with --detailed-exitcode, 1 any error, usage errors
//! included, 130 interrupted).

use std::process::ExitCode;

use clap::Parser;
use lzctl::cli::Cli;
use lzctl::commands::{hint_for, run, Interrupted, Outcome, PlanRefused, ValidationFailed};

fn main() -> ExitCode {
    // A closed stdout (`lzctl ... | head`) ends lzctl quietly: writes go
    // through `commands::emit`, and anything printed elsewhere lands here.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.to_string();
        if message.contains("Broken pipe") || message.contains("failed printing to stdout") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LZCTL_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; a usage error must never
            // exit 2, which pipelines read as "changes present".
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli.command)) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Changes) => ExitCode::from(2),
        Err(err) => {
            if err.downcast_ref::<Interrupted>().is_some() {
                eprintln!("{err}");
                return ExitCode::from(130);
            }
            let already_printed = err.downcast_ref::<ValidationFailed>().is_some()
                || err.downcast_ref::<PlanRefused>().is_some()
                || err.downcast_ref::<lzctl::scp_lint::LintFailed>().is_some();
            if !already_printed {
                eprintln!("error: {err}");
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
                if let Some(hint) = hint_for(&err) {
                    eprintln!("hint: {hint}");
                }
            }
            ExitCode::from(1)
        }
    }
}
