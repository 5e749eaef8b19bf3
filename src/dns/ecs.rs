//! EDNS Client Subnet (RFC 7871), read from the raw query.
//!
//! hickory decodes the option leniently (it ignores octets past what SOURCE needs), so we
//! read the OPT record's options from the wire ourselves and apply section 6's checks. The
//! message has already been parsed by hickory, so its structure is sound; the walk is still
//! bounds-checked at every step.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The ECS option code (RFC 7871 section 6).
const ECS_OPTION: u16 = 8;
/// The OPT record type (RFC 6891 section 6.1.1).
const OPT_TYPE: u16 = 41;

/// A valid ECS option from a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSubnet {
    /// The address with the bits past `source_prefix` zero.
    pub address: IpAddr,
    pub source_prefix: u8,
}

/// Why an ECS option is malformed; each gets FORMERR (RFC 7871 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EcsError {
    #[error("unknown address family {0}")]
    Family(u16),
    #[error("SOURCE PREFIX-LENGTH {0} is longer than the address")]
    SourceTooLong(u8),
    #[error("ADDRESS has {got} octets where SOURCE PREFIX-LENGTH needs {need}")]
    AddressLength { got: usize, need: usize },
    #[error("ADDRESS has bits set beyond SOURCE PREFIX-LENGTH")]
    BitsBeyondSource,
    #[error("SCOPE PREFIX-LENGTH must be 0 in a query")]
    ScopeInQuery,
    #[error("the option is shorter than its fixed fields")]
    Short,
    #[error("more than one ECS option")]
    Repeated,
}

/// The ECS option of a query, if it has one.
///
/// # Errors
/// A malformed option, as RFC 7871 section 6 lists.
pub fn find(message: &[u8]) -> Result<Option<ClientSubnet>, EcsError> {
    let Some(opt) = opt_rdata(message) else { return Ok(None) };
    let mut found = None;
    let mut at = 0;
    while at + 4 <= opt.len() {
        let code = u16::from_be_bytes([opt[at], opt[at + 1]]);
        let len = usize::from(u16::from_be_bytes([opt[at + 2], opt[at + 3]]));
        let Some(data) = opt.get(at + 4..at + 4 + len) else {
            return Ok(found);
        };
        if code == ECS_OPTION {
            if found.is_some() {
                return Err(EcsError::Repeated);
            }
            found = Some(parse(data)?);
        }
        at += 4 + len;
    }
    Ok(found)
}

/// Parses the option data: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, ADDRESS.
pub fn parse(data: &[u8]) -> Result<ClientSubnet, EcsError> {
    let [f0, f1, source, scope, address @ ..] = data else {
        return Err(EcsError::Short);
    };
    let family = u16::from_be_bytes([*f0, *f1]);
    let width = match family {
        1 => 32,
        2 => 128,
        other => return Err(EcsError::Family(other)),
    };
    if *source > width {
        return Err(EcsError::SourceTooLong(*source));
    }
    if *scope != 0 {
        return Err(EcsError::ScopeInQuery);
    }
    let need = usize::from(source.div_ceil(8));
    if address.len() != need {
        return Err(EcsError::AddressLength { got: address.len(), need });
    }
    if *source % 8 != 0 {
        let last = address[need - 1];
        if last & (0xff >> (*source % 8)) != 0 {
            return Err(EcsError::BitsBeyondSource);
        }
    }
    let address = match family {
        1 => {
            let mut octets = [0u8; 4];
            octets[..need].copy_from_slice(address);
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        _ => {
            let mut octets = [0u8; 16];
            octets[..need].copy_from_slice(address);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    };
    Ok(ClientSubnet { address, source_prefix: *source })
}

/// The RDATA of the OPT record in the additional section, if any.
fn opt_rdata(message: &[u8]) -> Option<&[u8]> {
    let count = |at: usize| Some(usize::from(u16::from_be_bytes([*message.get(at)?, *message.get(at + 1)?])));
    let (questions, answers, authorities, additionals) = (count(4)?, count(6)?, count(8)?, count(10)?);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(message, at)? + 4;
    }
    for i in 0..answers + authorities + additionals {
        at = skip_name(message, at)?;
        let rtype = u16::from_be_bytes([*message.get(at)?, *message.get(at + 1)?]);
        let len = usize::from(u16::from_be_bytes([*message.get(at + 8)?, *message.get(at + 9)?]));
        let rdata = message.get(at + 10..at + 10 + len)?;
        if rtype == OPT_TYPE && i >= answers + authorities {
            return Some(rdata);
        }
        at += 10 + len;
    }
    None
}

/// The offset just past a (possibly compressed) name.
fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *message.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l if l & 0xc0 != 0 => return None,
            l => at += 1 + usize::from(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(family: u16, source: u8, scope: u8, address: &[u8]) -> Vec<u8> {
        let mut data = family.to_be_bytes().to_vec();
        data.extend_from_slice(&[source, scope]);
        data.extend_from_slice(address);
        data
    }

    #[test]
    fn client_subnet_options_parse_to_their_address_and_source_prefix() {
        let v4 = parse(&option(1, 24, 0, &[198, 51, 100])).unwrap();
        assert_eq!(v4, ClientSubnet { address: "198.51.100.0".parse().unwrap(), source_prefix: 24 });
        let v6 = parse(&option(2, 48, 0, &[0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00])).unwrap();
        assert_eq!(v6.address, "2001:db8:100::".parse::<IpAddr>().unwrap());
        assert_eq!(parse(&option(1, 0, 0, &[])).unwrap().source_prefix, 0);
        assert_eq!(parse(&option(1, 20, 0, &[198, 51, 96])).unwrap().source_prefix, 20);
    }

    #[test]
    fn malformed_client_subnet_options_are_refused_naming_their_fault() {
        let cases = [
            (option(3, 24, 0, &[1, 2, 3]), EcsError::Family(3)),
            (option(1, 33, 0, &[1, 2, 3, 4, 5]), EcsError::SourceTooLong(33)),
            (option(1, 24, 0, &[198, 51, 100, 7]), EcsError::AddressLength { got: 4, need: 3 }),
            (option(1, 24, 0, &[198, 51]), EcsError::AddressLength { got: 2, need: 3 }),
            (option(1, 20, 0, &[198, 51, 100]), EcsError::BitsBeyondSource),
            (option(1, 24, 16, &[198, 51, 100]), EcsError::ScopeInQuery),
            (vec![0, 1, 24], EcsError::Short),
        ];
        for (data, expected) in cases {
            assert_eq!(parse(&data), Err(expected), "{data:?}");
        }
    }
}
