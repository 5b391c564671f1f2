//! Comparing a report with the previous month's: rate changes per company
//! and account, new and resolved non-compliance, the most improved and the
//! lowest; and the trend over the kept reports.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::model::{Problem, Report, TrendPoint};

/// A rate then and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateChange {
    /// Company or account name.
    pub name: String,
    /// Company (for accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The previous report's rate.
    pub previous: Option<f64>,
    /// This report's rate.
    pub current: Option<f64>,
    /// current - previous (percentage points / 100), when both exist.
    pub change: Option<f64>,
}

/// This report against the previous month's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The previous report's period.
    pub previous_period: String,
    /// When the previous report was made.
    pub previous_generated_at: String,
    /// Organization-wide rate change.
    pub total: RateChange,
    /// Per company.
    pub companies: Vec<RateChange>,
    /// Per account.
    pub accounts: Vec<RateChange>,
    /// Companies whose rate went up, most first.
    pub improved: Vec<String>,
    /// Companies whose rate went down, most first.
    pub worsened: Vec<String>,
    /// The company that improved most.
    pub most_improved_company: Option<String>,
    /// The account that improved most.
    pub most_improved_account: Option<String>,
    /// The company with the lowest rate now.
    pub lowest_company: Option<String>,
    /// The account with the lowest rate now.
    pub lowest_account: Option<String>,
    /// Problems now that the previous report did not have.
    pub new_problems: Vec<Problem>,
    /// Problems of the previous report that are gone.
    pub resolved_problems: Vec<Problem>,
}

fn change(
    name: &str,
    company: Option<String>,
    previous: Option<f64>,
    current: Option<f64>,
) -> RateChange {
    RateChange {
        name: name.to_string(),
        company,
        previous,
        current,
        change: match (previous, current) {
            (Some(p), Some(c)) => Some(c - p),
            _ => None,
        },
    }
}

/// Changes smaller than this (a hundredth of a percentage point) are no change.
const EPSILON: f64 = 1e-4;

/// Compares `current` with `previous`.
pub fn compare(current: &Report, previous: &Report) -> Comparison {
    let prev_companies: BTreeMap<&str, Option<f64>> = previous
        .companies
        .iter()
        .map(|c| (c.name.as_str(), c.tally.rate))
        .collect();
    let prev_accounts: BTreeMap<&str, Option<f64>> = previous
        .accounts()
        .map(|a| (a.id.as_str(), a.tally.rate))
        .collect();
    let companies: Vec<RateChange> = current
        .companies
        .iter()
        .map(|c| {
            change(
                &c.name,
                None,
                prev_companies.get(c.name.as_str()).copied().flatten(),
                c.tally.rate,
            )
        })
        .collect();
    let accounts: Vec<RateChange> = current
        .accounts()
        .map(|a| {
            change(
                &a.name,
                Some(a.company.clone()),
                prev_accounts.get(a.id.as_str()).copied().flatten(),
                a.tally.rate,
            )
        })
        .collect();
    // Accounts outside the companies are no company to praise or name.
    let ranked: Vec<RateChange> = companies
        .iter()
        .filter(|c| c.name != super::model::OUTSIDE_COMPANIES)
        .cloned()
        .collect();
    let mut ups: Vec<&RateChange> = ranked
        .iter()
        .filter(|c| c.change.is_some_and(|d| d > EPSILON))
        .collect();
    ups.sort_by(|a, b| {
        b.change
            .unwrap()
            .total_cmp(&a.change.unwrap())
            .then(a.name.cmp(&b.name))
    });
    let mut downs: Vec<&RateChange> = ranked
        .iter()
        .filter(|c| c.change.is_some_and(|d| d < -EPSILON))
        .collect();
    downs.sort_by(|a, b| {
        a.change
            .unwrap()
            .total_cmp(&b.change.unwrap())
            .then(a.name.cmp(&b.name))
    });
    let best_account = accounts
        .iter()
        .filter(|a| a.change.is_some_and(|d| d > EPSILON))
        .max_by(|a, b| {
            a.change
                .unwrap()
                .total_cmp(&b.change.unwrap())
                .then(b.name.cmp(&a.name))
        });
    let lowest = |items: &[RateChange]| {
        items
            .iter()
            .filter(|c| c.current.is_some())
            .min_by(|a, b| {
                a.current
                    .unwrap()
                    .total_cmp(&b.current.unwrap())
                    .then(a.name.cmp(&b.name))
            })
            .map(|c| c.name.clone())
    };
    let before: BTreeSet<String> = previous.problems.iter().map(Problem::key).collect();
    let now: BTreeSet<String> = current.problems.iter().map(Problem::key).collect();
    Comparison {
        previous_period: previous.period.clone(),
        previous_generated_at: previous.generated_at.clone(),
        total: change("total", None, previous.total.rate, current.total.rate),
        improved: ups.iter().map(|c| c.name.clone()).collect(),
        worsened: downs.iter().map(|c| c.name.clone()).collect(),
        most_improved_company: ups.first().map(|c| c.name.clone()),
        most_improved_account: best_account.map(|a| a.name.clone()),
        lowest_company: lowest(&ranked),
        lowest_account: lowest(&accounts),
        new_problems: current
            .problems
            .iter()
            .filter(|p| !before.contains(&p.key()))
            .cloned()
            .collect(),
        resolved_problems: previous
            .problems
            .iter()
            .filter(|p| !now.contains(&p.key()))
            .cloned()
            .collect(),
        companies,
        accounts,
    }
}

