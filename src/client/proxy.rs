//! Which proxy, if any, the client's requests go through.
//!
//! Left to itself, reqwest reads `HTTP_PROXY`, `ALL_PROXY`, `HTTPS_PROXY`
//! (and on some platforms the system settings) for every destination,
//! loopback included: a plain-`http://` request to `127.0.0.1`, its
//! `X-Auth-Token` with it, would travel in clear text to whatever those name,
//! and that proxy's answer would be taken for the server's. A client talks to
//! one endpoint and follows no redirects, so the decision is made here, once,
//! as a pure function of the endpoint, the builder's setting and the
//! environment; reqwest then gets either `no_proxy()` or exactly one proxy.

use std::ffi::OsString;
use std::net::IpAddr;

use crate::validation::{Endpoint, InvalidInput};

/// What the builder was told about proxies.
#[derive(Clone, Default)]
pub(crate) enum ProxySetting {
    /// `HTTPS_PROXY` / `https_proxy` and `NO_PROXY` / `no_proxy` (the default).
    #[default]
    Environment,
    /// [`super::ClientBuilder::proxy`]: this proxy, the environment ignored.
    Explicit(String),
    /// [`super::ClientBuilder::no_proxy`]: always direct.
    Off,
}

/// How requests travel.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Straight to the endpoint.
    Direct,
    /// Through this HTTPS-tunnelling proxy. The URL may carry the proxy's
    /// user info: never print it.
    Proxy(reqwest::Url),
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Direct => f.write_str("Direct"),
            // Scheme, host and port only: the user info may hold a password.
            Self::Proxy(url) => write!(
                f,
                "Proxy({}://{}:{})",
                url.scheme(),
                url.host_str().unwrap_or(""),
                url.port_or_known_default().unwrap_or(0)
            ),
        }
    }
}

