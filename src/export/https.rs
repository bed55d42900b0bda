//! HTTPS sink transport: batches as gzip'd NDJSON, one HTTP/1.1 POST each, to the MDR backend
//! over (mutual) TLS. `docs/export.md`, "HTTPS sink".
//!
//! A small HTTP/1.1 client of our own over `rustls` (ring provider): one connection, kept alive
//! between batches, dropped on any error and opened again by the next send. The response is
//! parsed strictly (`httparse` for the head, our own framing for the body) with bounded sizes,
//! and every socket operation runs against one deadline per request (`timeout_s`), so a slow or
//! hostile server can neither make us allocate without bound nor hold us past the timeout.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::transport::{Line, SinkError, Transport};
use crate::config::SinkConfig;

/// Largest response head (status line and headers; also the trailers of a chunked body).
const MAX_HEAD: usize = 16 << 10;
/// Most header fields in a response head.
const MAX_HEADERS: usize = 64;
/// Largest response body we read (and throw away, past the excerpt).
const MAX_BODY: u64 = 1 << 20;
/// Longest chunk-size line of a chunked body (size and extensions).
const MAX_CHUNK_LINE: usize = 1024;
/// Interim (1xx) responses skipped before the final one.
const MAX_INTERIM: usize = 4;
/// Bytes of the response body kept for error messages.
const EXCERPT: usize = 256;
/// Read buffer size.
const READ_CHUNK: usize = 8 << 10;

/// The HTTPS transport of one `[[export.sink]]` of type "https".
pub struct HttpsTransport {
    url: String,
    endpoint: Endpoint,
    tls: Arc<ClientConfig>,
    timeout: Duration,
    /// The kept-alive connection, if any.
    conn: Option<TlsStream>,
    /// Reused buffers: the gzip'd body and the request head.
    body: Vec<u8>,
    head: Vec<u8>,
}

type TlsStream = StreamOwned<ClientConnection, DeadlineSocket>;

