//! Every template in baselines/ passes cfn-lint (installed in the emulator's
//! virtual environment with moto) for the governed regions of the examples,
//! and lzctl reads each one's parameters and capabilities. Deployment of each
//! template into member accounts is in tests/stacksets.rs.

use crate::support;

use std::path::PathBuf;
use std::process::Command;

fn templates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![support::repo_root().join("baselines")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_baseline_template_passes_cfn_lint() {
    let repo = support::repo_root();
    let setup = Command::new("bash")
        .arg(repo.join("tests/emulator/setup.sh"))
        .status()
        .expect("run tests/emulator/setup.sh");
    assert!(setup.success(), "the emulator's virtual environment");
    let cfn_lint = std::env::var_os("LZEMU_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join(".venv-emulator"))
        .join("bin/cfn-lint");
    let files = templates();
    assert!(files.len() >= 5, "{files:?}");
    let out = Command::new(&cfn_lint)
        .args([
            "--regions",
            "ap-northeast-1",
            "ap-northeast-3",
            "us-east-1",
            "--",
        ])
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", cfn_lint.display()));
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_baseline_template_is_documented_and_readable_by_lzctl() {
    for path in templates() {
        let text = std::fs::read_to_string(&path).unwrap();
        let template = lzctl::families::stacksets::CfnTemplate::parse(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!template.resources.is_empty(), "{}", path.display());
        assert!(
            text.len() < 51_200,
            "{} fits a TemplateBody",
            path.display()
        );
        let readme = path.parent().unwrap().join("README.md");
        let doc = std::fs::read_to_string(&readme)
            .unwrap_or_else(|_| panic!("{} has no README.md beside it", path.display()));
        for name in template.parameters.keys() {
            assert!(
                doc.contains(&format!("`{name}`")),
                "{} does not document parameter {name}",
                readme.display()
            );
        }
    }
}
