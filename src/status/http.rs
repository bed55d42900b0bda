//! The Prometheus metrics over HTTP (`status.metrics_listen`): a small std::net server thread
//! answering `GET /metrics` with the text of the latest status record (the same text as
//! `output.metrics_path`), 404 for any other path and 405 for other methods. Requests are read
//! up to [`MAX_REQUEST`] bytes with a timeout; one connection is served at a time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest request head read.
pub const MAX_REQUEST: usize = 8192;
/// Read and write timeout of one connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The text served: replaced by the status reporter at every status record.
static TEXT: Mutex<String> = Mutex::new(String::new());

/// Replaces the metrics text served.
pub fn set_text(text: String) {
    if let Ok(mut t) = TEXT.lock() {
        *t = text;
    }
}

fn text() -> String {
    TEXT.lock().map(|t| t.clone()).unwrap_or_default()
}

/// Binds `addr` and serves until `stop` is set; returns the bound address.
pub fn serve(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if let Err(e) = handle(conn) {
                            tracing::debug!("metrics request: {e}");
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => {
                        tracing::warn!("metrics endpoint: accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        })?;
    Ok(local)
}

/// The status line and body for a request head.
pub fn respond(head: &[u8]) -> (&'static str, String) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" {
        return ("405 Method Not Allowed", "method not allowed\n".into());
    }
    let path = path.split('?').next().unwrap_or("");
    if path != "/metrics" {
        return ("404 Not Found", "not found\n".into());
    }
    ("200 OK", text())
}

fn handle(mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let complete = loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break false;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        if head.len() > MAX_REQUEST {
            break false;
        }
    };
    let (status, body) = if complete {
        respond(&head)
    } else if head.len() > MAX_REQUEST {
        (
            "431 Request Header Fields Too Large",
            "request too large\n".into(),
        )
    } else {
        ("400 Bad Request", "bad request\n".into())
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(resp.as_bytes())?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        set_text("tapir_up 1\n".into());
        assert_eq!(respond(b"GET /metrics HTTP/1.1\r\n\r\n").0, "200 OK");
        assert_eq!(respond(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n").0, "200 OK");
        assert_eq!(respond(b"GET / HTTP/1.1\r\n\r\n").0, "404 Not Found");
        assert_eq!(
            respond(b"POST /metrics HTTP/1.1\r\n\r\n").0,
            "405 Method Not Allowed"
        );
        assert_eq!(respond(b"").0, "405 Method Not Allowed");
        assert_eq!(respond(&[0xff, 0xfe, b'\n']).0, "405 Method Not Allowed");
    }

    #[test]
    fn serves_over_tcp_and_bounds_the_request() {
        set_text("tapir_up 1\n".into());
        let stop = Arc::new(AtomicBool::new(false));
        let addr = serve(
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            stop.clone(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let get = |req: &[u8]| {
            let mut c = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
            let _ = c.write_all(req);
            let _ = c.shutdown(std::net::Shutdown::Write);
            let mut s = String::new();
            let _ = c.read_to_string(&mut s);
            s
        };
        let ok = get(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("version=0.0.4"));
        assert!(ok.contains("tapir_up"));
        assert!(get(b"GET /x HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        let big = vec![b'a'; MAX_REQUEST * 2];
        assert!(get(&big).starts_with("HTTP/1.1 431"));
        stop.store(true, Ordering::Relaxed);
    }
}