impl fmt::Debug for HttpsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsTransport")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl HttpsTransport {
    /// Reads `url`, `ca`, `cert`, `key` and `timeout_s`. `ca` is required (the server is
    /// verified against it only; there are no built-in roots); `cert` and `key` come together.
    pub fn new(cfg: &SinkConfig) -> Result<HttpsTransport, SinkError> {
        let sink = &cfg.name;
        let config_err = |what: String| SinkError::Config(format!("sink {sink:?}: {what}"));
        let url = cfg
            .url
            .as_deref()
            .ok_or_else(|| config_err("an https sink needs `url`".into()))?;
        let endpoint = Endpoint::parse(url).map_err(|e| config_err(format!("url {url:?}: {e}")))?;
        if cfg.timeout_s == 0 {
            return Err(config_err("`timeout_s` must be at least 1".into()));
        }
        let ca = cfg.ca.as_deref().ok_or_else(|| {
            config_err("an https sink needs `ca`, the PEM file of the CA that signed the server's certificate".into())
        })?;
        let roots = load_roots(ca).map_err(config_err)?;

        let provider = ring_provider();
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_err(format!("TLS: {e}")))?
            .with_root_certificates(roots);
        let mut tls = match (cfg.cert.as_deref(), cfg.key.as_deref()) {
            (Some(cert), Some(key)) => {
                let chain = load_certs(cert).map_err(config_err)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| config_err(format!("key {key:?}: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| config_err(format!("client certificate {cert:?}: {e}")))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(config_err(
                    "`cert` and `key` (the client certificate for mutual TLS) go together".into(),
                ))
            }
        };
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];

        Ok(HttpsTransport {
            url: url.to_string(),
            endpoint,
            tls: Arc::new(tls),
            timeout: Duration::from_secs(cfg.timeout_s),
            conn: None,
            body: Vec::new(),
            head: Vec::new(),
        })
    }

    /// Fills `self.head` and `self.body` with the request for `batch` (not empty).
    fn encode(&mut self, batch: &[Line<'_>]) -> io::Result<()> {
        self.body.clear();
        let mut gz = GzEncoder::new(std::mem::take(&mut self.body), Compression::default());
        for line in batch {
            gz.write_all(line.json)?;
            gz.write_all(b"\n")?;
        }
        self.body = gz.finish()?;

        let (first, last) = match (batch.first(), batch.last()) {
            (Some(f), Some(l)) => (f.id, l.id),
            _ => ("", ""),
        };
        self.head.clear();
        let h = &mut self.head;
        write!(h, "POST {} HTTP/1.1\r\n", self.endpoint.target)?;
        write!(h, "Host: {}\r\n", self.endpoint.host_header)?;
        write!(h, "User-Agent: tapir/{}\r\n", env!("CARGO_PKG_VERSION"))?;
        h.extend_from_slice(b"Content-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\n");
        write!(h, "Content-Length: {}\r\n", self.body.len())?;
        write!(h, "X-Tapir-Records: {}\r\n", batch.len())?;
        h.extend_from_slice(b"X-Tapir-First-Id: ");
        header_value(h, first);
        h.extend_from_slice(b"\r\nX-Tapir-Last-Id: ");
        header_value(h, last);
        h.extend_from_slice(b"\r\n\r\n");
        Ok(())
    }

    fn connect(&self, deadline: Instant) -> Result<TlsStream, Failure> {
        let ep = &self.endpoint;
        let addrs: Vec<SocketAddr> = (ep.host.as_str(), ep.port)
            .to_socket_addrs()
            .map_err(|e| Failure::Connect(format!("cannot resolve {}: {e}", ep.host)))?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for addr in &addrs {
            let left = remaining(deadline).map_err(|_| Failure::Connect("timed out".into()))?;
            match TcpStream::connect_timeout(addr, left) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(format!("{addr}: {e}")),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            Failure::Connect(last.unwrap_or_else(|| format!("no address for {}", ep.host)))
        })?;
        let _ = tcp.set_nodelay(true);
        let conn = ClientConnection::new(self.tls.clone(), ep.server_name.clone())
            .map_err(|e| Failure::Connect(format!("TLS: {e}")))?;
        tracing::debug!(url = %self.url, "https sink: connected");
        Ok(StreamOwned::new(conn, DeadlineSocket { tcp, deadline }))
    }

    /// One request on the kept-alive connection or a new one. The connection is kept only when
    /// the whole exchange succeeded and the server lets it live.
    fn exchange(&mut self, deadline: Instant) -> Result<Response, Failure> {
        let reused = self.conn.is_some();
        let mut s = match self.conn.take() {
            Some(mut s) => {
                s.sock.deadline = deadline;
                s
            }
            None => self.connect(deadline)?,
        };
        let sent = s
            .write_all(&self.head)
            .and_then(|()| s.write_all(&self.body))
            .and_then(|()| s.flush());
        if let Err(e) = sent {
            return Err(Failure::Io {
                stale: reused && is_closed(&e),
                e,
            });
        }
        match read_response(&mut s) {
            Ok(resp) => {
                if resp.keep_alive {
                    self.conn = Some(s);
                }
                Ok(resp)
            }
            Err(ResponseError::NoResponse(e)) => Err(Failure::Io {
                stale: reused && e.as_ref().is_none_or(is_closed),
                e: e.unwrap_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof)),
            }),
            Err(ResponseError::Io(e)) => Err(Failure::Io { stale: false, e }),
            Err(e) => Err(Failure::Response(e)),
        }
    }
}

