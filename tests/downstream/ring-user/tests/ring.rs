//! Run alone (`cargo test -p ring-user`), so that no other member's features
//! bring aws-lc-rs in: reqwest then has no crypto provider of its own and
//! would panic ("No rustls crypto provider is configured") unless the
//! library installs `ring`'s.

#[test]
fn an_https_client_builds_on_ring() {
    let client = ring_user::client("https://iotda.cn-north-4.myhuaweicloud.com");
    assert!(client.is_ok(), "{client:?}");
}
