//! One CloudTrail record: the fields the replay reads, and its mapping to an IAM request.
//!
//! The record is deserialized with its strings borrowed from the input buffer where they
//! carry no escapes (`Cow<'a, str>`); every field the replay does not need is skipped.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::super::iam::{ContextValue, MissingKeys, Request};

type Str<'a> = Option<Cow<'a, str>>;

/// The parts of a CloudTrail record the replay uses.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    /// `eventSource`, e.g. `ec2.amazonaws.com`.
    #[serde(borrow)]
    pub event_source: Str<'a>,
    /// `eventName`, e.g. `RunInstances`.
    #[serde(borrow)]
    pub event_name: Str<'a>,
    /// `eventTime`, ISO 8601 UTC.
    #[serde(borrow)]
    pub event_time: Str<'a>,
    /// `eventType`: `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`, ...
    #[serde(borrow)]
    pub event_type: Str<'a>,
    /// `awsRegion`.
    #[serde(borrow)]
    pub aws_region: Str<'a>,
    /// `sourceIPAddress`: an IP address, or a service name such as `ec2.amazonaws.com`.
    #[serde(borrow, rename = "sourceIPAddress")]
    pub source_ip_address: Str<'a>,
    /// `errorCode`, when the call failed.
    #[serde(borrow)]
    pub error_code: Str<'a>,
    /// `errorMessage`, when the call failed (an AccessDenied names the kind of
    /// policy that denied it, e.g. "... with an explicit deny in a service
    /// control policy").
    #[serde(borrow)]
    pub error_message: Str<'a>,
    /// `vpcEndpointId`, when the call came through a VPC endpoint.
    #[serde(borrow)]
    pub vpc_endpoint_id: Str<'a>,
    /// `userIdentity`.
    #[serde(borrow)]
    pub user_identity: Option<UserIdentity<'a>>,
}

/// `userIdentity` of a record.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    /// `type`: `IAMUser`, `AssumedRole`, `Root`, `FederatedUser`, `AWSService`, ...
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
    /// `principalId` (the `aws:userid` value).
    #[serde(borrow)]
    pub principal_id: Str<'a>,
    /// `arn` (the session ARN for assumed roles).
    #[serde(borrow)]
    pub arn: Str<'a>,
    /// `accountId`: the caller's account.
    #[serde(borrow)]
    pub account_id: Str<'a>,
    /// `userName` (IAM users).
    #[serde(borrow)]
    pub user_name: Str<'a>,
    /// `invokedBy`: the service that made the call on the principal's behalf.
    #[serde(borrow)]
    pub invoked_by: Str<'a>,
    /// `sessionContext`.
    #[serde(borrow)]
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    /// `sessionIssuer`: the role (or user) that issued the session.
    #[serde(borrow)]
    pub session_issuer: Option<SessionIssuer<'a>>,
    /// `attributes`.
    #[serde(borrow)]
    pub attributes: Option<SessionAttributes<'a>>,
    /// `assumedRoot`: `"true"` for a root session obtained with `sts:AssumeRoot`
    /// (centralized root access); the request then carries `aws:AssumedRoot`.
    #[serde(borrow)]
    pub assumed_root: Str<'a>,
    /// `sourceIdentity`: the source identity set on the role session (`aws:SourceIdentity`).
    #[serde(borrow)]
    pub source_identity: Str<'a>,
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    /// `arn` of the role.
    #[serde(borrow)]
    pub arn: Str<'a>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes<'a> {
    /// `mfaAuthenticated`: `"true"` or `"false"`.
    #[serde(borrow)]
    pub mfa_authenticated: Str<'a>,
    /// `creationDate`: when the temporary credentials were issued (`aws:TokenIssueTime`).
    #[serde(borrow)]
    pub creation_date: Str<'a>,
}

/// A record that is not valid for the fields the replay reads (or not JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl<'a> Record<'a> {
    /// Parse a record's bytes, reading only the fields of [`Record`] and skipping every
    /// other value without decoding it. Agrees with the serde derive (`serde_json::from_slice`)
    /// on the fields read: strings are borrowed unless they contain escapes, `null` is
    /// `None`, a read field of another type makes the record malformed. Unknown fields are
    /// only checked for balanced brackets and strings.
    pub fn parse(bytes: &'a [u8]) -> Result<Record<'a>, Malformed> {
        let (r, len) = Self::parse_prefix(bytes)?;
        let mut p = Parser { b: bytes, i: len };
        p.ws();
        if p.i != bytes.len() {
            return Err(Malformed);
        }
        Ok(r)
    }

    /// Parse the record object at the start of `bytes` (anything may follow it); returns
    /// it and its length.
    ///
    /// The fields are located first (as byte spans) and the record's bytes are checked to
    /// be UTF-8 once, rather than each string on its own.
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Record<'a>, usize), Malformed> {
        let mut p = Parser { b: bytes, i: 0 };
        let mut f = Fields::default();
        let present = p.object(|p, key| {
            let slot = match key {
                b"eventSource" => F_SOURCE,
                b"eventName" => F_NAME,
                b"eventTime" => F_TIME,
                b"eventType" => F_TYPE,
                b"awsRegion" => F_REGION,
                b"sourceIPAddress" => F_IP,
                b"errorCode" => F_ERROR,
                b"errorMessage" => F_ERROR_MESSAGE,
                b"vpcEndpointId" => F_VPCE,
                b"userIdentity" => {
                    f.identity = p.user_identity(&mut f.spans)?;
                    return Ok(());
                }
                _ => return p.skip(),
            };
            f.spans[slot] = p.string()?;
            Ok(())
        })?;
        if present.is_none() {
            return Err(Malformed);
        }
        let len = p.i;
        let text = std::str::from_utf8(&bytes[..len]).ok();
        let get = |slot: usize| -> Result<Str<'a>, Malformed> {
            let Some(sp) = f.spans[slot] else {
                return Ok(None);
            };
            if sp.escaped {
                let s: String =
                    serde_json::from_slice(&bytes[sp.start..sp.end]).map_err(|_| Malformed)?;
                return Ok(Some(Cow::Owned(s)));
            }
            let inner = match text {
                // quotes are ASCII, so these are char boundaries
                Some(t) => &t[sp.start + 1..sp.end - 1],
                None => {
                    std::str::from_utf8(&bytes[sp.start + 1..sp.end - 1]).map_err(|_| Malformed)?
                }
            };
            Ok(Some(Cow::Borrowed(inner)))
        };
        let user_identity = match f.identity {
            None => None,
            Some(id) => Some(UserIdentity {
                kind: get(F_KIND)?,
                principal_id: get(F_PRINCIPAL_ID)?,
                arn: get(F_ARN)?,
                account_id: get(F_ACCOUNT)?,
                user_name: get(F_USER_NAME)?,
                invoked_by: get(F_INVOKED_BY)?,
                session_context: match id.session_context {
                    None => None,
                    Some(c) => Some(SessionContext {
                        assumed_root: get(F_ASSUMED_ROOT)?,
                        source_identity: get(F_SOURCE_IDENTITY)?,
                        session_issuer: if c.issuer {
                            Some(SessionIssuer {
                                arn: get(F_ISSUER_ARN)?,
                            })
                        } else {
                            None
                        },
                        attributes: if c.attributes {
                            Some(SessionAttributes {
                                mfa_authenticated: get(F_MFA)?,
                                creation_date: get(F_CREATION_DATE)?,
                            })
                        } else {
                            None
                        },
                    }),
                },
            }),
        };
        let r = Record {
            event_source: get(F_SOURCE)?,
            event_name: get(F_NAME)?,
            event_time: get(F_TIME)?,
            event_type: get(F_TYPE)?,
            aws_region: get(F_REGION)?,
            source_ip_address: get(F_IP)?,
            error_code: get(F_ERROR)?,
            error_message: get(F_ERROR_MESSAGE)?,
            vpc_endpoint_id: get(F_VPCE)?,
            user_identity,
        };
        Ok((r, len))
    }
}