impl Transport for HttpsTransport {
    fn send(&mut self, batch: &[Line<'_>]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.encode(batch)
            .map_err(|e| SinkError::Transient(format!("{}: encoding the batch: {e}", self.url)))?;
        let deadline = Instant::now() + self.timeout;
        let resp = match self.exchange(deadline) {
            // The server closed the idle kept-alive connection: once more on a new one (the
            // request may have arrived: lines may arrive twice, as after any failure).
            Err(Failure::Io { stale: true, e }) => {
                tracing::debug!(url = %self.url, error = %e, "https sink: kept-alive connection closed, reconnecting");
                self.exchange(deadline)
            }
            r => r,
        };
        let resp = resp.map_err(|f| {
            SinkError::Transient(format!("{}: {}", self.url, f.message(self.timeout)))
        })?;
        classify(&resp).map_err(|e| match e {
            SinkError::Transient(m) => SinkError::Transient(format!("{}: {m}", self.url)),
            SinkError::Rejected(m) => SinkError::Rejected(format!("{}: {m}", self.url)),
            SinkError::Config(m) => SinkError::Config(m),
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

/// The *ring* crypto provider (the project uses ring, not aws-lc-rs). rustls 0.23.48 deprecates
/// it because ring has no post-quantum key exchange (X25519MLKEM768 is aws-lc-rs only): the
/// classical groups (X25519, P-256, P-384) are used.
#[allow(deprecated)]
fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The status of a complete response as the sink's result.
fn classify(resp: &Response) -> Result<(), SinkError> {
    let s = resp.status;
    if (200..300).contains(&s) {
        return Ok(());
    }
    let msg = resp.summary();
    if s == 408 || s == 429 || (500..600).contains(&s) {
        Err(SinkError::Transient(msg))
    } else if (300..500).contains(&s) {
        Err(SinkError::Rejected(msg))
    } else {
        Err(SinkError::Transient(format!("unexpected status: {msg}")))
    }
}

/// Why an exchange failed (before a complete response).
#[derive(Debug)]
enum Failure {
    Connect(String),
    /// `stale`: on a reused connection, closed by the server before any byte of an answer.
    Io {
        e: io::Error,
        stale: bool,
    },
    Response(ResponseError),
}

impl Failure {
    fn message(&self, timeout: Duration) -> String {
        match self {
            Failure::Connect(m) => format!("connect: {m}"),
            Failure::Io { e, .. } => io_message(e, timeout),
            Failure::Response(ResponseError::Io(e)) => io_message(e, timeout),
            Failure::Response(e) => format!("bad response: {e}"),
        }
    }
}

fn io_message(e: &io::Error, timeout: Duration) -> String {
    if e.kind() == io::ErrorKind::TimedOut {
        return format!("no complete answer within {}s", timeout.as_secs());
    }
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => format!("TLS: {tls}"),
        None => format!("I/O: {e}"),
    }
}

/// Whether an error means the peer had closed the connection.
fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// A header value from a record id: visible ASCII as is, anything else (and `%`)
/// percent-encoded, so that an id can never end the header.
fn header_value(out: &mut Vec<u8>, v: &str) {
    for &b in v.as_bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out"))
}

/// The TCP socket under TLS: every read and write waits at most until the request's deadline,
/// however the server spreads its bytes.
#[derive(Debug)]
struct DeadlineSocket {
    tcp: TcpStream,
    deadline: Instant,
}

fn timed_out(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, "timed out")
        }
        _ => e,
    }
}

impl Read for DeadlineSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(remaining(self.deadline)?))?;
        self.tcp.read(buf).map_err(timed_out)
    }
}

impl Write for DeadlineSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp
            .set_write_timeout(Some(remaining(self.deadline)?))?;
        self.tcp.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// The parts of the URL a request needs.
#[derive(Debug)]
struct Endpoint {
    /// Host name or IP address (IPv6 without brackets): resolved, and the TLS server name.
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    /// `Host:` header value.
    host_header: String,
    /// Request target: path and query.
    target: String,
}

impl Endpoint {
    /// `https://host[:port][/path][?query]`; IPv6 addresses in brackets.
    fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = match url.get(..8) {
            Some(s) if s.eq_ignore_ascii_case("https://") => &url[8..],
            _ => return Err("must start with https://".into()),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err("user information in the URL is not supported".into());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("junk after ]")?),
            };
            (host, port)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        let port = match port {
            None => 443,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or("bad port")?,
            Some(_) => return Err("bad port".into()),
        };
        let server_name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("bad host {host:?}: {e}"))?;
        let target = match target {
            "" => "/".to_string(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_string(),
        };
        if !target.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err("the path must be percent-encoded (no spaces or control bytes)".into());
        }
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let host_header = if port == 443 {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        Ok(Endpoint {
            host: host.to_string(),
            port,
            server_name,
            host_header,
            target,
        })
    }
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path:?}: {e}"))
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path:?}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path:?}: no PEM certificate in it"));
    }
    Ok(certs)
}

fn load_roots(path: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| format!("CA {path:?}: {e}"))?;
    }
    Ok(roots)
}

/// What the sink needs of a response.
#[derive(Debug)]
struct Response {
    status: u16,
    reason: String,
    /// Whether the connection can carry the next request.
    keep_alive: bool,
    /// The first bytes of the body.
    excerpt: Vec<u8>,
}

impl Response {
    /// "HTTP 400 Bad Request: <first bytes of the body>".
    fn summary(&self) -> String {
        let mut s = format!("HTTP {}", self.status);
        if !self.reason.is_empty() {
            s.push(' ');
            s.push_str(&self.reason);
        }
        let body = printable(&self.excerpt);
        let body = body.trim();
        if !body.is_empty() {
            s.push_str(": ");
            s.push_str(body);
        }
        s
    }
}

