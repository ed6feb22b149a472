//! Configuration as the official SDKs find it: each credential provider, the
//! chain's order, metadata refresh in the middle of a bulk stop, project
//! discovery, region endpoints and overrides, instance-host regions,
//! failover. Every environment is an explicit `Env`; nothing reads the
//! user's variables or home directory.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iotda_batchtask::config::{
    ConfigError, CredentialChain, CredentialsFileProvider, Env, EnvironmentProvider, MetadataProvider,
    ProjectDiscovery, ProvideCredentials,
};
use iotda_batchtask::{Client, Credentials, Error};
use iotda_batchtask_emulator::{AuthMode, DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig, demo_device_id};

const AK: &str = "AK0001";
const SK: &str = "test-secret";

fn access_key(provided: &iotda_batchtask::config::ProvidedCredentials) -> &str {
    provided.credentials.ak_sk_pair().map(|p| p.access_key()).unwrap_or("")
}

/// A loopback address nothing listens on: connections are refused.
fn refused() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// An HTTP client that ignores the process's proxy variables.
fn direct() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test]
async fn the_environment_provider_reads_the_sdk_variables() {
    let env = Env::from_vars([
        ("HUAWEICLOUD_SDK_AK", "AK-NEW"),
        ("HUAWEICLOUD_SDK_SK", "sk"),
        ("CLOUD_SDK_AK", "AK-OLD"),
        ("CLOUD_SDK_SK", "sk"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID),
    ]);
    let provided = EnvironmentProvider::new(env).provide().await.expect("configured");
    assert_eq!((access_key(&provided), provided.source), ("AK-NEW", "environment"));
    assert_eq!(provided.credentials.project_id(), Some(DEMO_PROJECT_ID));

    let fallback = Env::from_vars([("CLOUD_SDK_AK", "AK-OLD"), ("CLOUD_SDK_SK", "sk")]);
    let provided = EnvironmentProvider::new(fallback).provide().await.expect("configured");
    assert_eq!(access_key(&provided), "AK-OLD");

    let nothing = EnvironmentProvider::new(Env::from_vars::<&str, &str>([]))
        .provide()
        .await;
    assert!(
        matches!(
            nothing,
            Err(ConfigError::NotConfigured {
                provider: "environment",
                ..
            })
        ),
        "{nothing:?}"
    );

    let half = Env::from_vars([("HUAWEICLOUD_SDK_AK", "AK")]);
    let e = EnvironmentProvider::new(half).provide().await.expect_err("half a pair");
    assert!(e.to_string().contains("HUAWEICLOUD_SDK_SK"), "{e}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_non_utf8_variable_is_an_error_not_unset() {
    use std::os::unix::ffi::OsStringExt as _;
    let bad = std::ffi::OsString::from_vec(vec![b'A', 0xff]);
    let env = Env::from_vars([
        ("HUAWEICLOUD_SDK_AK", bad),
        ("HUAWEICLOUD_SDK_SK", "sk".into()),
        ("CLOUD_SDK_AK", "AK-OLD".into()),
        ("CLOUD_SDK_SK", "sk".into()),
    ]);
    let e = CredentialChain::new(&env)
        .expect("chain")
        .provide()
        .await
        .expect_err("not UTF-8");
    assert!(
        e.to_string().contains("HUAWEICLOUD_SDK_AK") && e.to_string().contains("UTF-8"),
        "{e}"
    );
}

#[tokio::test]
async fn the_credentials_file_provider_reads_a_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_file(
        &dir,
        "credentials",
        "# comment\n[basic]\nak = AK-BASIC\nsk = s#k;with=signs\nproject_id = 0123456789abcdef0123456789abcdef\n\
         iam_endpoint = http://127.0.0.1:1\nregion = ignored\n\n[other]\nAK=AK-OTHER\nSK=sk\nsecurity_token=tok\n",
    );
    let provided = CredentialsFileProvider::from_path(&path).load().expect("basic");
    assert_eq!(
        (access_key(&provided), provided.source),
        ("AK-BASIC", "credentials file")
    );
    assert_eq!(provided.credentials.project_id(), Some(DEMO_PROJECT_ID));
    assert_eq!(provided.iam_endpoint.as_deref(), Some("http://127.0.0.1:1"));

    let other = CredentialsFileProvider::from_path(&path)
        .profile("other")
        .load()
        .expect("other");
    assert_eq!(access_key(&other), "AK-OTHER");
    assert!(other.credentials.ak_sk_pair().is_some_and(|p| p.is_temporary()));

    // Found through the variable, else under the home directory.
    let env = Env::from_vars([("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.as_os_str())]);
    assert_eq!(
        CredentialsFileProvider::new(&env).expect("env").path(),
        Some(path.as_path())
    );
    std::fs::create_dir(dir.path().join(".huaweicloud")).expect("mkdir");
    std::fs::copy(&path, dir.path().join(".huaweicloud/credentials")).expect("copy");
    let home = Env::from_vars([("HOME", dir.path().as_os_str())]);
    let provided = CredentialsFileProvider::new(&home)
        .expect("home")
        .load()
        .expect("found");
    assert_eq!(access_key(&provided), "AK-BASIC");

    // A missing file or section is "not configured".
    let missing = CredentialsFileProvider::from_path(dir.path().join("nope")).load();
    assert!(matches!(missing, Err(ConfigError::NotConfigured { .. })), "{missing:?}");
    let no_section = CredentialsFileProvider::from_path(&path).profile("absent").load();
    assert!(
        matches!(no_section, Err(ConfigError::NotConfigured { .. })),
        "{no_section:?}"
    );
}

#[test]
fn a_malformed_credentials_file_names_file_and_line_never_a_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_file(&dir, "credentials", "[basic]\nak = AK\nsk = TOPSECRET\n[broken\n");
    let e = CredentialsFileProvider::from_path(&path).load().expect_err("malformed");
    let message = e.to_string();
    assert!(matches!(e, ConfigError::File { line: 4, .. }), "{e:?}");
    assert!(
        message.contains(&path.display().to_string()) && message.contains(":4"),
        "{message}"
    );
    assert!(!message.contains("TOPSECRET"), "{message}");

    let half = write_file(&dir, "half", "[basic]\nak = AK\n");
    let e = CredentialsFileProvider::from_path(&half)
        .load()
        .expect_err("ak without sk");
    assert!(e.to_string().contains("not sk"), "{e}");

    let twice = write_file(&dir, "twice", "[basic]\nak = A\nsk = TOPSECRET\nsk = other\n");
    let e = CredentialsFileProvider::from_path(&twice).load().expect_err("sk twice");
    assert!(
        e.to_string().contains("sk more than once") && !e.to_string().contains("TOPSECRET"),
        "{e}"
    );
}

#[tokio::test]
async fn the_chain_prefers_environment_then_file_then_metadata() {
    let emulator = Emulator::start(EmulatorConfig::new().temporary_credentials(Duration::from_secs(3600)))
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(&dir, "credentials", "[basic]\nak = AK-FILE\nsk = sk\n");
    let metadata = emulator.base_url();
    let env_vars = [("HUAWEICLOUD_SDK_AK", "AK-ENV"), ("HUAWEICLOUD_SDK_SK", "sk")];
    let file_vars = [("HUAWEICLOUD_SDK_CREDENTIALS_FILE", file.to_str().expect("utf-8"))];
    let metadata_vars = [("IOTDA_METADATA_ENDPOINT", metadata.as_str())];

    let resolve = |vars: Vec<(&str, &str)>| {
        let chain = CredentialChain::new(&Env::from_vars(vars)).expect("chain");
        async move { chain.resolve().await }
    };
    let all = [&env_vars[..], &file_vars[..], &metadata_vars[..]].concat();
    let provided = resolve(all).await.expect("env");
    assert_eq!((access_key(&provided), provided.source), ("AK-ENV", "environment"));
    let provided = resolve([&file_vars[..], &metadata_vars[..]].concat())
        .await
        .expect("file");
    assert_eq!(
        (access_key(&provided), provided.source),
        ("AK-FILE", "credentials file")
    );
    let provided = resolve(metadata_vars.to_vec()).await.expect("metadata");
    assert_eq!(provided.source, "ECS metadata");
    assert!(access_key(&provided).starts_with("TMPAK"), "{provided:?}");
    assert!(provided.expires_at.is_some());

    // Nothing anywhere: every step says where it looked.
    let nowhere = refused();
    let e = resolve(vec![
        ("IOTDA_METADATA_ENDPOINT", nowhere.as_str()),
        ("HOME", "/nonexistent-home"),
    ])
    .await
    .expect_err("nothing");
    let message = e.to_string();
    for looked in [
        "HUAWEICLOUD_SDK_AK",
        "CLOUD_SDK_AK",
        "IOTDA_AUTH_TOKEN",
        "/nonexistent-home/.huaweicloud/credentials",
        &nowhere,
    ] {
        assert!(message.contains(looked), "{looked} missing from: {message}");
    }

    // A broken file stops the chain: no fall-back to another identity.
    let broken = write_file(&dir, "broken", "[basic\n");
    let e = resolve(vec![
        ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", broken.to_str().expect("utf-8")),
        ("IOTDA_METADATA_ENDPOINT", metadata.as_str()),
    ])
    .await
    .expect_err("broken file");
    assert!(matches!(e, ConfigError::File { .. }), "{e:?}");
}

#[tokio::test]
async fn metadata_without_session_tokens_still_gives_credentials() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/meta-data/latest/api/token"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/openstack/latest/securitykey"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"credential":{"access":"TMP","secret":"s","securitytoken":"t","expires_at":"2030-01-01T00:00:00.000000Z"}}"#,
        ))
        .mount(&server)
        .await;
    let provided = MetadataProvider::with_endpoint(&server.uri())
        .expect("endpoint")
        .fetch()
        .await
        .expect("credentials");
    assert_eq!(access_key(&provided), "TMP");
    let requests = server.received_requests().await.expect("recorded");
    let get = requests.iter().find(|r| r.method.as_str() == "GET").expect("GET");
    assert!(!get.headers.contains_key("x-metadata-token"));
    let put = requests.iter().find(|r| r.method.as_str() == "PUT").expect("PUT");
    assert_eq!(put.headers["x-metadata-token-ttl-seconds"], "21600");

    // A rejected session token is replaced once, as the SDKs do.
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_string("stale"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_string("fresh"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::header("x-metadata-token", "stale"))
        .respond_with(ResponseTemplate::new(401).set_body_string("token expired"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::header("x-metadata-token", "fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"credential":{"access":"TMP2","secret":"s","securitytoken":"t","expires_at":"2030-01-01T00:00:00Z"}}"#,
        ))
        .mount(&server)
        .await;
    let provided = MetadataProvider::with_endpoint(&server.uri())
        .expect("endpoint")
        .fetch()
        .await
        .expect("second token");
    assert_eq!(access_key(&provided), "TMP2");

    // A host without an agency: an error, not "not configured".
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Please configure Cloud Service Agency first"))
        .mount(&server)
        .await;
    let e = MetadataProvider::with_endpoint(&server.uri())
        .expect("endpoint")
        .fetch()
        .await
        .expect_err("401");
    assert!(
        matches!(e, ConfigError::Metadata { .. }) && e.to_string().contains("agency"),
        "{e}"
    );
}

#[tokio::test]
async fn temporary_credentials_expiring_mid_bulk_stop_are_refreshed() {
    let emulator = Emulator::start(EmulatorConfig::new().temporary_credentials(Duration::from_secs(3600)))
        .await
        .expect("emulator");
    // The client's clock: real time plus what the test adds.
    let skew = Arc::new(AtomicI64::new(0));
    let env = Env::from_vars::<&str, &str>([]).with_clock({
        let skew = skew.clone();
        move || jiff::Timestamp::now() + jiff::SignedDuration::from_secs(skew.load(Ordering::SeqCst))
    });
    let client = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials_provider(MetadataProvider::with_endpoint(&emulator.base_url()).expect("endpoint"))
        .region("cn-north-4")
        .env(env)
        .build()
        .expect("client");
    let targets: Vec<String> = (1..=250).map(demo_device_id).collect();
    let moved = Mutex::new(false);
    let report = client
        .stop_batch_task(DEMO_TASK_ID)
        .targets(&targets)
        .concurrency(1)
        .on_progress(|p| {
            // After the first request, 90 minutes pass on both sides: the
            // first credentials (valid one hour) are now refused.
            let mut moved = moved.lock().expect("lock");
            if p.requests_done == 1 && !*moved {
                *moved = true;
                emulator.advance_credential_clock(Duration::from_secs(90 * 60));
                skew.store(90 * 60, Ordering::SeqCst);
            }
        })
        .send()
        .await
        .expect("bulk stop");
    assert_eq!(report.requests_sent(), 3, "{report:?}");
    let journal = emulator.journal();
    let stops: Vec<_> = journal.stops_of(DEMO_TASK_ID).collect();
    assert_eq!(stops.len(), 3, "{journal:?}");
    let mut keys = Vec::new();
    for entry in &stops {
        assert_eq!(entry.status_code(), Some(200), "{entry:?}");
        match &entry.auth {
            AuthMode::Signed { access_key, .. } => keys.push(access_key.clone()),
            other => panic!("not signed: {other:?}"),
        }
    }
    // First request with the first credentials, the rest with the refreshed ones.
    assert_ne!(keys[0], keys[1]);
    assert_eq!(keys[1], keys[2]);
    // Every target has an answer from the service.
    assert_eq!(
        (report.unknown().count(), report.not_attempted().count()),
        (0, 0),
        "{report:?}"
    );
    assert!(report.succeeded().count() > 0);
}

#[tokio::test]
async fn project_discovery_needs_exactly_one_match_and_is_cached() {
    let emulator = Emulator::start(
        EmulatorConfig::new()
            .ak_sk(AK, SK)
            .iam_project("cn-north-4", DEMO_PROJECT_ID)
            .iam_project("cn-east-3", "11111111111111111111111111111111")
            .iam_project("cn-east-3", "22222222222222222222222222222222"),
    )
    .await
    .expect("emulator");
    let iam = emulator.base_url();
    let discovery = ProjectDiscovery::new(direct());
    let credentials = Credentials::ak_sk(AK, SK);
    let one = discovery
        .project_id(&iam, "cn-north-4", &credentials)
        .await
        .expect("one match");
    assert_eq!(one, DEMO_PROJECT_ID);
    let asked = emulator.request_count();
    assert_eq!(
        discovery
            .project_id(&iam, "cn-north-4", &credentials)
            .await
            .expect("cached"),
        one
    );
    assert_eq!(emulator.request_count(), asked, "asked IAM again");

    let none = discovery
        .project_id(&iam, "ap-southeast-1", &credentials)
        .await
        .expect_err("none");
    assert!(
        none.to_string().contains("no project is named ap-southeast-1"),
        "{none}"
    );
    let two = discovery
        .project_id(&iam, "cn-east-3", &credentials)
        .await
        .expect_err("two");
    assert!(two.to_string().contains("2 projects are named cn-east-3"), "{two}");
    let wrong = discovery
        .project_id(&iam, "cn-north-4", &Credentials::ak_sk("AK0002", "wrong"))
        .await
        .expect_err("bad signature");
    assert!(
        wrong.to_string().contains("HTTP 401") && wrong.to_string().contains("APIGW.0301"),
        "{wrong}"
    );
    // The signature is checked, not only the key.
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK))
        .await
        .expect("emulator");
    let e = ProjectDiscovery::new(direct())
        .project_id(&emulator.base_url(), "cn-north-4", &Credentials::ak_sk(AK, "wrong"))
        .await
        .expect_err("bad signature");
    assert!(e.to_string().contains("verify aksk signature fail"), "{e}");
}

