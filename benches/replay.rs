//! CloudTrail replay benchmark (`cargo bench --bench replay`; harness = false).
//!
//! Generates CloudTrail-shaped records (default 10,000,000, env `LZCTL_BENCH_RECORDS`)
//! across 350 member accounts into gzip files laid out as CloudTrail writes them
//! (`AWSLogs/o-.../ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz`), then measures with the
//! same number of threads:
//!
//! (a) plain gzip decompression of the files (records/s and MB/s of decompressed JSON);
//! (b) the replay of the files against the current policies (FullAWSAccess at every level)
//!     and proposed ones (plus a Control Tower-like region restriction, deny-leave-org,
//!     a root lockdown and a CloudTrail guard),
//!
//! and prints their ratio; the target is replay >= 0.8x decompression.
//!
//! The records are shaped like CloudTrail's (about 1.4 KB each): 5% AWSService callers, 3%
//! a service-linked role, 3% sts:GetCallerIdentity, 1% AccessDenied, IAM users and assumed
//! roles (including AWSControlTowerExecution and StackSet execution roles) calling 26 APIs,
//! one file in five outside the allowed region. Request and event IDs, access key IDs,
//! session names, source IPs and resource IDs are random, so the files compress about 9:1
//! as real CloudTrail files do (constant records would compress 12:1 and decompress faster).
//!
//! Environment:
//! - `LZCTL_BENCH_RECORDS` (10000000), `LZCTL_BENCH_RECORDS_PER_FILE` (2500),
//! - `LZCTL_BENCH_THREADS` (available cores), `LZCTL_BENCH_GZIP_LEVEL` (6),
//! - `LZCTL_BENCH_RUNS` (3: the measurements alternate and the best run of each is
//!   compared, which keeps other load on the machine from deciding the ratio),
//! - `LZCTL_BENCH_DIR`: generate into (and keep) this directory instead of a temporary one;
//!   files already there from an earlier run with the same settings are reused,
//! - `LZCTL_BENCH_ENFORCE=1`: exit with status 1 when the ratio is below the target,
//! - `LZCTL_BENCH_PHASE=decompress` or `replay`: run only that phase, once (for profilers:
//!   `valgrind --tool=callgrind` instruction counts of the two phases on the same files
//!   are steadier than wall time on a shared machine).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use lzctl::policy::iam::{Hierarchy, Level, LevelKind, NamedPolicy, PolicyDocument, PolicyKind};
use lzctl::policy::replay::{discover, replay_files, source, InputFile, ReplayOptions};

/// Replay speed required, as a fraction of plain decompression speed.
const TARGET: f64 = 0.8;

const ACCOUNTS: usize = 350;
const OUS: usize = 12;
const MGMT: &str = "900000000000";
const ALLOWED_REGION: &str = "ap-northeast-1";

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

fn account_id(i: usize) -> String {
    format!("{:012}", 100_000_000_000u64 + i as u64 * 7_919)
}