/// The report to compare with: the newest kept report of an earlier period.
pub fn previous_of<'a>(current_period: &str, history: &'a [Report]) -> Option<&'a Report> {
    history
        .iter()
        .filter(|r| r.period.as_str() < current_period)
        .max_by(|a, b| {
            a.period
                .cmp(&b.period)
                .then(a.generated_at.cmp(&b.generated_at))
        })
}

/// The trend: for each period of the history (its newest report) and this
/// report, every company's rate; at most `points`, oldest first.
pub fn trend(current: &Report, history: &[Report], points: usize) -> Vec<TrendPoint> {
    let mut newest: BTreeMap<&str, &Report> = BTreeMap::new();
    for r in history
        .iter()
        .filter(|r| r.period.as_str() < current.period.as_str())
    {
        let keep = newest
            .get(r.period.as_str())
            .is_none_or(|k| k.generated_at < r.generated_at);
        if keep {
            newest.insert(r.period.as_str(), r);
        }
    }
    let point = |r: &Report| TrendPoint {
        period: r.period.clone(),
        rates: r
            .companies
            .iter()
            .map(|c| (c.name.clone(), c.tally.rate))
            .collect(),
    };
    let mut out: Vec<TrendPoint> = newest.values().map(|r| point(r)).collect();
    out.push(point(current));
    let skip = out.len().saturating_sub(points.max(1));
    out.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::model::{CompanyReport, Sources, Tally};

    fn report(period: &str, rates: &[(&str, u32, u32)], problems: &[&str]) -> Report {
        Report {
            format: "lzctl-compliance-report".into(),
            version: 1,
            generated_at: format!("{period}-28T00:00:00Z"),
            period: period.into(),
            organization: "o-1".into(),
            management_account: "123456789012".into(),
            definition: String::new(),
            sources: Sources::default(),
            total: Tally::default(),
            companies: rates
                .iter()
                .map(|(name, c, n)| CompanyReport {
                    name: name.to_string(),
                    ou: format!("Companies/{name}"),
                    tally: Tally {
                        compliant: *c,
                        non_compliant: *n,
                        excluded: 0,
                        rate: (c + n > 0).then(|| *c as f64 / (c + n) as f64),
                    },
                    findings: Default::default(),
                    accounts: Vec::new(),
                })
                .collect(),
            rules: Vec::new(),
            findings: Default::default(),
            failed_controls: Vec::new(),
            problems: problems
                .iter()
                .map(|r| Problem {
                    source: "config".into(),
                    rule: r.to_string(),
                    account: "a".into(),
                    account_id: "111111111111".into(),
                    company: "A".into(),
                    region: "ap-northeast-1".into(),
                    resource_type: "AWS::S3::Bucket".into(),
                    resource_id: "b".into(),
                    severity: "high".into(),
                    title: String::new(),
                })
                .collect(),
            trend: Vec::new(),
            comparison: None,
        }
    }

    #[test]
    fn names_improved_worsened_lowest_and_problem_changes() {
        let oct = report(
            "2026-10",
            &[("A", 1, 1), ("B", 3, 1), ("C", 1, 1)],
            &["r1", "r2"],
        );
        let nov = report(
            "2026-11",
            &[("A", 2, 0), ("B", 1, 3), ("C", 1, 1)],
            &["r2", "r3"],
        );
        let c = compare(&nov, &oct);
        assert_eq!(c.improved, vec!["A"]);
        assert_eq!(c.worsened, vec!["B"]);
        assert_eq!(c.most_improved_company.as_deref(), Some("A"));
        assert_eq!(c.lowest_company.as_deref(), Some("B"));
        assert_eq!(
            c.new_problems
                .iter()
                .map(|p| p.rule.as_str())
                .collect::<Vec<_>>(),
            vec!["r3"]
        );
        assert_eq!(
            c.resolved_problems
                .iter()
                .map(|p| p.rule.as_str())
                .collect::<Vec<_>>(),
            vec!["r1"]
        );
        let a = c.companies.iter().find(|x| x.name == "A").unwrap();
        assert!((a.change.unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn previous_is_the_newest_report_of_an_earlier_month_and_trend_keeps_one_per_month() {
        let mut sep = report("2026-09", &[("A", 1, 1)], &[]);
        sep.generated_at = "2026-09-01T00:00:00Z".into();
        let sep2 = report("2026-09", &[("A", 1, 0)], &[]);
        let oct = report("2026-10", &[("A", 1, 3)], &[]);
        let nov_early = report("2026-11", &[("A", 0, 1)], &[]);
        let history = vec![sep, sep2, oct, nov_early];
        let nov = report("2026-11", &[("A", 1, 1)], &[]);
        assert_eq!(previous_of("2026-11", &history).unwrap().period, "2026-10");
        let t = trend(&nov, &history, 12);
        assert_eq!(
            t.iter().map(|p| p.period.as_str()).collect::<Vec<_>>(),
            vec!["2026-09", "2026-10", "2026-11"]
        );
        assert_eq!(
            t[0].rates["A"],
            Some(1.0),
            "the newest September report counts"
        );
        assert_eq!(trend(&nov, &history, 2).len(), 2);
    }
}