#[tokio::test]
async fn a_client_discovers_its_project_from_the_region() {
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK))
        .await
        .expect("emulator");
    let url = emulator.base_url();
    let env = Env::from_vars([
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", url.as_str()),
        ("HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4", url.as_str()),
    ]);
    let client = Client::for_region("cn-north-4")
        .credentials_provider(CredentialChain::new(&env).expect("chain"))
        .env(env)
        .build_async()
        .await
        .expect("client");
    assert_eq!(client.project_id(), DEMO_PROJECT_ID);
    let report = client
        .stop_batch_task(DEMO_TASK_ID)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    assert!(report.all_succeeded(), "{report:?}");

    // Without a region there is nothing to discover with.
    let e = Client::builder(url)
        .credentials(Credentials::ak_sk(AK, SK))
        .build_async()
        .await
        .expect_err("no project, no region");
    assert!(e.to_string().contains("project_id"), "{e}");
}

#[test]
fn region_endpoints_come_from_overrides_a_file_or_the_table() {
    use iotda_batchtask::region::iotda_endpoints;
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = Env::from_vars([("HOME", dir.path().as_os_str())]);
    assert_eq!(
        iotda_endpoints("ap-southeast-3", &empty).expect("built-in").0,
        ["https://iotda.ap-southeast-3.myhuaweicloud.com"]
    );
    let e = iotda_endpoints("xx-nowhere-1", &empty).expect_err("unknown");
    assert!(
        e.to_string().contains("HUAWEICLOUD_SDK_REGION_IOTDA_XX_NOWHERE_1"),
        "{e}"
    );

    let file = write_file(
        &dir,
        "regions.yaml",
        "iotda:\n  - id: xx-nowhere-1\n    endpoint: https://file.example\n",
    );
    let with_file = Env::from_vars([("HUAWEICLOUD_SDK_REGIONS_FILE", file.as_os_str())]);
    assert_eq!(
        iotda_endpoints("xx-nowhere-1", &with_file).expect("file").0,
        ["https://file.example"]
    );
    std::fs::create_dir(dir.path().join(".huaweicloud")).expect("mkdir");
    std::fs::copy(&file, dir.path().join(".huaweicloud/regions.yaml")).expect("copy");
    assert_eq!(
        iotda_endpoints("xx-nowhere-1", &empty).expect("home file").0,
        ["https://file.example"]
    );

    let broken = write_file(&dir, "broken.yaml", "iotda:\n  - id: [unclosed\n");
    let e = iotda_endpoints(
        "xx-nowhere-1",
        &Env::from_vars([("HUAWEICLOUD_SDK_REGIONS_FILE", broken.as_os_str())]),
    )
    .expect_err("malformed");
    assert!(
        e.to_string().contains("broken.yaml") && e.to_string().contains("line"),
        "{e}"
    );

    let both = Env::from_vars([
        ("HUAWEICLOUD_SDK_REGIONS_FILE", file.as_os_str()),
        (
            "HUAWEICLOUD_SDK_REGION_IOTDA_XX_NOWHERE_1",
            "https://a.example, https://b.example".as_ref(),
        ),
    ]);
    let (endpoints, source) = iotda_endpoints("xx-nowhere-1", &both).expect("variable");
    assert_eq!(endpoints, ["https://a.example", "https://b.example"]);
    assert_eq!(source, "HUAWEICLOUD_SDK_REGION_IOTDA_XX_NOWHERE_1");
}

