//! [`ProjectDiscovery`]: the project ID of a region, from IAM, as the SDKs
//! find it when none is configured.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use super::env::Env;
use super::error::ConfigError;
use super::provider::ProvidedCredentials;
use crate::auth::credentials::Secret;
use crate::auth::{Algorithm, Credentials, Signer};
use crate::validation::{self, InvalidInput};

/// The variable naming the IAM endpoint.
const IAM_VAR: &str = "HUAWEICLOUD_SDK_IAM_ENDPOINT";
/// Largest IAM answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The IAM endpoint for `region`: `HUAWEICLOUD_SDK_IAM_ENDPOINT` in `env`,
/// else the credentials' `iam_endpoint` (the credentials file's key), else
/// `https://iam.{region}.myhuaweicloud.com`.
///
/// A value that is not an endpoint URL is an error naming where it came
/// from: the variable, or `iam_endpoint` (the credentials' field, the file's key).
pub fn iam_endpoint(env: &Env, provided: Option<&ProvidedCredentials>, region: &str) -> Result<String, InvalidInput> {
    if let Some(endpoint) = env.var(IAM_VAR)? {
        validation::endpoint(&endpoint).map_err(|e| InvalidInput::new(IAM_VAR, e.rule().to_owned()))?;
        return Ok(endpoint);
    }
    if let Some(provided) = provided
        && let Some(endpoint) = &provided.iam_endpoint
    {
        validation::endpoint(endpoint)
            .map_err(|e| InvalidInput::new("iam_endpoint", format!("(from the {}) {}", provided.source, e.rule())))?;
        return Ok(endpoint.clone());
    }
    validation::region(region)?;
    Ok(format!("https://iam.{region}.myhuaweicloud.com"))
}

/// Finds the project ID of a region with `GET {iam}/v3/projects?name={region}`,
/// signed with plain `SDK-HMAC-SHA256` (IAM does not take derived
/// signatures), and remembers it per access key and region.
///
/// Exactly one project must match: none, or several, is an error naming the
/// region. The request goes over `https://`, or plain `http://` to loopback
/// only (an emulator), never through a proxy's view in clear text.
#[derive(Debug)]
pub struct ProjectDiscovery {
    http: reqwest::Client,
    known: Mutex<HashMap<(String, String), String>>,
}

#[derive(Deserialize)]
struct Projects {
    projects: Vec<Project>,
}

#[derive(Deserialize)]
struct Project {
    id: String,
}

impl ProjectDiscovery {
    /// Discovery over `http` (the client's, so its proxy and CA settings apply).
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The project ID of `region` for `credentials`, asked of `iam_endpoint`
    /// once per access key and region.
    pub async fn project_id(
        &self,
        iam_endpoint: &str,
        region: &str,
        credentials: &Credentials,
    ) -> Result<String, ConfigError> {
        let fail = |message: String| ConfigError::Project {
            iam_endpoint: iam_endpoint.to_owned(),
            region: region.to_owned(),
            message,
        };
        validation::region(region)?;
        let key_id = match credentials.secret() {
            Secret::AkSk(pair) => pair.access_key().to_owned(),
            Secret::Token(_) => "token".to_owned(),
        };
        let key = (key_id, region.to_owned());
        if let Some(id) = self.lock().get(&key) {
            return Ok(id.clone());
        }
        let endpoint = validation::endpoint(iam_endpoint).map_err(|e| fail(e.to_string()))?;
        let url = format!("{}/v3/projects?name={region}", endpoint.base_url);
        let url = reqwest::Url::parse(&url).map_err(|_| fail("cannot form the request URL".to_owned()))?;
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        request
            .headers_mut()
            .insert(reqwest::header::USER_AGENT, HeaderValue::from_static(crate::USER_AGENT));
        match credentials.secret() {
            Secret::AkSk(pair) => {
                Signer::from_pair(pair, Algorithm::Plain)?
                    .sign(&mut request, jiff::Timestamp::now())
                    .map_err(|e| fail(e.to_string()))?;
            }
            Secret::Token(token) => {
                let mut value = HeaderValue::from_str(token.expose_secret())
                    .map_err(|_| InvalidInput::new("credentials.token", "is not a legal header value"))?;
                value.set_sensitive(true);
                request.headers_mut().insert("x-auth-token", value);
            }
        }
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(|e| fail(crate::error::chain(&e)))?;
        let status = response.status();
        let request_id = crate::client::wire::request_id(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(crate::error::chain(&e)))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(fail(format!("answer larger than {MAX_ANSWER_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let id_suffix = request_id.map(|id| format!(" (request id {id})")).unwrap_or_default();
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}: {}{id_suffix}", error_text(&body))));
        }
        let projects: Projects = serde_json::from_slice(&body)
            .map_err(|_| fail(format!("HTTP {status}: the answer is not a project list{id_suffix}")))?;
        let id = match projects.projects.as_slice() {
            [one] => one.id.clone(),
            [] => return Err(fail(format!("no project is named {region}{id_suffix}"))),
            many => {
                return Err(fail(format!(
                    "{} projects are named {region}; set the project ID{id_suffix}",
                    many.len()
                )));
            }
        };
        validation::project_id(&id).map_err(|e| fail(format!("IAM answered an unusable project ID: {}", e.rule())))?;
        self.lock().insert(key, id.clone());
        Ok(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), String>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// IAM's code and message (`{"error": {"code", "message"}}` or
/// `error_code`/`error_msg`), else a short piece of the body.
fn error_text(body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let pick = |v: &serde_json::Value, keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(k).and_then(|x| x.as_str()).map(str::to_owned))
    };
    let inner = json.get("error").unwrap_or(&json);
    match (
        pick(inner, &["code", "error_code"]),
        pick(inner, &["message", "error_msg"]),
    ) {
        (Some(code), Some(message)) => format!("{code} {message}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}
