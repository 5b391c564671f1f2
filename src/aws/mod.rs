//! AWS clients: the standard credential chain, `--profile`, `--region`,
//! `AWS_ENDPOINT_URL`, timeouts, call counting, the retry policy, and
//! clients for other regions and for member accounts (an assumed role).
//!
//! Throttling is handled by the SDK's standard retry mode: a throttled call is
//! retried after an exponential backoff with full jitter (up to
//! `--max-attempts`/`AWS_MAX_ATTEMPTS`). AWS publishes no per-operation rates
//! for Organizations (awsdocs/aws-organizations-docs#39 was closed
//! unanswered); a caller that bursts is told "another request is already in
//! progress". So lzctl does not pace calls to a guessed schedule, and reacts
//! only to throttling AWS actually answers.
//!
//! Not the adaptive mode: its client-side rate limiter measures the send rate
//! in half-second buckets starting from zero and, after a throttle, sets the
//! rate to 0.7 times that measure but at least 0.5 tokens a second, a retry
//! costing 5 tokens. A throttle in a run's first second (where a plan's bursts
//! are) therefore spaces that client's retries about 10 s apart:
//! `benches/plan-calls.sh` measured 20.5 s instead of 1.5 s for a plan whose
//! policy target reads were refused 9 times, and 1.45 s in standard mode.

mod error;
mod retry;
mod stats;
pub mod waiter;

pub use error::{
    classify_code, group_repeated, set_endpoint_description, AwsError, ErrorClass, HasStatus,
};
pub use retry::BusyErrorsRetried;
pub use stats::CallStats;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where and as whom to call AWS.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Named profile from the shared config files.
    pub profile: Option<String>,
    /// Region override; else the profile's or the config's home region.
    pub region: Option<String>,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for one call, retries included.
    pub operation_timeout: Duration,
    /// Attempts per call (the first one included).
    pub max_attempts: u32,
    /// Role assumed in member and delegated-administrator accounts.
    pub member_role: String,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            profile: None,
            region: None,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(120),
            max_attempts: 10,
            member_role: DEFAULT_MEMBER_ROLE.to_string(),
        }
    }
}

/// The role Organizations creates in every account it creates.
pub const DEFAULT_MEMBER_ROLE: &str = "OrganizationAccountAccessRole";

/// Why the clients could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// `--profile` or `AWS_PROFILE` names a profile the files do not have.
    #[error("the profile `{name}` is not in the AWS config or credentials files{}", did_you_mean(.known, .name))]
    UnknownProfile {
        /// The profile asked for.
        name: String,
        /// Profiles the files define.
        known: Vec<String>,
    },
    /// The region is not one lzctl knows.
    #[error("`{0}` is not an AWS region lzctl knows (e.g. ap-northeast-1, us-east-1)")]
    UnknownRegion(String),
}

fn did_you_mean(known: &[String], name: &str) -> String {
    match crate::config::closest(name, known.iter().map(String::as_str)) {
        Some(close) => format!("; did you mean `{close}`?"),
        None if known.is_empty() => String::new(),
        None => format!("; known profiles: {}", known.join(", ")),
    }
}

/// Checks that a named profile exists, as the AWS CLI does.
async fn check_profile(name: &str) -> Result<(), ConnectError> {
    use aws_types::os_shim_internal::{Env, Fs};
    let loaded =
        aws_config::profile::load(&Fs::real(), &Env::real(), &Default::default(), None).await;
    let known: Vec<String> = match &loaded {
        Ok(set) => set.profiles().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    };
    if known.iter().any(|k| k == name) {
        Ok(())
    } else {
        Err(ConnectError::UnknownProfile {
            name: name.to_string(),
            known,
        })
    }
}

/// Loads the shared SDK configuration. `fallback_region` applies when neither
/// the option nor the environment names one.
pub async fn load_sdk_config(
    options: &AwsOptions,
    fallback_region: Option<&str>,
) -> Result<SdkConfig, ConnectError> {
    if let Some(profile) = &options.profile {
        check_profile(profile).await?;
    }
    if let Some(region) = &options.region {
        if !crate::config::regions::is_known(region) {
            return Err(ConnectError::UnknownRegion(region.clone()));
        }
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(options.max_attempts.max(1))
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(options.connect_timeout)
                .operation_timeout(options.operation_timeout)
                .build(),
        );
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        if let Some(region) = fallback_region {
            config = config
                .into_builder()
                .region(Region::new(region.to_string()))
                .build();
        }
    }
    if let Some(region) = config.region() {
        if !crate::config::regions::is_known(region.as_ref()) {
            return Err(ConnectError::UnknownRegion(region.to_string()));
        }
    }
    set_endpoint_description(match config.endpoint_url() {
        Some(url) => url.to_string(),
        None => format!(
            "AWS in {}",
            config.region().map(|r| r.to_string()).unwrap_or_default()
        ),
    });
    Ok(config)
}

