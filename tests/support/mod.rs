//! Test harness: starts the local AWS emulator (tests/emulator) on 127.0.0.1
//! for one test, gives SDK clients and the lzctl binary pointed at it, and
//! reads the emulator's request log. Each test process gets its own emulator.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Region every test uses.
pub const REGION: &str = "ap-northeast-1";
/// The emulator's default (management) account.
pub const MANAGEMENT_ACCOUNT: &str = "123456789012";

/// The addresses of a JSON plan's changes, in plan order.
pub fn change_addresses(plan: &serde_json::Value) -> Vec<&str> {
    plan["changes"]
        .as_array()
        .expect("a JSON plan has changes")
        .iter()
        .map(|c| c["address"].as_str().expect("a change has an address"))
        .collect()
}

/// Path of the repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running emulator, stopped on drop.
pub struct Emulator {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Emulator {
    /// Starts with the emulator's defaults (AWS rate limits on, a Control
    /// Tower landing zone per the emulator's default).
    pub fn start() -> Emulator {
        Emulator::start_with(serde_json::json!({}))
    }

    /// Starts with settings (deep-merged over the emulator's defaults) and
    /// every throttling off (`rate_limits`, `in_progress_limits`), for tests
    /// that count or order calls.
    pub fn start_unthrottled(mut settings: serde_json::Value) -> Emulator {
        let object = settings.as_object_mut().expect("settings are an object");
        object.insert("rate_limits".into(), serde_json::Value::Null);
        object.insert("in_progress_limits".into(), serde_json::Value::Null);
        Emulator::start_with(settings)
    }

