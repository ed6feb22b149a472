//! The API gateway's authentication, as the emulator enforces it.
//!
//! Signatures are checked by the signing crate's [`Signer::verify`], the
//! crate the client signs with, so the emulator and the client share one
//! canonicalisation and one reading of the signed headers; this module adds
//! only the gateway's policy (which keys exist, clock skew, which headers
//! must be signed).

use std::collections::HashMap;
use std::sync::Mutex;

use http::header::AUTHORIZATION;
use http::request::Parts;
use http::{HeaderMap, HeaderName};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;

use crate::config::EmulatorConfig;
use iotda_batchtask::validation::{self, InvalidInput};
use iotda_batchtask_signing::{
    Algorithm, Authorization, IOTDA_SIGNING_SERVICE, SignableRequest, Signer, VerifyError, parse_sdk_date,
};

/// Detail of an unknown access key (the gateway masks the AK).
pub(crate) const AK_NOT_EXIST: &str = "Get secretKey failed,ak:******,err:ak not exist";
/// Detail of a signature that does not verify.
pub(crate) const SIGNATURE_FAIL: &str = "verify aksk signature fail";
/// Detail when neither `Authorization` nor `X-Auth-Token` was sent.
pub(crate) const TOKEN_NOT_FOUND: &str = "x-auth-token not found";
/// Detail of a token that is not one of the configured ones.
pub(crate) const TOKEN_FAIL: &str = "decrypt token fail";
/// Detail of temporary credentials past their expiry (the emulator's text).
pub(crate) const TEMPORARY_EXPIRED: &str = "the temporary credentials have expired (emulator)";
/// Detail of temporary credentials sent without their own security token.
pub(crate) const SECURITY_TOKEN_FAIL: &str = "verify security token fail";
/// Detail of an `Authorization` header that is not an AK/SK signature.
/// Huawei publishes no text for this case; this one is the emulator's.
pub(crate) const MALFORMED_AUTHORIZATION: &str = "Authorization header is not a valid AK/SK signature";

/// The two signers of one access key pair, built once so derived keys are
/// cached across requests.
struct KeySigners {
    plain: Signer,
    derived: Signer,
}

impl KeySigners {
    fn new(ak: &str, sk: &SecretString, derived: &Algorithm) -> Self {
        Self {
            plain: Signer::new(ak, sk.clone(), Algorithm::Plain),
            derived: Signer::new(ak, sk.clone(), derived.clone()),
        }
    }
}

/// Temporary credentials the metadata service issued.
struct TemporaryKey {
    signers: KeySigners,
    security_token: SecretString,
    expires_at: Timestamp,
}

/// Checks credentials of requests against the configuration.
pub(crate) struct Authenticator {
    enabled: bool,
    keys: HashMap<String, KeySigners>,
    temporary: Mutex<HashMap<String, TemporaryKey>>,
    derived: Algorithm,
    tokens: Vec<SecretString>,
    region: String,
    max_skew: SignedDuration,
    skew_text: String,
}

impl Authenticator {
    pub(crate) fn new(config: &EmulatorConfig) -> Result<Self, InvalidInput> {
        validation::region(&config.region)?;
        let derived = Algorithm::Derived {
            region: config.region.clone(),
            service: IOTDA_SIGNING_SERVICE.to_owned(),
        };
        let mut keys = HashMap::new();
        for (ak, sk) in &config.access_keys {
            // As the client checks its own: an AK that can be sent, an SK of visible ASCII.
            validation::access_key(ak)?;
            validation::secret("credentials.sk", sk.expose_secret())?;
            if keys.insert(ak.clone(), KeySigners::new(ak, sk, &derived)).is_some() {
                return Err(InvalidInput::new(
                    "emulator.access_keys",
                    format!("lists access key {ak} twice"),
                ));
            }
        }
        for token in &config.tokens {
            validation::secret("emulator.tokens", token.expose_secret())?;
        }
        let max_skew = SignedDuration::try_from(config.max_clock_skew).unwrap_or(SignedDuration::MAX);
        let secs = config.max_clock_skew.as_secs();
        let skew_text = if secs.is_multiple_of(60) {
            format!("{} minutes", secs / 60)
        } else {
            format!("{secs} seconds")
        };
        Ok(Self {
            enabled: config.auth_enabled,
            keys,
            temporary: Mutex::new(HashMap::new()),
            derived,
            tokens: config.tokens.clone(),
            region: config.region.clone(),
            max_skew,
            skew_text,
        })
    }