/// Variables read, first set one wins (reqwest's and curl's names).
const HTTPS_PROXY_VARS: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// Decides the route to `endpoint`. `env` looks a variable up (the builder
/// passes `std::env::var_os`; tests pass a map).
///
/// - A loopback or plain-`http://` endpoint is always reached directly
///   (plain http is only allowed to loopback anyway).
/// - Otherwise an explicit proxy is used; with [`ProxySetting::Off`] none;
///   by default `HTTPS_PROXY` (else `https_proxy`) unless `NO_PROXY` (else
///   `no_proxy`) names the host. `HTTP_PROXY` and `ALL_PROXY` are never read.
///
/// An explicit proxy is checked even when it would not be used, so a bad
/// setting fails the same way whatever the endpoint.
pub(crate) fn route(
    endpoint: &Endpoint,
    setting: &ProxySetting,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<Route, InvalidInput> {
    let explicit = match setting {
        ProxySetting::Explicit(value) => Some(proxy_url("proxy", value)?),
        ProxySetting::Environment | ProxySetting::Off => None,
    };
    let host = reqwest::Url::parse(&endpoint.base_url)
        .ok()
        .filter(|url| url.scheme() == "https")
        .and_then(|url| url.host_str().map(str::to_owned));
    // No https host (cannot happen for a checked non-loopback endpoint):
    // direct is the choice that leaks nothing to a third party.
    let Some(host) = host.filter(|_| !endpoint.is_loopback) else {
        return Ok(Route::Direct);
    };
    match setting {
        ProxySetting::Off => Ok(Route::Direct),
        ProxySetting::Explicit(_) => Ok(explicit.map_or(Route::Direct, Route::Proxy)),
        ProxySetting::Environment => {
            let Some((name, value)) = first_set(&HTTPS_PROXY_VARS, &env)? else {
                return Ok(Route::Direct);
            };
            if let Some((_, list)) = first_set(&NO_PROXY_VARS, &env)?
                && no_proxy_matches(&list, &host)
            {
                return Ok(Route::Direct);
            }
            // curl and reqwest read a value without a scheme as http://.
            let value = if value.contains("://") {
                value
            } else {
                format!("http://{value}")
            };
            Ok(Route::Proxy(proxy_url(name, &value)?))
        }
    }
}

/// The first of `names` that is set and not empty, with its value. A set
/// variable that is not UTF-8 is an error naming it, never skipped: skipping
/// it would quietly pick another variable.
fn first_set(
    names: &[&'static str],
    env: &impl Fn(&str) -> Option<OsString>,
) -> Result<Option<(&'static str, String)>, InvalidInput> {
    for &name in names {
        if let Some(value) = env(name) {
            let value = value
                .into_string()
                .map_err(|_| InvalidInput::new(name, "is set but is not valid UTF-8"))?;
            // Set but empty: "no proxy", as curl and reqwest read it.
            return Ok((!value.is_empty()).then_some((name, value)));
        }
    }
    Ok(None)
}

/// Checks a proxy URL; errors name `field` and never echo the value (it may
/// carry a password).
fn proxy_url(field: &'static str, value: &str) -> Result<reqwest::Url, InvalidInput> {
    let bad = |rule: &'static str| InvalidInput::new(field, rule);
    let url =
        reqwest::Url::parse(value).map_err(|_| bad("must be an absolute URL such as http://proxy.example.com:3128"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(
            "must use http:// or https:// (other proxy schemes are not supported)",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.scheme() == "http" && (!url.username().is_empty() || url.password().is_some()) {
        return Err(bad(
            "carries user info over plain http://; the proxy password would travel in clear text, use an https:// proxy",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url)
}

/// Whether a `NO_PROXY` list names `host`, with reqwest's rules: entries
/// separated by commas; `*` matches every host; an IP address or network
/// (`10.0.0.0/8`) matches addresses in it; any other entry matches that
/// domain and its subdomains, with or without a leading `.`, ignoring case.
pub(crate) fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = host.parse::<IpAddr>().ok();
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Some(net) = parse_network(entry) {
            return ip.is_some_and(|ip| net.contains(ip));
        }
        if ip.is_some() {
            return false;
        }
        let domain = entry.strip_prefix('.').unwrap_or(entry);
        host.eq_ignore_ascii_case(domain)
            || host.len() > domain.len()
                && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
                && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
    })
}

/// An address with a prefix length (a bare address is a full-length prefix).
struct Network {
    address: IpAddr,
    prefix: u32,
}

fn parse_network(entry: &str) -> Option<Network> {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix.parse::<u32>().ok()?)),
        None => (entry, None),
    };
    let address = address
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()?;
    let bits = if address.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(bits);
    (prefix <= bits).then_some(Network { address, prefix })
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        let (net, ip, bits) = match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => (u128::from(u32::from(net)), u128::from(u32::from(ip)), 32),
            (IpAddr::V6(net), IpAddr::V6(ip)) => (u128::from(net), u128::from(ip), 128),
            _ => return false,
        };
        let shift = bits - self.prefix;
        // A /0 shifts everything out; `checked_shr` would refuse a 128-bit shift.
        net.checked_shr(shift).unwrap_or(0) == ip.checked_shr(shift).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::validation::endpoint;

    const PROXY: &str = "http://127.0.0.1:3128";
    const REMOTE: &str = "https://xxxx.st1.iotda-app.cn-north-4.myhuaweicloud.com";

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let map: HashMap<String, OsString> = vars.iter().map(|(k, v)| ((*k).to_owned(), OsString::from(v))).collect();
        move |name| map.get(name).cloned()
    }

    /// Every proxy variable set, as on a machine with a hostile or merely
    /// corporate environment.
    fn everything() -> Vec<(&'static str, &'static str)> {
        [
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "HTTPS_PROXY",
            "https_proxy",
        ]
        .into_iter()
        .map(|name| (name, PROXY))
        .collect()
    }

    fn via(url: &str) -> Route {
        Route::Proxy(reqwest::Url::parse(url).unwrap())
    }

    #[test]
    fn loopback_and_plain_http_are_always_direct() {
        for target in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "https://127.0.0.1:8443",
            "https://localhost",
        ] {
            let e = endpoint(target).unwrap();
            for setting in [
                ProxySetting::Environment,
                ProxySetting::Explicit(PROXY.to_owned()),
                ProxySetting::Off,
            ] {
                assert_eq!(
                    route(&e, &setting, env(&everything())).unwrap(),
                    Route::Direct,
                    "{target}"
                );
            }
        }
    }

    #[test]
    fn https_uses_only_https_proxy_from_the_environment() {
        let e = endpoint(REMOTE).unwrap();
        let all = everything();
        assert_eq!(route(&e, &ProxySetting::Environment, env(&all)).unwrap(), via(PROXY));
        let only_http: Vec<_> = all
            .iter()
            .copied()
            .filter(|(n, _)| !n.ends_with("ps_proxy") && !n.ends_with("PS_PROXY"))
            .collect();
        assert_eq!(only_http.len(), 4);
        assert_eq!(
            route(&e, &ProxySetting::Environment, env(&only_http)).unwrap(),
            Route::Direct
        );
        assert_eq!(
            route(
                &e,
                &ProxySetting::Environment,
                env(&[("https_proxy", "proxy.corp:8080")])
            )
            .unwrap(),
            via("http://proxy.corp:8080"),
            "lower case, no scheme"
        );
        assert_eq!(
            route(
                &e,
                &ProxySetting::Environment,
                env(&[("HTTPS_PROXY", ""), ("https_proxy", PROXY)])
            )
            .unwrap(),
            Route::Direct,
            "set but empty means none"
        );
        assert_eq!(route(&e, &ProxySetting::Off, env(&all)).unwrap(), Route::Direct);
        assert_eq!(
            route(&e, &ProxySetting::Explicit("https://p.example:8443".into()), env(&all)).unwrap(),
            via("https://p.example:8443")
        );
    }

    #[test]
    fn no_proxy_is_respected() {
        let e = endpoint(REMOTE).unwrap();
        for list in [
            "*",
            "myhuaweicloud.com",
            ".myhuaweicloud.com",
            "other.example, .MyHuaweiCloud.com",
            "xxxx.st1.iotda-app.cn-north-4.myhuaweicloud.com",
        ] {
            for name in NO_PROXY_VARS {
                let vars = [("HTTPS_PROXY", PROXY), (name, list)];
                assert_eq!(
                    route(&e, &ProxySetting::Environment, env(&vars)).unwrap(),
                    Route::Direct,
                    "{list}"
                );
            }
        }
        for list in ["", "huaweicloud.com", "cloud.com", "example.com,10.0.0.0/8"] {
            let vars = [("HTTPS_PROXY", PROXY), ("NO_PROXY", list)];
            assert_eq!(
                route(&e, &ProxySetting::Environment, env(&vars)).unwrap(),
                via(PROXY),
                "{list:?}"
            );
        }
        // An explicit proxy ignores the environment's exclusions.
        let vars = [("NO_PROXY", "*")];
        assert_eq!(
            route(&e, &ProxySetting::Explicit(PROXY.into()), env(&vars)).unwrap(),
            via(PROXY)
        );
    }

    #[test]
    fn no_proxy_addresses_and_networks() {
        assert!(no_proxy_matches("10.0.0.0/8", "10.1.2.3"));
        assert!(!no_proxy_matches("10.0.0.0/8", "11.1.2.3"));
        assert!(no_proxy_matches("192.168.1.7", "192.168.1.7"));
        assert!(no_proxy_matches("::/0", "[2001:db8::1]"));
        assert!(no_proxy_matches("2001:db8::/32", "[2001:db8::1]"));
        assert!(!no_proxy_matches("2001:db8::/33", "[2001:db8:8000::1]"));
        assert!(no_proxy_matches("0.0.0.0/0", "8.8.8.8"));
        assert!(!no_proxy_matches("10.0.0.0/8", "ten.example"));
        assert!(!no_proxy_matches("example.com", "10.0.0.1"));
        assert!(!no_proxy_matches("ample.com", "example.com"));
    }

    #[test]
    fn bad_proxies_are_refused_naming_the_field_not_the_value() {
        let e = endpoint("http://127.0.0.1:1").unwrap();
        for bad in [
            "socks5://127.0.0.1:1080",
            "ftp://proxy",
            "proxy.example.com:3128",
            "user:secret-pw@proxy",
            "http://user:secret-pw@proxy:3128",
            "http://proxy:3128/?q=secret-pw",
            "not a url",
        ] {
            let err = route(&e, &ProxySetting::Explicit(bad.into()), env(&[])).unwrap_err();
            assert_eq!(err.field(), "proxy", "{bad}");
            assert!(!err.to_string().contains("secret-pw"), "{err}");
        }
        assert!(
            route(
                &e,
                &ProxySetting::Explicit("https://user:pw@proxy:3128".into()),
                env(&[])
            )
            .is_ok()
        );

        let e = endpoint(REMOTE).unwrap();
        let err = route(
            &e,
            &ProxySetting::Environment,
            env(&[("https_proxy", "socks5://u:secret-pw@h:1")]),
        )
        .unwrap_err();
        assert_eq!(err.field(), "https_proxy");
        assert!(!err.to_string().contains("secret-pw"), "{err}");
        let err = route(
            &e,
            &ProxySetting::Environment,
            env(&[("HTTPS_PROXY", "http://u:secret-pw@h:1")]),
        )
        .unwrap_err();
        assert_eq!(err.field(), "HTTPS_PROXY");
    }

    /// A listener on 127.0.0.1 that counts connections and closes them.
    async fn counting() -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        (addr, count)
    }

    /// The builder routes by the environment it is given: the decision above,
    /// end to end through reqwest.
    #[tokio::test]
    async fn the_builder_follows_the_decision() {
        use std::sync::atomic::Ordering::SeqCst;

        let (proxy, proxied) = counting().await;
        let (server, served) = counting().await;
        let proxy_url = format!("http://{proxy}");
        let vars: Vec<(&str, &str)> = everything()
            .into_iter()
            .map(|(name, _)| (name, proxy_url.as_str()))
            .collect();
        let send = |endpoint: String| {
            let client = crate::Client::builder(endpoint)
                .project_id("0123456789abcdef0123456789abcdef")
                .credentials(crate::Credentials::token("example-token"))
                .no_retries()
                .deadline(std::time::Duration::from_secs(5))
                .build_with_env(env(&vars))
                .unwrap();
            async move { client.stop_batch_task("61a5f4cbd86b7a1d1c2f3e4a").all().send().await }
        };
        // Loopback (https, so a proxy would be eligible): straight to the server.
        assert!(send(format!("https://{server}")).await.is_err());
        assert_eq!((proxied.load(SeqCst), served.load(SeqCst) >= 1), (0, true));
        // Remote https: through HTTPS_PROXY (which then hangs up).
        assert!(send(REMOTE.to_owned()).await.is_err());
        assert!(proxied.load(SeqCst) >= 1);
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_variables_are_errors_not_skipped() {
        use std::os::unix::ffi::OsStringExt as _;

        let e = endpoint(REMOTE).unwrap();
        let bad = || Some(OsString::from_vec(vec![b'h', 0xff, b':', b'1']));
        let lookup = |name: &str| match name {
            "HTTPS_PROXY" => bad(),
            "https_proxy" => Some(OsString::from(PROXY)),
            _ => None,
        };
        assert_eq!(
            route(&e, &ProxySetting::Environment, lookup).unwrap_err().field(),
            "HTTPS_PROXY"
        );
        let lookup = |name: &str| match name {
            "HTTPS_PROXY" => Some(OsString::from(PROXY)),
            "NO_PROXY" => bad(),
            _ => None,
        };
        assert_eq!(
            route(&e, &ProxySetting::Environment, lookup).unwrap_err().field(),
            "NO_PROXY"
        );
        // Not consulted, so not an error: the endpoint is loopback.
        let e = endpoint("http://127.0.0.1:1").unwrap();
        assert_eq!(route(&e, &ProxySetting::Environment, lookup).unwrap(), Route::Direct);
    }
}