    /// Starts with settings (deep-merged over the emulator's defaults).
    pub fn start_with(settings: serde_json::Value) -> Emulator {
        let dir = tempfile::tempdir().expect("temp dir");
        let port_file = dir.path().join("port");
        let settings_file = dir.path().join("settings.json");
        std::fs::write(&settings_file, settings.to_string()).expect("write settings");
        let log = std::fs::File::create(dir.path().join("emulator.log")).expect("log file");
        let child = Command::new("bash")
            .arg(repo_root().join("tests/emulator/start.sh"))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--settings")
            .arg(&settings_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tests/emulator/start.sh");
        let mut emulator = Emulator {
            child,
            port: 0,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(port) = text.trim().parse() {
                    emulator.port = port;
                    return emulator;
                }
            }
            if let Ok(Some(status)) = emulator.child.try_wait() {
                let log = std::fs::read_to_string(emulator._dir.path().join("emulator.log"))
                    .unwrap_or_default();
                panic!("emulator exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "emulator did not start within 300 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration pointing at the emulator with test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "lzctl-tests",
            ))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
            .load()
            .await
    }

    /// Environment for running the lzctl binary against the emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), "/nonexistent/lzctl-tests".into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                "/nonexistent/lzctl-tests".into(),
            ),
            ("NO_COLOR".into(), "1".into()),
        ]
    }

    /// `lzctl ARGS` from `cwd`, pointed at the emulator, with nothing
    /// inherited that could point it elsewhere (a profile, a lock).
    fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lzctl"));
        cmd.current_dir(cwd)
            .args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("LZCTL_LOCK")
            .stdin(Stdio::null());
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `lzctl ARGS` against the emulator from `cwd`.
    pub fn lzctl(&self, cwd: &Path, args: &[&str]) -> Output {
        self.command(cwd, args).output().expect("run lzctl")
    }

    /// Starts `lzctl ARGS` against the emulator from `cwd`, its output piped.
    pub fn spawn_lzctl(&self, cwd: &Path, args: &[&str]) -> Child {
        self.command(cwd, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lzctl")
    }

    /// POSTs JSON to a control endpoint and returns the JSON answer.
    pub fn post_json(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.request("POST", path, Some(body))
    }

    /// GETs a control endpoint.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        self.request("GET", path, None)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to emulator");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("read timeout");
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).expect("send");
        let (head, payload) = read_response(&mut stream);
        let (head, payload) = (head.as_str(), payload.as_str());
        assert!(
            head.starts_with("HTTP/1.1 2") || head.starts_with("HTTP/1.0 2"),
            "{method} {path}: {head}\n{payload}"
        );
        let payload = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(payload)
        } else {
            payload.to_string()
        };
        if payload.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&payload).unwrap_or_else(|e| panic!("{path}: {e}: {payload}"))
        }
    }

    /// Request log entries since start (or the last clear).
    pub fn log(&self) -> Vec<serde_json::Value> {
        self.get_json("/_lzemu/log")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Mutating requests in the log.
    /// Request log entries the emulator answered, leaving out the ones it
    /// throttled (`in_progress_limits`, `rate_limits`): those are retried,
    /// so whether a run met one depends on timing, not on what lzctl asked.
    pub fn answered_log(&self) -> Vec<serde_json::Value> {
        self.log()
            .into_iter()
            .filter(|e| {
                !matches!(
                    e["fault"].as_str(),
                    Some("in-progress-limit" | "rate-limit")
                )
            })
            .collect()
    }

    pub fn mutating_calls(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|e| e["mutating"].as_bool() == Some(true))
            .map(|e| {
                format!(
                    "{}:{}",
                    e["service"].as_str().unwrap_or(""),
                    e["operation"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// Empties the request log.
    pub fn clear_log(&self) {
        self.post_json("/_lzemu/log/clear", serde_json::json!({}));
    }
}

/// Reads one response: the head, then the body by Content-Length (or chunks,
/// or to the end), so a server that keeps the connection open cannot stall us.
fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut byte).expect("read head");
        assert!(n > 0, "connection closed before the response head");
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut body = buf[head_end + 4..].to_vec();
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = lower.contains("transfer-encoding: chunked");
    loop {
        let done = match length {
            Some(len) => body.len() >= len,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = stream.read(&mut byte).expect("read body");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&byte[..n]);
    }
    (head, String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates the organization (all features) as the management account.
pub async fn create_organization(emulator: &Emulator) -> aws_sdk_organizations::Client {
    let client = aws_sdk_organizations::Client::new(&emulator.sdk_config().await);
    client
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("CreateOrganization");
    client
}

/// Creates an account the way AWS answers it (a request, then its status)
/// and returns its id.
pub async fn create_account(
    client: &aws_sdk_organizations::Client,
    name: &str,
    email: &str,
) -> String {
    let request = client
        .create_account()
        .account_name(name)
        .email(email)
        .send()
        .await
        .expect("CreateAccount");
    let request_id = request
        .create_account_status()
        .and_then(|s| s.id())
        .expect("a request id")
        .to_string();
    client
        .describe_create_account_status()
        .create_account_request_id(request_id)
        .send()
        .await
        .expect("DescribeCreateAccountStatus")
        .create_account_status()
        .and_then(|s| s.account_id())
        .expect("the account id")
        .to_string()
}

/// Creates the bucket `name` in [`REGION`] and returns an S3 client
/// (path-style, as a local endpoint needs).
pub async fn create_bucket(emulator: &Emulator, name: &str) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&emulator.sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .expect("CreateBucket");
    s3
}

/// Copies `examples/`, `scp/` and `baselines/` into a temp dir so tests can edit configs.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for sub in ["examples", "scp", "baselines"] {
        copy_dir(&repo_root().join(sub), &dir.path().join(sub));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// stdout and stderr as text, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// AWS's FullAWSAccess SCP, attached to `targets`.
pub fn full_aws_access(
    targets: std::collections::BTreeSet<lzctl::model::Target>,
) -> lzctl::model::Policy {
    lzctl::model::Policy {
        id: Some("p-FullAWSAccess".into()),
        kind: lzctl::model::PolicyKind::Scp,
        description: "Allows access to every operation".into(),
        content: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into(),
        targets,
        aws_managed: true,
        tags: Default::default(),
    }
}

/// A fresh organization (management account 123456789012): SCPs enabled, and
/// one account at the root, both carrying FullAWSAccess.
pub fn org_with_root_account(name: &str, id: &str) -> lzctl::model::OrgState {
    use lzctl::model::{Account, OrgState, OuPath, PolicyKind, Target};
    let mut state = OrgState {
        root_id: Some("r-0000".into()),
        management_account_id: Some(MANAGEMENT_ACCOUNT.into()),
        ..OrgState::default()
    };
    state.enabled_policy_types.insert(PolicyKind::Scp);
    state.accounts.insert(
        name.into(),
        Account {
            id: Some(id.into()),
            email: format!("{name}@example.com"),
            ou: OuPath::root(),
            tags: Default::default(),
        },
    );
    state.policies.insert(
        "FullAWSAccess".into(),
        full_aws_access([Target::Root, Target::Account(name.into())].into()),
    );
    state
}

/// SDK configuration acting in `account` through the member role
/// (sts:AssumeRole, as lzctl does).
pub async fn as_account(emu: &Emulator, account: &str, region: &str) -> aws_config::SdkConfig {
    let sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);
    let creds = sts
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("test")
        .send()
        .await
        .expect("AssumeRole");
    let c = creds.credentials().expect("credentials");
    emu.sdk_config()
        .await
        .into_builder()
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_sdk_sts::config::Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key(),
                    Some(c.session_token().to_string()),
                    None,
                    "assumed",
                ),
            ),
        )
        .build()
}

/// A Control Tower client and the ARN of `AWSControlTowerBaseline`.
pub async fn control_tower_baseline(emu: &Emulator) -> (aws_sdk_controltower::Client, String) {
    let ct = aws_sdk_controltower::Client::new(&emu.sdk_config().await);
    let baseline = ct
        .list_baselines()
        .send()
        .await
        .unwrap()
        .baselines()
        .iter()
        .find(|b| b.name() == "AWSControlTowerBaseline")
        .unwrap()
        .arn()
        .to_string();
    (ct, baseline)
}

/// Registers the OU `ou_arn` as Control Tower does (EnableBaseline), then
/// moves the emulator's clock past the registration.
pub async fn register_ou(
    emu: &Emulator,
    ct: &aws_sdk_controltower::Client,
    baseline: &str,
    ou_arn: String,
) {
    ct.enable_baseline()
        .baseline_identifier(baseline)
        .baseline_version("4.0")
        .target_identifier(ou_arn)
        .send()
        .await
        .unwrap();
    emu.post_json("/_lzemu/clock", serde_json::json!({"advance": 3600}));
}
