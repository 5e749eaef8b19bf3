//! Frame Streams (<https://github.com/farsightsec/fstrm>, `fstrm/control.h`), the framing
//! dnstap travels in: data frames are a 32-bit big-endian length and the payload; control
//! frames start with an escape (a zero length), then their own length, their type and their
//! fields. Pure: encodes into and parses from byte slices; the writer owns the socket.
//!
//! The bidirectional handshake, writer (us) on the left, collector on the right:
//!
//! ```text
//!   READY (content type) ─▶
//!                        ◀─ ACCEPT (content type)
//!   START (content type) ─▶
//!   data frames …        ─▶
//!   STOP                 ─▶
//!                        ◀─ FINISH
//! ```

/// The content type of dnstap, as every dnstap collector expects it.
pub const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

/// The longest control frame a reader must accept (`FSTRM_CONTROL_FRAME_LENGTH_MAX`).
pub const MAX_CONTROL_LEN: usize = 512;

/// Control frame types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Accept = 1,
    Start = 2,
    Stop = 3,
    Ready = 4,
    Finish = 5,
}

/// The one control field type: a content type.
const FIELD_CONTENT_TYPE: u32 = 1;

/// Appends a control frame of `kind` to `out`, with our content type when `kind` carries one
/// (READY, ACCEPT and START do; STOP and FINISH do not).
pub fn write_control(kind: Control, out: &mut Vec<u8>) {
    let with_type = matches!(kind, Control::Ready | Control::Accept | Control::Start);
    let fields = if with_type { 8 + CONTENT_TYPE.len() } else { 0 };
    out.extend_from_slice(&0u32.to_be_bytes()); // the escape: a data frame of length 0
    out.extend_from_slice(&(4 + fields as u32).to_be_bytes());
    out.extend_from_slice(&(kind as u32).to_be_bytes());
    if with_type {
        out.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
        out.extend_from_slice(&(CONTENT_TYPE.len() as u32).to_be_bytes());
        out.extend_from_slice(CONTENT_TYPE);
    }
}

/// Appends the head of a data frame (its length) to `out`: the payload of `payload_len`
/// octets follows.
pub fn write_data(payload_len: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&payload_len.to_be_bytes());
}

/// Why a control frame from the collector was not what the handshake needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("expected a control frame, got a data frame")]
    NotControl,
    #[error("control frame of {0} octets (at most 512)")]
    TooLong(usize),
    #[error("control frame cut short")]
    Short,
    #[error("expected {expected:?}, got control type {got}")]
    Unexpected { expected: Control, got: u32 },
    #[error("the collector accepts other content types than protobuf:dnstap.Dnstap")]
    ContentType,
}

/// The length of the control frame whose escape and length are `head` (8 octets).
///
/// # Errors
/// Not an escape, or longer than [`MAX_CONTROL_LEN`].
pub fn control_len(head: [u8; 8]) -> Result<usize, FrameError> {
    if head[..4] != [0; 4] {
        return Err(FrameError::NotControl);
    }
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if !(4..=MAX_CONTROL_LEN).contains(&len) {
        return Err(FrameError::TooLong(len));
    }
    Ok(len)
}

/// Checks that `body` (a control frame after its length) is `expected`, and, for ACCEPT,
/// that it accepts our content type: an ACCEPT naming none accepts any (fstrm's rule).
///
/// # Errors
/// Another control type, a cut field, or an ACCEPT of other content types only.
pub fn check_control(body: &[u8], expected: Control) -> Result<(), FrameError> {
    let word = |at: usize| body.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let got = word(0).ok_or(FrameError::Short)?;
    if got != expected as u32 {
        return Err(FrameError::Unexpected { expected, got });
    }
    let (mut at, mut types, mut ours) = (4, 0, false);
    while at < body.len() {
        let (Some(field), Some(len)) = (word(at), word(at + 4)) else { return Err(FrameError::Short) };
        let value = body.get(at + 8..at + 8 + len as usize).ok_or(FrameError::Short)?;
        if field == FIELD_CONTENT_TYPE {
            types += 1;
            ours |= value == CONTENT_TYPE;
        }
        at += 8 + len as usize;
    }
    if expected == Control::Accept && types > 0 && !ours {
        return Err(FrameError::ContentType);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(frame: &[u8]) -> &[u8] {
        let len = control_len(frame[..8].try_into().unwrap()).unwrap();
        assert_eq!(frame.len(), 8 + len);
        &frame[8..]
    }

    #[test]
    fn control_frames_are_laid_out_as_fstrm_reads_them() {
        let mut ready = Vec::new();
        write_control(Control::Ready, &mut ready);
        let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 22];
        expected.extend_from_slice(b"protobuf:dnstap.Dnstap");
        assert_eq!(ready, expected);
        let mut stop = Vec::new();
        write_control(Control::Stop, &mut stop);
        assert_eq!(stop, [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]);
        let mut data = Vec::new();
        write_data(300, &mut data);
        assert_eq!(data, [0, 0, 1, 44]);
    }

    #[test]
    fn an_accept_must_name_our_content_type_or_none() {
        let mut accept = Vec::new();
        write_control(Control::Accept, &mut accept);
        assert_eq!(check_control(body_of(&accept), Control::Accept), Ok(()));
        assert_eq!(check_control(&[0, 0, 0, 1], Control::Accept), Ok(()), "no content type: any");
        let mut other = vec![0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 3];
        other.extend_from_slice(b"xyz");
        assert_eq!(check_control(&other, Control::Accept), Err(FrameError::ContentType));
        other.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 22]);
        other.extend_from_slice(CONTENT_TYPE);
        assert_eq!(check_control(&other, Control::Accept), Ok(()), "ours among others");
        assert_eq!(check_control(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9], Control::Accept), Err(FrameError::Short));
        assert_eq!(
            check_control(&[0, 0, 0, 5], Control::Accept),
            Err(FrameError::Unexpected { expected: Control::Accept, got: 5 })
        );
        assert_eq!(check_control(&[0, 0, 0, 5], Control::Finish), Ok(()));
        assert_eq!(control_len([0, 0, 0, 0, 0, 0, 2, 1]), Err(FrameError::TooLong(513)));
        assert_eq!(control_len([0, 0, 0, 1, 0, 0, 0, 4]), Err(FrameError::NotControl));
    }
}
