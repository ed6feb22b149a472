//! The requests a call would send, without sending them (the CLI's
//! `--dry-run`): method, URL, headers by name with credentials masked, the
//! authentication the configured credentials give, and the bodies.
//!
//! Each planned request is the one a real call sends: its generated builder
//! makes it and hands it back unsent ([`super::send::Built`]), it gets the
//! headers [`Call::prepare`] adds before authenticating, and only the
//! authentication is named rather than computed (planning needs no signing,
//! and no secret is read).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::hooks;
use super::send::Built;
use super::wire::Call;
use super::{Auth, Authenticator, Client};
use crate::config::AuthKind;
use crate::error::Error;

/// What a masked header value shows.
const MASKED: &str = "***";

/// One request a call would send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedRequest {
    /// `GET`, `POST` or `DELETE`.
    pub method: String,
    /// The full URL, query included, as it would be sent.
    pub url: String,
    /// The headers it carries, by name; credentials are masked and the
    /// signature's values say when they are computed.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// The authentication requests use now: the client's own, or its
/// provider's current credentials.
pub(crate) enum CurrentAuth<'a> {
    Fixed(&'a Authenticator),
    Provided(Arc<Authenticator>),
}

impl std::ops::Deref for CurrentAuth<'_> {
    type Target = Authenticator;

    fn deref(&self) -> &Authenticator {
        match self {
            Self::Fixed(auth) => auth,
            Self::Provided(auth) => auth,
        }
    }
}

/// The headers `auth` adds to `request` when it is sent, named, with values
/// that are not secret and known before sending, the others masked or said
/// to be computed then. For a signature, `request`'s query becomes the one
/// signing sends.
fn auth_headers(auth: &Authenticator, request: &mut reqwest::Request) -> Vec<(String, String)> {
    let signer = match auth {
        Authenticator::Token(_) => return vec![(display_name("x-auth-token"), MASKED.to_owned())],
        Authenticator::Signed { signer, .. } => signer,
    };
    signer
        .preview(request)
        .into_iter()
        // HTTP sends `Host` with every request; signing only fixes its value.
        .filter(|&name| name != "host")
        .map(|name| {
            let value = match name {
                "x-project-id" => signer.project_id().unwrap_or(MASKED).to_owned(),
                "x-sdk-date" => "(the time of sending)".to_owned(),
                "authorization" => format!("{MASKED} (AK/SK signature, computed when sent)"),
                // The security token, or a value of signing's own.
                _ => MASKED.to_owned(),
            };
            (display_name(name), value)
        })
        .collect()
}

/// `content-type` as `Content-Type`; HTTP names are case-insensitive.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

impl Client {
    /// How this client's requests are authenticated. With a credentials
    /// provider, fetches its credentials if none are current (bounded by the
    /// client's deadline), as the first request would.
    pub async fn auth_kind(&self) -> Result<AuthKind, Error> {
        Ok(match &*self.current_auth().await? {
            Authenticator::Token(_) => AuthKind::Token,
            Authenticator::Signed { temporary: false, .. } => AuthKind::AkSk,
            Authenticator::Signed { temporary: true, .. } => AuthKind::Temporary,
        })
    }

    /// The authentication requests use now. With a credentials provider,
    /// fetches its credentials if none are current (bounded by the client's
    /// deadline), as the first request would; nothing is signed.
    pub(crate) async fn current_auth(&self) -> Result<CurrentAuth<'_>, Error> {
        Ok(match &self.shared.auth {
            Auth::Fixed(auth) => CurrentAuth::Fixed(auth),
            Auth::Provided(cache) => {
                CurrentAuth::Provided(tokio::time::timeout(self.shared.deadline, cache.get()).await.map_err(
                    |_| Error::Timeout {
                        limit: crate::TimeoutKind::Deadline,
                        elapsed: self.shared.deadline,
                        attempts: 0,
                        request_id: None,
                    },
                )??)
            }
        })
    }

    /// The request `built` holds as [`send`](super::send::run) would send it
    /// with `auth`: finished as [`Call::prepare`] finishes it, with the query
    /// signing would send, and the authentication's headers named (values
    /// masked or computed when sent). Sends nothing and signs nothing.
    pub(crate) fn planned<T>(&self, auth: &Authenticator, built: Built<T>) -> Result<PlannedRequest, Error> {
        let call = Call::new(&self.shared);
        let (mut request, _) = hooks::handed_back(built.sent, &call)?;
        call.finish(&mut request);
        let auth_headers = auth_headers(auth, &mut request);
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = if value.is_sensitive() {
                    MASKED.to_owned()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (display_name(name.as_str()), value)
            })
            .chain(auth_headers)
            .collect();
        let body = request.body().map(|body| {
            let bytes = body
                .as_bytes()
                .expect("a generated builder's body is JSON in memory, never a stream");
            serde_json::from_slice(bytes).expect("a generated builder's body is serialised by serde_json")
        });
        Ok(PlannedRequest {
            method: request.method().as_str().to_owned(),
            url: request.url().as_str().to_owned(),
            headers,
            body,
        })
    }
}
