//! `lzctl schema`, `lzctl completions SHELL`, `lzctl man`: generated from
//! the types that parse the file and from the CLI definition, never written
//! by hand.

use anyhow::Result;
use clap::CommandFactory;

use super::{emit, Outcome};
use crate::cli::Cli;

/// Prints the JSON Schema of the landing-zone file.
pub fn schema() -> Result<Outcome> {
    let schema = crate::config::schema::schema();
    emit(&(serde_json::to_string_pretty(&schema)? + "\n"))?;
    Ok(Outcome::Clean)
}

/// Prints a completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<Outcome> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "lzctl", &mut out);
    emit(&String::from_utf8_lossy(&out))?;
    Ok(Outcome::Clean)
}

/// Prints the man page.
pub fn man() -> Result<Outcome> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    emit(&String::from_utf8_lossy(&out))?;
    Ok(Outcome::Clean)
}