#[test]
fn an_instance_host_gives_the_region_for_derived_signing() {
    let client = Client::builder("https://a1b2c3.st1.iotda-app.la-south-2.myhuaweicloud.com")
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(AK, SK))
        .env(Env::from_vars::<&str, &str>([]))
        .build()
        .expect("the region comes from the host");
    assert!(format!("{client:?}").contains("V11-HMAC-SHA256"), "{client:?}");
    // Without a region in the host, derived signing still needs one.
    let e = Client::builder("https://iot.example.com")
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(AK, SK))
        .env(Env::from_vars::<&str, &str>([]))
        .build()
        .expect_err("no region");
    assert!(e.to_string().contains("region"), "{e}");
}

#[tokio::test]
async fn a_refused_endpoint_fails_over_and_stays_failed_over() {
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK))
        .await
        .expect("emulator");
    let dead = refused();
    let client = Client::builder(&dead)
        .endpoints([emulator.base_url()])
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(AK, SK))
        .region("cn-north-4")
        .env(Env::from_vars::<&str, &str>([]))
        .build()
        .expect("client");
    let report = client
        .stop_batch_task(DEMO_TASK_ID)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    assert!(report.all_succeeded(), "{report:?}");
    assert_eq!(client.endpoint(), emulator.base_url());
    let show = client.show_batch_task(DEMO_TASK_ID).send().await.expect("show");
    assert!(show.task().is_some());
    assert_eq!(emulator.journal().len(), 2);

    // Every endpoint refusing: the error names each.
    let dead2 = refused();
    let client = Client::builder(&dead)
        .endpoints([dead2.clone()])
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(AK, SK))
        .region("cn-north-4")
        .no_retries()
        .env(Env::from_vars::<&str, &str>([]))
        .build()
        .expect("client");
    let e = client
        .show_batch_task(DEMO_TASK_ID)
        .send()
        .await
        .expect_err("all refused");
    let message = e.to_string();
    assert!(message.contains(&dead) && message.contains(&dead2), "{message}");
    assert!(matches!(e, Error::Transport { .. }) && e.is_retryable(), "{e:?}");
}