/// (eventSource, eventName, requestParameters) of ordinary calls.
const CALLS: &[(&str, &str, &str)] = &[
    (
        "ec2.amazonaws.com",
        "DescribeInstances",
        r#"{"instancesSet":{},"filterSet":{}}"#,
    ),
    (
        "ec2.amazonaws.com",
        "DescribeSecurityGroups",
        r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#,
    ),
    (
        "ec2.amazonaws.com",
        "RunInstances",
        r#"{"instancesSet":{"items":[{"imageId":"ami-0{ID}","minCount":1,"maxCount":1}]},"instanceType":"t3.micro","blockDeviceMapping":{},"subnetId":"subnet-0{ID}","monitoring":{"enabled":false},"disableApiTermination":false,"clientToken":"{UUID}"}"#,
    ),
    (
        "ec2.amazonaws.com",
        "CreateTags",
        r#"{"resourcesSet":{"items":[{"resourceId":"i-0{ID}"}]},"tagSet":{"items":[{"key":"team","value":"payments"}]}}"#,
    ),
    (
        "s3.amazonaws.com",
        "GetObject",
        r#"{"bucketName":"app-artifacts","Host":"app-artifacts.s3.ap-northeast-1.amazonaws.com","key":"releases/2026/11/{ID}/app.tar.gz"}"#,
    ),
    (
        "s3.amazonaws.com",
        "PutObject",
        r#"{"bucketName":"app-logs","Host":"app-logs.s3.ap-northeast-1.amazonaws.com","key":"2026/11/01/{UUID}.log.gz"}"#,
    ),
    (
        "s3.amazonaws.com",
        "ListObjectsV2",
        r#"{"bucketName":"app-artifacts","list-type":"2","prefix":"releases/"}"#,
    ),
    (
        "s3.amazonaws.com",
        "ListBuckets",
        r#"{"Host":"s3.amazonaws.com"}"#,
    ),
    (
        "kms.amazonaws.com",
        "Decrypt",
        r#"{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"aws:s3:arn":"arn:aws:s3:::app-artifacts"}}"#,
    ),
    (
        "kms.amazonaws.com",
        "GenerateDataKey",
        r#"{"keyId":"alias/aws/s3","keySpec":"AES_256"}"#,
    ),
    (
        "lambda.amazonaws.com",
        "GetFunction20150331v2",
        r#"{"functionName":"orders-api"}"#,
    ),
    ("lambda.amazonaws.com", "ListFunctions20150331", r#"null"#),
    (
        "logs.amazonaws.com",
        "CreateLogStream",
        r#"{"logGroupName":"/aws/lambda/orders-api","logStreamName":"2026/11/01/[$LATEST]{ID}"}"#,
    ),
    ("logs.amazonaws.com", "DescribeLogGroups", r#"{"limit":50}"#),
    (
        "monitoring.amazonaws.com",
        "PutMetricData",
        r#"{"namespace":"App/Orders"}"#,
    ),
    (
        "monitoring.amazonaws.com",
        "GetMetricData",
        r#"{"startTime":"Nov 1, 2026 12:00:00 AM","endTime":"Nov 1, 2026 1:00:00 AM"}"#,
    ),
    (
        "dynamodb.amazonaws.com",
        "DescribeTable",
        r#"{"tableName":"orders"}"#,
    ),
    (
        "ssm.amazonaws.com",
        "GetParameter",
        r#"{"name":"/app/orders/db-host","withDecryption":false}"#,
    ),
    (
        "sqs.amazonaws.com",
        "GetQueueAttributes",
        r#"{"queueUrl":"https://sqs.ap-northeast-1.amazonaws.com/123/orders","attributeNames":["All"]}"#,
    ),
    (
        "iam.amazonaws.com",
        "GetRole",
        r#"{"roleName":"orders-api"}"#,
    ),
    ("iam.amazonaws.com", "ListRoles", r#"null"#),
    (
        "sts.amazonaws.com",
        "AssumeRole",
        r#"{"roleArn":"arn:aws:iam::123456789012:role/Deploy","roleSessionName":"ci-{ID}","durationSeconds":3600}"#,
    ),
    (
        "cloudformation.amazonaws.com",
        "DescribeStacks",
        r#"{"stackName":"orders"}"#,
    ),
    ("config.amazonaws.com", "DescribeConfigRules", r#"null"#),
    (
        "elasticloadbalancing.amazonaws.com",
        "DescribeTargetHealth",
        r#"{"targetGroupArn":"arn:aws:elasticloadbalancing:ap-northeast-1:123:targetgroup/orders/0123"}"#,
    ),
    (
        "tagging.amazonaws.com",
        "GetResources",
        r#"{"tagFilters":[{"key":"team"}]}"#,
    ),
];

const ROLES: &[&str] = &[
    "Dev",
    "Admin",
    "app/OrdersApi",
    "app/Reporter",
    "AWSControlTowerExecution",
    "stacksets-exec-0123456789abcdef",
    "lzctl-deployer",
];

const OTHER_REGIONS: &[&str] = &["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1"];

/// `n` random characters from `alphabet`.
fn random_str(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize] as char)
        .collect()
}

const HEX: &[u8] = b"0123456789abcdef";
const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const USER_AGENTS: &[&str] = &[
    "aws-sdk-go-v2/1.30.3 ua/2.1 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.171.0",
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.226-214.880.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.36",
    "aws-cli/2.17.50 md/awscrt#0.21.5 ua/2.0 os/linux#6.1.109-118.189.amzn2023.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#amzn.2023 md/prompt#off md/command#s3.cp",
    "aws-sdk-java/2.28.16 Linux/5.10.225-213.878.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.7 (+https://www.terraform.io) terraform-provider-aws/5.70.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.0 ua/2.1 os/linux lang/go#1.23.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.31.3",
    "console.amazonaws.com",
];

fn uuid(rng: &mut Rng) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        rng.next() as u32,
        rng.next() as u16,
        rng.next() as u16,
        rng.next() as u16,
        rng.next() & 0xffff_ffff_ffff
    )
}

