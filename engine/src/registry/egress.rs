//! Egress: where a server's registry client may connect. `portcullis
//! serve` pulls whatever image a Pod names, so without a check any
//! Kubernetes user could make it open connections to the cloud metadata
//! address, to loopback services of its own pod or to internal hosts, and
//! learn from the verdict what answered.
//!
//! The check is made on the resolved addresses, at connection time, for
//! every connection — the registry's, its token service's, and each
//! redirect's (blob redirects to storage hosts): oci-client builds its own
//! HTTP client, with no hook for a resolver or a redirect policy, but it
//! takes a proxy. So the guard is a small HTTP proxy on a loopback port of
//! this process: it resolves each host itself, refuses addresses the rule
//! forbids, and connects to exactly the address it checked (a name cannot
//! resolve to one address for the check and another for the connection).
//! Other processes that find the port gain nothing: it reaches less than
//! they can reach directly.
//!
//! The rule ([`classify`]): never link-local (169.254.0.0/16, fe80::/10 —
//! where cloud metadata services answer), the other metadata addresses,
//! unspecified, multicast, broadcast and reserved ranges; loopback and
//! private ranges (RFC 1918, carrier-grade NAT, unique-local IPv6) only
//! when the server allows private registries. IPv4 addresses embedded in
//! IPv6 (mapped, NAT64) are judged as the IPv4 address they reach.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// What an address is, as far as connecting to it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Anywhere on the internet.
    Public,
    /// Loopback or a private range: only with private registries allowed.
    Private(&'static str),
    /// Never connected to.
    Forbidden(&'static str),
}

/// The ranges that are not public, most specific first (the first match
/// decides).
static RANGES: LazyLock<Vec<(IpNet, Class)>> = LazyLock::new(|| {
    use Class::{Forbidden, Private};
    [
        ("100.100.100.200/32", Forbidden("the Alibaba Cloud metadata address")),
        ("192.0.0.192/32", Forbidden("the Oracle Cloud metadata address")),
        ("fd00:ec2::254/128", Forbidden("the AWS metadata address (IPv6)")),
        ("0.0.0.0/8", Forbidden("unspecified (\"this network\")")),
        ("169.254.0.0/16", Forbidden("link-local (cloud metadata services answer at 169.254.169.254)")),
        ("192.0.0.0/24", Forbidden("reserved for IETF protocol assignments")),
        ("224.0.0.0/4", Forbidden("multicast")),
        ("240.0.0.0/4", Forbidden("reserved (and broadcast)")),
        ("::/128", Forbidden("unspecified")),
        ("fe80::/10", Forbidden("link-local")),
        ("ff00::/8", Forbidden("multicast")),
        ("127.0.0.0/8", Private("loopback")),
        ("::1/128", Private("loopback")),
        ("10.0.0.0/8", Private("private (RFC 1918)")),
        ("172.16.0.0/12", Private("private (RFC 1918)")),
        ("192.168.0.0/16", Private("private (RFC 1918)")),
        ("100.64.0.0/10", Private("shared address space (carrier-grade NAT)")),
        ("198.18.0.0/15", Private("benchmarking (RFC 2544)")),
        ("fc00::/7", Private("unique-local IPv6")),
        // What is left of ::/96 after :: and ::1: deprecated IPv4-compatible
        // addresses, routed nowhere useful.
        ("::/96", Forbidden("deprecated IPv4-compatible IPv6")),
    ]
    .into_iter()
    .map(|(net, class)| (net.parse().expect("the range table parses"), class))
    .collect()
});

/// The class of one address.
pub fn classify(ip: IpAddr) -> Class {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its low bits.
            None if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
                let o = v6.octets();
                IpAddr::V4(std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]))
            }
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    RANGES.iter().find(|(net, _)| net.contains(&ip)).map_or(Class::Public, |(_, class)| *class)
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress").field("allow_private", &self.allows_private()).finish_non_exhaustive()
    }
}

/// Refusals kept for the error messages of the pulls they broke.
const REMEMBERED: usize = 256;

