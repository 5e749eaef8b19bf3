//! The names an operator gives things, and how messages quote what an operator wrote: values
//! escaped and cut short, durations in the units the configuration takes, and serde's own
//! messages (TOML, JSON) without the names of Rust types.
//!
//! A region's name is a label value on `/metrics`, a segment of the API's paths, a key in the
//! state file and a word in log lines and `check-config`'s output; one rule, checked here,
//! keeps it safe in all of them, whether it came from the file, the API or saved state. Pool
//! names are DNS names and endpoints IP addresses: their own parsers bound them.
//!
//! Pure: values in, values out.

use std::time::Duration;

/// The longest region name, in characters: a DNS label's length (RFC 1035 section 2.3.4), so a
/// region name reads like a label and a page or a log line holds many of them.
pub const MAX_REGION_NAME: usize = 63;

/// The rule, as messages state it.
pub const REGION_NAME_RULE: &str =
    "1 to 63 characters, each an ASCII letter, digit, '-', '_' or '.', and not \".\" or \"..\"";

/// How many characters of a value a message quotes: enough to recognise it, while a 10 MB value
/// from a state file edited by hand does not become a 10 MB log line.
const SHOWN_CHARS: usize = 64;

/// Checks a region name against the rule: ASCII letters, digits, `-`, `_` and `.`, 1 to 63
/// characters, and not `.` or `..`.
///
/// Nothing else is allowed because each other character is a hazard somewhere the name goes:
/// NUL and line breaks split log lines and metric samples, bidirectional overrides (U+202E)
/// make a name read as another, `/` and `..` change what an API path means, and any
/// non-ASCII letter has look-alikes.
///
/// # Errors
/// The name breaks the rule: the message quotes it (escaped and cut short) and states the rule.
pub fn check_region_name(name: &str) -> Result<(), String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let fits = (1..=MAX_REGION_NAME).contains(&name.len()) && name.bytes().all(allowed) && name != "." && name != "..";
    if fits {
        return Ok(());
    }
    Err(format!("{} is not a region name: a region name is {REGION_NAME_RULE}", shown(name)))
}

/// A value as a message quotes it: in double quotes, escaped as Rust's `{:?}` escapes (control
/// and bidirectional-formatting characters included, so none reaches a log line raw), and cut
/// after 64 characters, with the whole length said.
pub fn shown(text: &str) -> String {
    format!("\"{}\"", clipped(text, SHOWN_CHARS, true))
}

/// Text already quoted in its own way (JSON, say) as a message includes it: control and
/// bidirectional-formatting characters escaped, quotes left alone, cut after `max_chars`.
pub fn clipped_text(text: &str, max_chars: usize) -> String {
    clipped(text, max_chars, false)
}

/// The message for `text` refused as a domain name, `hickory_message` being the parser's
/// reason. That reason may quote a character raw, or say only "Malformed label: " with the
/// empty label after it, so the common faults are named here in the words of RFC 1035
/// (section 2.3.4) and the parser's reason is the last resort.
pub fn not_a_domain_name(text: &str, hickory_message: &str) -> String {
    let labels: Vec<&str> = text.strip_suffix('.').unwrap_or(text).split('.').collect();
    let wire_len: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    let reason = if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
        format!("it holds {}, and a name is printable ASCII without spaces", shown(&c.to_string()))
    } else if labels.iter().any(|l| l.is_empty()) {
        "it has an empty label (two dots in a row, or a leading dot)".to_owned()
    } else if let Some(label) = labels.iter().find(|l| l.len() > 63) {
        format!("a label of it is {} bytes long, and a label is 1 to 63 bytes", label.len())
    } else if wire_len > 255 {
        format!("it takes {wire_len} bytes in a DNS message, and a name takes at most 255")
    } else {
        match hickory_message.strip_prefix("Malformed label: ") {
            Some(label) if !label.is_empty() => format!("the label {} is malformed", shown(label)),
            _ => clipped_text(hickory_message, 128),
        }
    };
    format!("{} is not a domain name: {reason}", shown(text))
}

/// The path of an item of a list in messages: `region[2] "ap"`, `pool[0] "www.example.com."`,
/// with the item's name when it has one fit to show (an index alone is hard to find in a file).
pub fn item_path(list: &str, index: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{list}[{index}] {}", shown(name)),
        None => format!("{list}[{index}]"),
    }
}