/// Text for a log line: control characters become spaces, invalid UTF-8 U+FFFD.
fn printable(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[derive(Debug, thiserror::Error)]
enum ResponseError {
    /// The connection ended (or failed) before the first byte of an answer.
    #[error("connection closed before any answer")]
    NoResponse(Option<io::Error>),
    #[error("{0}")]
    Io(io::Error),
    #[error("connection closed in the middle of the response")]
    Truncated,
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    #[error("bad Content-Length")]
    ContentLength,
    #[error("unsupported Transfer-Encoding")]
    TransferEncoding,
    #[error("both Content-Length and Transfer-Encoding")]
    Ambiguous,
    #[error("malformed chunked body")]
    Chunked,
    #[error("response body larger than {MAX_BODY} bytes")]
    BodyTooLarge,
    #[error("more than {MAX_INTERIM} interim (1xx) responses")]
    TooManyInterim,
    #[error("unexpected 101 Switching Protocols")]
    Upgrade,
}

/// How the body of a response is delimited.
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// The head of a final response.
struct Head {
    status: u16,
    reason: String,
    keep_alive: bool,
    framing: Framing,
}

/// Reads one response (skipping interim 1xx ones) and its whole body.
fn read_response<R: Read>(r: &mut R) -> Result<Response, ResponseError> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut end = 0;
    let mut received = false;
    let mut interim = 0;
    // Parse again only once a new line has arrived (a trickling server costs no rescans).
    let mut new_line = false;
    let (head, head_len) = loop {
        if end > 0 && new_line {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&buf[..end]).map_err(ResponseError::Head)? {
                httparse::Status::Complete(n) => {
                    let head = parse_head(&resp)?;
                    if (100..200).contains(&head.status) {
                        interim += 1;
                        if interim > MAX_INTERIM {
                            return Err(ResponseError::TooManyInterim);
                        }
                        buf.copy_within(n..end, 0);
                        end -= n;
                        new_line = buf[..end].contains(&b'\n');
                        continue;
                    }
                    break (head, n);
                }
                httparse::Status::Partial => {}
            }
        }
        if end >= MAX_HEAD {
            return Err(ResponseError::HeadTooLarge);
        }
        if end == buf.len() {
            buf.resize((buf.len() * 2).min(MAX_HEAD), 0);
        }
        let n = match read_some(r, &mut buf[end..]) {
            Ok(n) => n,
            Err(e) if !received => return Err(ResponseError::NoResponse(Some(e))),
            Err(e) => return Err(ResponseError::Io(e)),
        };
        if n == 0 {
            return Err(if received {
                ResponseError::Truncated
            } else {
                ResponseError::NoResponse(None)
            });
        }
        received = true;
        // (And on the first bytes: garbage is refused at once.)
        new_line = end == 0 || buf[end..end + n].contains(&b'\n');
        end += n;
    };

    let mut input = Input {
        r,
        buf,
        pos: head_len,
        end,
    };
    let mut body = Body::default();
    let mut keep_alive = head.keep_alive;
    match head.framing {
        Framing::None => {}
        Framing::Length(n) => {
            if n > MAX_BODY {
                return Err(ResponseError::BodyTooLarge);
            }
            input.take(n, &mut body)?;
        }
        Framing::Chunked => read_chunked(&mut input, &mut body)?,
        Framing::UntilClose => {
            keep_alive = false;
            input.take_until_close(&mut body)?;
        }
    }
    // Bytes past the response: not a conversation we can continue.
    if input.pos < input.end {
        keep_alive = false;
    }
    Ok(Response {
        status: head.status,
        reason: head.reason,
        keep_alive,
        excerpt: body.excerpt,
    })
}