#[test]
fn a_ca_bundle_must_hold_certificates() {
    let e = Client::builder("https://iotda.cn-north-4.myhuaweicloud.com")
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(AK, SK))
        .ca_cert_pem(b"not a certificate".to_vec())
        .env(Env::from_vars::<&str, &str>([]))
        .build()
        .expect_err("bad bundle");
    assert_eq!(e.as_invalid_input().map(|i| i.field()), Some("ca_cert"), "{e}");
}

#[tokio::test]
async fn https_proxy_from_the_env_is_used_for_remote_hosts_never_for_loopback() {
    let (proxy, proxied) = crate::common::counting_listener().await;
    let emulator = Emulator::start(EmulatorConfig::new().ak_sk(AK, SK))
        .await
        .expect("emulator");
    let proxy_url = format!("http://{proxy}");
    let env = || Env::from_vars([("HTTPS_PROXY", proxy_url.as_str()), ("HTTP_PROXY", proxy_url.as_str())]);
    let build = |endpoint: String| {
        Client::builder(endpoint)
            .project_id(DEMO_PROJECT_ID)
            .credentials(Credentials::ak_sk(AK, SK))
            .region("cn-north-4")
            .no_retries()
            .env(env())
            .build()
            .expect("client")
    };
    // Loopback emulator over plain http: direct, never the proxy.
    let report = build(emulator.base_url())
        .stop_batch_task(DEMO_TASK_ID)
        .targets(["dev-0001"])
        .send()
        .await
        .expect("stop");
    assert!(report.all_succeeded(), "{report:?}");
    assert_eq!(proxied.load(Ordering::SeqCst), 0);
    // A remote https host: through the proxy (which hangs up).
    let e = build("https://iotda.cn-north-4.myhuaweicloud.com".to_owned())
        .show_batch_task(DEMO_TASK_ID)
        .send()
        .await
        .expect_err("the proxy hangs up");
    assert!(proxied.load(Ordering::SeqCst) >= 1, "{e}");
}

