//! Ordering policy attachments on one target so that it never drops to zero
//! SCPs, never exceeds the cap, and never loses its Allow path.

use std::collections::BTreeSet;

use crate::model::PolicyKind;

/// One step on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Attach this policy.
    Attach(String),
    /// Detach this policy.
    Detach(String),
}

/// What the planner knows about one (policy type, target) pair.
pub struct TargetChange<'a> {
    /// Policy type.
    pub kind: PolicyKind,
    /// Policies attached now.
    pub current: BTreeSet<String>,
    /// Policies attached when done.
    pub wanted: BTreeSet<String>,
    /// Maximum attached at any time.
    pub cap: usize,
    /// Whether a policy (by name) carries an Allow statement.
    pub grants: &'a dyn Fn(&str) -> bool,
}

impl TargetChange<'_> {
    fn has_allow(&self, set: &BTreeSet<String>) -> bool {
        set.iter().any(|p| (self.grants)(p))
    }

    /// The order of attach and detach steps, or why none is safe.
    pub fn steps(&self) -> Result<Vec<Step>, String> {
        let guard_allow = self.kind == PolicyKind::Scp && self.has_allow(&self.current);
        let min = usize::from(self.kind.requires_one_attached());
        if self.wanted.len() > self.cap {
            return Err(format!(
                "{} {} policies would be attached; the cap is {}",
                self.wanted.len(),
                self.kind.short_name(),
                self.cap
            ));
        }
        if guard_allow && !self.has_allow(&self.wanted) {
            return Err("no attached SCP would grant anything (no Allow path left)".into());
        }
        if self.wanted.len() < min {
            return Err("every target must keep at least one SCP".into());
        }
        // Allow-granting policies are attached first and detached last.
        let mut to_attach: Vec<String> = self.wanted.difference(&self.current).cloned().collect();
        to_attach.sort_by_key(|p| (!(self.grants)(p), p.clone()));
        let mut to_detach: Vec<String> = self.current.difference(&self.wanted).cloned().collect();
        to_detach.sort_by_key(|p| ((self.grants)(p), p.clone()));

        let mut now = self.current.clone();
        let mut steps = Vec::new();
        while !to_attach.is_empty() || !to_detach.is_empty() {
            if !to_attach.is_empty() && now.len() < self.cap {
                let p = to_attach.remove(0);
                now.insert(p.clone());
                steps.push(Step::Attach(p));
                continue;
            }
            let detachable = to_detach.iter().position(|p| {
                let mut after = now.clone();
                after.remove(p);
                after.len() >= min && (!guard_allow || self.has_allow(&after))
            });
            match detachable {
                Some(i) => {
                    let p = to_detach.remove(i);
                    now.remove(&p);
                    steps.push(Step::Detach(p));
                }
                None => {
                    return Err(format!(
                        "no safe order: attached {:?}, wanted {:?}, cap {}",
                        self.current, self.wanted, self.cap
                    ))
                }
            }
        }
        Ok(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn grants(name: &str) -> bool {
        name.starts_with("allow")
    }

    fn change(current: &[&str], wanted: &[&str], cap: usize) -> TargetChange<'static> {
        TargetChange {
            kind: PolicyKind::Scp,
            current: set(current),
            wanted: set(wanted),
            cap,
            grants: &grants,
        }
    }

    #[test]
    fn attaches_the_new_allow_before_detaching_the_old_one() {
        let steps = change(&["allow-old"], &["allow-new"], 10).steps().unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Attach("allow-new".into()),
                Step::Detach("allow-old".into())
            ]
        );
    }

    #[test]
    fn detaches_first_when_the_target_is_at_the_cap() {
        let steps = change(&["allow-a", "deny-b"], &["allow-a", "deny-c"], 2)
            .steps()
            .unwrap();
        assert_eq!(
            steps,
            vec![Step::Detach("deny-b".into()), Step::Attach("deny-c".into())]
        );
    }

    #[test]
    fn refuses_to_remove_the_last_allow_path() {
        let err = change(&["allow-a", "deny-b"], &["deny-b"], 10)
            .steps()
            .unwrap_err();
        assert!(err.contains("Allow path"), "{err}");
    }

    #[test]
    fn refuses_more_than_the_cap() {
        assert!(change(&["allow-a"], &["allow-a", "deny-b", "deny-c"], 2)
            .steps()
            .is_err());
    }

    #[test]
    fn swaps_the_only_allow_at_the_cap_is_impossible_and_said_so() {
        // cap 1: the only policy is an Allow, replacing it would need a window with zero SCPs.
        let err = change(&["allow-a"], &["allow-b"], 1).steps().unwrap_err();
        assert!(err.contains("no safe order"), "{err}");
    }
}
