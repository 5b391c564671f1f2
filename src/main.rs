//! The `lzctl` binary: parse arguments, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use lzctl::cli::Cli;
use lzctl::commands::{run, Outcome, ValidationFailed};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LZCTL_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Changes) => ExitCode::from(2),
        Err(err) => {
            let already_printed = err.downcast_ref::<ValidationFailed>().is_some()
                || err.downcast_ref::<lzctl::scp_lint::LintFailed>().is_some();
            if !already_printed {
                eprintln!("error: {err}");
                for cause in err.chain().skip(1) {
                    eprintln!("  Caused by: {cause}");
                }
            }
            ExitCode::from(1)
        }
    }
}
