//! Format detection from a file's first bytes.
//!
//! Our own checks come first for what matters to an NDR sensor, then cheap text sniffing, then
//! the `infer` crate (its extension is used as the name, with a few renamed to ours).
//! Stable short names:
//!
//! | name      | what                                                        | media type |
//! |-----------|-------------------------------------------------------------|------------|
//! | `exe`     | PE executable (MZ + PE header in the head, not a DLL)       | application/vnd.microsoft.portable-executable |
//! | `dll`     | PE with IMAGE_FILE_DLL set                                  | application/vnd.microsoft.portable-executable |
//! | `pe`      | MZ (DOS) executable whose PE header is not in the head      | application/x-dosexec |
//! | `elf`     | ELF executable / shared object                              | application/x-executable |
//! | `macho`   | Mach-O (32/64-bit, either byte order, fat/universal)        | application/x-mach-binary |
//! | `ole`     | OLE2 / Compound File Binary (legacy Office, MSI)            | application/x-ole-storage |
//! | `ooxml`   | ZIP with `[Content_Types].xml` in the head (docx/xlsx/pptx) | per part, e.g. ...wordprocessingml.document |
//! | `zip`     | other ZIP archives                                          | application/zip |
//! | `pdf`     | PDF (`%PDF-` in the first 1 KiB)                            | application/pdf |
//! | `rtf`     | Rich Text Format                                            | application/rtf |
//! | `script`  | text starting with a `#!` shebang                           | text/x-script |
//! | `html`    | HTML (doctype or `<html`, `<head`, `<body`, `<script` early) | text/html |
//! | `xml`     | XML (`<?xml`)                                               | application/xml |
//! | `json`    | JSON object / array                                         | application/json |
//! | `cab`     | Microsoft Cabinet                                           | application/vnd.ms-cab-compressed |
//! | `gzip`    | gzip                                                        | application/gzip |
//! | `7z`      | 7-Zip                                                       | application/x-7z-compressed |
//! | `rar`     | RAR (v4 and v5)                                             | application/vnd.rar |
//! | `iso`     | ISO 9660 image (`CD001` at 0x8001, the first volume descriptor) | application/x-iso9660-image |
//! | other     | `infer`'s extension (`png`, `jpg`, `mp4`, ...)              | `infer`'s media type |
//! | `unknown` | nothing matched                                             | none |
//!
//! [`is_pe`] tells whether a name is one of the PE names.

use super::pe;

/// True for the PE names: "exe", "dll", "pe".
pub fn is_pe(format: &str) -> bool {
    matches!(format, "exe" | "dll" | "pe")
}

/// Format (short name, see the module table) and media type from a file's first bytes.
/// Never panics; looks at most at the first 64 KiB.
pub fn detect(head: &[u8]) -> (String, Option<String>) {
    let head = head.get(..head.len().min(64 << 10)).unwrap_or(head);
    let (name, mime) = own(head)
        .or_else(|| text(head))
        .or_else(|| from_infer(head))
        .unwrap_or(("unknown".to_string(), None));
    (name, mime)
}

type Found = Option<(String, Option<String>)>;

/// Offset of the first ISO 9660 volume descriptor's standard identifier (sector 16, byte 1).
const ISO_MAGIC_AT: usize = 0x8001;

