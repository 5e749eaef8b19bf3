//! The admin API over TLS with a certificate made at test time: real HTTPS requests, plain
//! HTTP refused, `meridian ctl --cacert`, `check-config` naming the key and file at fault, and
//! the real binary at trace level never writing a token, right or wrong, to its log.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::api_security::{connect, request, wait_for_close};
use crate::support::http::{TOKEN, exchange};
use crate::support::tls::SelfSigned;
use crate::support::{API_TOML, TEST_ZONE, TempDir, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_meridian");
const STATUS: &str = "/api/v1/lb/status";
const TLS_TOML: &str = "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n";

fn tls_server(cert: &SelfSigned) -> TestServer {
    TestServer::with_config(
        "",
        &[("example.test.zone", TEST_ZONE)],
        &format!("{API_TOML}{TLS_TOML}"),
        &[("cert.pem", cert.cert_pem.as_bytes()), ("key.pem", cert.key_pem.as_bytes())],
    )
}

/// Whatever a plain HTTP request to `addr` gets back, as text.
fn plain(addr: SocketAddr, request: &[u8]) -> String {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    String::from_utf8_lossy(&exchange(stream, request)).into_owned()
}

#[test]
fn over_tls_the_api_answers_with_the_token_and_plain_http_gets_no_answer() {
    let cert = SelfSigned::new();
    let server = tls_server(&cert);
    let addr = server.api().addr;
    let (reply, alpn) = cert.https(addr, &request("GET", STATUS, Some(TOKEN)));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]), "HTTP/1.1 chosen over h2 by ALPN");
    let (reply, _) = cert.https(addr, &request("GET", STATUS, Some("wrong-token")));
    assert_eq!(reply.status, 401, "{}", reply.body);
    let answer = plain(addr, &request("GET", "/healthz", None));
    assert!(!answer.starts_with("HTTP/"), "plain HTTP got an HTTP answer: {answer:?}");
}

#[test]
fn a_reload_puts_a_new_certificate_in_force_for_new_connections() {
    let (old, new) = (SelfSigned::new(), SelfSigned::new());
    let mut server = tls_server(&old);
    let url = format!("https://{}", server.api().addr);
    let dir = TempDir::new("cacerts");
    let (old_pem, new_pem) = (dir.write("old.pem", &old.cert_pem), dir.write("new.pem", &new.cert_pem));
    let trusting = |pem: &std::path::Path| {
        let args = ["--api", &url, "--cacert", pem.to_str().unwrap(), "--token", TOKEN, "--timeout", "20", "status"];
        ctl(&args).status.success()
    };
    assert_eq!((trusting(&old_pem), trusting(&new_pem)), (true, false));
    server.write("cert.pem", &new.cert_pem);
    server.write("key.pem", &new.key_pem);
    server.reload().expect("reload");
    assert_eq!((trusting(&old_pem), trusting(&new_pem)), (false, true), "the new certificate, after the reload");
}

#[test]
fn a_tls_handshake_not_finished_within_the_header_timeout_is_cut_off() {
    let cert = SelfSigned::new();
    let server = TestServer::with_config(
        "",
        &[("example.test.zone", TEST_ZONE)],
        &format!("{API_TOML}header_timeout_secs = 1\n{TLS_TOML}"),
        &[("cert.pem", cert.cert_pem.as_bytes()), ("key.pem", cert.key_pem.as_bytes())],
    );
    let addr = server.api().addr;
    // A real ClientHello, of which the server is sent the first half only.
    let mut hello = Vec::new();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    rustls::ClientConnection::new(cert.client(), name).unwrap().write_tls(&mut hello).unwrap();
    assert!(hello.len() > 100 && hello[0] == 0x16, "a TLS handshake record: {hello:02x?}");
    let started = Instant::now();
    let mut silent = connect(addr);
    let mut half = connect(addr);
    half.write_all(&hello[..hello.len() / 2]).unwrap();
    for (what, stream) in [("a client that sends nothing", &mut silent), ("half a ClientHello", &mut half)] {
        let closed = wait_for_close(stream, started);
        assert!(
            closed >= Duration::from_millis(900) && closed < Duration::from_secs(3),
            "{what}: closed after {closed:?}, not at the 1 s header timeout"
        );
    }
    // The listener serves on: a handshake that finishes is answered.
    assert_eq!(cert.https(addr, &request("GET", "/healthz", None)).0.status, 200);
}

/// `meridian ctl` with nothing from this process's environment.
fn ctl(args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.arg("ctl").args(args);
    for name in ["MERIDIAN_API", "MERIDIAN_API_TOKEN", "MERIDIAN_API_TOKEN_FILE", "MERIDIAN_API_CACERT", "RUST_LOG"] {
        command.env_remove(name);
    }
    command.output().expect("run meridian ctl")
}

