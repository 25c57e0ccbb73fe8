//! The client's address, as the throttles count it: the TCP peer, or, when the
//! peer is a configured trusted proxy (`--trusted-proxies`), the rightmost
//! address in `x-forwarded-for` that is not itself a trusted proxy. The header
//! is split on `,` as raw bytes and walked from the right, so bytes a client put
//! in front (non-ASCII included) cannot hide the hops the proxies appended; a hop
//! that is not an address stops the walk, and the client is then the last hop
//! walked (the view of the last trusted proxy: the peer itself if none). Without
//! trusted proxies the header is ignored: anyone can write it.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// Finds the client address of a request.
#[derive(Debug, Clone, Default)]
pub struct ClientAddr {
    trusted: Vec<IpNet>,
}

impl ClientAddr {
    /// Trusting the proxies in these networks.
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address, or `None` when the transport gives no peer.
    pub fn of<T>(&self, request: &tonic::Request<T>) -> Option<IpAddr> {
        let peer = request.remote_addr()?.ip().to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops = request
            .metadata()
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            // A hop that is not an address: stop at the last one a trusted proxy vouched for.
            let Some(ip) = std::str::from_utf8(hop).ok().and_then(|h| parse_hop(h.trim())) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:80`, `::1` or `[::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// Parses a `--trusted-proxies` entry: a CIDR (`10.0.0.0/8`) or one address.
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{s}` is not a network such as 10.0.0.0/8 or an address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, forwarded: &[&str]) -> tonic::Request<()> {
        let mut request = tonic::Request::new(());
        for value in forwarded {
            request.metadata_mut().append("x-forwarded-for", value.parse().unwrap());
        }
        let peer: SocketAddr = peer.parse().unwrap();
        request
            .extensions_mut()
            .insert(tonic::transport::server::TcpConnectInfo {
                local_addr: None,
                remote_addr: Some(peer),
            });
        request
    }

    fn addrs(trusted: &[&str]) -> ClientAddr {
        ClientAddr::new(trusted.iter().map(|t| parse_network(t).unwrap()).collect())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let r = request("10.0.0.9:5000", &["1.2.3.4"]);
        assert_eq!(addrs(&[]).of(&r), ip("10.0.0.9"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let a = addrs(&["10.0.0.0/8", "192.168.1.1"]);
        let r = request("10.0.0.9:5000", &["6.6.6.6, 1.2.3.4", "192.168.1.1"]);
        assert_eq!(a.of(&r), ip("1.2.3.4"), "6.6.6.6 was written by the client itself");
        let r = request("10.0.0.9:5000", &["[2001:db8::1]:443"]);
        assert_eq!(a.of(&r), ip("2001:db8::1"));
    }

    #[test]
    fn an_untrusted_peer_or_a_garbled_hop_is_not_looked_past() {
        let a = addrs(&["10.0.0.0/8"]);
        assert_eq!(a.of(&request("8.8.8.8:1", &["1.2.3.4"])), ip("8.8.8.8"));
        assert_eq!(a.of(&request("10.0.0.9:1", &["1.2.3.4, nonsense"])), ip("10.0.0.9"));
        assert_eq!(a.of(&request("10.0.0.9:1", &[])), ip("10.0.0.9"));
    }

    #[test]
    fn a_non_ascii_byte_in_the_header_does_not_hide_the_appended_client() {
        let a = addrs(&["10.0.0.0/8"]);
        // nginx: "$http_x_forwarded_for, $remote_addr": the client's bytes, then its address.
        let mut r = request("10.0.0.9:1", &[]);
        let value = tonic::metadata::MetadataValue::try_from(&b"\xff, 6.6.6.6"[..]).unwrap();
        r.metadata_mut().append("x-forwarded-for", value);
        assert_eq!(a.of(&r), ip("6.6.6.6"), "the hop the proxy appended is the client");
        // Garbage nearer than the proxy's hop: the walk stops at the trusted proxy's view.
        let mut r = request("10.0.0.9:1", &["1.2.3.4"]);
        let value = tonic::metadata::MetadataValue::try_from(&b"10.0.0.7, \xff"[..]).unwrap();
        r.metadata_mut().append("x-forwarded-for", value);
        assert_eq!(a.of(&r), ip("10.0.0.9"));
    }

    #[test]
    fn a_bad_network_is_refused() {
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("proxy").is_err());
        assert_eq!(parse_network("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
    }
}