/// A string value located in the record: `start..end` includes the quotes.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

const F_SOURCE: usize = 0;
const F_NAME: usize = 1;
const F_TIME: usize = 2;
const F_TYPE: usize = 3;
const F_REGION: usize = 4;
const F_IP: usize = 5;
const F_ERROR: usize = 6;
const F_VPCE: usize = 7;
const F_KIND: usize = 8;
const F_PRINCIPAL_ID: usize = 9;
const F_ARN: usize = 10;
const F_ACCOUNT: usize = 11;
const F_USER_NAME: usize = 12;
const F_INVOKED_BY: usize = 13;
const F_ISSUER_ARN: usize = 14;
const F_MFA: usize = 15;
const F_ASSUMED_ROOT: usize = 16;
const F_SOURCE_IDENTITY: usize = 17;
const F_CREATION_DATE: usize = 18;
const F_ERROR_MESSAGE: usize = 19;
/// Number of string fields located in a record.
const FIELDS: usize = 20;

/// Which objects were present (the spans of their fields are in `Fields::spans`).
#[derive(Debug, Default, Clone, Copy)]
struct IdentityShape {
    session_context: Option<ContextShape>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ContextShape {
    issuer: bool,
    attributes: bool,
}

#[derive(Debug, Default)]
struct Fields {
    spans: [Option<Span>; FIELDS],
    identity: Option<IdentityShape>,
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Malformed> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// A string at the current position.
    #[inline]
    fn raw_string(&mut self) -> Result<Span, Malformed> {
        if self.b.get(self.i) != Some(&b'"') && self.peek() != Some(b'"') {
            return Err(Malformed);
        }
        let start = self.i;
        let (end, escaped) = super::scan::string_end(self.b, start).ok_or(Malformed)?;
        self.i = end;
        Ok(Span {
            start,
            end,
            escaped,
        })
    }

    /// A string or `null`.
    #[inline]
    fn string(&mut self) -> Result<Option<Span>, Malformed> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(None);
        }
        self.raw_string().map(Some)
    }

    /// Skip any value.
    fn skip(&mut self) -> Result<(), Malformed> {
        match self.peek().ok_or(Malformed)? {
            b'"' => {
                let (end, _) = super::scan::string_end(self.b, self.i).ok_or(Malformed)?;
                self.i = end;
                Ok(())
            }
            b'{' | b'[' => match super::scan::skip_container(self.b, self.i) {
                super::scan::Skip::End(e) => {
                    self.i = e;
                    Ok(())
                }
                _ => Err(Malformed),
            },
            _ => {
                let start = self.i;
                while let Some(c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.i += 1;
                }
                let tok = &self.b[start..self.i];
                let ok = matches!(tok, b"true" | b"false" | b"null")
                    || serde_json::from_slice::<serde::de::IgnoredAny>(tok).is_ok();
                if ok {
                    Ok(())
                } else {
                    Err(Malformed)
                }
            }
        }
    }

    /// An object (`Some(())`) or `null` (`None`); `field` reads or skips each value.
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &[u8]) -> Result<(), Malformed>,
    ) -> Result<Option<()>, Malformed> {
        match self.peek() {
            Some(b'{') => self.i += 1,
            Some(b'n') => {
                self.literal(b"null")?;
                return Ok(None);
            }
            _ => return Err(Malformed),
        }
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Some(()));
        }
        loop {
            let key = self.raw_string()?;
            if self.b.get(self.i) != Some(&b':') && self.peek() != Some(b':') {
                return Err(Malformed);
            }
            self.i += 1;
            let b = self.b;
            if key.escaped {
                // an escaped key is none of the keys read here
                self.skip()?;
            } else {
                field(self, &b[key.start + 1..key.end - 1])?;
            }
            let next = match self.b.get(self.i) {
                Some(c @ (b',' | b'}')) => Some(*c),
                _ => self.peek(),
            };
            match next {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Some(()));
                }
                _ => return Err(Malformed),
            }
        }
    }

    fn user_identity(
        &mut self,
        spans: &mut [Option<Span>; FIELDS],
    ) -> Result<Option<IdentityShape>, Malformed> {
        let mut shape = IdentityShape::default();
        let present = self.object(|p, key| {
            let slot = match key {
                b"type" => F_KIND,
                b"principalId" => F_PRINCIPAL_ID,
                b"arn" => F_ARN,
                b"accountId" => F_ACCOUNT,
                b"userName" => F_USER_NAME,
                b"invokedBy" => F_INVOKED_BY,
                b"sessionContext" => {
                    shape.session_context = p.session_context(spans)?;
                    return Ok(());
                }
                _ => return p.skip(),
            };
            spans[slot] = p.string()?;
            Ok(())
        })?;
        Ok(present.map(|()| shape))
    }

    fn session_context(
        &mut self,
        spans: &mut [Option<Span>; FIELDS],
    ) -> Result<Option<ContextShape>, Malformed> {
        let mut shape = ContextShape::default();
        let present = self.object(|p, key| {
            match key {
                b"sessionIssuer" => {
                    spans[F_ISSUER_ARN] = None;
                    shape.issuer = p
                        .object(|p, key| match key {
                            b"arn" => {
                                spans[F_ISSUER_ARN] = p.string()?;
                                Ok(())
                            }
                            _ => p.skip(),
                        })?
                        .is_some();
                }
                b"attributes" => {
                    spans[F_MFA] = None;
                    spans[F_CREATION_DATE] = None;
                    shape.attributes = p
                        .object(|p, key| match key {
                            b"mfaAuthenticated" => {
                                spans[F_MFA] = p.string()?;
                                Ok(())
                            }
                            b"creationDate" => {
                                spans[F_CREATION_DATE] = p.string()?;
                                Ok(())
                            }
                            _ => p.skip(),
                        })?
                        .is_some();
                }
                b"assumedRoot" => spans[F_ASSUMED_ROOT] = p.string()?,
                b"sourceIdentity" => spans[F_SOURCE_IDENTITY] = p.string()?,
                _ => p.skip()?,
            }
            Ok(())
        })?;
        Ok(present.map(|()| shape))
    }
}

