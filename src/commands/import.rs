//! `lzctl import`: reads the organization (read-only) and writes a
//! configuration directory that `lzctl plan` finds in place.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::{connect, emit, observe_with, print_stats, Outcome};
use crate::cli::AwsArgs;
use crate::config::ControlTowerMode;
use crate::import::{render, ImportOptions, MAIN_FILE};
use crate::observe::ObserveScope;

/// Options of one import.
pub struct ImportRun<'a> {
    /// Output directory.
    pub out: &'a Path,
    /// `--company-parent`.
    pub company_parent: Option<String>,
    /// `--split`.
    pub split: bool,
    /// `--force`.
    pub force: bool,
    /// `--lock`, `--lock-timeout`: the apply lock, held while reading.
    pub lock: crate::cli::LockArgs,
}

/// Runs the import.
pub async fn run(run: &ImportRun<'_>, aws: &AwsArgs) -> Result<Outcome> {
    let started = Instant::now();
    let main = run.out.join(MAIN_FILE);
    if main.exists() && !run.force {
        bail!(
            "{} exists; pass --force to overwrite it (and the policy files of an earlier import)",
            main.display()
        );
    }
    let clients = connect(aws, None).await?;
    let home_region = clients
        .organizations
        .config()
        .region()
        .map(|r| r.to_string())
        .context("no region: pass --region (the landing zone's home region)")?;
    // Every OU's tags (the file declares them); the targets of AWS's
    // full-access policies are not needed (they are not written).
    let scope = ObserveScope {
        all_ou_tags: true,
        control_tower: Some(ControlTowerMode::Auto),
        concurrency: aws.concurrency,
        ..ObserveScope::default()
    };
    let held = super::lock::take_for_import(&clients, &run.lock).await?;
    let observed = observe_with(&clients, &scope, None).await;
    super::lock::give_back(held).await;
    let observed = observed?;
    let imported = render(
        &observed,
        &ImportOptions {
            home_region,
            company_parent: run.company_parent.clone(),
            split: run.split,
        },
    );
    for (path, text) in &imported.files {
        let full = run.out.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&full, text).with_context(|| format!("writing {}", full.display()))?;
    }
    for warning in &imported.warnings {
        eprintln!("warning: {warning}");
    }
    // What was written must load; a failure here is lzctl's bug, said plainly.
    if let Err(diagnostics) = crate::config::load(&main) {
        eprint!("{}", diagnostics.render());
        bail!("the imported configuration does not validate; this is a bug in lzctl import");
    }
    let (ous, accounts, policies) = imported.counts;
    emit(&format!(
        "Imported {ous} OUs, {accounts} accounts and {policies} policies into {} ({} files).\nRun `lzctl plan -c {}`: it should show no changes.\n",
        run.out.display(),
        imported.files.len(),
        main.display()
    ))?;
    print_stats(aws, Some(&clients), started);
    Ok(Outcome::Clean)
}
