//! The names an operator gives things, and how messages quote what an operator wrote.
//!
//! A region's name is a label value on `/metrics`, a segment of the API's paths, a key in the
//! state file and a word in log lines and `check-config`'s output; one rule, checked here,
//! keeps it safe in all of them, whether it came from the file, the API or saved state. Pool
//! names are DNS names and endpoints IP addresses: their own parsers bound them.
//!
//! Pure: values in, values out.

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
    fn region_names_follow_one_rule() {
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