fn parse_head(resp: &httparse::Response<'_, '_>) -> Result<Head, ResponseError> {
    let status = resp.code.unwrap_or(0);
    if status == 101 {
        return Err(ResponseError::Upgrade);
    }
    let reason: String = printable(resp.reason.unwrap_or("").as_bytes())
        .chars()
        .take(64)
        .collect();
    let mut keep_alive = resp.version == Some(1);
    let mut length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .map_err(|_| ResponseError::ContentLength)?
                .trim();
            if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ResponseError::ContentLength);
            }
            let n: u64 = v.parse().map_err(|_| ResponseError::ContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(ResponseError::ContentLength);
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let v = std::str::from_utf8(h.value).map_err(|_| ResponseError::TransferEncoding)?;
            for c in v.split(',') {
                let c = c.trim();
                if c.is_empty() || codings.len() >= 8 {
                    return Err(ResponseError::TransferEncoding);
                }
                codings.push(c.to_ascii_lowercase());
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for t in String::from_utf8_lossy(h.value).split(',') {
                let t = t.trim();
                if t.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                }
            }
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if !codings.is_empty() {
        if length.is_some() {
            return Err(ResponseError::Ambiguous);
        }
        let chunked = codings.iter().filter(|c| *c == "chunked").count();
        if chunked != 1 || codings.last().map(String::as_str) != Some("chunked") {
            return Err(ResponseError::TransferEncoding);
        }
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Head {
        status,
        reason,
        keep_alive,
        framing,
    })
}

fn read_chunked<R: Read>(input: &mut Input<'_, R>, body: &mut Body) -> Result<(), ResponseError> {
    loop {
        let line = input.line(MAX_CHUNK_LINE)?;
        let size = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = size.trim_ascii();
        if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(ResponseError::Chunked);
        }
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or(ResponseError::Chunked)?;
        if size == 0 {
            // Trailer fields, up to the empty line.
            let mut trailers = 0;
            loop {
                let t = input.line(MAX_HEAD)?;
                if t.is_empty() {
                    return Ok(());
                }
                trailers += t.len() + 2;
                if trailers > MAX_HEAD {
                    return Err(ResponseError::HeadTooLarge);
                }
            }
        }
        if body.total + size > MAX_BODY {
            return Err(ResponseError::BodyTooLarge);
        }
        input.take(size, body)?;
        if !input.line(0)?.is_empty() {
            return Err(ResponseError::Chunked);
        }
    }
}

/// The body as far as we keep it: its first bytes and its length.
#[derive(Default)]
struct Body {
    excerpt: Vec<u8>,
    total: u64,
}

impl Body {
    fn push(&mut self, b: &[u8]) {
        let room = EXCERPT.saturating_sub(self.excerpt.len());
        self.excerpt.extend_from_slice(&b[..b.len().min(room)]);
        self.total += b.len() as u64;
    }
}

/// Buffered input after the response head.
struct Input<'r, R> {
    r: &'r mut R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl<R: Read> Input<'_, R> {
    /// Makes bytes available; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, ResponseError> {
        if self.pos < self.end {
            return Ok(true);
        }
        self.pos = 0;
        self.end = read_some(self.r, &mut self.buf).map_err(ResponseError::Io)?;
        Ok(self.end > 0)
    }

    /// Consumes exactly `n` body bytes.
    fn take(&mut self, mut n: u64, body: &mut Body) -> Result<(), ResponseError> {
        while n > 0 {
            if !self.fill()? {
                return Err(ResponseError::Truncated);
            }
            let k = ((self.end - self.pos) as u64).min(n) as usize;
            body.push(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n -= k as u64;
        }
        Ok(())
    }

    /// Consumes the rest of the stream (at most `MAX_BODY` bytes). A TLS stream that ends
    /// without close_notify ends the body too.
    fn take_until_close(&mut self, body: &mut Body) -> Result<(), ResponseError> {
        loop {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(ResponseError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(())
                }
                Err(e) => return Err(e),
            }
            let k = self.end - self.pos;
            if body.total + k as u64 > MAX_BODY {
                return Err(ResponseError::BodyTooLarge);
            }
            body.push(&self.buf[self.pos..self.end]);
            self.pos = self.end;
        }
    }

    /// One line ending in CRLF, without it; at most `max` bytes before the CRLF.
    fn line(&mut self, max: usize) -> Result<Vec<u8>, ResponseError> {
        let mut line = Vec::new();
        loop {
            if !self.fill()? {
                return Err(ResponseError::Truncated);
            }
            let avail = &self.buf[self.pos..self.end];
            match avail.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&avail[..i]);
                    self.pos += i + 1;
                    if line.pop() != Some(b'\r') || line.len() > max {
                        return Err(ResponseError::Chunked);
                    }
                    return Ok(line);
                }
                None => {
                    line.extend_from_slice(avail);
                    self.pos = self.end;
                    // + 1: the CR may be the last byte read.
                    if line.len() > max + 1 {
                        return Err(ResponseError::Chunked);
                    }
                }
            }
        }
    }
}

