//! A DNS client over real sockets, with a deadline on every read.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};

/// How long a test waits for an answer that should come.
pub const ANSWER_WAIT: Duration = Duration::from_secs(3);

/// A query to build: the defaults are a plain `IN` query with EDNS (payload 1232), RD clear.
#[derive(Clone, Debug)]
pub struct Q {
    pub name: String,
    pub rtype: RecordType,
    pub class: DNSClass,
    pub id: u16,
    pub rd: bool,
    pub cd: bool,
    pub op_code: OpCode,
    /// `None` sends no OPT record.
    pub payload: Option<u16>,
    pub edns_version: u8,
    pub dnssec_ok: bool,
    pub nsid: bool,
    /// An EDNS option written as given: (code, data), e.g. a client subnet option.
    pub option: Option<(u16, Vec<u8>)>,
}

impl Q {
    pub fn new(name: &str, rtype: RecordType) -> Self {
        Self {
            name: name.to_owned(),
            rtype,
            class: DNSClass::IN,
            id: 0x4d52,
            rd: false,
            cd: false,
            op_code: OpCode::Query,
            payload: Some(1232),
            edns_version: 0,
            dnssec_ok: false,
            nsid: false,
            option: None,
        }
    }

    pub fn no_edns(mut self) -> Self {
        self.payload = None;
        self
    }

    pub fn payload(mut self, payload: u16) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Adds an EDNS Client Subnet option for `subnet` (RFC 7871 section 6), SCOPE 0.
    pub fn ecs(mut self, subnet: &str) -> Self {
        let net: ipnet::IpNet = subnet.parse().expect("test subnet");
        let (family, octets) = match net.addr() {
            std::net::IpAddr::V4(a) => (1u16, a.octets().to_vec()),
            std::net::IpAddr::V6(a) => (2u16, a.octets().to_vec()),
        };
        let mut data = family.to_be_bytes().to_vec();
        data.extend_from_slice(&[net.prefix_len(), 0]);
        data.extend_from_slice(&octets[..usize::from(net.prefix_len().div_ceil(8))]);
        self.option = Some((8, data));
        self
    }

    pub fn class(mut self, class: DNSClass) -> Self {
        self.class = class;
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut message = Message::new(self.id, MessageType::Query, self.op_code);
        message.metadata.recursion_desired = self.rd;
        message.metadata.checking_disabled = self.cd;
        let mut query = Query::query(Name::from_str(&self.name).expect("test name"), self.rtype);
        query.query_class = self.class;
        message.add_query(query);
        let mut bytes = message.to_vec().expect("encode query");
        if let Some(payload) = self.payload {
            // The OPT record is written by hand (RFC 6891 section 6.1.2), so that any option,
            // malformed ones included, goes out exactly as given.
            let mut options = Vec::new();
            if self.nsid {
                options.extend_from_slice(&[0, 3, 0, 0]);
            }
            if let Some((code, data)) = &self.option {
                options.extend_from_slice(&code.to_be_bytes());
                options.extend_from_slice(&(data.len() as u16).to_be_bytes());
                options.extend_from_slice(data);
            }
            bytes.extend_from_slice(&[0, 0, 41]);
            bytes.extend_from_slice(&payload.to_be_bytes());
            bytes.extend_from_slice(&[0, self.edns_version, if self.dnssec_ok { 0x80 } else { 0 }, 0]);
            bytes.extend_from_slice(&(options.len() as u16).to_be_bytes());
            bytes.extend_from_slice(&options);
            bytes[11] += 1; // ARCOUNT
        }
        bytes
    }
}