    /// Accepts temporary credentials the metadata service issued.
    pub(crate) fn learn(&self, issued: Vec<crate::identity::Issued>) {
        if issued.is_empty() {
            return;
        }
        let mut temporary = self.temporary.lock().unwrap_or_else(|p| p.into_inner());
        for key in issued {
            let signers = KeySigners::new(&key.access_key, &key.secret_key, &self.derived);
            temporary.insert(
                key.access_key,
                TemporaryKey {
                    signers,
                    security_token: key.security_token,
                    expires_at: key.expires_at,
                },
            );
        }
    }

    /// `Ok` when the request may proceed, else the `APIGW.0301` detail.
    /// `credential_now` is the credential clock temporary keys expire by.
    pub(crate) fn check(
        &self,
        parts: &Parts,
        body: &[u8],
        now: Timestamp,
        credential_now: Timestamp,
    ) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        let headers = &parts.headers;
        if headers.contains_key(AUTHORIZATION) {
            let auth = single(headers, &AUTHORIZATION)
                .and_then(Authorization::parse)
                .ok_or_else(|| MALFORMED_AUTHORIZATION.to_owned())?;
            if let Some(key) = self
                .temporary
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&auth.access_key)
            {
                if credential_now >= key.expires_at {
                    return Err(TEMPORARY_EXPIRED.to_owned());
                }
                let sent = single(headers, &HeaderName::from_static(X_SECURITY_TOKEN)).unwrap_or_default();
                if !bool::from(key.security_token.expose_secret().as_bytes().ct_eq(sent.as_bytes())) {
                    return Err(SECURITY_TOKEN_FAIL.to_owned());
                }
                return self.check_signature(&auth, &key.signers, parts, body, now);
            }
            let Some(signers) = self.keys.get(&auth.access_key) else {
                return Err(AK_NOT_EXIST.to_owned());
            };
            return self.check_signature(&auth, signers, parts, body, now);
        }
        if !headers.contains_key(X_AUTH_TOKEN) {
            return Err(TOKEN_NOT_FOUND.to_owned());
        }
        // A repeated or non-ASCII token header is as unusable as a wrong token.
        let token = single(headers, &HeaderName::from_static(X_AUTH_TOKEN)).unwrap_or_default();
        let known = !token.is_empty()
            && self
                .tokens
                .iter()
                .any(|t| bool::from(t.expose_secret().as_bytes().ct_eq(token.as_bytes())));
        if known { Ok(()) } else { Err(TOKEN_FAIL.to_owned()) }
    }

    fn check_signature(
        &self,
        auth: &Authorization,
        signers: &KeySigners,
        parts: &Parts,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), String> {
        let fail = |why: &str| {
            if why.is_empty() {
                SIGNATURE_FAIL.to_owned()
            } else {
                format!("{SIGNATURE_FAIL}, {why}")
            }
        };
        let headers = &parts.headers;
        let Some(date) = single(headers, &HeaderName::from_static(X_SDK_DATE)).and_then(parse_sdk_date) else {
            return Err(fail("X-Sdk-Date is missing or malformed"));
        };
        let skew = now.duration_since(date).abs();
        if skew > self.max_skew {
            return Err(fail(&format!(
                "X-Sdk-Date is more than {} from the server time",
                self.skew_text
            )));
        }
        let signed = |name: &str| auth.signed_headers.iter().any(|n| n == name);
        if !signed("host") {
            return Err(fail("host is not a signed header"));
        }
        if headers.contains_key(X_SECURITY_TOKEN) && !signed(X_SECURITY_TOKEN) {
            return Err(fail("X-Security-Token is not signed"));
        }
        let signer = match auth.algorithm {
            Algorithm::Plain => &signers.plain,
            Algorithm::Derived { .. } => &signers.derived,
        };
        let authority = parts.uri.authority().map(|authority| authority.as_str());
        let mut request = SignableRequest::new(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
            body,
        )
        .headers(headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes())));
        if let Some(authority) = authority {
            request = request.authority(authority);
        }
        signer.verify(&request, auth).map_err(|error| match error {
            VerifyError::Signature => fail(""),
            VerifyError::Scope => fail(&format!(
                "the credential scope must be <X-Sdk-Date day>/{}/{IOTDA_SIGNING_SERVICE}",
                self.region
            )),
            other => fail(&other.to_string()),
        })
    }
}

const X_AUTH_TOKEN: &str = "x-auth-token";
const X_SDK_DATE: &str = "x-sdk-date";
const X_SECURITY_TOKEN: &str = "x-security-token";

/// The value of a header that must appear exactly once, as text.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let mut all = headers.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None;
    }
    first.to_str().ok()
}