fn found(name: &str, mime: &str) -> Found {
    Some((name.to_string(), Some(mime.to_string())))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn own(h: &[u8]) -> Found {
    const PE_MIME: &str = "application/vnd.microsoft.portable-executable";
    if h.starts_with(b"MZ") {
        return match pe::coff_characteristics(h) {
            Some(ch) if ch & 0x2000 != 0 => found("dll", PE_MIME),
            Some(_) => found("exe", PE_MIME),
            None => found("pe", "application/x-dosexec"),
        };
    }
    // ISO 9660: 32 KiB of system area (zeros, or a hybrid image's boot code), then volume
    // descriptors of 2 KiB, each a type byte and "CD001". A disk image is how malware
    // delivered by mail and download slips past mark-of-the-web.
    if h.get(ISO_MAGIC_AT..ISO_MAGIC_AT + 5) == Some(b"CD001".as_slice()) {
        return found("iso", "application/x-iso9660-image");
    }
    if h.starts_with(b"\x7fELF") {
        return found("elf", "application/x-executable");
    }
    if h.starts_with(&[0xfe, 0xed, 0xfa, 0xce])
        || h.starts_with(&[0xfe, 0xed, 0xfa, 0xcf])
        || h.starts_with(&[0xce, 0xfa, 0xed, 0xfe])
        || h.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
    {
        return found("macho", "application/x-mach-binary");
    }
    if h.starts_with(&[0xca, 0xfe, 0xba, 0xbe]) {
        // Fat Mach-O and Java class files share this magic: a fat header has a small
        // architecture count where a class file has its version numbers (major >= 45).
        let n = h
            .get(4..8)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes);
        if let Some(n) = n {
            if (1..20).contains(&n) {
                return found("macho", "application/x-mach-binary");
            }
        }
    }
    if h.starts_with(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) {
        return found("ole", "application/x-ole-storage");
    }
    if h.starts_with(b"PK\x03\x04") || h.starts_with(b"PK\x05\x06") {
        if contains(h, b"[Content_Types].xml") {
            let mime = if contains(h, b"word/") {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            } else if contains(h, b"xl/") {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            } else if contains(h, b"ppt/") {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            } else {
                "application/vnd.openxmlformats-officedocument"
            };
            return found("ooxml", mime);
        }
        return found("zip", "application/zip");
    }
    if contains(h.get(..1024).unwrap_or(h), b"%PDF-") {
        return found("pdf", "application/pdf");
    }
    if h.starts_with(b"{\\rtf") {
        return found("rtf", "application/rtf");
    }
    if h.starts_with(b"MSCF\0\0\0\0") {
        return found("cab", "application/vnd.ms-cab-compressed");
    }
    if h.starts_with(&[0x1f, 0x8b, 0x08]) {
        return found("gzip", "application/gzip");
    }
    if h.starts_with(&[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]) {
        return found("7z", "application/x-7z-compressed");
    }
    if h.starts_with(b"Rar!\x1a\x07") {
        return found("rar", "application/vnd.rar");
    }
    if h.starts_with(b"#!") {
        return found("script", "text/x-script");
    }
    None
}

/// Cheap HTML / XML / JSON sniffing over the first 512 bytes (after a BOM and whitespace).
fn text(h: &[u8]) -> Found {
    let h = h.strip_prefix(b"\xef\xbb\xbf").unwrap_or(h);
    let start = h.iter().position(|b| !b.is_ascii_whitespace())?;
    let t = h.get(start..)?;
    let t = t.get(..t.len().min(512)).unwrap_or(t);
    if t.starts_with(b"<?xml") {
        if contains(&t.to_ascii_lowercase(), b"<html") {
            return found("html", "text/html");
        }
        return found("xml", "application/xml");
    }
    if t.starts_with(b"<") {
        let lower = t.to_ascii_lowercase();
        if [
            &b"<!doctype html"[..],
            b"<html",
            b"<head",
            b"<body",
            b"<script",
            b"<iframe",
        ]
        .iter()
        .any(|n| contains(&lower, n))
        {
            return found("html", "text/html");
        }
        return None;
    }
    if t.starts_with(b"{") || t.starts_with(b"[") {
        let next = t
            .get(1..)?
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .copied();
        let ok = match (t.first(), next) {
            (Some(b'{'), Some(b'"' | b'}')) => true,
            (Some(b'['), Some(c)) => {
                matches!(c, b'"' | b'{' | b'[' | b']' | b'-' | b't' | b'f' | b'n')
                    || c.is_ascii_digit()
            }
            _ => false,
        };
        if ok {
            return found("json", "application/json");
        }
    }
    None
}

fn from_infer(h: &[u8]) -> Found {
    let t = infer::get(h)?;
    let name = match t.extension() {
        "gz" => "gzip",
        "sh" => "script",
        "msi" => "ole",
        other => other,
    };
    Some((name.to_string(), Some(t.mime_type().to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso9660_by_its_volume_descriptor() {
        let mut iso = vec![0u8; 0x8800];
        iso[0x8000] = 1; // primary volume descriptor
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        iso[0x8006] = 1;
        assert_eq!(
            detect(&iso),
            (
                "iso".to_string(),
                Some("application/x-iso9660-image".to_string())
            )
        );
        // Cut before the identifier, or another identifier: not an ISO image.
        assert_ne!(detect(&iso[..0x8004]).0, "iso");
        iso[0x8001..0x8006].copy_from_slice(b"BEA01");
        assert_ne!(detect(&iso).0, "iso");
    }
}