fn s<'x>(v: &'x Str<'_>) -> Option<&'x str> {
    v.as_deref().filter(|x| !x.is_empty())
}

/// Service prefixes of `eventSource` that differ from the IAM service prefix.
pub const SERVICE_RENAMES: &[(&str, &str)] = &[
    ("monitoring", "cloudwatch"),
    ("email", "ses"),
    ("tagging", "tag"),
    // Amazon Macie records its API calls under macie.amazonaws.com; its IAM prefix is macie2.
    ("macie", "macie2"),
];

/// Event names that differ from the IAM action name: (service prefix, event, action).
pub const ACTION_RENAMES: &[(&str, &str, &str)] = &[
    ("s3", "ListBuckets", "ListAllMyBuckets"),
    ("s3", "ListObjects", "ListBucket"),
    ("s3", "ListObjectsV2", "ListBucket"),
    ("s3", "HeadBucket", "ListBucket"),
    ("s3", "HeadObject", "GetObject"),
    ("s3", "ListObjectVersions", "ListBucketVersions"),
    ("s3", "ListMultipartUploads", "ListBucketMultipartUploads"),
    ("s3", "ListParts", "ListMultipartUploadParts"),
    ("s3", "DeleteObjects", "DeleteObject"),
    ("s3", "CopyObject", "PutObject"),
    ("s3", "CreateMultipartUpload", "PutObject"),
    ("s3", "UploadPart", "PutObject"),
    ("s3", "UploadPartCopy", "PutObject"),
    ("s3", "CompleteMultipartUpload", "PutObject"),
    ("s3", "GetBucketEncryption", "GetEncryptionConfiguration"),
    ("s3", "PutBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "DeleteBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "GetBucketLifecycle", "GetLifecycleConfiguration"),
    (
        "s3",
        "GetBucketLifecycleConfiguration",
        "GetLifecycleConfiguration",
    ),
    ("s3", "PutBucketLifecycle", "PutLifecycleConfiguration"),
    (
        "s3",
        "PutBucketLifecycleConfiguration",
        "PutLifecycleConfiguration",
    ),
    ("s3", "GetBucketReplication", "GetReplicationConfiguration"),
    ("s3", "PutBucketReplication", "PutReplicationConfiguration"),
    ("s3", "GetBucketCors", "GetBucketCORS"),
    ("s3", "PutBucketCors", "PutBucketCORS"),
    // S3 authorizes these operations with another action ("Required permissions for
    // Amazon S3 API operations" in the S3 user guide): deleting a configuration needs the
    // permission to put it, and several bucket configurations drop `Bucket` from the name.
    ("s3", "DeleteBucketCors", "PutBucketCORS"),
    ("s3", "DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    (
        "s3",
        "DeleteBucketReplication",
        "PutReplicationConfiguration",
    ),
    (
        "s3",
        "DeleteBucketPublicAccessBlock",
        "PutBucketPublicAccessBlock",
    ),
    (
        "s3",
        "DeleteBucketOwnershipControls",
        "PutBucketOwnershipControls",
    ),
    ("s3", "DeleteBucketTagging", "PutBucketTagging"),
    (
        "s3",
        "DeleteBucketMetricsConfiguration",
        "PutMetricsConfiguration",
    ),
    (
        "s3",
        "GetBucketMetricsConfiguration",
        "GetMetricsConfiguration",
    ),
    (
        "s3",
        "PutBucketMetricsConfiguration",
        "PutMetricsConfiguration",
    ),
    (
        "s3",
        "ListBucketMetricsConfigurations",
        "GetMetricsConfiguration",
    ),
    (
        "s3",
        "DeleteBucketAnalyticsConfiguration",
        "PutAnalyticsConfiguration",
    ),
    (
        "s3",
        "GetBucketAnalyticsConfiguration",
        "GetAnalyticsConfiguration",
    ),
    (
        "s3",
        "PutBucketAnalyticsConfiguration",
        "PutAnalyticsConfiguration",
    ),
    (
        "s3",
        "ListBucketAnalyticsConfigurations",
        "GetAnalyticsConfiguration",
    ),
    (
        "s3",
        "DeleteBucketInventoryConfiguration",
        "PutInventoryConfiguration",
    ),
    (
        "s3",
        "GetBucketInventoryConfiguration",
        "GetInventoryConfiguration",
    ),
    (
        "s3",
        "PutBucketInventoryConfiguration",
        "PutInventoryConfiguration",
    ),
    (
        "s3",
        "ListBucketInventoryConfigurations",
        "GetInventoryConfiguration",
    ),
    (
        "s3",
        "DeleteBucketIntelligentTieringConfiguration",
        "PutIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "GetBucketIntelligentTieringConfiguration",
        "GetIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "PutBucketIntelligentTieringConfiguration",
        "PutIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "ListBucketIntelligentTieringConfigurations",
        "GetIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "GetBucketAccelerateConfiguration",
        "GetAccelerateConfiguration",
    ),
    (
        "s3",
        "PutBucketAccelerateConfiguration",
        "PutAccelerateConfiguration",
    ),
    (
        "s3",
        "GetBucketNotificationConfiguration",
        "GetBucketNotification",
    ),
    (
        "s3",
        "PutBucketNotificationConfiguration",
        "PutBucketNotification",
    ),
    (
        "s3",
        "GetObjectLockConfiguration",
        "GetBucketObjectLockConfiguration",
    ),
    (
        "s3",
        "PutObjectLockConfiguration",
        "PutBucketObjectLockConfiguration",
    ),
    ("s3", "SelectObjectContent", "GetObject"),
    ("lambda", "Invoke", "InvokeFunction"),
];

/// Operations of Application Auto Scaling (IAM prefix `application-autoscaling`) that
/// CloudTrail records under `autoscaling.amazonaws.com`, the event source of EC2 Auto
/// Scaling (IAM prefix `autoscaling`), and that EC2 Auto Scaling does not have.
pub const APPLICATION_AUTOSCALING_ONLY: &[&str] = &[
    "DeleteScalingPolicy",
    "DeregisterScalableTarget",
    "DescribeScalableTargets",
    "DescribeScalingPolicies",
    "ListTagsForResource",
    "PutScheduledAction",
    "RegisterScalableTarget",
    "TagResource",
    "UntagResource",
];

