//! The HMAC keys of each algorithm: the secret key itself (plain) or a key
//! derived per day, region and service (`V11`), cached for the day.

use std::sync::Mutex;

use hmac::KeyInit;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::algorithm::Algorithm;

pub(crate) type HmacSha256 = hmac::Hmac<Sha256>;

/// What a signer keys its HMAC with. No `Debug`: it holds the secret key.
pub(crate) enum Keys {
    /// The HMAC keyed with the SK, prepared once.
    Plain(HmacSha256),
    /// The SK, the scope (`region/service`), and the HMAC keyed for one day
    /// (`YYYYMMDD`), rebuilt when the day changes.
    Derived {
        sk: SecretString,
        scope: String,
        today: Mutex<Option<(String, HmacSha256)>>,
    },
}

impl Keys {
    pub(crate) fn new(sk: SecretString, algorithm: &Algorithm) -> Self {
        match algorithm {
            Algorithm::Plain => Self::Plain(
                <HmacSha256 as KeyInit>::new_from_slice(sk.expose_secret().as_bytes())
                    .expect("HMAC takes a key of any length"),
            ),
            Algorithm::Derived { region, service } => Self::Derived {
                sk,
                scope: format!("{region}/{service}"),
                today: Mutex::new(None),
            },
        }
    }

    /// The HMAC keyed for signing by access key `ak` on `day` (`YYYYMMDD`).
    pub(crate) fn mac(&self, ak: &str, day: &str) -> HmacSha256 {
        match self {
            Self::Plain(mac) => mac.clone(),
            Self::Derived { sk, scope, today } => {
                // A panic elsewhere while holding the lock leaves at worst a
                // stale day in the cache, which the day check below replaces.
                let mut cache = today.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                match cache.as_ref() {
                    Some((cached_day, mac)) if cached_day == day => mac.clone(),
                    _ => {
                        let mac = derived_mac(ak, sk, &format!("{day}/{scope}"));
                        *cache = Some((day.to_owned(), mac.clone()));
                        mac
                    }
                }
            }
        }
    }
}

/// HKDF-SHA256(salt = AK, ikm = SK, info = `YYYYMMDD/region/service`), 32
/// bytes; the HMAC key is the *hex text* of that key, as the SDK does.
fn derived_mac(ak: &str, sk: &SecretString, info: &str) -> HmacSha256 {
    let hkdf = hkdf::Hkdf::<Sha256>::new(Some(ak.as_bytes()), sk.expose_secret().as_bytes());
    let mut okm = [0u8; 32];
    hkdf.expand(info.as_bytes(), &mut okm)
        .expect("HKDF-SHA256 can expand up to 8160 bytes; this is 32");
    // 64 hex digits: exactly SHA-256's block size, HMAC's fixed key size.
    let mut key_hex = [0u8; 64];
    hex::encode_to_slice(okm, &mut key_hex).expect("32 bytes are 64 hex digits");
    let mac = <HmacSha256 as KeyInit>::new(&key_hex.into());
    // Best effort: the derived key does not outlive the HMAC state.
    okm.fill(0);
    key_hex.fill(0);
    mac
}
