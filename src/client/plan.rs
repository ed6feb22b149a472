//! The requests a call would send, without sending them (the CLI's
//! `--dry-run`): method, URL, headers by name with credentials masked, the
//! authentication the configured credentials give, and the bodies. One
//! source for the plan and the real run, so they cannot drift apart.

use serde::Serialize;
use serde_json::Value;

use super::{Auth, Authenticator, Client};
use crate::config::AuthKind;
use crate::error::Error;

/// What a masked header value shows.
const MASKED: &str = "***";

/// One request a call would send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedRequest {
    /// `GET`, `POST` or `DELETE`.
    pub method: &'static str,
    /// The full URL, query included.
    pub url: String,
    /// The headers it carries, by name; credentials are masked and the
    /// signature's values say when they are computed.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// The headers `kind` adds, values masked.
fn auth_headers(kind: AuthKind) -> Vec<(&'static str, String)> {
    kind.headers()
        .iter()
        .map(|&name| {
            let value = match name {
                "X-Sdk-Date" => "(the time of sending)".to_owned(),
                "Authorization" => format!("{MASKED} (AK/SK signature, computed when sent)"),
                _ => MASKED.to_owned(),
            };
            (name, value)
        })
        .collect()
}

impl Client {
    /// How this client's requests are authenticated. With a credentials
    /// provider, fetches its credentials if none are current (bounded by the
    /// client's deadline), as the first request would.
    pub async fn auth_kind(&self) -> Result<AuthKind, Error> {
        let current;
        let auth = match &self.shared.auth {
            Auth::Fixed(auth) => auth,
            Auth::Provided(cache) => {
                current = tokio::time::timeout(self.shared.deadline, cache.get())
                    .await
                    .map_err(|_| Error::Timeout {
                        limit: crate::TimeoutKind::Deadline,
                        elapsed: self.shared.deadline,
                        attempts: 0,
                        request_id: None,
                    })??;
                &*current
            }
        };
        Ok(match auth {
            Authenticator::Token(_) => AuthKind::Token,
            Authenticator::Signed { temporary: false, .. } => AuthKind::AkSk,
            Authenticator::Signed { temporary: true, .. } => AuthKind::Temporary,
        })
    }

    /// A request to `path` (after `/v5/iot/{project_id}`) with `query`, and
    /// the headers every request of this client carries.
    pub(crate) fn planned(
        &self,
        auth: AuthKind,
        method: &'static str,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> PlannedRequest {
        let mut headers = vec![
            ("Content-Type", "application/json".to_owned()),
            ("User-Agent", crate::USER_AGENT.to_owned()),
        ];
        if let Some(id) = &self.shared.instance_id {
            headers.push(("Instance-Id", id.to_string()));
        }
        headers.extend(auth_headers(auth));
        PlannedRequest {
            method,
            url: {
                let mut url = format!("{}/v5/iot/{}{path}", self.endpoint(), self.project_id());
                if !query.is_empty() {
                    // Encoded as the generated client encodes a query.
                    let pairs = reqwest::Url::parse_with_params("http://query.invalid/", query)
                        .expect("a fixed base URL with any query pairs parses");
                    url.push('?');
                    url.push_str(pairs.query().unwrap_or_default());
                }
                url
            },
            headers,
            body,
        }
    }
}
