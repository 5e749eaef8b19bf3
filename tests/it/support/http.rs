//! A small HTTP/1.1 client over a real TCP socket, for the admin API: one request per
//! connection, a deadline on every read, and raw bytes when a test needs a broken request.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// The token the test servers are configured with.
pub const TOKEN: &str = "test-token-0123456789";

/// How long a test waits for an API answer.
const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// `body["error"]` and `body["field"]`, for error answers.
    pub fn error(&self) -> (String, String) {
        let json = self.json();
        let text = |key: &str| json[key].as_str().unwrap_or_default().to_owned();
        (text("error"), text("field"))
    }
}

/// The admin API of a server.
#[derive(Clone, Copy)]
pub struct Api {
    pub addr: SocketAddr,
}

impl Api {
    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, Some(TOKEN))
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.send("POST", path, Some(body), Some(TOKEN))
    }

    pub fn put(&self, path: &str, body: &str) -> Reply {
        self.send("PUT", path, Some(body), Some(TOKEN))
    }

    pub fn patch(&self, path: &str, body: &str) -> Reply {
        self.send("PATCH", path, Some(body), Some(TOKEN))
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, Some(TOKEN))
    }

    /// As [`Api::send`], `None` when the API cannot be reached (a server being killed).
    pub fn try_send(&self, method: &str, path: &str, body: Option<&str>, token: Option<&str>) -> Option<Reply> {
        let stream = TcpStream::connect_timeout(&self.addr, WAIT).ok()?;
        let reply = exchange(stream, &request_bytes(self.addr, method, path, body, token));
        (!reply.is_empty()).then(|| Reply::parse(&reply))
    }

    /// A request with the given token (`None`: no Authorization header).
    pub fn send(&self, method: &str, path: &str, body: Option<&str>, token: Option<&str>) -> Reply {
        self.raw(&request_bytes(self.addr, method, path, body, token))
    }
}

/// An HTTP/1.1 request (`Connection: close`) with the given token and JSON body.
fn request_bytes(addr: SocketAddr, method: &str, path: &str, body: Option<&str>, token: Option<&str>) -> Vec<u8> {
    {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        [head.as_bytes(), body.as_bytes()].concat()
    }
}

impl Api {
    /// Sends bytes as they are and reads the answer.
    pub fn raw(&self, request: &[u8]) -> Reply {
        let stream = TcpStream::connect_timeout(&self.addr, WAIT).expect("connect to the API");
        Reply::parse(&exchange(stream, request))
    }

    /// As [`Api::raw`], from another local address (127.0.0.2, say): another client.
    pub fn raw_from(&self, local: IpAddr, request: &[u8]) -> Reply {
        let socket = socket2::Socket::new(socket2::Domain::for_address(self.addr), socket2::Type::STREAM, None)
            .expect("a socket");
        socket.bind(&SocketAddr::new(local, 0).into()).expect("bind the local address");
        socket.connect_timeout(&self.addr.into(), WAIT).expect("connect to the API");
        Reply::parse(&exchange(TcpStream::from(socket), request))
    }
}

/// Writes a request and reads until the server closes (the requests say `Connection: close`).
pub fn exchange(mut stream: impl Read + Write + AsTcp, request: &[u8]) -> Vec<u8> {
    stream.tcp().set_read_timeout(Some(WAIT)).unwrap();
    stream.tcp().set_write_timeout(Some(WAIT)).unwrap();
    // The server may answer (413) before reading all of a large body; a write error then
    // is expected, the answer is what counts.
    let _ = stream.write_all(request);
    let _ = stream.flush();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    bytes
}

/// The TCP socket under a stream, for its timeouts.
pub trait AsTcp {
    fn tcp(&self) -> &TcpStream;
}

impl AsTcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Reply {
    /// Parses an HTTP/1.1 answer; panics without a status line.
    pub fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status =
            head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"));
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Reply { status, head: head.to_owned(), body }
    }

    /// A header's value (the first, by case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
