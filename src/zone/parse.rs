//! Reads an RFC 1035 master file (section 5) into records, each with the line it starts on.
//!
//! We split the file into entries ourselves: `$ORIGIN`, `$TTL`, owner inheritance, TTL and
//! class in either order, parentheses across lines, quotes and comments. That keeps a line
//! number for every record, so later checks (out-of-zone data, CNAME beside other data) can
//! name the line, and it catches the entries hickory's `Parser` drops without a word (a line
//! with no type, hickory issues 3930 and 3952). Each record's RDATA is then handed to hickory's
//! parser with the origin in force; RFC 3597's generic `\# len hex` form and DS are ours.

use std::collections::BTreeMap;
use std::str::FromStr;

use hickory_proto::rr::rdata::{HTTPS, NULL};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};
use hickory_proto::serialize::txt::{Parser, parse_ttl};

use crate::config::names::{clipped_text, shown};

/// One record and the line it starts on.
#[derive(Debug, Clone)]
pub struct Entry {
    pub line: usize,
    pub record: Record,
}

/// What a master file holds: its origin, if it set one, and its records in file order.
#[derive(Debug)]
pub struct MasterFile {
    /// The first `$ORIGIN`, or the origin given from outside.
    pub origin: Option<Name>,
    pub entries: Vec<Entry>,
}

/// A syntax error at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError { line, message: message.into() })
}

/// One token of an entry: its text as written (quotes kept) and whether it was quoted.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    quoted: bool,
}

/// The tokens of one logical entry (a line, or several joined by parentheses).
#[derive(Debug)]
struct RawEntry<'a> {
    line: usize,
    /// The entry began with white space: its owner is the previous owner.
    inherits_owner: bool,
    tokens: Vec<Token<'a>>,
}

/// Splits master-file text into entries (RFC 1035 section 5.1).
fn split_entries(text: &str) -> Result<Vec<RawEntry<'_>>, SyntaxError> {
    let bytes = text.as_bytes();
    let mut entries = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    let mut current: Option<RawEntry<'_>> = None;
    let mut paren_line: Option<usize> = None;
    let mut at_line_start = true;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
                at_line_start = true;
                if paren_line.is_none() {
                    entries.extend(current.take().filter(|e| !e.tokens.is_empty()));
                }
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                if at_line_start && paren_line.is_none() && current.is_none() {
                    current = Some(RawEntry { line, inherits_owner: true, tokens: Vec::new() });
                }
                i += 1;
            }
            b';' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                if let Some(open) = paren_line {
                    return err(line, format!("nested '(' (the first opened at line {open})"));
                }
                current.get_or_insert(RawEntry { line, inherits_owner: false, tokens: Vec::new() });
                paren_line = Some(line);
                i += 1;
            }
            b')' => {
                if paren_line.take().is_none() {
                    return err(line, "')' without '('");
                }
                i += 1;
            }
            _ => {
                let entry = current.get_or_insert(RawEntry { line, inherits_owner: false, tokens: Vec::new() });
                let (token, next) = read_token(text, i, line)?;
                entry.tokens.push(token);
                i = next;
            }
        }
        at_line_start = false;
    }
    if let Some(open) = paren_line {
        return err(open, "'(' is never closed");
    }
    entries.extend(current.filter(|e| !e.tokens.is_empty()));
    Ok(entries)
}

/// Reads one token starting at `start`: a quoted string or a run of non-blank characters.
fn read_token(text: &str, start: usize, line: usize) -> Result<(Token<'_>, usize), SyntaxError> {
    let bytes = text.as_bytes();
    let quoted = bytes[start] == b'"';
    let mut i = start + usize::from(quoted);
    while i < bytes.len() {
        match bytes[i] {
            // An escape takes the next character; it may not swallow the end of the line.
            b'\\' if matches!(bytes.get(i + 1), None | Some(b'\n' | b'\r')) => {
                return err(line, "a backslash at the end of a line escapes nothing");
            }
            b'\\' => i += 2,
            b'"' if quoted => {
                return Ok((Token { text: &text[start..=i], quoted }, i + 1));
            }
            b'\n' if quoted => return err(line, "a quoted string runs past the end of the line"),
            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' if !quoted => break,
            _ => i += 1,
        }
    }
    if quoted {
        return err(line, "a quoted string is never closed");
    }
    let end = i.min(bytes.len());
    Ok((Token { text: &text[start..end], quoted }, end))
}

/// Parses master-file text. `origin` is the zone's origin if known from outside.
///
/// # Errors
/// The first syntax error, with its line.
pub fn parse(text: &str, origin: Option<Name>) -> Result<MasterFile, SyntaxError> {
    let mut state = State { origin: origin.clone(), default_ttl: None, last_ttl: None, owner: None };
    let mut first_origin = origin;
    let mut entries = Vec::new();
    for raw in split_entries(text)? {
        let first = raw.tokens[0];
        if !raw.inherits_owner && first.text.starts_with('$') && !first.quoted {
            state.directive(&raw)?;
            if first_origin.is_none() {
                first_origin.clone_from(&state.origin);
            }
            continue;
        }
        entries.push(Entry { line: raw.line, record: state.record(&raw)? });
    }
    Ok(MasterFile { origin: first_origin, entries })
}