/// Operations both Auto Scaling services have: from `autoscaling.amazonaws.com` alone the
/// action cannot be told (`autoscaling:` or `application-autoscaling:`), so such events are
/// reported as unmapped rather than evaluated as one of the two.
pub const AUTOSCALING_AMBIGUOUS: &[&str] = &[
    "DeleteScheduledAction",
    "DescribeScalingActivities",
    "DescribeScheduledActions",
    "GetPredictiveScalingForecast",
    "PutScalingPolicy",
];

/// Events that correspond to no IAM action (or that no policy can deny): reported as
/// unmapped, never evaluated. `*` as the event name covers the whole service. (AWS Health's
/// `health:Describe*` calls are authorized, and SCPs can deny them: they are mapped.)
pub const UNMAPPED: &[(&str, &str)] = &[
    ("sts", "GetCallerIdentity"),
    ("signin", "*"),
    ("sso-oauth", "*"),
];

/// `eventType`s that are not API calls made by a principal: skipped with this reason.
pub const SKIPPED_EVENT_TYPES: &[(&str, &str)] = &[
    ("AwsServiceEvent", "service_event"),
    ("AwsCloudTrailInsight", "insight_event"),
    ("AwsVpceEvent", "vpce_event"),
];

/// `errorCode`s that mean the call was refused by authorization: baseline, not new denials.
pub const DENIAL_ERROR_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "Client.UnauthorizedOperation",
    "UnauthorizedOperation",
    "Client.AccessDenied",
    "UnauthorizedAccess",
    "AuthorizationError",
    "AuthorizationErrorException",
    "Forbidden",
    "ForbiddenException",
    "AccessDeniedFault",
];

/// True for an `errorCode` that reports an authorization failure.
pub fn is_denial_error(code: &str) -> bool {
    DENIAL_ERROR_CODES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(code))
        || code.ends_with("AccessDenied")
        || code.ends_with("AccessDeniedException")
        || code.ends_with("UnauthorizedOperation")
}

/// The IAM service prefix of an `eventSource` (`ec2.amazonaws.com` -> `ec2`).
pub fn service_prefix(event_source: &str) -> &str {
    let p = event_source
        .strip_suffix(".amazonaws.com")
        .or_else(|| event_source.strip_suffix(".amazonaws.com.cn"))
        .unwrap_or(event_source);
    SERVICE_RENAMES
        .iter()
        .find(|(from, _)| *from == p)
        .map_or(p, |(_, to)| to)
}

/// Strip an API-version suffix from an event name: Lambda's `GetFunction20150331v2`,
/// `ListFunctions20150331`; CloudFront's `GetDistribution2020_05_31`.
pub fn strip_version_suffix(name: &str) -> &str {
    let b = name.as_bytes();
    // Lambda: 8 digits, optionally followed by v<digits>.
    let mut end = b.len();
    let digits_at_end = |end: usize| {
        b[..end]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let d = digits_at_end(end);
    if d > 0 && end > d && b[end - d - 1] == b'v' {
        let before_v = end - d - 1;
        if digits_at_end(before_v) == 8 {
            end = before_v;
        }
    }
    if digits_at_end(end) == 8 && end > 8 {
        return &name[..end - 8];
    }
    // CloudFront: YYYY_MM_DD.
    if b.len() > 10 {
        let tail = &b[b.len() - 10..];
        let shape = tail.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'_',
            _ => c.is_ascii_digit(),
        });
        if shape {
            return &name[..name.len() - 10];
        }
    }
    name
}

/// Result of mapping `eventSource`/`eventName` to an IAM action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionMapping {
    /// The action was written to the buffer.
    Mapped,
    /// The event maps to no IAM action; its `service:EventName` is in the buffer.
    Unmapped,
}

/// Map `eventSource` + `eventName` to an IAM action, written into `out` (cleared first).
pub fn map_action(event_source: &str, event_name: &str, out: &mut String) -> ActionMapping {
    out.clear();
    let prefix = service_prefix(event_source);
    if UNMAPPED
        .iter()
        .any(|(p, n)| *p == prefix && (*n == "*" || *n == event_name))
    {
        out.push_str(prefix);
        out.push(':');
        out.push_str(event_name);
        return ActionMapping::Unmapped;
    }
    let mut prefix = prefix;
    if prefix == "autoscaling" {
        if APPLICATION_AUTOSCALING_ONLY.contains(&event_name) {
            prefix = "application-autoscaling";
        } else if AUTOSCALING_AMBIGUOUS.contains(&event_name) {
            out.push_str(prefix);
            out.push(':');
            out.push_str(event_name);
            return ActionMapping::Unmapped;
        }
    }
    let name = if prefix == "lambda" || prefix == "cloudfront" {
        strip_version_suffix(event_name)
    } else {
        event_name
    };
    let name = ACTION_RENAMES
        .iter()
        .find(|(p, from, _)| *p == prefix && *from == name)
        .map_or(name, |(_, _, to)| to);
    out.push_str(prefix);
    out.push(':');
    out.push_str(name);
    ActionMapping::Mapped
}

/// The value of a context key for an event, as far as the record tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValue<'a> {
    /// The key had this value.
    Present(Cow<'a, str>),
    /// The key was certainly absent from the request.
    Absent,
    /// The record does not tell.
    Unknown,
}

/// Context keys the replay fills from a record (besides the ones derived from the request
/// fields: `aws:RequestedRegion`, `aws:PrincipalArn`, `aws:PrincipalAccount`).
pub const FILLED_KEYS: &[&str] = &[
    "aws:PrincipalType",
    "aws:userid",
    "aws:username",
    "aws:SourceIp",
    "aws:ViaAWSService",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalServiceName",
    "aws:MultiFactorAuthPresent",
    "aws:SourceVpce",
    "aws:PrincipalOrgID",
    "aws:AssumedRoot",
    "aws:SourceIdentity",
    "aws:TokenIssueTime",
];

/// An event that is a call by a principal to an IAM action, ready to be decided.
#[derive(Debug, Clone)]
pub struct Call<'r, 'a> {
    /// The record.
    pub record: &'r Record<'a>,
    /// The caller's account.
    pub account: &'r str,
    /// The principal ARN (the role for a role session).
    pub principal_arn: &'r str,
    /// The requested region (`awsRegion`; may be empty).
    pub region: &'r str,
    /// `eventTime` (may be empty).
    pub event_time: &'r str,
    /// `aws:PrincipalType`.
    pub principal_type: &'static str,
    /// The organization id to report as `aws:PrincipalOrgID`, when known.
    pub org_id: Option<&'r str>,
}

