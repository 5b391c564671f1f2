//! Kept reports: each report's JSON is written once, as a new object named
//! after its period and time (`report-2026-11-20261130T090000Z.json`), in a
//! local directory or an S3 prefix; reports are never rewritten.

use super::model::{Report, REPORT_FORMAT, REPORT_VERSION};
use super::store::{Store, StoreError};

/// The name a report is kept under.
pub fn object_name(report: &Report) -> String {
    let stamp: String = report
        .generated_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("report-{}-{stamp}.json", report.period)
}

/// Every kept report, oldest period first, and a warning per object that is
/// not a report this lzctl reads.
pub async fn load(store: &Store) -> Result<(Vec<Report>, Vec<String>), StoreError> {
    let mut reports = Vec::new();
    let mut warnings = Vec::new();
    for name in store.list().await? {
        if !(name.starts_with("report-") && name.ends_with(".json")) {
            continue;
        }
        let Some(obj) = store.get(&name).await? else {
            continue;
        };
        let value: serde_json::Value = match serde_json::from_slice(&obj.bytes) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!(
                    "{name} is not JSON ({e}); left out of the comparison"
                ));
                continue;
            }
        };
        if value["format"] != REPORT_FORMAT || value["version"] != REPORT_VERSION {
            warnings.push(format!(
                "{name} is not a version {REPORT_VERSION} lzctl report; left out of the comparison"
            ));
            continue;
        }
        match serde_json::from_value::<Report>(value) {
            Ok(r) => reports.push(r),
            Err(e) => warnings.push(format!("{name}: {e}; left out of the comparison")),
        }
    }
    reports.sort_by(|a, b| (&a.period, &a.generated_at).cmp(&(&b.period, &b.generated_at)));
    Ok((reports, warnings))
}

/// Keeps a report (the comparison and trend included); the object name.
pub async fn save(store: &Store, report: &Report) -> Result<String, StoreError> {
    let name = object_name(report);
    let text = serde_json::to_vec_pretty(report).expect("reports serialize");
    if !store.put_new(&name, &text).await? {
        return Err(StoreError::Io {
            path: name.clone().into(),
            cause: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a report with this name is already kept (two reports in the same second?)",
            ),
        });
    }
    Ok(name)
}
