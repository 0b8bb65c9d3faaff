//! Which address a request comes from, for the login limit and the audit log.
//!
//! `X-Forwarded-For` is only believed when the connection comes from a configured trusted
//! proxy (`http.trusted_proxies`); anyone else could write any address there and get a fresh
//! login allowance per request. Behind trusted proxies the header is read from the right (the
//! hop nearest to us) and the first address that is not itself a trusted proxy is the client:
//! entries further left were written by the client and prove nothing.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address: `peer` unless `peer` is a trusted proxy that forwarded the request.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // a malformed entry: nothing left of it can be trusted either
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let cases: &[(&str, &[&str], &str)] = &[
            // not from a proxy: the header is the client's own claim
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            // from our proxy: the address it saw
            ("10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            // the client prepended a lie; the proxy appended the truth
            ("10.0.0.2", &["1.1.1.1, 198.51.100.1"], "198.51.100.1"),
            // two proxies of ours, headers split over two lines
            ("10.0.0.2", &["198.51.100.1", "10.0.0.3"], "198.51.100.1"),
            ("10.0.0.2", &["198.51.100.1:4711"], "198.51.100.1"),
            ("10.0.0.2", &["[2001:db8::1]:4711"], "2001:db8::1"),
            // garbage stops the walk at the last address we can vouch for
            ("10.0.0.2", &["198.51.100.1, junk"], "10.0.0.2"),
            // a proxy that forwarded nothing
            ("10.0.0.2", &[], "10.0.0.2"),
        ];
        for (peer, header, want) in cases {
            assert_eq!(
                client_ip(ip(peer), header.iter().copied(), &trusted),
                ip(want),
                "{peer} {header:?}"
            );
        }
    }
}
