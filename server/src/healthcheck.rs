//! `tsuzuki healthcheck`: the container image's `HEALTHCHECK`. The image holds no shell and no curl, so the
//! binary itself asks the server it runs beside for `/health`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Well inside Docker's own probe timeout, so a hung server is reported by us, in words.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the server listening on `listening` answers `/health` with a success.
pub async fn check(listening: SocketAddr) -> Result<(), String> {
    let url = format!("http://{}/health", reachable(listening));
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(&url).send().await.map_err(|e| {
        let cause = std::error::Error::source(&e).map_or(String::new(), |s| format!(": {s}"));
        format!("{url}: {e}{cause}")
    })?;
    match response.status() {
        s if s.is_success() => Ok(()),
        s => Err(format!("{url} answered {s}")),
    }
}

/// Where a server listening on `addr` is reached from its own machine: a wildcard address by loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Whether this process runs in a container (Docker's `/.dockerenv`, Podman's `/run/.containerenv`):
/// there the address it is published on, not the one it listens on, decides who can reach it.
pub fn in_container() -> bool {
    ["/.dockerenv", "/run/.containerenv"]
        .iter()
        .any(|f| std::path::Path::new(f).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_address_is_probed_on_loopback_and_others_as_they_are() {
        let at = |a: &str| reachable(a.parse().unwrap()).to_string();
        assert_eq!(at("0.0.0.0:3000"), "127.0.0.1:3000");
        assert_eq!(at("[::]:8080"), "[::1]:8080");
        assert_eq!(at("192.168.1.20:3000"), "192.168.1.20:3000");
        assert_eq!(at("127.0.0.1:3001"), "127.0.0.1:3001");
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_an_error_naming_where_it_was_asked() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let addr = SocketAddr::from(([0, 0, 0, 0], port));
        let error = check(addr).await.unwrap_err();
        assert!(
            error.starts_with(&format!("http://127.0.0.1:{port}/health")),
            "{error}"
        );
    }
}