/// The guard: the rule, and the proxy that applies it.
pub struct Egress {
    allow_private: bool,
    /// `host:port` → why connections there were refused (the HTTP client
    /// only sees a failed tunnel; the pull's error names the reason).
    refusals: Mutex<lru::LruCache<String, String>>,
    proxy: tokio::sync::OnceCell<String>,
    connect_timeout: Duration,
}

impl Egress {
    pub fn new(allow_private: bool) -> Arc<Egress> {
        Arc::new(Egress {
            allow_private,
            refusals: Mutex::new(lru::LruCache::new(REMEMBERED.try_into().expect("non-zero"))),
            proxy: tokio::sync::OnceCell::new(),
            connect_timeout: Duration::from_secs(10),
        })
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Whether `ip` may be connected to; `Err` is why not.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        match classify(ip) {
            Class::Public => Ok(()),
            Class::Private(_) if self.allows_private() => Ok(()),
            Class::Private(what) => Err(format!(
                "{ip} is {what}; the server connects to private addresses only with --allow-private-registries"
            )),
            Class::Forbidden(what) => Err(format!("{ip} is {what}; the server never connects there")),
        }
    }

    /// Why connections to `host:port` were last refused, if they were.
    pub fn refusal(&self, host_port: &str) -> Option<String> {
        self.refusals.lock().unwrap_or_else(|p| p.into_inner()).get(host_port).cloned()
    }

    /// The proxy URL for HTTP clients to use; the proxy
    /// starts on first use, on the current tokio runtime.
    pub async fn proxy_url(self: &Arc<Self>) -> Result<String, String> {
        let this = self.clone();
        self.proxy
            .get_or_try_init(|| async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| format!("cannot start the egress guard: {e}"))?;
                let addr = listener.local_addr().map_err(|e| format!("cannot start the egress guard: {e}"))?;
                let url = format!("http://{addr}");
                tokio::spawn(this.serve(listener));
                Ok(url)
            })
            .await
            .cloned()
    }

    async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let this = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| this.clone().handle(req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    }

    /// Resolves `host`, keeps the addresses the rule allows, and connects
    /// to the first that answers. `Err`: the reason, also remembered.
    async fn connect(&self, host: &str, port: u16) -> Result<tokio::net::TcpStream, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let resolved: Vec<SocketAddr> = match tokio::net::lookup_host((bare, port)).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => return Err(format!("{host}: cannot resolve: {e}")),
        };
        let mut refused = Vec::new();
        let mut last_error = None;
        for addr in &resolved {
            if let Err(why) = self.check(addr.ip()) {
                refused.push(why);
                continue;
            }
            match tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => last_error = Some(format!("{addr}: {e}")),
                Err(_) => last_error = Some(format!("{addr}: no answer within {:?}", self.connect_timeout)),
            }
        }
        match last_error {
            Some(e) => Err(e),
            None => {
                let why = format!("connection to {host}:{port} refused: {}", refused.join("; "));
                self.refusals.lock().unwrap_or_else(|p| p.into_inner()).put(format!("{host}:{port}"), why.clone());
                Err(why)
            }
        }
    }

    async fn handle(self: Arc<Self>, mut req: Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
        let Some(authority) = req.uri().authority().cloned() else {
            return Ok(answer(StatusCode::BAD_REQUEST, "the egress guard forwards absolute URLs only".into()));
        };
        let default_port = if req.uri().scheme_str() == Some("https") { 443 } else { 80 };
        let (host, port) = (authority.host().to_string(), authority.port_u16().unwrap_or(default_port));
        let upstream = match self.connect(&host, port).await {
            Ok(s) => s,
            Err(why) => return Ok(answer(StatusCode::FORBIDDEN, why)),
        };
        if req.method() == Method::CONNECT {
            // TLS goes through the tunnel untouched: the client checks the
            // registry's certificate against the name it asked for.
            tokio::spawn(async move {
                if let Ok(upgraded) = hyper::upgrade::on(req).await {
                    let mut upgraded = TokioIo::new(upgraded);
                    let mut upstream = upstream;
                    let _ = tokio::io::copy_bidirectional(&mut upgraded, &mut upstream).await;
                }
            });
            return Ok(Response::new(empty()));
        }
        // Plain HTTP: the request goes to the checked address in origin form.
        let origin = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
        *req.uri_mut() = origin.parse().unwrap_or_default();
        let (mut sender, connection) = match hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await {
            Ok(pair) => pair,
            Err(e) => return Ok(answer(StatusCode::BAD_GATEWAY, format!("{host}:{port}: {e}"))),
        };
        tokio::spawn(connection);
        match sender.send_request(req).await {
            Ok(response) => Ok(response.map(|b| b.boxed())),
            Err(e) => Ok(answer(StatusCode::BAD_GATEWAY, format!("{host}:{port}: {e}"))),
        }
    }
}