struct State {
    origin: Option<Name>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    owner: Option<Name>,
}

impl State {
    fn directive(&mut self, raw: &RawEntry<'_>) -> Result<(), SyntaxError> {
        let line = raw.line;
        let args = &raw.tokens[1..];
        match raw.tokens[0].text.to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let [arg] = args else {
                    return err(line, "$ORIGIN takes one domain name");
                };
                self.origin = Some(self.name(arg.text, line)?);
            }
            "$TTL" => {
                let [arg] = args else {
                    return err(line, "$TTL takes one TTL");
                };
                let ttl = parse_ttl(arg.text).or_else(|_| err(line, format!("{} is not a TTL", shown(arg.text))))?;
                self.default_ttl = Some(ttl);
            }
            "$INCLUDE" => return err(line, "$INCLUDE is not supported: list each file in the configuration"),
            other => return err(line, format!("unknown directive {other}")),
        }
        Ok(())
    }

    /// A domain name, absolute or relative to the origin in force; `@` is the origin.
    fn name(&self, text: &str, line: usize) -> Result<Name, SyntaxError> {
        if text == "@" {
            return self.origin.clone().map_or_else(|| err(line, "'@' used before any $ORIGIN"), Ok);
        }
        if !text.ends_with('.') && self.origin.is_none() {
            return err(line, format!("relative name {} and no $ORIGIN in force", shown(text)));
        }
        Name::parse(text, self.origin.as_ref()).or_else(|e| {
            err(line, format!("{} is not a valid domain name: {}", shown(text), clipped_text(&e.to_string(), 128)))
        })
    }

    fn record(&mut self, raw: &RawEntry<'_>) -> Result<Record, SyntaxError> {
        let line = raw.line;
        let mut tokens = raw.tokens.iter();
        if !raw.inherits_owner {
            let owner = tokens.next().map(|t| t.text).unwrap_or_default();
            self.owner = Some(self.name(owner, line)?);
        }
        let Some(owner) = self.owner.clone() else {
            return err(line, "the first record has no owner name");
        };
        let (mut ttl, mut class, mut rtype) = (None, None, None);
        for token in tokens.by_ref() {
            if token.quoted {
                return err(line, format!("expected a TTL, class or type, found {}", token.text));
            }
            let upper = token.text.to_ascii_uppercase();
            if ttl.is_none() && upper.starts_with(|c: char| c.is_ascii_digit()) {
                ttl =
                    Some(parse_ttl(token.text).or_else(|_| err(line, format!("{} is not a TTL", shown(token.text))))?);
            } else if class.is_none() && is_class(&upper) {
                class = Some(upper);
            } else {
                rtype = Some(parse_type(&upper).ok_or_else(|| SyntaxError {
                    line,
                    message: format!("{} is not a record type, class or TTL", shown(token.text)),
                })?);
                break;
            }
        }
        let Some(rtype) = rtype else {
            return err(line, "the entry has no record type");
        };
        if let Some(class) = class.filter(|c| c != "IN") {
            return err(line, format!("class {class} is not served: zone data must be class IN"));
        }
        let ttl = match ttl.or(self.default_ttl).or(self.last_ttl) {
            Some(ttl) => ttl,
            None => return err(line, "no TTL given and no $TTL in force"),
        };
        self.last_ttl = Some(ttl);
        let rdata: Vec<Token<'_>> = tokens.copied().collect();
        let data = self.rdata(rtype, &rdata, line)?;
        Ok(Record::from_rdata(owner, ttl, data))
    }

    fn rdata(&self, rtype: RecordType, tokens: &[Token<'_>], line: usize) -> Result<RData, SyntaxError> {
        if tokens.is_empty() {
            return err(line, format!("{rtype} record has no RDATA"));
        }
        if tokens[0].text == "\\#" && !tokens[0].quoted {
            return generic_rdata(rtype, &tokens[1..], line);
        }
        match rtype {
            RecordType::DS => ds_rdata(tokens, line),
            RecordType::Unknown(code) => {
                err(line, format!("TYPE{code} must be written in the RFC 3597 generic form \\# LENGTH HEX"))
            }
            _ => self.hickory_rdata(rtype, tokens, line),
        }
    }

    /// RDATA in presentation form, parsed by hickory with the origin in force so relative
    /// names in it resolve (RFC 1035 section 5.1).
    fn hickory_rdata(&self, rtype: RecordType, tokens: &[Token<'_>], line: usize) -> Result<RData, SyntaxError> {
        let mut text = String::new();
        if let Some(origin) = &self.origin {
            text.push_str("$ORIGIN ");
            text.push_str(&origin.to_string());
            text.push('\n');
        }
        text.push_str(". 0 IN ");
        text.push_str(&rtype.to_string());
        for token in tokens {
            text.push(' ');
            text.push_str(token.text);
        }
        text.push('\n');
        let parsed = Parser::new(text, None, Some(Name::root())).parse();
        let (_, sets): (Name, BTreeMap<_, _>) = parsed.or_else(|e| err(line, format!("bad {rtype} RDATA: {e}")))?;
        let record = sets.into_values().next().and_then(|set| set.records_without_rrsigs().next().cloned());
        match record {
            Some(record) => self.qualify_target(record.data, tokens, line),
            None => err(line, format!("bad {rtype} RDATA")),
        }
    }

    /// hickory reads the TargetName of SVCB and HTTPS as written, without the origin, and a
    /// relative one then goes out as if absolute (`web` as `web.`). RFC 9460 section 2.1 makes
    /// it a <domain-name> of RFC 1035 section 5.1, relative to the origin like any other, so
    /// it is read again here.
    fn qualify_target(&self, mut data: RData, tokens: &[Token<'_>], line: usize) -> Result<RData, SyntaxError> {
        if let (RData::SVCB(svcb) | RData::HTTPS(HTTPS(svcb)), Some(target)) = (&mut data, tokens.get(1)) {
            svcb.target_name = self.name(target.text, line)?;
        }
        Ok(data)
    }
}

fn is_class(upper: &str) -> bool {
    DNSClass::from_str(upper).is_ok() || upper.strip_prefix("CLASS").is_some_and(|n| n.parse::<u16>().is_ok())
}

/// A type mnemonic or RFC 3597 `TYPEnnn`.
fn parse_type(upper: &str) -> Option<RecordType> {
    if let Some(code) = upper.strip_prefix("TYPE").and_then(|n| n.parse::<u16>().ok()) {
        return Some(RecordType::from(code));
    }
    RecordType::from_str(upper).ok()
}

fn hex(tokens: &[Token<'_>], line: usize) -> Result<Vec<u8>, SyntaxError> {
    let digits: Vec<u8> = tokens.iter().flat_map(|t| t.text.bytes()).collect();
    if !digits.len().is_multiple_of(2) {
        return err(line, "odd number of hex digits");
    }
    let nibble = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    digits
        .chunks(2)
        .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => Ok(high << 4 | low),
            _ => err(line, format!("{} is not hex", shown(&String::from_utf8_lossy(pair)))),
        })
        .collect()
}

/// RFC 3597 section 5: `\# LENGTH HEX...`, valid for any type, known or not.
fn generic_rdata(rtype: RecordType, tokens: &[Token<'_>], line: usize) -> Result<RData, SyntaxError> {
    let Some((len, rest)) = tokens.split_first() else {
        return err(line, "\\# needs a length");
    };
    let len: u16 = len.text.parse().or_else(|_| err(line, format!("{} is not an RDATA length", shown(len.text))))?;
    let data = hex(rest, line)?;
    if data.len() != usize::from(len) {
        return err(line, format!("\\# says {len} octets but {} follow", data.len()));
    }
    if matches!(rtype, RecordType::DS | RecordType::Unknown(_)) {
        return Ok(RData::Unknown { code: rtype, rdata: NULL::with(data) });
    }
    let mut decoder = BinDecoder::new(&data);
    RData::read(&mut decoder, rtype, Restrict::new(len))
        .or_else(|e| err(line, format!("\\# data is not a valid {rtype}: {e}")))
}

/// DS (RFC 4034 section 5.3): key tag, algorithm, digest type, hex digest. We keep it as
/// opaque RDATA: Meridian serves DS at a delegation but does no DNSSEC itself.
fn ds_rdata(tokens: &[Token<'_>], line: usize) -> Result<RData, SyntaxError> {
    let [tag, alg, digest_type, digest @ ..] = tokens else {
        return err(line, "DS needs a key tag, an algorithm, a digest type and a digest");
    };
    let number = |t: &Token<'_>, max: u32| match t.text.parse::<u32>() {
        Ok(n) if n <= max => Ok(n),
        _ => err(line, format!("{} is not a number up to {max}", shown(t.text))),
    };
    let mut data = Vec::new();
    data.extend_from_slice(&(number(tag, 65535)? as u16).to_be_bytes());
    data.push(number(alg, 255)? as u8);
    data.push(number(digest_type, 255)? as u8);
    let digest = hex(digest, line)?;
    if digest.is_empty() {
        return err(line, "DS has an empty digest");
    }
    data.extend_from_slice(&digest);
    Ok(RData::Unknown { code: RecordType::DS, rdata: NULL::with(data) })
}

#[cfg(test)]
mod tests;