/// One record, appended to `out`.
fn write_record(out: &mut Vec<u8>, rng: &mut Rng, acct: &str, region: &str, time: &str) {
    let kind = rng.below(100);
    let (source, name, params) = *rng.pick(CALLS);
    let ip = format!(
        "{}.{}.{}.{}",
        rng.below(223) + 1,
        rng.below(256),
        rng.below(256),
        rng.below(254) + 1
    );
    let request_id = uuid(rng);
    let event_id = uuid(rng);
    // Per-call identifiers, as real records carry them (they make the data compress about as
    // well as real CloudTrail instead of 12:1).
    let params = params
        .replace("{ID}", &random_str(rng, HEX, 17))
        .replace("{UUID}", &uuid(rng));
    let access_key = random_str(rng, KEY_CHARS, 16);
    let ua = *rng.pick(USER_AGENTS);
    let extra = if source == "s3.amazonaws.com" {
        format!(
            r#","additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"{}","bytesTransferredOut":{}}}"#,
            random_str(rng, B64, 76),
            rng.below(5_000_000)
        )
    } else {
        String::new()
    };
    let mut s = String::with_capacity(1600);
    let tls = format!(
        r#"{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{}.{region}.amazonaws.com"}}"#,
        source.trim_end_matches(".amazonaws.com")
    );
    if kind < 5 {
        // a service acting on its own (AWSService caller)
        let _ = write!(
            s,
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}},"eventTime":"{time}","eventSource":"kms.amazonaws.com","eventName":"GenerateDataKey","awsRegion":"{region}","sourceIPAddress":"cloudtrail.amazonaws.com","userAgent":"cloudtrail.amazonaws.com","requestParameters":{{"keyId":"arn:aws:kms:{region}:{acct}:key/0123","encryptionContext":{{"aws:cloudtrail:arn":"arn:aws:cloudtrail:{region}:{acct}:trail/org"}}}},"responseElements":null,"requestID":"{request_id}","eventID":"{event_id}","readOnly":true,"resources":[{{"accountId":"{acct}","type":"AWS::KMS::Key","ARN":"arn:aws:kms:{region}:{acct}:key/0123"}}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}","sharedEventID":"{event_id}","eventCategory":"Management"}}"#
        );
    } else if kind < 8 {
        // a service-linked role
        let _ = write!(
            s,
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLESLR:AWSConfig-Describe","arn":"arn:aws:sts::{acct}:assumed-role/AWSServiceRoleForConfig/AWSConfig-Describe","accountId":"{acct}","accessKeyId":"ASIAEXAMPLE","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLESLR","arn":"arn:aws:iam::{acct}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig","accountId":"{acct}","userName":"AWSServiceRoleForConfig"}},"attributes":{{"creationDate":"{time}","mfaAuthenticated":"false"}}}},"invokedBy":"config.amazonaws.com"}},"eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"DescribeVpcs","awsRegion":"{region}","sourceIPAddress":"config.amazonaws.com","userAgent":"config.amazonaws.com","requestParameters":{{"vpcSet":{{}},"filterSet":{{}}}},"responseElements":null,"requestID":"{request_id}","eventID":"{event_id}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}","eventCategory":"Management"}}"#
        );
    } else {
        let (src, ev) = if kind < 11 {
            ("sts.amazonaws.com", "GetCallerIdentity")
        } else {
            (source, name)
        };
        let error = if kind == 11 {
            r#","errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this operation""#
        } else {
            ""
        };
        if kind < 16 {
            // an IAM user (CI bot)
            let _ = write!(
                s,
                r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLECIBOT","arn":"arn:aws:iam::{acct}:user/ci-bot","accountId":"{acct}","accessKeyId":"AKIA{access_key}","userName":"ci-bot"}},"eventTime":"{time}","eventSource":"{src}","eventName":"{ev}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"{ua}","requestParameters":{params},"responseElements":null{error}{extra},"requestID":"{request_id}","eventID":"{event_id}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}","eventCategory":"Management","tlsDetails":{tls}}}"#
            );
        } else {
            let role = *rng.pick(ROLES);
            let short = role.rsplit('/').next().unwrap();
            let session = if rng.below(2) == 0 {
                format!("botocore-session-{}", 1_790_000_000 + rng.below(5_000_000))
            } else {
                format!("i-0{}", random_str(rng, HEX, 17))
            };
            let _ = write!(
                s,
                r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE{short}:{session}","arn":"arn:aws:sts::{acct}:assumed-role/{short}/{session}","accountId":"{acct}","accessKeyId":"ASIA{access_key}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE{short}","arn":"arn:aws:iam::{acct}:role/{role}","accountId":"{acct}","userName":"{short}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"{time}","mfaAuthenticated":"false"}}}}}},"eventTime":"{time}","eventSource":"{src}","eventName":"{ev}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"{ua}","requestParameters":{params},"responseElements":null{error}{extra},"requestID":"{request_id}","eventID":"{event_id}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}","eventCategory":"Management","tlsDetails":{tls}}}"#
            );
        }
    }
    out.extend_from_slice(s.as_bytes());
}

