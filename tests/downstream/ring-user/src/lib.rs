//! A downstream crate that builds the client on rustls with the `ring`
//! provider (`default-features = false, features = ["rustls-ring"]`).

use iotda_batchtask::{Client, Credentials, Error};

/// An HTTPS client for `endpoint`, as an application on an embedded gateway
/// would build it.
pub fn client(endpoint: &str) -> Result<Client, Error> {
    Client::builder(endpoint)
        .project_id("0123456789abcdef0123456789abcdef")
        .credentials(Credentials::token("t"))
        .build()
}
