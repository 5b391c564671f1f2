//! The one waiter for every "poll until done": account creation, policy-type
//! enablement, Control Tower baseline operations, stack set operations, the
//! Control Tower gate. Exponential backoff with jitter, an overall timeout,
//! and a progress callback so a person sees what is being waited for.
//!
//! It sleeps on tokio's clock, so unit tests with a paused clock run instantly.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// How often and how long to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// First pause between polls.
    pub initial: Duration,
    /// Longest pause between polls.
    pub max_interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        WaitPolicy {
            initial: Duration::from_millis(500),
            max_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(3600),
        }
    }
}

impl WaitPolicy {
    /// The same pacing with another timeout.
    pub fn with_timeout(self, timeout: Duration) -> WaitPolicy {
        WaitPolicy { timeout, ..self }
    }
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll<T> {
    /// Finished, with the result.
    Done(T),
    /// Still going; the text says what is happening (shown in progress).
    Pending(String),
}

/// Why waiting ended without a result.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WaitError<E> {
    /// Still pending after the timeout.
    #[error("{what}: still waiting after {}s ({last})", waited.as_secs())]
    TimedOut {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// The last status seen.
        last: String,
    },
    /// A poll failed.
    #[error(transparent)]
    Failed(E),
}

/// Polls `poll` until it reports [`Poll::Done`], an error, or the timeout.
/// `progress` gets the status and the time waited after each pending poll.
pub async fn wait_for<T, E, F, Fut>(
    what: &str,
    policy: &WaitPolicy,
    mut progress: impl FnMut(&str, Duration),
    mut poll: F,
) -> Result<T, WaitError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let started = tokio::time::Instant::now();
    let mut delay = policy.initial;
    loop {
        let status = match poll().await.map_err(WaitError::Failed)? {
            Poll::Done(value) => return Ok(value),
            Poll::Pending(status) => status,
        };
        let waited = started.elapsed();
        progress(&status, waited);
        if waited >= policy.timeout {
            return Err(WaitError::TimedOut {
                what: what.to_string(),
                waited,
                last: status,
            });
        }
        let remaining = policy.timeout - waited;
        tokio::time::sleep(jittered(delay).min(remaining)).await;
        delay = (delay * 2).min(policy.max_interval);
    }
}

/// ±20% so that concurrent waiters do not poll in lockstep.
fn jittered(delay: Duration) -> Duration {
    let factor = rand::thread_rng().gen_range(0.8..1.2);
    delay.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn polls_until_done_with_growing_pauses() {
        let mut calls = 0;
        let mut seen = Vec::new();
        let policy = WaitPolicy {
            initial: Duration::from_secs(1),
            max_interval: Duration::from_secs(4),
            timeout: Duration::from_secs(600),
        };
        let started = tokio::time::Instant::now();
        let out: Result<u32, WaitError<()>> = wait_for(
            "thing",
            &policy,
            |status, _| seen.push(status.to_string()),
            || {
                calls += 1;
                let n = calls;
                async move {
                    Ok(if n < 5 {
                        Poll::Pending(format!("step {n}"))
                    } else {
                        Poll::Done(n)
                    })
                }
            },
        )
        .await;
        assert_eq!(out, Ok(5));
        assert_eq!(seen, ["step 1", "step 2", "step 3", "step 4"]);
        // 1 + 2 + 4 + 4 seconds, each ±20%.
        let waited = started.elapsed().as_secs_f64();
        assert!((8.8..=13.2).contains(&waited), "waited {waited}");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_timeout_with_the_last_status() {
        let policy = WaitPolicy {
            initial: Duration::from_secs(10),
            max_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(35),
        };
        let out: Result<(), WaitError<()>> = wait_for(
            "registration of ou:A",
            &policy,
            |_, _| {},
            || async { Ok(Poll::Pending("UNDER_CHANGE".into())) },
        )
        .await;
        match out {
            Err(WaitError::TimedOut { what, waited, last }) => {
                assert_eq!(what, "registration of ou:A");
                assert_eq!(last, "UNDER_CHANGE");
                assert_eq!(waited, Duration::from_secs(35));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_poll_ends_the_wait() {
        let out: Result<(), WaitError<&str>> = wait_for(
            "x",
            &WaitPolicy::default(),
            |_, _| {},
            || async { Err("boom") },
        )
        .await;
        assert_eq!(out, Err(WaitError::Failed("boom")));
    }
}