struct Layout {
    records: u64,
    per_file: u64,
    files: usize,
}

/// Path, account and region of file `i` (one account and region per file, as CloudTrail
/// writes them; one file in five is outside the allowed region).
fn file_path(dir: &Path, i: usize) -> (PathBuf, String, &'static str) {
    let acct = account_id(i % ACCOUNTS);
    let region = if i % 5 == 4 {
        OTHER_REGIONS[(i / 5) % OTHER_REGIONS.len()]
    } else {
        ALLOWED_REGION
    };
    let day = 1 + (i / ACCOUNTS) % 28;
    let p = dir.join(format!(
        "AWSLogs/o-bench00001/{acct}/CloudTrail/{region}/2026/11/{day:02}/{acct}_CloudTrail_{region}_202611{day:02}T{:04}Z_{i:08x}.json.gz",
        (i * 5) % 2400
    ));
    (p, acct, region)
}

/// Write the files; returns (JSON bytes, gzip bytes).
fn generate(dir: &Path, layout: &Layout, threads: usize, level: u32) -> (u64, u64) {
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let raw_bytes = AtomicU64::new(0);
    let gz_bytes = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = Vec::with_capacity(8 << 20);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= layout.files {
                        break;
                    }
                    let first = i as u64 * layout.per_file;
                    let n = layout.per_file.min(layout.records - first);
                    let (path, acct, region) = file_path(dir, i);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    let mut rng =
                        Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1).wrapping_mul(0x1000_0000_01b3));
                    buf.clear();
                    buf.extend_from_slice(b"{\"Records\":[");
                    let day = 1 + (i / ACCOUNTS) % 28;
                    for r in 0..n {
                        if r > 0 {
                            buf.push(b',');
                        }
                        let secs = (r * 86_399) / n.max(1);
                        let time = format!(
                            "2026-11-{day:02}T{:02}:{:02}:{:02}Z",
                            secs / 3600,
                            (secs / 60) % 60,
                            secs % 60
                        );
                        write_record(&mut buf, &mut rng, &acct, region, &time);
                    }
                    buf.extend_from_slice(b"]}");
                    let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
                    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::new(level));
                    gz.write_all(&buf).unwrap();
                    let f = gz.finish().unwrap();
                    let written = f.into_inner().unwrap().metadata().unwrap().len();
                    raw_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                    gz_bytes.fetch_add(written, Ordering::Relaxed);
                    let d = done.fetch_add(n, Ordering::Relaxed) + n;
                    let step = (layout.records / 20).max(1);
                    if d / step != (d - n) / step {
                        eprintln!(
                            "  generated {d} / {} records ({:.0} s)",
                            layout.records,
                            start.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    (raw_bytes.into_inner(), gz_bytes.into_inner())
}

/// Plain decompression of every file (same reader as the replay), `threads` workers.
fn decompress_all(files: &[InputFile], threads: usize) -> u64 {
    let next = AtomicUsize::new(0);
    let total = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; source::CHUNK];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let mut r = source::open(&f.path).unwrap();
                    let mut n = 0u64;
                    loop {
                        let k = r.read(&mut buf).unwrap();
                        if k == 0 {
                            break;
                        }
                        n += k as u64;
                    }
                    total.fetch_add(n, Ordering::Relaxed);
                }
            });
        }
    });
    total.into_inner()
}

fn policy(name: &str, text: &str) -> NamedPolicy {
    NamedPolicy {
        name: name.into(),
        document: PolicyDocument::parse(text).expect("benchmark policy parses"),
    }
}

const FULL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