/// Builds one service client from an SDK configuration, with lzctl's call
/// counter and retry classifier.
macro_rules! service_client {
    ($krate:ident, $config:expr, $stats:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($config)
                .interceptor($stats.clone())
                .retry_classifier($crate::aws::BusyErrorsRetried)
                .build(),
        )
    };
}
pub(crate) use service_client;

/// (account, region) of clients built for another account or region.
type ClientKey = (Option<String>, String);

/// The service clients of one account and region.
#[derive(Clone, Debug)]
pub struct Clients {
    /// The configuration they were built from.
    pub config: SdkConfig,
    /// AWS Organizations.
    pub organizations: aws_sdk_organizations::Client,
    /// AWS Organizations for the policy operations (policy targets, policy
    /// changes and attachments). A retry partition of their own: when AWS
    /// throttles them, their retries draw on a retry quota of their own, not
    /// on the one of the OU tree's reading beside them.
    pub organizations_policies: aws_sdk_organizations::Client,
    /// STS, for the caller identity and assumed roles.
    pub sts: aws_sdk_sts::Client,
    /// Control Tower.
    pub controltower: aws_sdk_controltower::Client,
    /// Account Management (account names).
    pub account: aws_sdk_account::Client,
    /// GuardDuty.
    pub guardduty: aws_sdk_guardduty::Client,
    /// Security Hub (CSPM).
    pub securityhub: aws_sdk_securityhub::Client,
    /// AWS Config.
    pub configservice: aws_sdk_config::Client,
    /// CloudTrail.
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    /// CloudFormation (StackSets) in this region.
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// S3 (the apply lock, the organization trail's log files).
    pub s3: aws_sdk_s3::Client,
    /// Calls made, by operation (shared by every client lzctl builds).
    pub stats: CallStats,
    /// Role assumed in other accounts.
    member_role: String,
    /// Clients already built for (account, region).
    others: Arc<Mutex<HashMap<ClientKey, Clients>>>,
}

impl Clients {
    /// Builds every client from one SDK configuration.
    pub fn new(config: &SdkConfig) -> Clients {
        Clients::with_stats(config, CallStats::default(), DEFAULT_MEMBER_ROLE)
    }

    /// Builds every client, counting into `stats`.
    pub fn with_stats(config: &SdkConfig, stats: CallStats, member_role: &str) -> Clients {
        Clients {
            config: config.clone(),
            organizations: service_client!(aws_sdk_organizations, config, stats),
            organizations_policies: aws_sdk_organizations::Client::from_conf(
                aws_sdk_organizations::config::Builder::from(config)
                    .interceptor(stats.clone())
                    .retry_classifier(BusyErrorsRetried)
                    .retry_partition(aws_sdk_organizations::config::retry::RetryPartition::new(
                        "lzctl-organizations-policies",
                    ))
                    .build(),
            ),
            sts: service_client!(aws_sdk_sts, config, stats),
            controltower: service_client!(aws_sdk_controltower, config, stats),
            account: service_client!(aws_sdk_account, config, stats),
            guardduty: service_client!(aws_sdk_guardduty, config, stats),
            securityhub: service_client!(aws_sdk_securityhub, config, stats),
            configservice: service_client!(aws_sdk_config, config, stats),
            cloudtrail: service_client!(aws_sdk_cloudtrail, config, stats),
            cloudformation: service_client!(aws_sdk_cloudformation, config, stats),
            s3: service_client!(aws_sdk_s3, config, stats),
            stats,
            member_role: member_role.to_string(),
            others: Default::default(),
        }
    }

    /// The region these clients call.
    pub fn region(&self) -> String {
        self.config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default()
    }

    /// The same caller's clients in another region.
    pub fn in_region(&self, region: &str) -> Clients {
        if region == self.region() {
            return self.clone();
        }
        let mut others = self.others.lock().expect("clients lock");
        others
            .entry((None, region.to_string()))
            .or_insert_with(|| {
                let config = self
                    .config
                    .clone()
                    .into_builder()
                    .region(Region::new(region.to_string()))
                    .build();
                Clients::with_stats(&config, self.stats.clone(), &self.member_role)
            })
            .clone()
    }

    /// Clients acting in `account` (through the member role) in `region`.
    /// Credentials are fetched when the first call needs them and refreshed
    /// by the SDK.
    pub async fn in_account(&self, account: &str, region: &str) -> Clients {
        let key = (Some(account.to_string()), region.to_string());
        if let Some(found) = self.others.lock().expect("clients lock").get(&key) {
            return found.clone();
        }
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        let role_arn = format!("arn:{partition}:iam::{account}:role/{}", self.member_role);
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("lzctl")
            .configure(&self.config)
            .build()
            .await;
        let config = self
            .config
            .clone()
            .into_builder()
            .region(Region::new(region.to_string()))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        let built = Clients::with_stats(&config, self.stats.clone(), &self.member_role);
        self.others
            .lock()
            .expect("clients lock")
            .insert(key, built.clone());
        built
    }
}
