//! TLS set-up shared by every HTTP client the crate builds: the crypto
//! provider for the `rustls-ring` feature, and no root store for clients
//! that only ever speak plain HTTP.
//!
//! With `rustls-ring`, reqwest is built without a provider of its own
//! (`rustls-no-provider`) and would panic on the first client it builds
//! unless one is installed; the feature exists so that a build needs no
//! aws-lc-sys (a large C build that is the slowest part of a clean build and
//! the hardest to cross-compile), so it installs `ring`'s. Tested from
//! `tests/downstream/ring-user`: this package's own tests always have aws-lc
//! (the emulator, a dev-dependency, enables the default features).

/// Installs `ring` as the process's rustls provider unless one is installed
/// already (by the application, which then keeps its choice). Without
/// `rustls-ring`, or when the `rustls` feature brings aws-lc-rs anyway,
/// reqwest has a provider and this does nothing.
pub(crate) fn ensure_crypto_provider() {
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    if tls_ring::crypto::CryptoProvider::get_default().is_none() {
        // An error means another thread installed one meanwhile: also fine.
        let _ = tls_ring::crypto::ring::default_provider().install_default();
    }
}

/// For a client whose every URL is plain `http://` (with no proxy and no
/// redirects, so it never meets TLS): no root store. Loading the system's
/// costs a few milliseconds of file reads, more than a whole call to a
/// local emulator.
pub(crate) fn plain_http_only(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    #[cfg(any(feature = "rustls", feature = "rustls-ring", feature = "native-tls"))]
    let builder = builder.tls_certs_only(std::iter::empty());
    builder
}