const REGION: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyOutsideAllowedRegions","Effect":"Deny",
 "NotAction":["a4b:*","access-analyzer:*","account:*","acm:*","activate:*","artifact:*","aws-marketplace-management:*",
  "aws-marketplace:*","aws-portal:*","billing:*","billingconductor:*","budgets:*","ce:*","chatbot:*","chime:*",
  "cloudfront:*","cloudtrail:LookupEvents","compute-optimizer:*","config:*","consoleapp:*","consolidatedbilling:*",
  "cur:*","datapipeline:GetAccountLimits","devicefarm:*","directconnect:*","ec2:DescribeRegions",
  "ec2:DescribeTransitGateways","ec2:DescribeVpnGateways","ecr-public:*","fms:*","freetier:*","globalaccelerator:*",
  "health:*","iam:*","importexport:*","invoicing:*","iq:*","kms:*","license-manager:ListReceivedLicenses",
  "lightsail:Get*","mobileanalytics:*","networkmanager:*","notifications-contacts:*","notifications:*",
  "organizations:*","payments:*","pricing:*","quicksight:DescribeAccountSubscription","resource-explorer-2:*",
  "route53-recovery-cluster:*","route53-recovery-control-config:*","route53-recovery-readiness:*","route53:*",
  "route53domains:*","s3:CreateMultiRegionAccessPoint","s3:DeleteMultiRegionAccessPoint",
  "s3:DescribeMultiRegionAccessPointOperation","s3:GetAccountPublicAccessBlock","s3:GetBucketLocation",
  "s3:GetBucketPolicyStatus","s3:GetBucketPublicAccessBlock","s3:GetMultiRegionAccessPoint",
  "s3:GetMultiRegionAccessPointPolicy","s3:GetMultiRegionAccessPointPolicyStatus","s3:GetStorageLensConfiguration",
  "s3:GetStorageLensDashboard","s3:ListAllMyBuckets","s3:ListMultiRegionAccessPoints","s3:ListStorageLensConfigurations",
  "s3:PutAccountPublicAccessBlock","s3:PutMultiRegionAccessPointPolicy","savingsplans:*","shield:*","sso:*","sts:*",
  "support:*","supportapp:*","supportplans:*","sustainability:*","tag:GetResources","tax:*","trustedadvisor:*",
  "vendor-insights:ListEntitledSecurityProfiles","waf-regional:*","waf:*","wafv2:*"],
 "Resource":"*",
 "Condition":{"StringNotEquals":{"aws:RequestedRegion":["ap-northeast-1"]},
  "ArnNotLike":{"aws:PrincipalARN":["arn:*:iam::*:role/AWSControlTowerExecution","arn:*:iam::*:role/lzctl-deployer",
   "arn:*:iam::*:role/stacksets-exec-*","arn:*:iam::*:role/BreakGlass"]}}}]}"#;

const GUARDS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"DenyLeaveOrganization","Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"},
 {"Sid":"DenyRoot","Effect":"Deny","Action":"*","Resource":"*",
  "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:*:iam::*:root"},"Null":{"aws:AssumedRoot":"true"}}},
 {"Sid":"ProtectCloudTrail","Effect":"Deny","Action":["cloudtrail:StopLogging","cloudtrail:DeleteTrail","cloudtrail:UpdateTrail"],
  "Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalARN":["arn:*:iam::*:role/AWSControlTowerExecution"]}}}]}"#;

fn hierarchies(proposed: bool) -> HashMap<String, Hierarchy> {
    (0..ACCOUNTS)
        .map(|i| {
            let mut root = vec![policy("FullAWSAccess", FULL)];
            if proposed {
                root.push(policy("lzctl-region-restriction", REGION));
                root.push(policy("lzctl-guards", GUARDS));
            }
            let h = Hierarchy {
                kind: PolicyKind::Scp,
                management_account: Some(MGMT.into()),
                levels: vec![
                    Level {
                        kind: LevelKind::Root,
                        name: "Root".into(),
                        policies: root,
                    },
                    Level {
                        kind: LevelKind::Ou,
                        name: format!("Companies/C{:02}", i % OUS),
                        policies: vec![policy("FullAWSAccess", FULL)],
                    },
                    Level {
                        kind: LevelKind::Account,
                        name: account_id(i),
                        policies: vec![policy("FullAWSAccess", FULL)],
                    },
                ],
            };
            (account_id(i), h)
        })
        .collect()
}