/// A TLS server on 127.0.0.1 with the fixture certificate, answering every
/// request `404` with `{}`.
async fn tls_server() -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures");
    let certs = CertificateDer::pem_file_iter(format!("{dir}/test-server.pem"))
        .expect("cert file")
        .collect::<Result<Vec<_>, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/test-server.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://localhost:{}", addr.port())
}

#[tokio::test]
async fn a_ca_bundle_makes_a_private_ca_trusted() {
    let endpoint = tls_server().await;
    let ca = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/test-ca.pem")).expect("ca");
    let build = |ca: Option<Vec<u8>>| {
        let builder = Client::builder(&endpoint)
            .project_id(DEMO_PROJECT_ID)
            .credentials(Credentials::ak_sk(AK, SK))
            .region("cn-north-4")
            .no_retries()
            .env(Env::from_vars::<&str, &str>([]));
        match ca {
            Some(pem) => builder.ca_cert_pem(pem),
            None => builder,
        }
        .build()
        .expect("client")
    };
    // Trusted: the TLS handshake succeeds and the server's answer arrives.
    let e = build(Some(ca))
        .show_batch_task(DEMO_TASK_ID)
        .send()
        .await
        .expect_err("404");
    assert_eq!(e.status(), Some(404), "{e}");
    // Not trusted: the handshake fails, nothing is answered.
    let e = build(None)
        .show_batch_task(DEMO_TASK_ID)
        .send()
        .await
        .expect_err("untrusted");
    assert_eq!(e.status(), None, "{e}");
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
}