#[test]
fn ctl_status_works_over_https_with_cacert_and_refuses_an_untrusted_certificate() {
    let cert = SelfSigned::new();
    let server = tls_server(&cert);
    let url = format!("https://{}", server.api().addr);
    let cacert = server.dir().join("cert.pem");
    let cacert = cacert.to_str().unwrap();
    let output = ctl(&["--api", &url, "--cacert", cacert, "--token", TOKEN, "--timeout", "20", "status"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("generation"), "{stdout}");

    let output = ctl(&["--api", &url, "--token", TOKEN, "--timeout", "20", "status"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    // Said once, by ctl: no library's log line of the same refusal beside it.
    assert!(stderr.starts_with("error: ") && stderr.lines().count() == 1, "{stderr}");

    let missing = server.dir().join("none.pem");
    let output = ctl(&["--api", &url, "--cacert", missing.to_str().unwrap(), "--token", TOKEN, "status"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--cacert") && stderr.contains("none.pem"), "{stderr}");

    // http:// to the TLS port: the error suggests https.
    let plain_url = url.replace("https://", "http://");
    let output = ctl(&["--api", &plain_url, "--token", TOKEN, "--timeout", "20", "status"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("give --api https://"), "{stderr}");
}

#[test]
fn check_config_names_the_tls_key_and_file_at_fault() {
    let (cert, other) = (SelfSigned::new(), SelfSigned::new());
    let dir = TempDir::new("tls");
    dir.write("example.test.zone", TEST_ZONE);
    dir.write("cert.pem", &cert.cert_pem);
    dir.write("key.pem", &cert.key_pem);
    dir.write("other-key.pem", &other.key_pem);
    let check = |api: &str| {
        let toml = format!("[[zone]]\nfile = \"example.test.zone\"\n[api]\nlisten = \"127.0.0.1:0\"\n{api}");
        let config = dir.write("meridian.toml", &toml);
        let output = Command::new(BIN).args(["check-config", config.to_str().unwrap()]).output().unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (ok, stderr) = check(TLS_TOML);
    assert!(ok, "{stderr}");
    for (api, expected) in [
        ("tls_cert = \"cert.pem\"\n", "api.tls_key: missing"),
        ("tls_key = \"key.pem\"\n", "api.tls_cert: missing"),
        ("tls_cert = \"cert.pem\"\ntls_key = \"none.pem\"\n", "api.tls_key: cannot read "),
        ("tls_cert = \"key.pem\"\ntls_key = \"key.pem\"\n", "api.tls_cert: "),
        ("tls_cert = \"cert.pem\"\ntls_key = \"cert.pem\"\n", "api.tls_key: "),
        ("tls_cert = \"cert.pem\"\ntls_key = \"other-key.pem\"\n", "api.tls_key: "),
    ] {
        let (ok, stderr) = check(api);
        assert!(!ok, "{api}");
        assert!(stderr.contains(expected), "{api}: {stderr}");
        let file = api.lines().last().unwrap().split('"').nth(1).unwrap();
        assert!(expected.ends_with("missing") || stderr.contains(file), "names {file}: {stderr}");
        assert!(!stderr.contains("PRIVATE KEY-----\n"), "no key material: {stderr}");
    }
}

/// `meridian serve` at trace level with its whole log kept.
struct Traced {
    child: std::process::Child,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    api: SocketAddr,
}

impl Traced {
    fn start(config: &std::path::Path, token: &str) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "trace")
            .env("MERIDIAN_API_TOKEN", token)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start meridian serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let kept = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("admin API listening")
                    && let Some(addr) = line.split("addr=").nth(1).and_then(|a| a.trim().parse::<SocketAddr>().ok())
                {
                    let _ = tx.send(addr);
                }
                let mut log = kept.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let api = rx.recv_timeout(Duration::from_secs(20)).expect("serve logs its API listener");
        Self { child, log, reader: Some(reader), api }
    }

    /// Stops the server with SIGTERM and returns everything it logged.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "serve did not stop within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The process has exited, so its stderr is at its end and the reader finishes.
        self.reader.take().unwrap().join().unwrap();
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn no_token_right_or_wrong_reaches_the_log_or_an_error_even_at_trace_level() {
    const SECRET: &str = "s3cret-e2e-7f3a9d41c2";
    let wrong: Vec<String> = (0..5).map(|n| format!("wrong-e2e-b7c{n}-token")).collect();
    let cert = SelfSigned::new();
    let dir = TempDir::new("secrets");
    dir.write("example.test.zone", TEST_ZONE);
    dir.write("cert.pem", &cert.cert_pem);
    dir.write("key.pem", &cert.key_pem);
    let config = dir.write(
        "meridian.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"example.test.zone\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\nmax_failed_auth = 5\nlockout_exempt = []\n{TLS_TOML}"
        ),
    );
    let served = Traced::start(&config, SECRET);
    let https = |bytes: &[u8]| cert.https(served.api, bytes).0;

    assert_eq!(https(&request("GET", STATUS, Some(SECRET))).status, 200);
    for body in ["{\"name\": \"x", "[1, 2", "{\"name\": 5}", "not json at all"] {
        let post = format!(
            "POST /api/v1/lb/regions HTTP/1.1\r\nHost: m\r\nConnection: close\r\nAuthorization: Bearer {SECRET}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let reply = https(post.as_bytes());
        assert!((400..500).contains(&reply.status) && !reply.body.contains(SECRET), "{}", reply.body);
    }
    // Plain HTTP carrying the token to the TLS port, and a handshake cut short.
    let _ = plain(served.api, &request("GET", STATUS, Some(SECRET)));
    let mut cut = TcpStream::connect(served.api).unwrap();
    cut.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2]).unwrap();
    drop(cut);
    // Malformed Authorization headers, each a failed authentication: the fifth reaches the
    // limit, so the wrong tokens after them are refused before they are compared.
    for header in [
        format!("Basic {SECRET}"),
        format!("Bearer  {}", wrong[0]),
        format!("Bearer {} extra", wrong[1]),
        format!("bearer{}", wrong[2]),
    ] {
        let head = format!("GET {STATUS} HTTP/1.1\r\nHost: m\r\nConnection: close\r\nAuthorization: {header}\r\n\r\n");
        assert_eq!(https(head.as_bytes()).status, 401, "{header}");
    }
    let mut raw =
        format!("GET {STATUS} HTTP/1.1\r\nHost: m\r\nConnection: close\r\nAuthorization: Bearer ").into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe]);
    raw.extend_from_slice(format!("{}\r\n\r\n", wrong[3]).as_bytes());
    let _ = https(&raw);
    for token in &wrong {
        let reply = https(&request("GET", STATUS, Some(token)));
        assert_eq!(reply.status, 429, "{}", reply.body);
        assert!(!reply.body.contains(token.as_str()));
    }

    let log = served.stop();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "the log is at trace level:\n{log}");
    assert!(log.contains("too many failed authentications") && log.contains("client=127.0.0.1"), "{log}");
    assert!(log.contains("TLS handshake failed"), "{log}");
    for secret in std::iter::once(SECRET).chain(wrong.iter().map(String::as_str)) {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }

    // A configuration error on the token's line shows neither the token nor the line.
    let broken = dir.write("broken.toml", &format!("[api]\ntoken = \"{SECRET}\" trailing\n"));
    let output = Command::new(BIN).args(["check-config", broken.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("not valid TOML"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}

/// The README's recipe for the API's certificate, run as written in `dir`: the `openssl req`
/// command of the shell block under "Over HTTPS", continuation lines included.
fn readme_recipe(dir: &std::path::Path) -> Output {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme.split("Over HTTPS with a self-signed certificate").nth(1).expect("the README's HTTPS recipe");
    let block = block.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("its shell block");
    let openssl: String = block
        .split_inclusive('\n')
        .skip_while(|l| !l.starts_with("openssl req"))
        .scan(true, |more, line| {
            let this = (*more).then(|| line.to_owned());
            *more = line.trim_end().ends_with('\\');
            this
        })
        .collect();
    assert!(openssl.contains("-keyout api-key.pem -out api-cert.pem"), "{openssl}");
    Command::new("sh").arg("-c").arg(openssl.trim_end()).current_dir(dir).output().expect("run openssl")
}

/// `meridian ctl status` over HTTPS against a server serving `api-cert.pem` and `api-key.pem`
/// of `dir`, trusting `api-cert.pem`.
fn ctl_status_with_certificate_of(dir: &std::path::Path) -> Output {
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let files = [("cert.pem", read("api-cert.pem")), ("key.pem", read("api-key.pem"))];
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let server =
        TestServer::with_config("", &[("example.test.zone", TEST_ZONE)], &format!("{API_TOML}{TLS_TOML}"), &files);
    let url = format!("https://{}", server.api().addr);
    let cacert = dir.join("api-cert.pem");
    ctl(&["--api", &url, "--cacert", cacert.to_str().unwrap(), "--token", TOKEN, "status"])
}

#[test]
fn the_readmes_certificate_recipe_works_with_ctl_and_a_ca_certificate_is_named_as_such() {
    let dir = TempDir::new("recipe");
    let made = readme_recipe(dir.path());
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let output = ctl_status_with_certificate_of(dir.path());
    assert!(output.status.success(), "the README's recipe: {}", String::from_utf8_lossy(&output.stderr));

    // What OpenSSL 3 makes without the basicConstraints line: a CA certificate, which rustls
    // refuses as a server's own. ctl says so, and does not send the operator to --api.
    let ca = TempDir::new("recipe-ca");
    let script = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj /CN=meridian \
                  -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:TRUE \
                  -keyout api-key.pem -out api-cert.pem";
    let made = Command::new("sh").arg("-c").arg(script).current_dir(ca.path()).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let output = ctl_status_with_certificate_of(ca.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("CA certificate") && stderr.contains("CA:FALSE"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}