/// Sends a datagram and returns the reply, or `None` if none came within `wait`.
pub fn udp_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client socket");
    socket.connect(addr).expect("connect");
    socket.set_read_timeout(Some(wait)).expect("timeout");
    socket.send(bytes).expect("send");
    let mut buf = vec![0u8; 65535];
    match socket.recv(&mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// Sends a datagram that must get no reply, then a follow-up query on the same socket, and
/// returns the first datagram back if it is not the follow-up's answer: `None` means the
/// datagram went unanswered.
///
/// No wait for silence can be long enough to be sure; the follow-up makes it certain instead.
/// The server answers a socket's datagrams in the order they came (one client address and
/// port reach one of its sockets, whose thread answers what it reads in order), so a reply
/// to the first datagram, however late, would come back before the follow-up's answer.
///
/// # Panics
/// When the follow-up is not answered within [`ANSWER_WAIT`].
pub fn udp_unanswered(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client socket");
    socket.connect(addr).expect("connect");
    socket.set_read_timeout(Some(ANSWER_WAIT)).expect("timeout");
    socket.send(bytes).expect("send");
    // An ID the first datagram does not have, so that a reply to it cannot pass for the
    // follow-up's answer; the root is outside every test zone and always answered (REFUSED).
    let id = match bytes {
        [a, b, ..] => !u16::from_be_bytes([*a, *b]),
        _ => 0x6e72,
    };
    let follow_up = Q { id, ..Q::new(".", RecordType::SOA) }.no_edns();
    socket.send(&follow_up.bytes()).expect("send the follow-up");
    let mut buf = vec![0u8; 65535];
    let n =
        socket.recv(&mut buf).unwrap_or_else(|e| panic!("no reply to the follow-up query within {ANSWER_WAIT:?}: {e}"));
    let reply = &buf[..n];
    let is_follow_up = Message::from_vec(reply).is_ok_and(|m| {
        m.metadata.id == id
            && m.queries.first().is_some_and(|q| q.name().is_root() && q.query_type() == RecordType::SOA)
    });
    (!is_follow_up).then(|| reply.to_vec())
}

/// Sends a query over UDP and parses the reply; panics if none comes.
pub fn udp(addr: SocketAddr, q: &Q) -> Message {
    let reply = udp_exchange(addr, &q.bytes(), ANSWER_WAIT).unwrap_or_else(|| panic!("no UDP reply to {q:?}"));
    Message::from_vec(&reply).unwrap_or_else(|e| panic!("unparsable reply to {q:?}: {e}"))
}

/// The addresses of the A records `name` is answered with over UDP, sorted.
pub fn a_records(addr: SocketAddr, name: &str) -> Vec<String> {
    let reply = udp(addr, &Q::new(name, RecordType::A));
    let mut found: Vec<String> = reply
        .answers
        .iter()
        .filter_map(|r| if let hickory_proto::rr::RData::A(a) = &r.data { Some(a.to_string()) } else { None })
        .collect();
    found.sort();
    found
}

/// Opens a TCP connection with a read deadline.
pub fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, ANSWER_WAIT).expect("connect over TCP");
    stream.set_read_timeout(Some(ANSWER_WAIT)).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Writes one message with its two-octet length (RFC 7766 section 8).
pub fn tcp_send(stream: &mut TcpStream, bytes: &[u8]) {
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).expect("write");
}

/// Reads one framed message, or `None` if the connection closed or the deadline passed.
pub fn tcp_recv(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// Reads until the server closes `stream` (EOF or a reset), within `within`, and returns how
/// long that took. A read timeout is not a close.
///
/// # Panics
/// When data comes instead, or the deadline passes: names `what`.
pub fn wait_for_close(stream: &mut TcpStream, within: Duration, what: &str) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 512];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{what}: {n} octets came instead of a close"),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {}
        Err(e) => panic!("{what}: not closed within {within:?}: {e}"),
    }
    started.elapsed()
}

/// Sends a query over a new TCP connection and parses the reply.
pub fn tcp(addr: SocketAddr, q: &Q) -> Message {
    let mut stream = tcp_connect(addr);
    tcp_send(&mut stream, &q.bytes());
    let reply = tcp_recv(&mut stream).unwrap_or_else(|| panic!("no TCP reply to {q:?}"));
    Message::from_vec(&reply).unwrap_or_else(|e| panic!("unparsable reply to {q:?}: {e}"))
}