/// A provider that never answers: the caller's own code, say.
#[derive(Debug)]
struct Stuck;

impl ProvideCredentials for Stuck {
    fn provide(
        &self,
    ) -> futures_util::future::BoxFuture<'_, Result<iotda_batchtask::config::ProvidedCredentials, ConfigError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn the_deadline_bounds_a_provider_that_never_answers() {
    let client = Client::builder(refused())
        .project_id(DEMO_PROJECT_ID)
        .credentials_provider(Stuck)
        .region("cn-north-4")
        .deadline(Duration::from_millis(300))
        .env(Env::from_vars::<&str, &str>([]))
        .build()
        .expect("client");
    let started = std::time::Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(10), client.show_batch_task(DEMO_TASK_ID).send())
        .await
        .expect("the call ends at its deadline")
        .expect_err("no credentials");
    assert!(
        matches!(
            e,
            Error::Timeout {
                limit: iotda_batchtask::TimeoutKind::Deadline,
                attempts: 0,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_credentials_file_with_a_byte_order_mark_is_read_not_skipped() {
    let emulator = Emulator::start(EmulatorConfig::new().temporary_credentials(Duration::from_secs(3600)))
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    // As Windows' Notepad saves it.
    let path = write_file(&dir, "credentials", "\u{feff}[basic]\nak = AKFILE0001\nsk = SEC\n");
    let provided = CredentialsFileProvider::from_path(&path).load().expect("read");
    assert_eq!(access_key(&provided), "AKFILE0001");
    let metadata = emulator.base_url();
    let chain = CredentialChain::new(&Env::from_vars([
        ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.as_os_str()),
        ("IOTDA_METADATA_ENDPOINT", metadata.as_ref()),
    ]))
    .expect("chain");
    let provided = chain.resolve().await.expect("credentials");
    assert_eq!(
        (access_key(&provided), provided.source),
        ("AKFILE0001", "credentials file")
    );

    // Keys before any section header (Python's configparser refuses them):
    // the file exists but is not what it means to be. An error naming it,
    // never the next identity in the chain.
    for text in [
        "ak = AKFILE0001\nsk = SEC\n",
        "\u{fffe}[basic]\nak = AKFILE0001\nsk = SEC\n",
    ] {
        let path = write_file(&dir, "headless", text);
        let chain = CredentialChain::new(&Env::from_vars([
            ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.as_os_str()),
            ("IOTDA_METADATA_ENDPOINT", metadata.as_ref()),
        ]))
        .expect("chain");
        let e = chain.resolve().await.expect_err("not a credentials file");
        assert!(matches!(e, ConfigError::File { line: 1, .. }), "{text:?}: {e:?}");
        assert!(
            e.to_string().contains("headless") && !e.to_string().contains("SEC"),
            "{e}"
        );
    }
}

/// Runs `f` on its own thread and fails the test if it has not returned
/// within 20 s: a read that blocks for ever must fail the test, not hang it.
#[cfg(unix)]
fn within_20s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("returned instead of blocking")
}

