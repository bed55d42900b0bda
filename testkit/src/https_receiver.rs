//! A mutual-TLS HTTPS receiver standing in for the MDR backend in tests, and the test PKI it
//! needs.
//!
//! [`TestPki::generate`] makes a CA, a server certificate (SAN `127.0.0.1` and `localhost`)
//! and a client certificate, and writes them as PEM files. A [`Receiver`] listens on
//! 127.0.0.1, requires a client certificate signed by the CA, accepts POSTs of gzip'd (or
//! plain) NDJSON, records every line and each record's `id`, and answers 200, or what it was
//! told to answer next ([`Receiver::reply_next`]). It can be stopped (listener and every
//! connection closed) and restarted on the same port, keeping what it recorded. Threads and
//! blocking sockets only.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

/// The PEM files of a test PKI (all in one directory).
#[derive(Clone, Debug)]
pub struct TestPki {
    pub dir: PathBuf,
    /// `ca.pem`: the CA certificate.
    pub ca: PathBuf,
    /// `client.pem`, `client.key`: the client certificate (signed by the CA) and its key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// `server.pem`, `server.key`: the server certificate (SAN 127.0.0.1, localhost).
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// A name part no other CA of this process (or of a concurrent one) has: two test CAs of one
/// name would make a foreign certificate fail on its signature rather than on its issuer.
fn unique() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl TestPki {
    /// Generates a new CA (every call a different one), a server and a client certificate, and
    /// writes `ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key` into `dir`
    /// (created if needed).
    pub fn generate(dir: &Path) -> anyhow::Result<TestPki> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;

        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("Tapir test CA {}", unique()));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?;
        server
            .distinguished_name
            .push(DnType::CommonName, "tapir test receiver");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let client_key = KeyPair::generate()?;
        let mut client = CertificateParams::new(Vec::<String>::new())?;
        client
            .distinguished_name
            .push(DnType::CommonName, "tapir test sensor");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &issuer)?;

        let pki = TestPki {
            dir: dir.to_path_buf(),
            ca: dir.join("ca.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        };
        let files = [
            (&pki.ca, pem("CERTIFICATE", ca_cert.der())),
            (&pki.server_cert, pem("CERTIFICATE", server_cert.der())),
            (
                &pki.server_key,
                pem("PRIVATE KEY", &server_key.serialize_der()),
            ),
            (&pki.client_cert, pem("CERTIFICATE", client_cert.der())),
            (
                &pki.client_key,
                pem("PRIVATE KEY", &client_key.serialize_der()),
            ),
        ];
        for (path, text) in files {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(pki)
    }

    /// An `[[export.sink]]` of type "https" to `url` with this PKI's CA, client certificate
    /// and key.
    pub fn https_sink(&self, name: &str, url: &str) -> tapir::export::SinkConfig {
        tapir::export::SinkConfig {
            name: name.into(),
            kind: "https".into(),
            url: Some(url.into()),
            ca: Some(self.ca.display().to_string()),
            cert: Some(self.client_cert.display().to_string()),
            key: Some(self.client_key.display().to_string()),
            ..tapir::export::SinkConfig::default()
        }
    }

    /// The receiver's TLS configuration: this PKI's server certificate, client certificates
    /// required and verified against this PKI's CA.
    fn server_config(&self) -> anyhow::Result<Arc<ServerConfig>> {
        // ring, as the product (rustls 0.23.48 deprecates it: no post-quantum key exchange).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca)? {
            roots.add(cert?)?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()?;
        let chain =
            CertificateDer::pem_file_iter(&self.server_cert)?.collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_file(&self.server_key)?;
        let mut cfg = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// What the receiver answers to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// This status; with a 2xx the lines are recorded, otherwise they are not.
    Status(u16),
    /// Read the request and never answer (until the client goes or the receiver stops).
    Stall,
}

/// One request the receiver saw.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    /// The status answered (0: none, [`Reply::Stall`]).
    pub status: u16,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub records_header: Option<String>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
    /// Lines in the (decoded) body.
    pub lines: usize,
    /// The `id` of the body's first and last lines.
    pub body_first_id: Option<String>,
    pub body_last_id: Option<String>,
}

#[derive(Default)]
struct State {
    lines: Vec<String>,
    ids: Vec<String>,
    requests: Vec<RequestInfo>,
    connections: usize,
    errors: Vec<String>,
    plan: VecDeque<Reply>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }
}

struct Running {
    stop: Arc<AtomicBool>,
    accept: JoinHandle<()>,
    conns: Conns,
}

/// The test backend (see the module documentation). Stops when dropped.
pub struct Receiver {
    tls: Arc<ServerConfig>,
    shared: Arc<Shared>,
    port: u16,
    running: Option<Running>,
}

/// Largest request head and body the receiver reads.
const MAX_HEAD: usize = 64 << 10;
const MAX_BODY: usize = 256 << 20;
/// How long a connection may sit idle before the receiver drops it.
const IDLE: Duration = Duration::from_secs(120);