impl<'r, 'a> Call<'r, 'a> {
    fn identity(&self) -> Option<&'r UserIdentity<'a>> {
        self.record.user_identity.as_ref()
    }

    fn session_context(&self) -> Option<&'r SessionContext<'a>> {
        self.identity().and_then(|i| i.session_context.as_ref())
    }

    /// The value of condition key `key` (case-insensitive) for this call.
    pub fn key_value(&self, key: &str) -> KeyValue<'r> {
        let id = self.identity();
        let k = |name: &str| key.eq_ignore_ascii_case(name);
        let present = |v: &'r str| KeyValue::Present(Cow::Borrowed(v));
        let invoked_by = id.and_then(|i| s(&i.invoked_by));
        if k("aws:PrincipalType") {
            present(self.principal_type)
        } else if k("aws:userid") {
            match (self.principal_type, id.and_then(|i| s(&i.principal_id))) {
                ("Account", _) => present(self.account),
                (_, Some(v)) => present(v),
                _ => KeyValue::Unknown,
            }
        } else if k("aws:username") {
            match self.principal_type {
                "User" => id
                    .and_then(|i| s(&i.user_name))
                    .map_or(KeyValue::Unknown, present),
                _ => KeyValue::Absent,
            }
        } else if k("aws:SourceIp") {
            match s(&self.record.source_ip_address) {
                Some(ip) if ip.parse::<IpAddr>().is_ok() => present(ip),
                _ if invoked_by.is_some() => KeyValue::Absent,
                _ => KeyValue::Unknown,
            }
        } else if k("aws:ViaAWSService") {
            present(if invoked_by.is_some() {
                "true"
            } else {
                "false"
            })
        } else if k("aws:CurrentTime") {
            if self.event_time.is_empty() {
                KeyValue::Unknown
            } else {
                present(self.event_time)
            }
        } else if k("aws:EpochTime") {
            epoch_seconds(self.event_time).map_or(KeyValue::Unknown, |e| {
                KeyValue::Present(Cow::Owned(e.to_string()))
            })
        } else if k("aws:PrincipalIsAWSService") {
            present("false")
        } else if k("aws:PrincipalServiceName") {
            KeyValue::Absent
        } else if k("aws:MultiFactorAuthPresent") {
            match id
                .and_then(|i| i.session_context.as_ref())
                .and_then(|c| c.attributes.as_ref())
                .and_then(|a| s(&a.mfa_authenticated))
            {
                Some(v) if v.eq_ignore_ascii_case("true") => present("true"),
                Some(v) if v.eq_ignore_ascii_case("false") => present("false"),
                _ => KeyValue::Unknown,
            }
        } else if k("aws:AssumedRoot") {
            // Only a root session created by sts:AssumeRoot carries the key; CloudTrail marks
            // it with sessionContext.assumedRoot = "true". Other callers never carry it.
            match self.session_context().and_then(|c| s(&c.assumed_root)) {
                Some(v) if self.principal_type == "Account" && v.eq_ignore_ascii_case("true") => {
                    present("true")
                }
                _ => KeyValue::Absent,
            }
        } else if k("aws:SourceIdentity") {
            match self.session_context().map(|c| &c.source_identity) {
                Some(Some(v)) if !v.is_empty() => KeyValue::Present(Cow::Borrowed(v.as_ref())),
                // the record has the field, empty: the session has no source identity
                Some(Some(_)) => KeyValue::Absent,
                _ => KeyValue::Unknown,
            }
        } else if k("aws:TokenIssueTime") {
            let created = self
                .session_context()
                .and_then(|c| c.attributes.as_ref())
                .and_then(|a| s(&a.creation_date));
            match created {
                Some(t) if epoch_seconds(t).is_some() => present(t),
                // long-term credentials of an IAM user or the root user carry no token
                None if self.session_context().is_none()
                    && matches!(self.principal_type, "User" | "Account") =>
                {
                    KeyValue::Absent
                }
                _ => KeyValue::Unknown,
            }
        } else if k("aws:SourceVpce") {
            s(&self.record.vpc_endpoint_id).map_or(KeyValue::Unknown, present)
        } else if k("aws:PrincipalOrgID") {
            self.org_id.map_or(KeyValue::Unknown, present)
        } else if k("aws:RequestedRegion") {
            if self.region.is_empty() {
                KeyValue::Unknown
            } else {
                present(self.region)
            }
        } else if k("aws:PrincipalArn") {
            present(self.principal_arn)
        } else if k("aws:PrincipalAccount") {
            present(self.account)
        } else {
            KeyValue::Unknown
        }
    }

    /// The request to evaluate: `resource` is `*`, missing keys are unknown.
    pub fn request(&self, action: &str) -> Request {
        self.request_with(action, FILLED_KEYS)
    }

    /// The request with only the context keys in `keys` filled (the others are unknown):
    /// enough for policies that refer to no other key, and cheaper to build.
    pub fn request_with<K: AsRef<str>>(&self, action: &str, keys: &[K]) -> Request {
        let mut context = BTreeMap::new();
        let mut absent_keys = Vec::new();
        for key in keys.iter().map(AsRef::as_ref) {
            if matches!(
                key.to_ascii_lowercase().as_str(),
                "aws:requestedregion" | "aws:principalarn" | "aws:principalaccount"
            ) {
                continue; // derived from the request's fields
            }
            match self.key_value(key) {
                KeyValue::Present(v) => {
                    context.insert(key.to_string(), ContextValue::Single(v.into_owned()));
                }
                KeyValue::Absent => absent_keys.push(key.to_string()),
                KeyValue::Unknown => {}
            }
        }
        Request {
            account: self.account.to_string(),
            principal_arn: self.principal_arn.to_string(),
            action: action.to_string(),
            resource: "*".to_string(),
            region: self.region.to_string(),
            context,
            missing_keys: MissingKeys::Unknown,
            absent_keys,
        }
    }
}

