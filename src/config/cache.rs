//! [`CredentialCache`]: a client's current credentials from a provider,
//! fetched again before they expire.
//!
//! Signers read the current value without waiting. Once fewer than
//! [`REFRESH_MARGIN`](super::REFRESH_MARGIN) remain, the first signer to
//! notice fetches new ones while the others keep signing with the old,
//! still-valid ones (single flight: a `try_lock` decides who fetches). Only
//! when there are none, or they have expired, do signers wait, all for the
//! same fetch.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::Timestamp;

use super::env::Env;
use super::error::ConfigError;
use super::provider::{ProvideCredentials, ProvidedCredentials};

/// What the client makes of fetched credentials (its signer).
type Build<T> = dyn Fn(&ProvidedCredentials) -> Result<T, ConfigError> + Send + Sync;

struct Entry<T> {
    value: Arc<T>,
    expires_at: Option<Timestamp>,
    /// When to fetch again: the margin before `expires_at`, at most half
    /// the lifetime the credentials had when fetched (else credentials that
    /// live shorter than the margin would be fetched again at every request).
    refresh_at: Option<Timestamp>,
}

/// The credentials of one client and what they were made into.
pub(crate) struct CredentialCache<T> {
    provider: Arc<dyn ProvideCredentials>,
    build: Box<Build<T>>,
    env: Env,
    margin: Duration,
    current: RwLock<Option<Arc<Entry<T>>>>,
    fetching: tokio::sync::Mutex<()>,
}

enum Freshness {
    Fresh,
    Due,
    Expired,
}

