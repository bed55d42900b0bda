//! Is this SMTP, POP3 or IMAP? Server greetings (to the client) or first client commands of the
//! line-oriented mail protocols. FTP shares SMTP's "220" greeting and POP3's `USER`, so it is
//! told apart here too.

#![deny(clippy::indexing_slicing)]

use crate::proto::detect::peek::{contains_nocase, first_line, starts, P};
use crate::proto::{AppProto, Confidence, Direction};

/// Line-oriented TCP protocols: server greetings (to the client) or first client commands.
pub fn text(dir: Direction, d: &[u8]) -> Option<(AppProto, Confidence)> {
    use AppProto::{Ftp, Imap, Pop3, Smtp};
    use Confidence::{High, Low};
    let (line, complete) = first_line(d);
    match dir {
        Direction::ToClient => {
            if starts(d, b"220 ", false) == P::Yes(()) || starts(d, b"220-", false) == P::Yes(()) {
                // "220" opens both SMTP and FTP: only the name in the greeting tells.
                if contains_nocase(line, b"SMTP") {
                    return Some((Smtp, High));
                }
                if contains_nocase(line, b"FTP") {
                    return Some((Ftp, High));
                }
                return None;
            }
            if starts(d, b"+OK ", false) == P::Yes(()) {
                return Some((Pop3, High));
            }
            if starts(d, b"+OK\r\n", false) == P::Yes(()) {
                return Some((Pop3, Low));
            }
            if starts(d, b"* OK", false) == P::Yes(()) {
                let conf = if contains_nocase(line, b"IMAP") {
                    High
                } else {
                    Low
                };
                return Some((Imap, conf));
            }
            if starts(d, b"* PREAUTH", false) == P::Yes(()) {
                return Some((Imap, Low));
            }
            None
        }
        Direction::ToServer => {
            let yes = |pat: &[u8]| starts(d, pat, true) == P::Yes(());
            if yes(b"EHLO ") || yes(b"HELO ") {
                return Some((Smtp, High));
            }
            if yes(b"CAPA\r\n") || yes(b"APOP ") || yes(b"STLS\r\n") {
                return Some((Pop3, High));
            }
            if yes(b"FEAT\r\n") || yes(b"AUTH TLS\r\n") || yes(b"AUTH SSL\r\n") {
                return Some((Ftp, High));
            }
            if yes(b"USER ") {
                // POP3 and FTP both log in this way.
                return Some((Pop3, Low));
            }
            imap_tagged(line, complete).map(|c| (Imap, c))
        }
    }
}

/// An IMAP tagged client command: `tag SP command`.
fn imap_tagged(line: &[u8], complete: bool) -> Option<Confidence> {
    let sp = line.iter().position(|&b| b == b' ')?;
    let (tag, rest) = line.split_at(sp);
    if tag.is_empty()
        || tag.len() > 32
        || !tag
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return None;
    }
    let cmd = rest.get(1..).unwrap_or_default();
    let word = |w: &[u8]| {
        cmd.get(..w.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(w))
            && match cmd.get(w.len()) {
                Some(&b) => b == b' ',
                None => complete,
            }
    };
    if word(b"CAPABILITY") || word(b"LOGIN") || word(b"STARTTLS") || word(b"AUTHENTICATE") {
        Some(Confidence::High)
    } else {
        None
    }
}