#[cfg(unix)]
fn mkfifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn configuration_files_that_are_not_regular_files_are_refused_without_blocking() {
    use iotda_batchtask::region::iotda_endpoints;
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".huaweicloud")).expect("mkdir");
    mkfifo(&home.join(".huaweicloud/credentials"));
    mkfifo(&home.join(".huaweicloud/regions.yaml"));
    let dev_zero = std::path::PathBuf::from("/dev/zero");

    for path in [fifo.clone(), dev_zero.clone(), dir.path().to_owned()] {
        let e = within_20s({
            let path = path.clone();
            move || CredentialsFileProvider::from_path(path).load()
        })
        .expect_err("not a regular file");
        assert!(
            matches!(e, ConfigError::File { .. }) && e.to_string().contains(&path.display().to_string()),
            "{}: {e:?}",
            path.display()
        );
    }
    // Through the chain, by the variable and by the default path.
    let nowhere = refused();
    for vars in [
        vec![
            (
                "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
                fifo.to_str().expect("utf-8").to_owned(),
            ),
            ("IOTDA_METADATA_ENDPOINT", nowhere.clone()),
        ],
        vec![
            ("HOME", home.to_str().expect("utf-8").to_owned()),
            ("IOTDA_METADATA_ENDPOINT", nowhere.clone()),
        ],
    ] {
        let e = within_20s(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                CredentialChain::new(&Env::from_vars(vars))
                    .expect("chain")
                    .resolve()
                    .await
            })
        })
        .expect_err("a FIFO");
        assert!(
            matches!(e, ConfigError::File { .. }) && e.to_string().contains("not a regular file"),
            "{e:?}"
        );
    }
    // The regions file, by the variable and by the default path.
    for env in [
        Env::from_vars([("HUAWEICLOUD_SDK_REGIONS_FILE", fifo.as_os_str())]),
        Env::from_vars([("HOME", home.as_os_str())]),
        Env::from_vars([("HUAWEICLOUD_SDK_REGIONS_FILE", dev_zero.as_os_str())]),
    ] {
        let e = within_20s(move || iotda_endpoints("xx-nowhere-1", &env)).expect_err("a FIFO");
        assert!(
            matches!(e, ConfigError::File { .. }) && e.to_string().contains("not a regular file"),
            "{e:?}"
        );
    }
}

/// A metadata service that answers at once and then sends its body one
/// byte every 200 ms, never finishing within a short deadline.
async fn dripping_metadata() -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = socket.read(&mut head).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                    .await;
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if socket.write_all(b" ").await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn the_deadline_bounds_credentials_fetched_while_building() {
    let metadata = dripping_metadata().await;
    let build = Client::builder(refused())
        .project_id(DEMO_PROJECT_ID)
        .region("cn-north-4")
        .credentials_provider(MetadataProvider::with_endpoint(&metadata).expect("endpoint"))
        .deadline(Duration::from_millis(500))
        .env(Env::from_vars::<&str, &str>([]))
        .build_async();
    let e = tokio::time::timeout(Duration::from_secs(20), build)
        .await
        .expect("the build ends")
        .expect_err("no credentials in time");
    assert!(
        matches!(
            e,
            Error::Timeout {
                limit: iotda_batchtask::TimeoutKind::Deadline,
                attempts: 0,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_bad_endpoint_setting_is_named_as_the_setting_that_holds_it() {
    use iotda_batchtask::region::iotda_endpoints;
    let dir = tempfile::tempdir().expect("tempdir");
    let var = "HUAWEICLOUD_SDK_REGION_IOTDA_CN_NORTH_4";
    let bad_var = Env::from_vars([(var, "ftp://iotda.example"), ("HOME", "/nonexistent")]);
    let e = iotda_endpoints("cn-north-4", &bad_var).expect_err("not http(s)");
    assert!(e.to_string().contains(var), "{e}");
    let e = Client::for_region("cn-north-4")
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::ak_sk(AK, SK))
        .env(bad_var)
        .build()
        .expect_err("not http(s)");
    assert!(
        e.to_string().contains(var) && !e.to_string().contains("IOTDA_ENDPOINT"),
        "{e}"
    );

    let file = write_file(
        &dir,
        "regions.yaml",
        "iotda:\n  - id: cn-north-4\n    endpoint: not-a-url\n",
    );
    let e = iotda_endpoints(
        "cn-north-4",
        &Env::from_vars([("HUAWEICLOUD_SDK_REGIONS_FILE", file.as_os_str())]),
    )
    .expect_err("not a URL");
    assert!(
        matches!(&e, ConfigError::File { path, .. } if *path == file) && e.to_string().contains("cn-north-4"),
        "{e:?}"
    );

    // The IAM endpoint, from the variable and from the credentials file.
    let credentials = write_file(
        &dir,
        "credentials",
        "[basic]\nak = AK\nsk = SK\niam_endpoint = iam nowhere\n",
    );
    let cases = [
        (
            vec![
                ("HUAWEICLOUD_SDK_IAM_ENDPOINT", "ftp://iam.example"),
                ("HUAWEICLOUD_SDK_AK", AK),
                ("HUAWEICLOUD_SDK_SK", SK),
            ],
            "HUAWEICLOUD_SDK_IAM_ENDPOINT",
        ),
        (
            vec![("HUAWEICLOUD_SDK_CREDENTIALS_FILE", credentials.to_str().expect("utf-8"))],
            "iam_endpoint",
        ),
    ];
    for (vars, named) in cases {
        let env = Env::from_vars(vars);
        let e = Client::builder("https://x.st1.iotda-app.cn-north-4.myhuaweicloud.com")
            .credentials_provider(CredentialChain::new(&env).expect("chain"))
            .env(env)
            .build_async()
            .await
            .expect_err("bad IAM endpoint");
        assert_eq!(e.as_invalid_input().map(|i| i.field()), Some(named), "{e}");
    }
}

#[tokio::test]
async fn a_metadata_address_answering_403_or_404_is_no_agency_not_an_error() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    for status in [403, 404] {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).set_body_string("Forbidden"))
            .mount(&server)
            .await;
        let uri = server.uri();
        let env = Env::from_vars([("IOTDA_METADATA_ENDPOINT", uri.as_str()), ("HOME", "/nonexistent-home")]);
        let e = CredentialChain::new(&env)
            .expect("chain")
            .resolve()
            .await
            .expect_err("nothing");
        let message = e.to_string();
        assert!(matches!(e, ConfigError::NothingConfigured(_)), "{status}: {e:?}");
        for looked in [
            "HUAWEICLOUD_SDK_AK",
            "/nonexistent-home/.huaweicloud/credentials",
            &uri,
            &status.to_string(),
        ] {
            assert!(message.contains(looked), "{looked} missing from: {message}");
        }
    }
}