impl<T> CredentialCache<T> {
    pub(crate) fn new(
        provider: Arc<dyn ProvideCredentials>,
        env: Env,
        build: impl Fn(&ProvidedCredentials) -> Result<T, ConfigError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            provider,
            build: Box::new(build),
            env,
            margin: super::REFRESH_MARGIN,
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Starts with credentials already fetched (by the builder, to discover
    /// the project), so they are not fetched twice.
    pub(crate) fn seed(&self, provided: &ProvidedCredentials) -> Result<(), ConfigError> {
        self.store(provided).map(drop)
    }

    /// The value to sign with now.
    pub(crate) async fn get(&self) -> Result<Arc<T>, ConfigError> {
        if let Some(entry) = self.snapshot() {
            match self.freshness(&entry) {
                Freshness::Fresh => return Ok(entry.value.clone()),
                Freshness::Due => {
                    // One signer fetches; the others use what is still valid.
                    let Ok(_guard) = self.fetching.try_lock() else {
                        return Ok(entry.value.clone());
                    };
                    if let Some(newer) = self.snapshot().filter(|e| !Arc::ptr_eq(e, &entry)) {
                        return Ok(newer.value.clone());
                    }
                    return match self.fetch().await {
                        Ok(value) => Ok(value),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot refresh temporary credentials; using the current ones until they expire");
                            Ok(entry.value.clone())
                        }
                    };
                }
                Freshness::Expired => {}
            }
        }
        let _guard = self.fetching.lock().await;
        // Another signer may have fetched while this one waited.
        if let Some(entry) = self.snapshot()
            && !matches!(self.freshness(&entry), Freshness::Expired)
        {
            return Ok(entry.value.clone());
        }
        self.fetch().await
    }

    async fn fetch(&self) -> Result<Arc<T>, ConfigError> {
        let provided = self.provider.provide().await?;
        tracing::debug!(source = provided.source, expires_at = ?provided.expires_at, "credentials fetched");
        self.store(&provided)
    }

    fn store(&self, provided: &ProvidedCredentials) -> Result<Arc<T>, ConfigError> {
        let value = Arc::new((self.build)(provided)?);
        let refresh_at = provided.expires_at.map(|expires_at| {
            let lifetime = expires_at.duration_since(self.env.now());
            if lifetime.is_negative() || lifetime.is_zero() {
                // This host's clock may be wrong; the server decides. They are
                // asked for again at the next request.
                tracing::warn!(source = provided.source, %expires_at, "the credentials fetched have already expired by this host's clock; signing with them");
                return expires_at;
            }
            let margin = jiff::SignedDuration::try_from(self.margin)
                .unwrap_or(jiff::SignedDuration::MAX)
                .min(lifetime / 2);
            expires_at - margin
        });
        let entry = Arc::new(Entry {
            value: value.clone(),
            expires_at: provided.expires_at,
            refresh_at,
        });
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(entry);
        Ok(value)
    }

    fn snapshot(&self) -> Option<Arc<Entry<T>>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn freshness(&self, entry: &Entry<T>) -> Freshness {
        let (Some(expires_at), Some(refresh_at)) = (entry.expires_at, entry.refresh_at) else {
            return Freshness::Fresh;
        };
        let now = self.env.now();
        if now >= expires_at {
            Freshness::Expired
        } else if now >= refresh_at {
            Freshness::Due
        } else {
            Freshness::Fresh
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;
    use jiff::{SignedDuration, Timestamp};
    use tokio::sync::Notify;

    use super::CredentialCache;
    use crate::auth::Credentials;
    use crate::config::{ConfigError, Env, ProvideCredentials, ProvidedCredentials};

    /// Hands out `AK<n>` valid one hour from the test's clock; each fetch
    /// waits for `release` when `gate` is set.
    #[derive(Debug)]
    struct Counting {
        fetches: AtomicUsize,
        clock: Arc<AtomicI64>,
        gate: Option<Arc<Notify>>,
        /// How long each fetch's credentials live (seconds; 0 or less: expired on arrival).
        lifetime: i64,
    }

    impl ProvideCredentials for Counting {
        fn provide(&self) -> BoxFuture<'_, Result<ProvidedCredentials, ConfigError>> {
            Box::pin(async move {
                if let Some(gate) = &self.gate {
                    gate.notified().await;
                }
                let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
                let now = Timestamp::from_second(self.clock.load(Ordering::SeqCst)).expect("in range");
                Ok(
                    ProvidedCredentials::new(Credentials::temporary(format!("AK{n}"), "sk", "token"), "test")
                        .expiring(now + SignedDuration::from_secs(self.lifetime)),
                )
            })
        }
    }

    fn cache(provider: Arc<Counting>) -> CredentialCache<String> {
        let clock = provider.clock.clone();
        let env = Env::from_vars::<String, String>([])
            .with_clock(move || Timestamp::from_second(clock.load(Ordering::SeqCst)).expect("in range"));
        CredentialCache::new(provider, env, |p| {
            Ok(p.credentials
                .ak_sk_pair()
                .map(|k| k.access_key().to_owned())
                .unwrap_or_default())
        })
    }

    const START: i64 = 1_800_000_000;

    #[tokio::test]
    async fn fresh_credentials_are_reused_and_expired_ones_refetched_once() {
        let provider = Arc::new(Counting {
            fetches: AtomicUsize::new(0),
            clock: Arc::new(AtomicI64::new(START)),
            gate: None,
            lifetime: 3600,
        });
        let cache = Arc::new(cache(provider.clone()));
        // Ten concurrent first uses: one fetch.
        let all = futures_util::future::join_all((0..10).map(|_| cache.get())).await;
        assert!(all.iter().all(|v| v.as_deref().map(String::as_str) == Ok("AK1")));
        assert_eq!(provider.fetches.load(Ordering::SeqCst), 1);
        // 19 minutes later: 41 left, still fresh.
        provider.clock.store(START + 19 * 60, Ordering::SeqCst);
        assert_eq!(cache.get().await.as_deref().map(String::as_str), Ok("AK1"));
        assert_eq!(provider.fetches.load(Ordering::SeqCst), 1);
        // Two hours later: expired, every signer waits for the one fetch.
        provider.clock.store(START + 2 * 3600, Ordering::SeqCst);
        let all = futures_util::future::join_all((0..10).map(|_| cache.get())).await;
        assert!(
            all.iter().all(|v| v.as_deref().map(String::as_str) == Ok("AK2")),
            "{all:?}"
        );
        assert_eq!(provider.fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_due_refresh_does_not_block_other_signers() {
        let gate = Arc::new(Notify::new());
        let provider = Arc::new(Counting {
            fetches: AtomicUsize::new(0),
            clock: Arc::new(AtomicI64::new(START)),
            gate: Some(gate.clone()),
            lifetime: 3600,
        });
        let cache = Arc::new(cache(provider.clone()));
        let first = tokio::spawn({
            let cache = cache.clone();
            async move { cache.get().await }
        });
        gate.notify_one();
        assert_eq!(first.await.expect("joined").as_deref().map(String::as_str), Ok("AK1"));
        // 30 minutes left: due. The first signer starts the fetch and waits at the gate...
        provider.clock.store(START + 30 * 60, Ordering::SeqCst);
        let refresher = tokio::spawn({
            let cache = cache.clone();
            async move { cache.get().await }
        });
        while cache.fetching.try_lock().is_ok() {
            tokio::task::yield_now().await;
        }
        // ...while every other signer gets the still-valid credentials at once.
        for _ in 0..5 {
            assert_eq!(cache.get().await.as_deref().map(String::as_str), Ok("AK1"));
        }
        gate.notify_one();
        assert_eq!(
            refresher.await.expect("joined").as_deref().map(String::as_str),
            Ok("AK2")
        );
        assert_eq!(cache.get().await.as_deref().map(String::as_str), Ok("AK2"));
        assert_eq!(provider.fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn credentials_shorter_lived_than_the_margin_are_not_fetched_at_every_request() {
        // 20 minutes of life, half the 40-minute margin.
        let provider = Arc::new(Counting {
            fetches: AtomicUsize::new(0),
            clock: Arc::new(AtomicI64::new(START)),
            gate: None,
            lifetime: 20 * 60,
        });
        let cache = cache(provider.clone());
        // 60 requests, one every 15 s: 15 minutes.
        for i in 0..60 {
            provider.clock.store(START + i * 15, Ordering::SeqCst);
            cache.get().await.expect("credentials");
        }
        // The first fetch, and one refresh once half the lifetime has passed.
        assert_eq!(provider.fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn credentials_expired_on_arrival_are_used_with_a_warning() {
        #[derive(Clone, Default)]
        struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer({
                let captured = captured.clone();
                move || captured.clone()
            })
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let provider = Arc::new(Counting {
            fetches: AtomicUsize::new(0),
            clock: Arc::new(AtomicI64::new(START)),
            gate: None,
            lifetime: -60,
        });
        let cache = cache(provider.clone());
        assert_eq!(cache.get().await.as_deref().map(String::as_str), Ok("AK1"));
        let logged = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(
            logged.contains("WARN") && logged.contains("already expired"),
            "{logged}"
        );
        // Asked for again at the next request.
        assert_eq!(cache.get().await.as_deref().map(String::as_str), Ok("AK2"));
    }
}