impl Receiver {
    /// Starts on a free port of 127.0.0.1.
    pub fn start(pki: &TestPki) -> anyhow::Result<Receiver> {
        Receiver::start_on(pki, 0)
    }

    /// Starts on `port` of 127.0.0.1 (0: a free one).
    pub fn start_on(pki: &TestPki, port: u16) -> anyhow::Result<Receiver> {
        let mut r = Receiver {
            tls: pki.server_config()?,
            shared: Arc::new(Shared::default()),
            port,
            running: None,
        };
        r.listen()?;
        Ok(r)
    }

    fn listen(&mut self) -> anyhow::Result<()> {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .with_context(|| format!("binding 127.0.0.1:{}", self.port))?;
        self.port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (stop, conns, tls, shared) = (
                stop.clone(),
                conns.clone(),
                self.tls.clone(),
                self.shared.clone(),
            );
            std::thread::Builder::new()
                .name(format!("https-receiver-{}", self.port))
                .spawn(move || accept_loop(listener, stop, conns, tls, shared))?
        };
        self.running = Some(Running {
            stop,
            accept,
            conns,
        });
        Ok(())
    }

    /// Closes the listener and every connection, and waits for their threads. What was
    /// recorded stays.
    pub fn stop(&mut self) {
        let Some(run) = self.running.take() else {
            return;
        };
        run.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop up.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let _ = run.accept.join();
        let conns = std::mem::take(&mut *run.conns.lock().unwrap_or_else(|p| p.into_inner()));
        for (sock, thread) in conns {
            let _ = sock.shutdown(Shutdown::Both);
            let _ = thread.join();
        }
    }

    /// Starts again on the same port, keeping what was recorded.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.listen()
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:<port>/ingest`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/ingest", self.port)
    }

    /// Answers `status` to the next `n` requests (after those already planned).
    pub fn reply_next(&self, n: usize, status: u16) {
        self.plan(n, Reply::Status(status));
    }

    /// Answers 503 to the next `n` requests.
    pub fn fail_next(&self, n: usize) {
        self.reply_next(n, 503);
    }

    /// Never answers the next `n` requests.
    pub fn stall_next(&self, n: usize) {
        self.plan(n, Reply::Stall);
    }

    fn plan(&self, n: usize, reply: Reply) {
        self.shared
            .update(|s| s.plan.extend(std::iter::repeat_n(reply, n)));
    }

    /// Every line recorded (accepted requests only), in arrival order.
    pub fn lines(&self) -> Vec<String> {
        self.shared.lock().lines.clone()
    }

    /// The `id` of every recorded line that has one, in arrival order.
    pub fn ids(&self) -> Vec<String> {
        self.shared.lock().ids.clone()
    }

    /// Every request seen (answered or not).
    pub fn requests(&self) -> Vec<RequestInfo> {
        self.shared.lock().requests.clone()
    }

    /// TLS sessions established (handshake complete, client certificate verified).
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Failed handshakes and malformed requests, as text.
    pub fn errors(&self) -> Vec<String> {
        self.shared.lock().errors.clone()
    }

    /// Forgets what was recorded (lines, ids, requests, counts, errors, planned replies).
    pub fn clear(&self) {
        self.shared.update(|s| *s = State::default());
    }

    /// Waits until at least `n` lines are recorded, at most `max`; whether they are.
    pub fn wait_for_lines(&self, n: usize, max: Duration) -> bool {
        self.wait_until(max, |s| s.lines.len() >= n)
    }

    /// Waits until at least `n` requests were seen, at most `max`; whether they were.
    pub fn wait_for_requests(&self, n: usize, max: Duration) -> bool {
        self.wait_until(max, |s| s.requests.len() >= n)
    }

    fn wait_until(&self, max: Duration, done: impl Fn(&State) -> bool) -> bool {
        let end = Instant::now() + max;
        let mut s = self.shared.lock();
        while !done(&s) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = match self.shared.changed.wait_timeout(s, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

type Conns = Arc<Mutex<Vec<(TcpStream, JoinHandle<()>)>>>;

fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    conns: Conns,
    tls: Arc<ServerConfig>,
    shared: Arc<Shared>,
) {
    for tcp in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(tcp) = tcp else { continue };
        let Ok(handle) = tcp.try_clone() else {
            continue;
        };
        let (tls, shared2) = (tls.clone(), shared.clone());
        match std::thread::Builder::new()
            .name("https-receiver-conn".into())
            .spawn(move || serve(tcp, tls, shared2))
        {
            Ok(thread) => conns
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((handle, thread)),
            Err(e) => shared.update(|s| s.errors.push(format!("spawn: {e}"))),
        }
    }
}

fn serve(mut tcp: TcpStream, tls: Arc<ServerConfig>, shared: Arc<Shared>) {
    let _ = tcp.set_read_timeout(Some(IDLE));
    let mut conn = match ServerConnection::new(tls) {
        Ok(c) => c,
        Err(e) => return shared.update(|s| s.errors.push(format!("TLS: {e}"))),
    };
    if let Err(e) = handshake(&mut conn, &mut tcp) {
        // Recorded before the client can see the alert; then the alert goes out, and the
        // connection is drained until the client closes it, so that the client reads the
        // alert rather than a reset.
        shared.update(|s| s.errors.push(format!("handshake: {e}")));
        while conn.wants_write() {
            if conn.write_tls(&mut tcp).is_err() {
                break;
            }
        }
        let _ = tcp.shutdown(Shutdown::Write);
        let mut sink = [0u8; 1024];
        while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
        return;
    }
    shared.update(|s| s.connections += 1);
    let mut rd = BufReader::new(StreamOwned::new(conn, tcp));
    loop {
        let req = match read_request(&mut rd) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let _ = respond(rd.get_mut(), 400, "bad request");
                return shared.update(|s| s.errors.push(format!("request: {e}")));
            }
        };
        let reply = shared.lock().plan.pop_front().unwrap_or(Reply::Status(200));
        let mut info = req.info;
        let status = match reply {
            Reply::Stall => {
                shared.update(|s| s.requests.push(info));
                // Until the client gives up or the receiver stops.
                let mut sink = [0u8; 256];
                while matches!(rd.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
            Reply::Status(status) => status,
        };
        info.status = status;
        let lines = match decode(&req.body, info.content_encoding.as_deref()) {
            Ok(l) => l,
            Err(e) => {
                info.status = 400;
                let _ = respond(rd.get_mut(), 400, &format!("bad body: {e}"));
                return shared.update(|s| {
                    s.errors.push(format!("body: {e}"));
                    s.requests.push(info);
                });
            }
        };
        info.lines = lines.len();
        info.body_first_id = lines.first().and_then(|l| id_of(l));
        info.body_last_id = lines.last().and_then(|l| id_of(l));
        let ok = (200..300).contains(&status);
        let text = if ok {
            format!("{{\"accepted\":{}}}", lines.len())
        } else {
            format!("tapir test receiver answers {status}")
        };
        shared.update(|s| {
            if ok {
                s.ids.extend(lines.iter().filter_map(|l| id_of(l)));
                s.lines.extend(lines);
            }
            s.requests.push(info);
        });
        if respond(rd.get_mut(), status, &text).is_err() {
            return;
        }
    }
}

/// Drives the handshake; an error leaves the alert to send in `conn`.
fn handshake(conn: &mut ServerConnection, tcp: &mut TcpStream) -> Result<(), String> {
    while conn.is_handshaking() {
        if conn.wants_write() {
            conn.write_tls(tcp).map_err(|e| e.to_string())?;
            continue;
        }
        if !conn.wants_read() {
            return Err("handshake stalled".into());
        }
        match conn.read_tls(tcp) {
            Ok(0) => return Err("connection closed".into()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        conn.process_new_packets().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn id_of(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("id")?.as_str().map(str::to_string)
}

fn decode(body: &[u8], encoding: Option<&str>) -> io::Result<Vec<String>> {
    let mut text = String::new();
    match encoding {
        None | Some("identity") => {
            text = String::from_utf8(body.to_vec())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        }
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            flate2::read::GzDecoder::new(body).read_to_string(&mut text)?;
        }
        Some(other) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unsupported Content-Encoding {other:?}"),
            ))
        }
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the last line does not end in a newline",
        ));
    }
    Ok(text.lines().map(str::to_string).collect())
}

struct Request {
    info: RequestInfo,
    body: Vec<u8>,
}

/// One request; None when the client closed the connection between requests.
fn read_request<R: BufRead>(rd: &mut R) -> io::Result<Option<Request>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = rd
            .by_ref()
            .take((MAX_HEAD + 1 - head.len()) as u64)
            .read_until(b'\n', &mut head)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(bad("connection closed in the request head"))
            };
        }
        if head.len() > MAX_HEAD {
            return Err(bad("request head too large"));
        }
        if head[before..] == *b"\r\n" {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad("incomplete request head")),
        Err(e) => return Err(bad(&format!("request head: {e}"))),
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    let length: usize = header("content-length")
        .ok_or_else(|| bad("no Content-Length"))?
        .trim()
        .parse()
        .map_err(|_| bad("bad Content-Length"))?;
    if length > MAX_BODY {
        return Err(bad("body too large"));
    }
    let info = RequestInfo {
        method: req.method.unwrap_or_default().to_string(),
        path: req.path.unwrap_or_default().to_string(),
        content_type: header("content-type"),
        content_encoding: header("content-encoding"),
        records_header: header("x-tapir-records"),
        first_id: header("x-tapir-first-id"),
        last_id: header("x-tapir-last-id"),
        ..RequestInfo::default()
    };
    let mut body = vec![0u8; length];
    rd.read_exact(&mut body)?;
    Ok(Some(Request { info, body }))
}

fn respond<W: Write>(w: &mut W, status: u16, text: &str) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Test",
    };
    let msg = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    );
    w.write_all(msg.as_bytes())?;
    w.flush()
}