fn main() {
    // Test runners list a target's tests with `--list` (nextest, `cargo test --benches`):
    // this benchmark has none, and must not start generating 10 million records then.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let records = env_num("LZCTL_BENCH_RECORDS", 10_000_000).max(1);
    let per_file = env_num("LZCTL_BENCH_RECORDS_PER_FILE", 2_500).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let threads = env_num("LZCTL_BENCH_THREADS", cores).max(1) as usize;
    let level = env_num("LZCTL_BENCH_GZIP_LEVEL", 6).min(9) as u32;
    let runs = env_num("LZCTL_BENCH_RUNS", 3).max(1);
    let layout = Layout {
        records,
        per_file,
        files: records.div_ceil(per_file) as usize,
    };
    let tmp;
    let dir: PathBuf = match std::env::var_os("LZCTL_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            tmp = tempfile::tempdir().expect("temporary directory");
            tmp.path().to_path_buf()
        }
    };
    println!(
        "lzctl replay benchmark: {records} records, {ACCOUNTS} accounts, {} files, {threads} threads, gzip level {level}",
        layout.files
    );
    let stamp = dir.join(format!("bench-v2-{records}-{per_file}-{level}.done"));
    if stamp.exists() {
        println!("reusing the files in {}", dir.display());
    } else {
        println!("generating into {} ...", dir.display());
        let t = Instant::now();
        let (raw, gz) = generate(&dir, &layout, threads, level);
        println!(
            "generated in {:.1} s: {:.1} MB of JSON, {:.1} MB gzip ({:.0} bytes/record)",
            t.elapsed().as_secs_f64(),
            raw as f64 / 1e6,
            gz as f64 / 1e6,
            raw as f64 / records as f64
        );
        std::fs::write(&stamp, b"").unwrap();
    }
    let files: Vec<InputFile> = discover(&[dir.join("AWSLogs")]).expect("generated files");
    assert_eq!(files.len(), layout.files, "files in {}", dir.display());

    let current = hierarchies(false);
    let proposed = hierarchies(true);
    let options = ReplayOptions {
        threads,
        management_account: Some(MGMT.into()),
        ..Default::default()
    };
    match std::env::var("LZCTL_BENCH_PHASE").as_deref() {
        Ok("decompress") => {
            let t = Instant::now();
            let bytes = decompress_all(&files, threads);
            println!(
                "decompressed {bytes} bytes in {:.2} s",
                t.elapsed().as_secs_f64()
            );
            return;
        }
        Ok("replay") => {
            let t = Instant::now();
            let report = replay_files(&files, &current, &proposed, &options).expect("replay");
            println!(
                "replayed {} records in {:.2} s",
                report.totals.records,
                t.elapsed().as_secs_f64()
            );
            return;
        }
        Ok(other) => panic!("LZCTL_BENCH_PHASE={other}: decompress or replay"),
        Err(_) => {}
    }

    let mut best_decomp = f64::MAX;
    let mut best_replay = f64::MAX;
    let mut bytes = 0u64;
    for run in 1..=runs {
        let t = Instant::now();
        bytes = decompress_all(&files, threads);
        let secs = t.elapsed().as_secs_f64();
        best_decomp = best_decomp.min(secs);
        println!(
            "run {run}: gzip decompression {secs:.2} s: {:.0} records/s, {:.0} MB/s",
            records as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
        let t = Instant::now();
        let report = replay_files(&files, &current, &proposed, &options).expect("replay");
        let secs = t.elapsed().as_secs_f64();
        best_replay = best_replay.min(secs);
        let tot = &report.totals;
        assert_eq!(tot.records, records, "replay saw every record");
        assert_eq!(tot.files_failed, 0, "{:?}", report.file_errors);
        println!(
            "run {run}: replay {secs:.2} s: {:.0} events/s ({:.0} MB/s); evaluated {}, newly denied {} in {} groups, skipped {}, unmapped {}, baseline denied {}",
            records as f64 / secs,
            bytes as f64 / 1e6 / secs,
            tot.evaluated,
            tot.newly_denied,
            report.newly_denied.len(),
            tot.skipped,
            tot.unmapped,
            tot.baseline_denied
        );
    }
    let decomp_rate = records as f64 / best_decomp;
    let replay_rate = records as f64 / best_replay;
    let ratio = replay_rate / decomp_rate;
    println!(
        "best: decompression {decomp_rate:.0} records/s ({:.0} MB/s), replay {replay_rate:.0} events/s ({:.0} MB/s)",
        bytes as f64 / 1e6 / best_decomp,
        bytes as f64 / 1e6 / best_replay
    );
    println!(
        "replay / decompression = {ratio:.2} (target >= {TARGET:.2}): {}",
        if ratio >= TARGET { "met" } else { "NOT met" }
    );
    if ratio < TARGET && std::env::var("LZCTL_BENCH_ENFORCE").is_ok_and(|v| v == "1") {
        std::process::exit(1);
    }
}
