//! Where a webhook may point: `http` and `https` URLs whose host is public, unless the
//! server was started with `--webhook-allow-private`. Names are checked when they are
//! resolved for each delivery, so a name that later resolves to a private address (DNS
//! rebinding) is refused then.
use std::net::{IpAddr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::registry::{RegistryError, Result};

/// Longest URL accepted.
pub const MAX_URL_BYTES: usize = 2048;

/// `url` parsed, if a webhook may point there.
pub fn check_url(url: &str, allow_private: bool) -> Result<Url> {
    let invalid = |message: String| RegistryError::InvalidInput {
        field: "url".into(),
        message,
    };
    if url.len() > MAX_URL_BYTES {
        return Err(invalid(format!("longer than {MAX_URL_BYTES} bytes")));
    }
    let parsed = Url::parse(url).map_err(|e| invalid(format!("not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "only http and https URLs, not {}",
            parsed.scheme()
        )));
    }
    if !allow_private {
        let private = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
            None => return Err(invalid("has no host".into())),
        };
        if private {
            return Err(invalid(
                "points at a loopback or private address; the server allows that only with \
                 --webhook-allow-private"
                    .into(),
            ));
        }
    }
    Ok(parsed)
}

/// Loopback, private, link-local, shared, unspecified, multicast, broadcast or reserved:
/// anything that is not a public unicast address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                // shared address space (carrier-grade NAT), 100.64.0.0/10
                || (a == 100 && (64..128).contains(&b))
                // IETF protocol assignments, 192.0.0.0/24
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                // benchmarking, 198.18.0.0/15
                || (a == 198 && (b == 18 || b == 19))
                // reserved, 240.0.0.0/4
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
        }
    }
}

/// Resolves webhook hosts, keeping only the addresses a webhook may reach.
pub struct Resolver {
    pub allow_private: bool,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| allow_private || !is_private(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (--webhook-allow-private allows others)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_http_targets_without_the_flag() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://203.0.114.5:8080/", false).is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://127.0.0.1/",
            "http://0x7f.1/",
            "http://localhost:9000/",
            "http://[::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "not a url",
        ] {
            let err = check_url(bad, false).unwrap_err();
            assert!(err.to_string().starts_with("url: "), "{bad}: {err}");
        }
        assert!(check_url("http://127.0.0.1:9/", true).is_ok());
        assert!(check_url("gopher://127.0.0.1/", true).is_err());
    }
}
