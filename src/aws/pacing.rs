//! Client-side pacing for the Organizations operations AWS rate-limits
//! tightly, so lzctl stays under the limit instead of spending calls on
//! throttled attempts. Throttling that still happens is retried by the SDK.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Requests per second and burst for one operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once.
    pub burst: f64,
}

/// AWS's published rates: policy mutations about 2/s (burst 3), the
/// per-target and per-policy listings about 5/s (burst 8).
pub const AWS_PUBLISHED_RATES: &[(&str, Rate)] = &[
    (
        "CreatePolicy",
        Rate {
            per_second: 2.0,
            burst: 3.0,
        },
    ),
    (
        "UpdatePolicy",
        Rate {
            per_second: 2.0,
            burst: 3.0,
        },
    ),
    (
        "AttachPolicy",
        Rate {
            per_second: 2.0,
            burst: 3.0,
        },
    ),
    (
        "DetachPolicy",
        Rate {
            per_second: 2.0,
            burst: 3.0,
        },
    ),
    (
        "DeletePolicy",
        Rate {
            per_second: 2.0,
            burst: 3.0,
        },
    ),
    (
        "ListPoliciesForTarget",
        Rate {
            per_second: 5.0,
            burst: 8.0,
        },
    ),
    (
        "ListTargetsForPolicy",
        Rate {
            per_second: 5.0,
            burst: 8.0,
        },
    ),
];

#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by operation name; operations without one pass freely.
#[derive(Debug)]
pub struct Pacer {
    buckets: HashMap<&'static str, Mutex<Bucket>>,
}

impl Pacer {
    /// Buckets for the given rates, full at the start.
    pub fn new(rates: &[(&'static str, Rate)]) -> Pacer {
        Pacer::with_margin(rates, 1.0)
    }

    /// Buckets running at `margin` (0-1] of the given rates, with one request
    /// less of burst below 1: requests leave here a little before AWS counts
    /// them, so pacing at exactly the published rate still meets throttling.
    pub fn with_margin(rates: &[(&'static str, Rate)], margin: f64) -> Pacer {
        let rates: Vec<(&'static str, Rate)> = rates
            .iter()
            .map(|(op, r)| {
                let burst = if margin < 1.0 {
                    (r.burst - 1.0).max(1.0)
                } else {
                    r.burst
                };
                (
                    *op,
                    Rate {
                        per_second: r.per_second * margin,
                        burst,
                    },
                )
            })
            .collect();
        let rates = rates.as_slice();
        let now = Instant::now();
        Pacer {
            buckets: rates
                .iter()
                .map(|(op, rate)| {
                    (
                        *op,
                        Mutex::new(Bucket {
                            rate: *rate,
                            tokens: rate.burst,
                            last: now,
                        }),
                    )
                })
                .collect(),
        }
    }

    /// Waits until one request of `operation` fits the rate.
    pub async fn wait(&self, operation: &str) {
        let Some(bucket) = self.buckets.get(operation) else {
            return;
        };
        let mut b = bucket.lock().await;
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * b.rate.per_second)
            .min(b.rate.burst);
        b.last = now;
        if b.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - b.tokens) / b.rate.per_second);
            tokio::time::sleep(wait).await;
            b.tokens = 1.0;
            b.last = Instant::now();
        }
        b.tokens -= 1.0;
    }
}

impl Default for Pacer {
    /// AWS's published rates with a 10% margin.
    fn default() -> Self {
        Pacer::with_margin(AWS_PUBLISHED_RATES, 0.9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_then_requests_are_spaced_at_the_rate() {
        let pacer = Pacer::new(&[(
            "Op",
            Rate {
                per_second: 2.0,
                burst: 3.0,
            },
        )]);
        let start = Instant::now();
        for _ in 0..3 {
            pacer.wait("Op").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        pacer.wait("Op").await;
        pacer.wait("Op").await;
        let spent = start.elapsed().as_secs_f64();
        assert!(
            (0.99..1.01).contains(&spent),
            "two more at 2/s take one second, took {spent}"
        );
        let before = Instant::now();
        pacer.wait("Unpaced").await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }
}
