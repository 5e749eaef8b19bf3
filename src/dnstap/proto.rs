//! The dnstap messages Meridian sends, as `prost` structs written by hand from the official
//! schema, `dnstap.proto` beside this file (from <https://github.com/dnstap/dnstap.pb>,
//! commit 687347e, dedicated to the public domain under CC0), so that building needs no
//! `protoc`. Field numbers, types and labels are the schema's; fields Meridian never fills
//! (`extra`, `query_zone`, `policy`, `http_protocol`) are left out, which proto2 allows of
//! a writer. The unit test below decodes what these structs encode field by field.

/// `message Dnstap`: the top-level frame payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dnstap {
    /// `optional bytes identity = 1`: the server's identity, as NSID gives it.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub identity: Option<Vec<u8>>,
    /// `optional bytes version = 2`: as `version.bind` gives it.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub version: Option<Vec<u8>>,
    /// `required Type type = 15`: always [`DnstapType::Message`].
    #[prost(enumeration = "DnstapType", required, tag = "15")]
    pub r#type: i32,
    /// `optional Message message = 14`.
    #[prost(message, optional, tag = "14")]
    pub message: Option<Message>,
}

/// `enum Dnstap.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DnstapType {
    Message = 1,
}

/// `enum SocketFamily`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SocketFamily {
    Inet = 1,
    Inet6 = 2,
}

/// `enum SocketProtocol` (the transports Meridian serves).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SocketProtocol {
    Udp = 1,
    Tcp = 2,
}

/// `enum Message.Type` (the two an authoritative server sends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MessageType {
    AuthQuery = 1,
    AuthResponse = 2,
}

/// `message Message`: one DNS message and where and when it went.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    #[prost(enumeration = "MessageType", required, tag = "1")]
    pub r#type: i32,
    #[prost(enumeration = "SocketFamily", optional, tag = "2")]
    pub socket_family: Option<i32>,
    #[prost(enumeration = "SocketProtocol", optional, tag = "3")]
    pub socket_protocol: Option<i32>,
    /// The client's address: 4 octets for INET, 16 for INET6.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub query_address: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "5")]
    pub response_address: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "6")]
    pub query_port: Option<u32>,
    #[prost(uint32, optional, tag = "7")]
    pub response_port: Option<u32>,
    #[prost(uint64, optional, tag = "8")]
    pub query_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "9")]
    pub query_time_nsec: Option<u32>,
    /// The query as received, verbatim.
    #[prost(bytes = "vec", optional, tag = "10")]
    pub query_message: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "12")]
    pub response_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "13")]
    pub response_time_nsec: Option<u32>,
    /// The response as sent, verbatim.
    #[prost(bytes = "vec", optional, tag = "14")]
    pub response_message: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    /// The wire form, field by field, as protobuf's encoding rules give it for the schema's
    /// field numbers and types (tag = number << 3 | wire type).
    #[test]
    fn fields_are_encoded_with_the_schemas_numbers_and_types() {
        let message = Message {
            r#type: MessageType::AuthResponse as i32,
            socket_family: Some(SocketFamily::Inet as i32),
            socket_protocol: Some(SocketProtocol::Tcp as i32),
            query_address: Some(vec![192, 0, 2, 1]),
            query_port: Some(53_000),
            query_time_sec: Some(1),
            query_time_nsec: Some(2),
            response_time_sec: Some(3),
            response_time_nsec: Some(4),
            response_message: Some(vec![0xab]),
            ..Default::default()
        };
        let bytes = message.encode_to_vec();
        let expected: &[u8] = &[
            0x08, 2, // type (1, varint)
            0x10, 1, // socket_family (2, varint)
            0x18, 2, // socket_protocol (3, varint)
            0x22, 4, 192, 0, 2, 1, // query_address (4, bytes)
            0x30, 0x88, 0x9e, 0x03, // query_port (6, varint 53000)
            0x40, 1, // query_time_sec (8, varint)
            0x4d, 2, 0, 0, 0, // query_time_nsec (9, fixed32)
            0x60, 3, // response_time_sec (12, varint)
            0x6d, 4, 0, 0, 0, // response_time_nsec (13, fixed32)
            0x72, 1, 0xab, // response_message (14, bytes)
        ];
        assert_eq!(bytes, expected);
        let top = Dnstap {
            identity: Some(b"a".to_vec()),
            version: Some(b"b".to_vec()),
            r#type: DnstapType::Message as i32,
            message: Some(Message { r#type: 1, ..Default::default() }),
        };
        // identity (1), version (2), message (14, length-delimited), type (15, varint).
        let expected: &[u8] = &[0x0a, 1, b'a', 0x12, 1, b'b', 0x72, 2, 0x08, 1, 0x78, 1];
        assert_eq!(top.encode_to_vec(), expected);
        assert_eq!(Dnstap::decode(expected).unwrap(), top);
    }
}