type Body = BoxBody<Bytes, hyper::Error>;

fn empty() -> Body {
    Full::new(Bytes::new()).map_err(|never| match never {}).boxed()
}

fn answer(status: StatusCode, message: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(message + "\n")).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert("x-portcullis-egress", hyper::header::HeaderValue::from_static("refused"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> Class {
        classify(ip.parse().unwrap())
    }

    #[test]
    fn metadata_link_local_and_reserved_addresses_are_forbidden() {
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "192.0.0.192",
            "fd00:ec2::254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "fe80::1",
            "ff02::1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::a9fe:a9fe",
        ] {
            assert!(matches!(class(ip), Class::Forbidden(_)), "{ip}: {:?}", class(ip));
        }
    }

    #[test]
    fn loopback_and_private_ranges_are_private() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "198.18.0.1",
            "fd12::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
        ] {
            assert!(matches!(class(ip), Class::Private(_)), "{ip}: {:?}", class(ip));
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in ["140.82.112.3", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert_eq!(class(ip), Class::Public, "{ip}");
        }
    }

    /// A CONNECT through the guard: to an allowed address the tunnel
    /// carries bytes both ways; to a refused one the answer is 403, nothing
    /// connects, and the refusal is remembered for the error message.
    #[tokio::test]
    async fn tunnels_go_only_where_the_rule_allows() {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 5];
                    if s.read_exact(&mut buf).await.is_ok() {
                        let _ = s.write_all(&buf).await;
                    }
                });
            }
        });
        async fn connect(proxy: &str, target: SocketAddr) -> (String, tokio::net::TcpStream) {
            let mut s = tokio::net::TcpStream::connect(proxy.trim_start_matches("http://")).await.unwrap();
            s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes()).await.unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut b = [0u8];
                if s.read(&mut b).await.unwrap() == 0 {
                    break;
                }
                head.push(b[0]);
            }
            (String::from_utf8_lossy(&head).into_owned(), s)
        }

        let open = Egress::new(true);
        let (head, mut tunnel) = connect(&open.proxy_url().await.unwrap(), target).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        tunnel.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        tunnel.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        let strict = Egress::new(false);
        let (head, _) = connect(&strict.proxy_url().await.unwrap(), target).await;
        assert!(head.starts_with("HTTP/1.1 403"), "{head}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "a refused tunnel connected");
        let why = strict.refusal(&target.to_string()).expect("the refusal is remembered");
        assert!(why.contains("loopback"), "{why}");
    }

    #[test]
    fn private_addresses_need_the_setting_and_forbidden_ones_never_pass() {
        let strict = Egress::new(false);
        let e = strict.check("127.0.0.1".parse().unwrap()).unwrap_err();
        assert!(e.contains("loopback") && e.contains("--allow-private-registries"), "{e}");
        let open = Egress::new(true);
        assert!(open.check("10.0.0.1".parse().unwrap()).is_ok());
        let e = open.check("169.254.169.254".parse().unwrap()).unwrap_err();
        assert!(e.contains("link-local") && e.contains("never"), "{e}");
        assert!(strict.check("8.8.8.8".parse().unwrap()).is_ok());
    }
}
