//! AWS clients: the standard credential chain, `--profile`, `--region`,
//! `AWS_ENDPOINT_URL`, call counting and the retry policy for Organizations.

mod pacing;
mod retry;
mod stats;

pub use pacing::{Pacer, Rate, AWS_PUBLISHED_RATES};
pub use retry::OrganizationsTransientErrors;
pub use stats::CallStats;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Named profile from the shared config files.
    pub profile: Option<String>,
    /// Region override; else the profile's or the config's home region.
    pub region: Option<String>,
}

/// Loads the shared SDK configuration. `fallback_region` applies when neither
/// the option nor the environment names one.
pub async fn load_sdk_config(options: &AwsOptions, fallback_region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(
        RetryConfig::standard()
            .with_max_attempts(10)
            .with_initial_backoff(std::time::Duration::from_millis(200)),
    );
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        if let Some(region) = fallback_region {
            return config
                .into_builder()
                .region(Region::new(region.to_string()))
                .build();
        }
    }
    config
}

/// The service clients lzctl uses, sharing one call counter.
#[derive(Clone, Debug)]
pub struct Clients {
    /// AWS Organizations.
    pub organizations: aws_sdk_organizations::Client,
    /// STS, for the caller identity.
    pub sts: aws_sdk_sts::Client,
    /// Control Tower.
    pub controltower: aws_sdk_controltower::Client,
    /// Calls made, by operation.
    pub stats: CallStats,
    /// Client-side pacing of Organizations' tightly limited operations.
    pub pacer: std::sync::Arc<Pacer>,
}

impl Clients {
    /// Builds every client from one SDK configuration.
    pub fn new(config: &SdkConfig) -> Clients {
        let stats = CallStats::default();
        let organizations = aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::config::Builder::from(config)
                .interceptor(stats.clone())
                .retry_classifier(OrganizationsTransientErrors)
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(config)
                .interceptor(stats.clone())
                .build(),
        );
        let controltower = aws_sdk_controltower::Client::from_conf(
            aws_sdk_controltower::config::Builder::from(config)
                .interceptor(stats.clone())
                .build(),
        );
        Clients {
            organizations,
            sts,
            controltower,
            stats,
            pacer: Default::default(),
        }
    }
}