/// A path without the names [`item_path`] puts in it: `region[2] "ap".endpoints[0]` is
/// `region[2].endpoints[0]`, a path into the file's structure (or an API body's).
pub fn plain_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(at) = rest.find(" \"") {
        out.push_str(&rest[..at]);
        // The name ends at the first quote `shown` did not escape.
        let name = &rest[at + 2..];
        let mut escaped = false;
        let end = name.char_indices().find(|&(_, c)| {
            let closes = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            closes
        });
        rest = end.map_or("", |(i, _)| &name[i + 1..]);
    }
    out.push_str(rest);
    out
}

/// A duration as the configuration writes one: `500ms`, `5s`, `2m`, `1h` (the largest unit that
/// writes it whole), so a message's limit can be pasted into the file.
pub fn shown_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match () {
        _ if duration.subsec_millis() != 0 || secs == 0 => format!("{}ms", duration.as_millis()),
        _ if secs.is_multiple_of(3600) => format!("{}h", secs / 3600),
        _ if secs.is_multiple_of(60) => format!("{}m", secs / 60),
        _ => format!("{secs}s"),
    }
}

/// Where the text a serde message names a Rust type, the words of the file (or JSON body) it
/// is about: `expected i64` becomes `expected an integer`, `struct FileCheck` `a table` (or
/// `an object` with `table = "an object"`), a sequence an array.
pub fn plain_serde(text: &str, table: &str) -> String {
    const WORDS: [(&str, &str); 12] = [
        ("expected i64", "expected an integer"),
        ("expected i32", "expected an integer"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number from 0 to 4294967295"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("invalid type: sequence", "invalid type: array"),
        ("expected a borrowed string", "expected a string"),
    ];
    let mut out = text.to_owned();
    for (rust, plain) in WORDS {
        out = out.replace(rust, plain);
    }
    out =
        out.replace("expected a map", &format!("expected {table}")).replace("invalid type: map", "invalid type: table");
    if table != "a table" {
        out = out.replace("invalid type: table", "invalid type: object");
    }
    // "expected struct FileCheck": the struct's name is ours, not the operator's.
    const STRUCT: &str = "expected struct ";
    while let Some(at) = out.find(STRUCT) {
        let from = at + STRUCT.len();
        let name = out[from..].bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
        out.replace_range(at + "expected ".len()..from + name, table);
    }
    out
}

fn clipped(text: &str, max_chars: usize, escape_quotes: bool) -> String {
    let mut out = String::new();
    for (i, (at, c)) in text.char_indices().enumerate() {
        if i == max_chars {
            out.push_str(&format!("... ({} bytes in all, {} more)", text.len(), text.len() - at));
            break;
        }
        match c {
            '"' | '\\' if !escape_quotes => out.push(c),
            // `{:?}` of a `str` leaves single quotes alone; `char::escape_debug` would not.
            '\'' => out.push(c),
            c => out.extend(c.escape_debug()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_are_1_to_63_ascii_letters_digits_dashes_underscores_or_dots_never_dot_or_dot_dot() {
        let long = "a".repeat(MAX_REGION_NAME);
        let too_long = "a".repeat(MAX_REGION_NAME + 1);
        let good = ["eu-west", "a", "US_EAST.1", "0", "a..b", "...", "-x", long.as_str()];
        for name in good {
            assert_eq!(check_region_name(name), Ok(()), "{name:?}");
        }
        let five_thousand = "x".repeat(5_000);
        let bad = [
            "",
            "a\0b",
            "a\nb",
            "a\r",
            "a\tb",
            "ab\u{202e}cd",
            "caf\u{e9}",
            "a/b",
            "/",
            ".",
            "..",
            "a b",
            "a\"b",
            "a\\b",
            "a{b}",
            too_long.as_str(),
            five_thousand.as_str(),
        ];
        for name in bad {
            let error = check_region_name(name).expect_err(name);
            assert!(error.contains(REGION_NAME_RULE), "the rule is stated: {error}");
            assert!(!error.contains(['\0', '\n', '\r', '\t', '\u{202e}']), "escaped: {error:?}");
            assert!(error.len() < 300, "cut short: {} bytes", error.len());
        }
    }

    #[test]
    fn paths_name_their_items_and_read_back_without_the_names() {
        assert_eq!(item_path("region", 2, Some("ap")), r#"region[2] "ap""#);
        assert_eq!(item_path("region", 2, None), "region[2]");
        let cases = [
            (r#"region[2] "ap".endpoints[0] "192.0.2.1".weight"#, "region[2].endpoints[0].weight"),
            (r#"pool[0] "www.example.com.".overrides[1].region"#, "pool[0].overrides[1].region"),
            (r#"pool[0] "a\"b.\\".name"#, "pool[0].name"), // quotes and backslashes escaped by `shown`
            ("server.listen[0]", "server.listen[0]"),
            ("", ""),
        ];
        for (named, plain) in cases {
            assert_eq!(plain_path(named), plain, "{named}");
        }
        let odd = format!("pool[0] {}.name", shown("a\"b\\"));
        assert_eq!(plain_path(&odd), "pool[0].name", "{odd}");
    }

    #[test]
    fn durations_are_shown_in_the_largest_unit_that_writes_them_whole() {
        let cases = [(0, "0ms"), (50, "50ms"), (1_500, "1500ms"), (2_000, "2s"), (90_000, "90s"), (120_000, "2m")];
        for (ms, shown) in cases {
            assert_eq!(shown_duration(Duration::from_millis(ms)), shown);
        }
        assert_eq!(shown_duration(Duration::from_secs(7 * 24 * 3600)), "168h");
    }

    #[test]
    fn serde_messages_lose_their_rust_type_names() {
        let cases = [
            (r#"invalid type: string "30", expected i64"#, r#"invalid type: string "30", expected an integer"#),
            (
                "invalid value: integer `300`, expected u8",
                "invalid value: integer `300`, expected a whole number from 0 to 255",
            ),
            (
                "invalid type: integer `5`, expected struct FileCheck at line 1",
                "invalid type: integer `5`, expected a table at line 1",
            ),
            ("invalid type: sequence, expected a map", "invalid type: array, expected a table"),
        ];
        for (serde, plain) in cases {
            assert_eq!(plain_serde(serde, "a table"), plain);
        }
        assert_eq!(
            plain_serde("invalid type: map, expected struct FileRegion", "an object"),
            "invalid type: object, expected an object"
        );
        let quoted = r#"name = "struct X""#;
        assert_eq!(plain_serde(quoted, "a table"), quoted, "the operator's own text is left alone");
    }

    #[test]
    fn domain_names_are_refused_with_their_fault_named() {
        let cases = [
            (
                "a..b",
                "malformed",
                r#""a..b" is not a domain name: it has an empty label (two dots in a row, or a leading dot)"#,
            ),
            (
                "a b",
                "unrecognized char:  ",
                r#""a b" is not a domain name: it holds " ", and a name is printable ASCII without spaces"#,
            ),
            (
                "a\0b",
                "unrecognized char: \0",
                r#""a\0b" is not a domain name: it holds "\0", and a name is printable ASCII without spaces"#,
            ),
            ("-a", "Malformed label: -a", r#""-a" is not a domain name: the label "-a" is malformed"#),
        ];
        for (name, hickory, message) in cases {
            assert_eq!(not_a_domain_name(name, hickory), message);
        }
        let long = "l".repeat(64);
        assert!(not_a_domain_name(&long, "").ends_with("a label of it is 64 bytes long, and a label is 1 to 63 bytes"));
        let many = "w.".repeat(200);
        assert!(
            not_a_domain_name(&many, "").ends_with("it takes 401 bytes in a DNS message, and a name takes at most 255")
        );
    }

    #[test]
    fn messages_quote_values_escaped_and_cut_short() {
        assert_eq!(shown("eu-west"), "\"eu-west\"");
        assert_eq!(shown("a\0b\n\u{202e}\"'"), r#""a\0b\n\u{202e}\"'""#);
        let big = "é".repeat(1_000_000);
        let quoted = shown(&big);
        assert!(quoted.len() < 300 && quoted.contains("2000000 bytes in all"), "{quoted}");
        assert_eq!(clipped_text(r#"{"name":"a\u0000"}"#, 100), r#"{"name":"a\u0000"}"#);
        assert_eq!(clipped_text("x\u{202e}y", 100), r"x\u{202e}y");
    }
}