#[test]
fn the_chain_tells_its_auth_kind_without_a_request() {
    use iotda_batchtask::config::{AuthKind, Given, Preview, explain};
    let dir = tempfile::tempdir().expect("tempdir");
    let temporary = write_file(
        &dir,
        "credentials",
        "[basic]\nak = AKFILE0001\nsk = s\nsecurity_token = t\n",
    );
    let nowhere = refused();
    // (variables, the provider that answers, the kind)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, AuthKind);
    let cases: [Case; 4] = [
        (
            vec![("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)],
            "environment",
            AuthKind::AkSk,
        ),
        (vec![("IOTDA_AUTH_TOKEN", "tok")], "environment", AuthKind::Token),
        (
            vec![("HUAWEICLOUD_SDK_CREDENTIALS_FILE", temporary.to_str().expect("utf-8"))],
            "credentials file",
            AuthKind::Temporary,
        ),
        (vec![("HOME", "/nonexistent-home")], "ECS metadata", AuthKind::Temporary),
    ];
    for (mut vars, source, kind) in cases {
        vars.push(("IOTDA_METADATA_ENDPOINT", nowhere.as_str()));
        let env = Env::from_vars(vars);
        let chain = CredentialChain::new(&env).expect("chain");
        let preview = chain.source().expect("preview");
        assert_eq!(
            (preview.source(), preview.kind()),
            (Some(source), Some(kind)),
            "{preview:?}"
        );
        if source == "ECS metadata" {
            assert!(
                matches!(&preview, Preview::WouldAsk { at, .. } if *at == nowhere),
                "{preview:?}"
            );
        }
    }

    // The explanation names each setting's source, and the credentials' file.
    let env = Env::from_vars([
        ("HUAWEICLOUD_SDK_CREDENTIALS_FILE", temporary.to_str().expect("utf-8")),
        ("IOTDA_METADATA_ENDPOINT", nowhere.as_str()),
    ]);
    let chain = CredentialChain::new(&env).expect("chain");
    let settings = explain(
        &env,
        &chain,
        &Given::new().endpoint("https://a1.st1.iotda-app.la-south-2.myhuaweicloud.com", "--endpoint"),
    );
    let get = |name: &str| {
        settings
            .iter()
            .find(|s| s.name == name)
            .map(|s| (s.value.clone(), s.source.clone()))
            .unwrap_or_else(|| panic!("{name}: {settings:?}"))
    };
    assert_eq!(
        get("region"),
        ("la-south-2".to_owned(), "the endpoint's host".to_owned())
    );
    assert!(
        get("access_key").1.contains(temporary.to_str().expect("utf-8")),
        "{settings:?}"
    );
    assert_eq!(get("security_token").0, "****************");
    assert!(!format!("{settings:?}").contains("AKFILE0001"), "{settings:?}");
}

#[test]
fn without_a_security_token_the_explanation_says_it_is_not_set() {
    let env = Env::from_vars([
        ("HUAWEICLOUD_SDK_AK", "AKENV00001"),
        ("HUAWEICLOUD_SDK_SK", "secret"),
        ("IOTDA_METADATA_ENDPOINT", "http://127.0.0.1:9"),
    ]);
    let chain = CredentialChain::new(&env).expect("chain");
    let settings = iotda_batchtask::config::explain(&env, &chain, &iotda_batchtask::config::Given::new());
    let token = settings
        .iter()
        .find(|s| s.name == "security_token")
        .unwrap_or_else(|| panic!("{settings:?}"));
    assert_eq!((token.value.as_str(), token.source.as_str()), ("-", "not set"));
}
