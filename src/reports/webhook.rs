//! Posting to Slack-compatible webhooks over HTTP(S), with hyper (already
//! in the build through the AWS SDK's HTTP client).
//!
//! Kinds:
//! - `slack`: an incoming webhook (`https://hooks.slack.com/services/...`):
//!   POST `{"text", "blocks"}`; the answer is `ok`; a message cannot be
//!   edited later, so a resolution is a new message quoting the original.
//! - `slack-api`: Slack's Web API with a bot token (URL
//!   `https://slack.com/api`, `--channel`): `chat.postMessage` answers the
//!   message's `ts`; a resolution edits it (`chat.update`) and replies in
//!   its thread.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

/// Why a post failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Bad URL.
    #[error("`{0}` is not an http(s) URL")]
    Url(String),
    /// Network.
    #[error("posting to {url}: {message}")]
    Transport {
        /// URL (without its path, which holds the webhook's secret).
        url: String,
        /// What happened.
        message: String,
        /// Whether the request may have reached the receiver (the failure
        /// came after the connection was made).
        maybe_delivered: bool,
    },
    /// The receiver refused.
    #[error("{url} answered {status}: {body}")]
    Refused {
        /// URL (host only).
        url: String,
        /// Status.
        status: u16,
        /// Body (first 200 characters).
        body: String,
    },
}

impl WebhookError {
    /// Whether the receiver may have got the message despite the error: a
    /// refusal or a failed connection say it did not; a timeout or a
    /// connection lost mid-answer cannot tell.
    pub fn maybe_delivered(&self) -> bool {
        matches!(
            self,
            WebhookError::Transport {
                maybe_delivered: true,
                ..
            }
        )
    }
}

/// The kind of webhook.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookKind {
    /// Slack incoming webhook (post only; resolutions are new messages).
    Slack,
    /// Slack Web API with a bot token (resolutions edit the original and reply in its thread).
    SlackApi,
}

/// A webhook to post to.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// URL (incoming webhook, or the Web API base).
    pub url: String,
    /// Kind.
    pub kind: WebhookKind,
    /// Bot token (slack-api).
    pub token: Option<String>,
    /// Channel (slack-api).
    pub channel: Option<String>,
}

/// What a posted message can be found by later.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Posted {
    /// Slack message timestamp (slack-api), the key to edit or reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// Channel id Slack answered (slack-api).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// The host part of a URL, for messages (the path of an incoming webhook is a secret).
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or(rest);
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("http");
    format!("{scheme}://{host}")
}

/// POSTs JSON; the answer's body.
pub async fn post_json(
    url: &str,
    body: &serde_json::Value,
    token: Option<&str>,
) -> Result<String, WebhookError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(WebhookError::Url(url.to_string()));
    }
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| WebhookError::Url(url.to_string()))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| WebhookError::Transport {
            url: host_of(url),
            message: format!("no TLS root certificates: {e}"),
            maybe_delivered: false,
        })?
        .https_or_http()
        .enable_http1()
        .build();
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    let mut request = http::Request::post(uri)
        .header("content-type", "application/json; charset=utf-8")
        .header("user-agent", concat!("lzctl/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| WebhookError::Url(format!("{url}: {e}")))?;
    let transport = |message: String, maybe_delivered: bool| WebhookError::Transport {
        url: host_of(url),
        message,
        maybe_delivered,
    };
    // Only a failure to connect proves the receiver never got the message.
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| transport("no answer within 30 s".into(), true))?
        .map_err(|e| transport(e.to_string(), !e.is_connect()))?;
    let status = response.status().as_u16();
    let bytes = tokio::time::timeout(Duration::from_secs(30), response.into_body().collect())
        .await
        .map_err(|_| transport("the answer did not finish within 30 s".into(), true))?
        .map_err(|e| transport(e.to_string(), true))?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if !(200..300).contains(&status) {
        return Err(WebhookError::Refused {
            url: host_of(url),
            status,
            body: text.chars().take(200).collect(),
        });
    }
    Ok(text)
}

impl Webhook {
    /// Posts a new message.
    pub async fn post(
        &self,
        text: &str,
        blocks: Option<serde_json::Value>,
    ) -> Result<Posted, WebhookError> {
        match self.kind {
            WebhookKind::Slack => {
                let mut body = serde_json::json!({ "text": text });
                if let Some(b) = blocks {
                    body["blocks"] = b;
                }
                post_json(&self.url, &body, None).await?;
                Ok(Posted::default())
            }
            WebhookKind::SlackApi => {
                let mut body = serde_json::json!({ "channel": self.channel, "text": text });
                if let Some(b) = blocks {
                    body["blocks"] = b;
                }
                let answer = self.api("chat.postMessage", &body).await?;
                Ok(Posted {
                    ts: answer["ts"].as_str().map(str::to_string),
                    channel: answer["channel"].as_str().map(str::to_string),
                })
            }
        }
    }

    /// A resolution of an earlier message: an edit of the original and a
    /// reply in its thread where the kind allows it, else a new message.
    pub async fn resolve(
        &self,
        original: &Posted,
        text: &str,
        edited: &str,
    ) -> Result<Posted, WebhookError> {
        match (self.kind, &original.ts) {
            (WebhookKind::SlackApi, Some(ts)) => {
                let channel = original.channel.clone().or_else(|| self.channel.clone());
                self.api(
                    "chat.update",
                    &serde_json::json!({ "channel": channel, "ts": ts, "text": edited }),
                )
                .await?;
                let answer = self
                    .api(
                        "chat.postMessage",
                        &serde_json::json!({ "channel": channel, "thread_ts": ts, "text": text }),
                    )
                    .await?;
                Ok(Posted {
                    ts: answer["ts"].as_str().map(str::to_string),
                    channel,
                })
            }
            _ => self.post(text, None).await,
        }
    }

    async fn api(
        &self,
        method: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, WebhookError> {
        let url = format!("{}/{method}", self.url.trim_end_matches('/'));
        let text = post_json(&url, body, self.token.as_deref()).await?;
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if answer["ok"].as_bool() != Some(true) {
            return Err(WebhookError::Refused {
                url: host_of(&url),
                status: 200,
                body: format!("{method}: {}", answer["error"].as_str().unwrap_or(&text)),
            });
        }
        Ok(answer)
    }
}