/// Seconds since the Unix epoch of an ISO 8601 UTC time such as `2026-11-02T03:04:05Z`.
pub fn epoch_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { t.get(r)?.parse().ok() };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // days from civil (Howard Hinnant's algorithm)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// What to do with a record.
#[derive(Debug)]
pub enum Classified<'r, 'a> {
    /// Not a call subject to SCPs (or not decidable): counted under this reason.
    Skipped(&'static str),
    /// No IAM action; the buffer holds `service:EventName`.
    Unmapped,
    /// Already refused by authorization (`errorCode`); the buffer holds the action.
    Baseline(&'r str),
    /// A call to decide; the buffer holds the action.
    Call(Call<'r, 'a>),
}

/// Classify a record and map its action into `action` (and, for root callers, the
/// principal ARN into `principal`). `management_account`: skipped when it is the caller.
pub fn classify<'r, 'a>(
    rec: &'r Record<'a>,
    management_account: Option<&str>,
    org_id: Option<&'r str>,
    action: &mut String,
    principal: &'r mut String,
) -> Classified<'r, 'a> {
    if let Some(t) = s(&rec.event_type) {
        if let Some((_, reason)) = SKIPPED_EVENT_TYPES.iter().find(|(et, _)| *et == t) {
            return Classified::Skipped(reason);
        }
    }
    let (Some(source), Some(name)) = (s(&rec.event_source), s(&rec.event_name)) else {
        return Classified::Skipped("no_event_name");
    };
    let Some(id) = rec.user_identity.as_ref() else {
        return Classified::Skipped("no_user_identity");
    };
    let kind = s(&id.kind).unwrap_or("");
    if kind == "AWSService" {
        return Classified::Skipped("aws_service");
    }
    let arn = s(&id.arn);
    let account = s(&id.account_id).or_else(|| {
        arn.and_then(|a| a.split(':').nth(4))
            .filter(|a| !a.is_empty())
    });
    let (principal_type, principal_arn): (&'static str, Option<&'r str>) = match kind {
        "IAMUser" => ("User", arn),
        "AssumedRole" => {
            let issuer = id
                .session_context
                .as_ref()
                .and_then(|c| c.session_issuer.as_ref())
                .and_then(|i| s(&i.arn));
            ("AssumedRole", issuer)
        }
        "Root" => {
            principal.clear();
            match (arn, account) {
                (Some(a), _) if a.ends_with(":root") => principal.push_str(a),
                (_, Some(acct)) => {
                    let partition = arn.and_then(|a| a.split(':').nth(1)).unwrap_or("aws");
                    principal.push_str("arn:");
                    principal.push_str(partition);
                    principal.push_str(":iam::");
                    principal.push_str(acct);
                    principal.push_str(":root");
                }
                _ => return Classified::Skipped("no_account"),
            }
            ("Account", Some(principal.as_str()))
        }
        "FederatedUser" => ("FederatedUser", arn),
        _ => return Classified::Skipped("unsupported_identity_type"),
    };
    if principal_arn.is_some_and(super::super::iam::is_service_linked_role)
        || arn.is_some_and(|a| a.contains(":assumed-role/AWSServiceRoleFor"))
    {
        return Classified::Skipped("service_linked_role");
    }
    let Some(account) = account else {
        return Classified::Skipped("no_account");
    };
    if management_account == Some(account) {
        return Classified::Skipped("management_account");
    }
    let Some(principal_arn) = principal_arn else {
        return Classified::Skipped("no_principal_arn");
    };
    if map_action(source, name, action) == ActionMapping::Unmapped {
        return Classified::Unmapped;
    }
    if let Some(code) = s(&rec.error_code) {
        if is_denial_error(code) {
            return Classified::Baseline(code);
        }
    }
    Classified::Call(Call {
        record: rec,
        account,
        principal_arn,
        region: s(&rec.aws_region).unwrap_or(""),
        event_time: s(&rec.event_time).unwrap_or(""),
        principal_type,
        org_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(src: &str, name: &str) -> (ActionMapping, String) {
        let mut out = String::new();
        let m = map_action(src, name, &mut out);
        (m, out)
    }

    #[test]
    fn actions_map_with_renames_and_version_suffixes() {
        let mapped = |src, name| {
            let (m, a) = action(src, name);
            assert_eq!(m, ActionMapping::Mapped, "{src} {name}");
            a
        };
        assert_eq!(
            mapped("ec2.amazonaws.com", "RunInstances"),
            "ec2:RunInstances"
        );
        assert_eq!(
            mapped("monitoring.amazonaws.com", "PutMetricData"),
            "cloudwatch:PutMetricData"
        );
        assert_eq!(mapped("email.amazonaws.com", "SendEmail"), "ses:SendEmail");
        assert_eq!(
            mapped("tagging.amazonaws.com", "GetResources"),
            "tag:GetResources"
        );
        assert_eq!(
            mapped("s3.amazonaws.com", "ListBuckets"),
            "s3:ListAllMyBuckets"
        );
        assert_eq!(mapped("s3.amazonaws.com", "ListObjects"), "s3:ListBucket");
        assert_eq!(mapped("s3.amazonaws.com", "ListObjectsV2"), "s3:ListBucket");
        assert_eq!(mapped("s3.amazonaws.com", "GetObject"), "s3:GetObject");
        assert_eq!(
            mapped("lambda.amazonaws.com", "GetFunction20150331v2"),
            "lambda:GetFunction"
        );
        assert_eq!(
            mapped("lambda.amazonaws.com", "ListFunctions20150331"),
            "lambda:ListFunctions"
        );
        assert_eq!(
            mapped("lambda.amazonaws.com", "ListTags20170331"),
            "lambda:ListTags"
        );
        assert_eq!(
            mapped("lambda.amazonaws.com", "Invoke"),
            "lambda:InvokeFunction"
        );
        assert_eq!(
            mapped("cloudfront.amazonaws.com", "GetDistribution2020_05_31"),
            "cloudfront:GetDistribution"
        );
        // digits that are part of a name stay
        assert_eq!(mapped("ec2.amazonaws.com", "CreateVpc2"), "ec2:CreateVpc2");
        assert_eq!(mapped("sts.amazonaws.com", "AssumeRole"), "sts:AssumeRole");
        assert_eq!(
            action("sts.amazonaws.com", "GetCallerIdentity"),
            (ActionMapping::Unmapped, "sts:GetCallerIdentity".into())
        );
        assert_eq!(
            action("signin.amazonaws.com", "ConsoleLogin"),
            (ActionMapping::Unmapped, "signin:ConsoleLogin".into())
        );
    }

    /// Every rename leads to an action the IAM dataset has, so a renamed event is evaluated
    /// as the action AWS authorizes, never dropped as unknown.
    #[test]
    fn renames_lead_to_known_actions() {
        let iam = crate::policy::lint::IamData::built_in();
        let mut unknown = Vec::new();
        for (prefix, _, to) in ACTION_RENAMES {
            let action = format!("{prefix}:{to}");
            if !iam.is_known_action(&action) {
                unknown.push(action);
            }
        }
        for (_, to) in SERVICE_RENAMES {
            if !iam.has_service(to) {
                unknown.push(format!("service {to}"));
            }
        }
        for name in APPLICATION_AUTOSCALING_ONLY {
            let action = format!("application-autoscaling:{name}");
            if !iam.is_known_action(&action) || iam.is_known_action(&format!("autoscaling:{name}"))
            {
                unknown.push(action);
            }
        }
        for name in AUTOSCALING_AMBIGUOUS {
            if !iam.is_known_action(&format!("application-autoscaling:{name}"))
                || !iam.is_known_action(&format!("autoscaling:{name}"))
            {
                unknown.push(format!("ambiguous {name}"));
            }
        }
        assert!(unknown.is_empty(), "{unknown:?}");
        let (m, a) = action("s3.amazonaws.com", "DeleteBucketPublicAccessBlock");
        assert_eq!(
            (m, a.as_str()),
            (ActionMapping::Mapped, "s3:PutBucketPublicAccessBlock")
        );
        let (m, a) = action("health.amazonaws.com", "DescribeEvents");
        assert_eq!(
            (m, a.as_str()),
            (ActionMapping::Mapped, "health:DescribeEvents")
        );
        let (m, a) = action("autoscaling.amazonaws.com", "DescribeAutoScalingGroups");
        assert_eq!(
            (m, a.as_str()),
            (
                ActionMapping::Mapped,
                "autoscaling:DescribeAutoScalingGroups"
            )
        );
    }

    #[test]
    fn assumed_root_token_time_and_source_identity_from_the_record() {
        let assumed = parse(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"DeleteBucketPolicy","awsRegion":"us-east-1",
            "userIdentity":{"type":"Root","accountId":"111122223333","arn":"arn:aws:iam::111122223333:root",
              "sessionContext":{"attributes":{"creationDate":"2026-11-01T00:00:00Z","mfaAuthenticated":"false"},"assumedRoot":"true"}}}"#,
        );
        let (mut a, mut p) = (String::new(), String::new());
        let Classified::Call(call) = classify(&assumed, None, None, &mut a, &mut p) else {
            panic!()
        };
        assert_eq!(
            call.key_value("aws:assumedroot"),
            KeyValue::Present("true".into())
        );
        assert_eq!(
            call.key_value("aws:TokenIssueTime"),
            KeyValue::Present("2026-11-01T00:00:00Z".into())
        );
        let plain_root = parse(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"DeleteBucketPolicy","awsRegion":"us-east-1",
            "userIdentity":{"type":"Root","accountId":"111122223333","arn":"arn:aws:iam::111122223333:root"}}"#,
        );
        let (mut a, mut p) = (String::new(), String::new());
        let Classified::Call(call) = classify(&plain_root, None, None, &mut a, &mut p) else {
            panic!()
        };
        assert_eq!(call.key_value("aws:AssumedRoot"), KeyValue::Absent);
        assert_eq!(call.key_value("aws:TokenIssueTime"), KeyValue::Absent);
        let role = parse(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1",
            "userIdentity":{"type":"AssumedRole","accountId":"111122223333","arn":"arn:aws:sts::111122223333:assumed-role/R/s",
              "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/R"},"sourceIdentity":"alice","assumedRoot":"true"}}}"#,
        );
        let (mut a, mut p) = (String::new(), String::new());
        let Classified::Call(call) = classify(&role, None, None, &mut a, &mut p) else {
            panic!()
        };
        // only root sessions carry aws:AssumedRoot
        assert_eq!(call.key_value("aws:AssumedRoot"), KeyValue::Absent);
        assert_eq!(
            call.key_value("aws:SourceIdentity"),
            KeyValue::Present("alice".into())
        );
        assert_eq!(call.key_value("aws:TokenIssueTime"), KeyValue::Unknown);
    }

    #[test]
    fn version_suffixes() {
        assert_eq!(strip_version_suffix("GetFunction20150331v2"), "GetFunction");
        assert_eq!(
            strip_version_suffix("UpdateFunctionCode20150331v2"),
            "UpdateFunctionCode"
        );
        assert_eq!(
            strip_version_suffix("GetLayerVersion20181031"),
            "GetLayerVersion"
        );
        assert_eq!(strip_version_suffix("ListFunctions"), "ListFunctions");
        assert_eq!(strip_version_suffix("Foo1v2"), "Foo1v2");
        assert_eq!(strip_version_suffix("20150331"), "20150331");
    }

    #[test]
    fn epoch() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2026-11-22T21:40:05Z"), Some(1_795_383_605));
        assert_eq!(epoch_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(epoch_seconds("garbage"), None);
    }

    #[test]
    fn denial_codes() {
        assert!(is_denial_error("AccessDenied"));
        assert!(is_denial_error("Client.UnauthorizedOperation"));
        assert!(is_denial_error("accessdeniedexception"));
        assert!(!is_denial_error("NoSuchBucket"));
        assert!(!is_denial_error("ThrottlingException"));
    }

    fn parse(json: &str) -> Record<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn principals_and_context() {
        let rec = parse(
            r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1",
            "eventTime":"2026-11-02T03:04:05Z","sourceIPAddress":"203.0.113.7","eventType":"AwsApiCall",
            "userIdentity":{"type":"AssumedRole","principalId":"AROAX:alice","accountId":"111122223333",
              "arn":"arn:aws:sts::111122223333:assumed-role/Dev/alice",
              "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Dev"},
                 "attributes":{"mfaAuthenticated":"true","creationDate":"x"}}},
            "requestParameters":{"instancesSet":{"items":[{"imageId":"ami-1"}]}}}"#,
        );
        let (mut a, mut p) = (String::new(), String::new());
        let Classified::Call(call) = classify(&rec, Some("999999999999"), None, &mut a, &mut p)
        else {
            panic!("not a call")
        };
        assert_eq!(a, "ec2:RunInstances");
        assert_eq!(call.principal_arn, "arn:aws:iam::111122223333:role/Dev");
        assert_eq!(call.account, "111122223333");
        let req = call.request(&a);
        assert_eq!(req.region, "eu-west-1");
        let get = |k: &str| req.context.get(k).cloned();
        assert_eq!(get("aws:SourceIp"), Some("203.0.113.7".into()));
        assert_eq!(get("aws:PrincipalType"), Some("AssumedRole".into()));
        assert_eq!(get("aws:userid"), Some("AROAX:alice".into()));
        assert_eq!(get("aws:ViaAWSService"), Some("false".into()));
        assert_eq!(get("aws:EpochTime"), Some("1793588645".into()));
        assert_eq!(get("aws:MultiFactorAuthPresent"), Some("true".into()));
        assert!(req.absent_keys.contains(&"aws:username".to_string()));
        assert_eq!(req.missing_keys, MissingKeys::Unknown);

        let root = parse(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1",
            "sourceIPAddress":"cloudformation.amazonaws.com",
            "userIdentity":{"type":"Root","accountId":"111122223333","invokedBy":"cloudformation.amazonaws.com"}}"#,
        );
        let (mut a, mut p) = (String::new(), String::new());
        let Classified::Call(call) = classify(&root, None, None, &mut a, &mut p) else {
            panic!()
        };
        assert_eq!(call.principal_arn, "arn:aws:iam::111122223333:root");
        assert_eq!(
            call.key_value("aws:ViaAWSService"),
            KeyValue::Present("true".into())
        );
        assert_eq!(call.key_value("aws:SourceIp"), KeyValue::Absent);
        assert_eq!(
            call.key_value("aws:userid"),
            KeyValue::Present("111122223333".into())
        );
        assert_eq!(call.key_value("aws:PrincipalTag/team"), KeyValue::Unknown);
    }

    #[test]
    fn skips() {
        let cases = [
            (
                r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventType":"AwsServiceEvent","userIdentity":{"type":"AWSService"}}"#,
                "service_event",
            ),
            (
                r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"}}"#,
                "aws_service",
            ),
            (
                r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","userIdentity":{"type":"AssumedRole","accountId":"111122223333","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"}}}}"#,
                "service_linked_role",
            ),
            (
                r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","userIdentity":{"type":"IAMUser","accountId":"999999999999","arn":"arn:aws:iam::999999999999:user/a"}}"#,
                "management_account",
            ),
            (
                r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithSAML","userIdentity":{"type":"SAMLUser"}}"#,
                "unsupported_identity_type",
            ),
        ];
        for (json, reason) in cases {
            let rec = parse(json);
            let (mut a, mut p) = (String::new(), String::new());
            match classify(&rec, Some("999999999999"), None, &mut a, &mut p) {
                Classified::Skipped(r) => assert_eq!(r, reason, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        let denied = parse(
            r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","errorCode":"Client.UnauthorizedOperation",
            "userIdentity":{"type":"IAMUser","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/a"}}"#,
        );
        let (mut a, mut p) = (String::new(), String::new());
        assert!(matches!(
            classify(&denied, None, None, &mut a, &mut p),
            Classified::Baseline("Client.UnauthorizedOperation")
        ));
        let who = parse(
            r#"{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity",
            "userIdentity":{"type":"IAMUser","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/a"}}"#,
        );
        let (mut a, mut p) = (String::new(), String::new());
        assert!(matches!(
            classify(&who, None, None, &mut a, &mut p),
            Classified::Unmapped
        ));
        assert_eq!(a, "sts:GetCallerIdentity");
    }

    mod parse_vs_serde {
        use super::super::Record;
        use proptest::prelude::*;
        use serde_json::{json, Map, Value};

        fn text() -> impl Strategy<Value = Value> {
            prop_oneof![
                8 => "[a-zA-Z0-9:/._-]{0,24}".prop_map(Value::String),
                2 => "[a-z\"\\\\/\u{e9}\u{2603}\n\t\u{1}]{0,8}".prop_map(Value::String),
                1 => Just(Value::Null),
                1 => any::<i64>().prop_map(Value::from),
                1 => Just(json!({"x": 1})),
            ]
        }

        fn junk() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                "[a-z\"\\\\{}\\[\\]]{0,10}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 16, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn object(
            keys: &'static [&'static str],
            nested: Option<(&'static str, BoxedStrategy<Value>)>,
        ) -> BoxedStrategy<Value> {
            let fields =
                proptest::collection::vec((proptest::sample::select(keys), text()), 0..keys.len());
            let extra = proptest::collection::vec(("[a-zA-Z]{1,8}", junk()), 0..4);
            let nested = match nested {
                Some((k, st)) => proptest::option::of(st)
                    .prop_map(move |v| v.map(|v| (k, v)))
                    .boxed(),
                None => Just(None).boxed(),
            };
            (fields, extra, nested, any::<u64>())
                .prop_map(|(fields, extra, nested, seed)| {
                    let mut all: Vec<(String, Value)> = Vec::new();
                    for (k, v) in fields {
                        if !all.iter().any(|(x, _)| x == k) {
                            all.push((k.to_string(), v));
                        }
                    }
                    for (k, v) in extra {
                        if !keys.contains(&k.as_str()) && !all.iter().any(|(x, _)| *x == k) {
                            all.push((k, v));
                        }
                    }
                    if let Some((k, v)) = nested {
                        all.push((k.to_string(), v));
                    }
                    // shuffle deterministically
                    let n = all.len();
                    for i in 0..n {
                        let j = (seed.rotate_left(i as u32) as usize) % n;
                        all.swap(i, j);
                    }
                    let mut m = Map::new();
                    for (k, v) in all {
                        m.insert(k, v);
                    }
                    Value::Object(m)
                })
                .boxed()
        }

        fn record() -> BoxedStrategy<Value> {
            let issuer = object(&["arn", "type"], None);
            let attrs = object(&["mfaAuthenticated", "creationDate"], None);
            let ctx = (
                proptest::option::of(issuer),
                proptest::option::of(attrs),
                proptest::option::of(text()),
                proptest::option::of(text()),
            )
                .prop_map(|(i, a, root, source)| {
                    let mut m = Map::new();
                    if let Some(i) = i {
                        m.insert("sessionIssuer".into(), i);
                    }
                    if let Some(a) = a {
                        m.insert("attributes".into(), a);
                    }
                    if let Some(r) = root {
                        m.insert("assumedRoot".into(), r);
                    }
                    if let Some(v) = source {
                        m.insert("sourceIdentity".into(), v);
                    }
                    Value::Object(m)
                });
            let identity = object(
                &[
                    "type",
                    "principalId",
                    "arn",
                    "accountId",
                    "userName",
                    "invokedBy",
                ],
                Some(("sessionContext", ctx.boxed())),
            );
            object(
                &[
                    "eventSource",
                    "eventName",
                    "eventTime",
                    "eventType",
                    "awsRegion",
                    "sourceIPAddress",
                    "errorCode",
                    "vpcEndpointId",
                ],
                Some(("userIdentity", identity)),
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn agrees_with_serde(v in record(), pretty in any::<bool>()) {
                let text = if pretty {
                    serde_json::to_string_pretty(&v).unwrap()
                } else {
                    serde_json::to_string(&v).unwrap()
                };
                let bytes = text.as_bytes();
                let theirs = serde_json::from_slice::<Record<'_>>(bytes).ok();
                let ours = Record::parse(bytes).ok();
                prop_assert_eq!(&ours, &theirs, "{}", text);
                // and as the prefix of a longer buffer
                let longer = format!("{text},{{\"next\":1}}");
                let prefix = Record::parse_prefix(longer.as_bytes()).ok();
                prop_assert_eq!(prefix.map(|(r, n)| (r, n == text.len())), theirs.map(|r| (r, true)));
            }
        }
    }
}