fn read_some<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out the fixture `step` bytes at a time (every split point gets exercised).
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(self.data.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn parse_all_steps(data: &[u8]) -> Vec<Result<Response, ResponseError>> {
        [1, 2, 3, 7, 64, data.len().max(1)]
            .iter()
            .map(|&step| read_response(&mut Trickle { data, step }))
            .collect()
    }

    fn parse_ok(data: &[u8]) -> Response {
        let mut out = None;
        for r in parse_all_steps(data) {
            match r {
                Ok(r) => out = Some(r),
                Err(e) => panic!("{e} on {:?}", String::from_utf8_lossy(data)),
            }
        }
        out.unwrap()
    }

    fn parse_err(data: &[u8]) -> ResponseError {
        let mut out = None;
        for r in parse_all_steps(data) {
            match r {
                Ok(r) => panic!("accepted {r:?}"),
                Err(e) => out = Some(e),
            }
        }
        out.unwrap()
    }

    #[test]
    fn content_length() {
        let r = parse_ok(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\n{\"ok\":true}");
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert!(r.keep_alive);
        assert_eq!(r.excerpt, b"{\"ok\":true}");
        assert!(classify(&r).is_ok());
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let r = parse_ok(
            b"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n\
              5;ext=1\r\nbad r\r\nA\r\nequest: id\r\n0\r\nX-Trailer: yes\r\n\r\n",
        );
        assert_eq!(r.status, 400);
        assert!(r.keep_alive);
        assert_eq!(r.excerpt, b"bad request: id");
        match classify(&r) {
            Err(SinkError::Rejected(m)) => {
                assert_eq!(m, "HTTP 400 Bad Request: bad request: id")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_body_statuses_and_interim() {
        let r = parse_ok(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(r.status, 204);
        assert!(r.keep_alive);
        assert!(r.excerpt.is_empty());
    }

    #[test]
    fn connection_close_and_until_close() {
        let r = parse_ok(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(!r.keep_alive);
        let r = parse_ok(b"HTTP/1.1 503 Service Unavailable\r\n\r\ntry later");
        assert!(!r.keep_alive);
        assert_eq!(r.excerpt, b"try later");
        assert!(matches!(classify(&r), Err(SinkError::Transient(_))));
        let r = parse_ok(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert!(!r.keep_alive);
        // Bytes after the response: the connection is not reused.
        let r = parse_ok(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n");
        assert!(!r.keep_alive);
    }

    #[test]
    fn status_mapping() {
        let resp = |status| Response {
            status,
            reason: String::new(),
            keep_alive: true,
            excerpt: b"x\r\ny".to_vec(),
        };
        for s in [200, 201, 202, 204, 299] {
            assert!(classify(&resp(s)).is_ok(), "{s}");
        }
        for s in [408, 429, 500, 502, 503, 599, 600, 999] {
            assert!(
                matches!(classify(&resp(s)), Err(SinkError::Transient(_))),
                "{s}"
            );
        }
        for s in [301, 400, 401, 403, 404, 413, 422] {
            assert!(
                matches!(classify(&resp(s)), Err(SinkError::Rejected(_))),
                "{s}"
            );
        }
        assert_eq!(resp(400).summary(), "HTTP 400: x  y");
    }

    #[test]
    fn garbage() {
        assert!(matches!(
            parse_err(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
            ResponseError::Head(_)
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 abc OK\r\n\r\n"),
            ResponseError::Head(_)
        ));
        assert!(matches!(
            parse_err(b"\x00\x01\x02\x03"),
            ResponseError::Head(_)
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"),
            ResponseError::ContentLength
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            ResponseError::ContentLength
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"),
            ResponseError::ContentLength
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            ResponseError::ContentLength
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ResponseError::Ambiguous
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            ResponseError::TransferEncoding
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            ResponseError::Chunked
        ));
        assert!(matches!(
            parse_err(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n"
            ),
            ResponseError::Chunked
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n"),
            ResponseError::Chunked
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            ResponseError::Upgrade
        ));
    }

    #[test]
    fn truncated_and_silent() {
        assert!(matches!(parse_err(b""), ResponseError::NoResponse(None)));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200"),
            ResponseError::Truncated
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
            ResponseError::Truncated
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
            ResponseError::Truncated
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"),
            ResponseError::Truncated
        ));
    }

    #[test]
    fn oversize() {
        // Head: endless header lines.
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        while head.len() <= MAX_HEAD + 100 {
            head.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(matches!(
            parse_err(&head),
            ResponseError::HeadTooLarge | ResponseError::Head(httparse::Error::TooManyHeaders)
        ));
        // One endless header line.
        let mut line = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
        line.resize(MAX_HEAD * 2, b'a');
        assert!(matches!(parse_err(&line), ResponseError::HeadTooLarge));
        // Too many (small) headers.
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"A: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(
            parse_err(&many),
            ResponseError::Head(httparse::Error::TooManyHeaders)
        ));
        // A declared length beyond the bound is refused before reading it.
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(matches!(
            parse_err(big.as_bytes()),
            ResponseError::BodyTooLarge
        ));
        // Chunks adding up past the bound.
        let mut chunks = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let chunk = vec![b'z'; 64 << 10];
        for _ in 0..=(MAX_BODY / chunk.len() as u64) {
            chunks.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            chunks.extend_from_slice(&chunk);
            chunks.extend_from_slice(b"\r\n");
        }
        chunks.extend_from_slice(b"0\r\n\r\n");
        let e = read_response(&mut Trickle {
            data: &chunks,
            step: 4096,
        });
        assert!(matches!(e, Err(ResponseError::BodyTooLarge)));
        // A huge chunk size is refused without reading it.
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"),
            ResponseError::Chunked
        ));
        assert!(matches!(
            parse_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n"),
            ResponseError::BodyTooLarge
        ));
        // A chunk-size line that never ends.
        let mut ext = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
        ext.resize(ext.len() + MAX_CHUNK_LINE * 4, b'e');
        assert!(matches!(parse_err(&ext), ResponseError::Chunked));
        // A body until close longer than the bound.
        let mut until = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        until.resize(until.len() + MAX_BODY as usize + 1, b'q');
        let e = read_response(&mut Trickle {
            data: &until,
            step: 4096,
        });
        assert!(matches!(e, Err(ResponseError::BodyTooLarge)));
        // The excerpt stays small whatever the body.
        let mut fine =
            format!("HTTP/1.1 400 Bad\r\nContent-Length: {}\r\n\r\n", 100_000).into_bytes();
        fine.resize(fine.len() + 100_000, b'b');
        let r = read_response(&mut Trickle {
            data: &fine,
            step: 4096,
        })
        .unwrap();
        assert_eq!(r.excerpt.len(), EXCERPT);
        // Endless interim responses.
        let mut interim = Vec::new();
        for _ in 0..10 {
            interim.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        interim.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(matches!(parse_err(&interim), ResponseError::TooManyInterim));
    }

    fn ep(url: &str) -> Result<Endpoint, String> {
        Endpoint::parse(url)
    }

    #[test]
    fn urls() {
        let e = ep("https://mdr.example.org/ingest/v1?sensor=a").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("mdr.example.org", 443));
        assert_eq!(e.host_header, "mdr.example.org");
        assert_eq!(e.target, "/ingest/v1?sensor=a");
        let e = ep("HTTPS://127.0.0.1:8443").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 8443));
        assert_eq!(e.host_header, "127.0.0.1:8443");
        assert_eq!(e.target, "/");
        assert!(matches!(e.server_name, ServerName::IpAddress(_)));
        let e = ep("https://[::1]:9000/x#frag").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
        assert_eq!(e.host_header, "[::1]:9000");
        assert_eq!(e.target, "/x");
        let e = ep("https://h?q=1").unwrap();
        assert_eq!(e.target, "/?q=1");
        for bad in [
            "http://host/",
            "host:443",
            "https://",
            "https://:443/",
            "https://user:pw@host/",
            "https://host:0/",
            "https://host:65536/",
            "https://host:/",
            "https://host:12a/",
            "https://[::1/",
            "https://[::1]x/",
            "https://a:1:2/",
            "https://host/a b",
            "https://bad_host!/",
        ] {
            assert!(ep(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_head() {
        let dir = std::env::temp_dir().join(format!("tapir-https-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Any certificate will do to build a client: the request is only encoded here.
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, TEST_CERT).unwrap();
        let cfg = SinkConfig {
            name: "mdr".into(),
            kind: "https".into(),
            url: Some("https://10.0.0.1:8443/ingest".into()),
            ca: Some(ca.display().to_string()),
            ..SinkConfig::default()
        };
        let mut t = HttpsTransport::new(&cfg).unwrap();
        assert_eq!(t.describe(), "https://10.0.0.1:8443/ingest");
        let lines = [
            Line {
                event_type: "flow",
                flow_id: Some(1),
                id: "run-1",
                json: b"{\"id\":\"run-1\"}",
            },
            Line {
                event_type: "dns",
                flow_id: None,
                id: "run-2\r\nX-Evil: 1",
                json: b"{\"id\":\"run-2\"}",
            },
        ];
        t.encode(&lines).unwrap();
        let head = String::from_utf8(t.head.clone()).unwrap();
        assert!(
            head.starts_with("POST /ingest HTTP/1.1\r\nHost: 10.0.0.1:8443\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nContent-Type: application/x-ndjson\r\n"));
        assert!(head.contains("\r\nContent-Encoding: gzip\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", t.body.len())));
        assert!(head.contains("\r\nX-Tapir-Records: 2\r\n"));
        assert!(head.contains("\r\nX-Tapir-First-Id: run-1\r\n"));
        assert!(
            head.contains("\r\nX-Tapir-Last-Id: run-2%0D%0AX-Evil:%201\r\n"),
            "{head}"
        );
        assert!(head.ends_with("\r\n\r\n"));
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&t.body[..])
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "{\"id\":\"run-1\"}\n{\"id\":\"run-2\"}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_errors() {
        let base = SinkConfig {
            name: "mdr".into(),
            kind: "https".into(),
            url: Some("https://127.0.0.1:1/".into()),
            ..SinkConfig::default()
        };
        let err = |cfg: SinkConfig| match HttpsTransport::new(&cfg) {
            Err(SinkError::Config(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(err(base.clone()).contains("`ca`"));
        assert!(err(SinkConfig {
            url: None,
            ..base.clone()
        })
        .contains("`url`"));
        assert!(err(SinkConfig {
            url: Some("http://x/".into()),
            ..base.clone()
        })
        .contains("https://"));
        assert!(err(SinkConfig {
            ca: Some("/nonexistent/ca.pem".into()),
            ..base.clone()
        })
        .contains("cannot read"));
        let dir = std::env::temp_dir().join(format!("tapir-https-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(err(SinkConfig {
            ca: Some(empty.display().to_string()),
            ..base.clone()
        })
        .contains("no PEM certificate"));
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, TEST_CERT).unwrap();
        let with_ca = SinkConfig {
            ca: Some(ca.display().to_string()),
            ..base.clone()
        };
        assert!(err(SinkConfig {
            cert: Some(ca.display().to_string()),
            ..with_ca.clone()
        })
        .contains("go together"));
        assert!(err(SinkConfig {
            timeout_s: 0,
            ..with_ca.clone()
        })
        .contains("timeout_s"));
        assert!(err(SinkConfig {
            cert: Some(ca.display().to_string()),
            key: Some(empty.display().to_string()),
            ..with_ca.clone()
        })
        .contains("key"));
        assert!(HttpsTransport::new(&with_ca).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A self-signed CA certificate (openssl, CN "tapir unit test"), only parsed here.
    const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBizCCATGgAwIBAgIUECbJzFQpdTKYJoyyXC2BFS9Mn8IwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPdGFwaXIgdW5pdCB0ZXN0MCAXDTI2MTIwNTA1MTIxOFoYDzIx
MjYxMTExMDUxMjE4WjAaMRgwFgYDVQQDDA90YXBpciB1bml0IHRlc3QwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAATImL3Xp52NBBN67JSSLuAT1mJUj3cslFWn9h0U
4NuJCzuaUAeoxKWBfs0fyr7uqRCeaDc0YzCP22cnWR7lG5hIo1MwUTAdBgNVHQ4E
FgQUEn6gJiYWC8W9n5wgTfgEHLGK1AUwHwYDVR0jBBgwFoAUEn6gJiYWC8W9n5wg
TfgEHLGK1AUwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA72Ni
8/qlu+44oN6yHVKqlzmE0+eSfsYPkGIfBBPT8MUCIASc2jPvpdNOqwuVBrj7QyVH
9dOcGjB9vzHa8ehQQ3cL
-----END CERTIFICATE-----
";
}
