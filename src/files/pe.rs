//! Windows PE (Portable Executable) header summary.
//!
//! Two layers:
//! - our own bounded reader of the DOS header, COFF header, optional header, data directories
//!   and section table. It works on any prefix of a file that holds the headers (e.g. the first
//!   64 KiB of a 700 MB download) and never loops more than [`MAX_SECTIONS`] times;
//! - goblin, only on a whole file of at most [`PE_MAX_BYTES`] whose headers we read cleanly,
//!   for the import table (import count and imphash). goblin has had hangs on malformed input
//!   (m4b/goblin#523), hence the size cap and the header pre-check; attribute certificates,
//!   resources and TLS data are not parsed by goblin.
//!
//! The Authenticode signature is read by hand from the security data directory (a file offset,
//! not an RVA) and its PKCS#7 `SignedData` is walked with der-parser for the signer's
//! organisation (`O=` of the certificate matching the first `SignerInfo`'s serial number).

use der_parser::ber::{BerObject, BerObjectContent};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Largest PE kept in memory (and handed to goblin) for a full summary; larger files get a
/// header-only summary from their first bytes.
pub const PE_MAX_BYTES: usize = 8 << 20;

/// Sections listed at most (the Windows loader's own limit is 96).
pub const MAX_SECTIONS: usize = 96;

/// Largest number of imports read into the imphash.
const MAX_IMPORTS: usize = 16_384;

/// PE header summary (`file.pe`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PeSummary {
    /// "pe32" or "pe32+" (absent when the optional header could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Machine name: "x86", "x86_64", "arm64", "arm", "ia64", ... or "unknown".
    pub machine: &'static str,
    /// COFF machine number.
    pub machine_id: u16,
    /// COFF TimeDateStamp as RFC 3339 (often forged or a build hash on modern toolchains).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile_time: Option<String>,
    /// COFF TimeDateStamp, raw.
    pub timestamp: u32,
    /// Subsystem name: "windows_gui", "windows_cui", "native", "efi_application", ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsystem: Option<&'static str>,
    /// Subsystem number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsystem_id: Option<u16>,
    /// COFF characteristics, hex ("0x2102").
    pub characteristics: String,
    /// Names of the COFF characteristics flags set.
    pub characteristics_flags: Vec<&'static str>,
    /// IMAGE_FILE_DLL is set.
    pub dll: bool,
    /// AddressOfEntryPoint (RVA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<u32>,
    /// ImageBase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_base: Option<u64>,
    /// NumberOfSections as declared.
    pub num_sections: u16,
    /// Sections read (at most [`MAX_SECTIONS`], only those whose header is in the bytes).
    pub sections: Vec<PeSection>,
    /// Number of imported functions (whole files up to [`PE_MAX_BYTES`] only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imports: Option<usize>,
    /// MD5 of the lower-cased "dll.func" list (dll extension removed, ordinals as "ord<N>").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imphash: Option<String>,
    /// The security directory is set and the certificate table is in the bytes.
    pub signed: bool,
    /// The security directory is set (the table may lie past the bytes read, e.g. header-only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub signature_declared: bool,
    /// Signer organisation (O=), "unknown" when the signature could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_org: Option<String>,
    /// Summary from a prefix only (file larger than the cap, cut short, or with gaps).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Headers inconsistent or unparseable; the fields hold what was read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub malformed: bool,
}

/// One section header.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PeSection {
    /// Name (8 bytes, NUL-trimmed, lossy UTF-8).
    pub name: String,
    /// VirtualSize.
    pub virtual_size: u32,
    /// VirtualAddress (RVA).
    pub virtual_address: u32,
    /// SizeOfRawData.
    pub raw_size: u32,
    /// Shannon entropy (bits per byte, 0..8) over the section's raw bytes present; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entropy: Option<f64>,
    /// Only part of the raw data was present for the entropy.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw_truncated: bool,
    /// Section characteristics, hex.
    pub characteristics: String,
}

/// Summary of a PE held whole in `bytes` (as JSON), or `None` when `bytes` is not a PE
/// (no "MZ" or no "PE\0\0" signature). Buffers over [`PE_MAX_BYTES`] are treated as a prefix.
pub fn pe_summary(bytes: &[u8]) -> Option<serde_json::Value> {
    summarize(bytes, bytes.len() <= PE_MAX_BYTES).and_then(|s| serde_json::to_value(s).ok())
}

/// Summary of a PE from `bytes`; `whole` says `bytes` is the entire file (then, up to
/// [`PE_MAX_BYTES`], the import table is parsed too). `None` when not a PE.
pub fn summarize(bytes: &[u8], whole: bool) -> Option<PeSummary> {
    let h = read_headers(bytes)?;
    let mut s = h.summary.clone();
    s.partial = !whole;
    if whole && !s.malformed && bytes.len() <= PE_MAX_BYTES {
        if import_table_bounded(bytes, &h) {
            imports(bytes, &mut s);
        } else {
            s.malformed = true;
        }
    }
    if let Some((off, len)) = h.security {
        s.signature_declared = true;
        let start = off as usize;
        if let Some(table) = start
            .checked_add(len as usize)
            .and_then(|end| bytes.get(start..end))
        {
            s.signed = true;
            s.signer_org = Some(signer_org(table).unwrap_or_else(|| "unknown".to_string()));
        }
    }
    Some(s)
}

/// Shannon entropy of `data` in bits per byte (0 for empty input).
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u64; 256];
    for &b in data {
        if let Some(c) = counts.get_mut(b as usize) {
            *c += 1;
        }
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

struct Headers {
    summary: PeSummary,
    /// Security directory: (file offset, size), when non-zero.
    security: Option<(u32, u32)>,
    /// Import directory RVA, when non-zero.
    import_rva: Option<u32>,
    /// 8-byte thunks (PE32+).
    pe64: bool,
    /// (virtual address, virtual size, raw pointer, raw size) of the sections read.
    map: Vec<(u32, u32, u32, u32)>,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_le_bytes(a))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Offset of the COFF header ("PE\0\0" + 4), when `b` starts with a DOS header pointing at one.
pub(crate) fn coff_offset(b: &[u8]) -> Option<usize> {
    if b.get(..2)? != b"MZ" {
        return None;
    }
    let lfanew = u32_at(b, 0x3c)? as usize;
    if b.get(lfanew..lfanew.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    Some(lfanew + 4)
}

/// COFF characteristics of a PE whose headers are in `b`.
pub(crate) fn coff_characteristics(b: &[u8]) -> Option<u16> {
    u16_at(b, coff_offset(b)?.checked_add(18)?)
}

fn read_headers(b: &[u8]) -> Option<Headers> {
    let coff = coff_offset(b)?;
    let mut s = PeSummary::default();
    let Some(machine) = u16_at(b, coff) else {
        s.malformed = true;
        s.machine = "unknown";
        return Some(Headers {
            summary: s,
            security: None,
            import_rva: None,
            pe64: false,
            map: Vec::new(),
        });
    };
    s.machine_id = machine;
    s.machine = machine_name(machine);
    let (Some(nsec), Some(ts), Some(opt_size), Some(ch)) = (
        u16_at(b, coff + 2),
        u32_at(b, coff + 4),
        u16_at(b, coff + 16),
        u16_at(b, coff + 18),
    ) else {
        s.malformed = true;
        return Some(Headers {
            summary: s,
            security: None,
            import_rva: None,
            pe64: false,
            map: Vec::new(),
        });
    };
    s.num_sections = nsec;
    s.timestamp = ts;
    s.compile_time = OffsetDateTime::from_unix_timestamp(i64::from(ts))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok());
    s.characteristics = format!("{ch:#06x}");
    s.characteristics_flags = COFF_FLAGS
        .iter()
        .filter(|(bit, _)| ch & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    s.dll = ch & 0x2000 != 0;

    let opt = coff + 20;
    let mut security = None;
    let mut import_rva = None;
    let mut pe64 = false;
    match u16_at(b, opt) {
        Some(magic @ (0x10b | 0x20b)) => {
            pe64 = magic == 0x20b;
            s.kind = Some(if pe64 { "pe32+" } else { "pe32" });
            s.entry_point = u32_at(b, opt + 16);
            s.image_base = if pe64 {
                u64_at(b, opt + 24)
            } else {
                u32_at(b, opt + 28).map(u64::from)
            };
            if let Some(sub) = u16_at(b, opt + 68) {
                s.subsystem_id = Some(sub);
                s.subsystem = Some(subsystem_name(sub));
            }
            let (nrva_off, dirs) = if pe64 { (108, 112) } else { (92, 96) };
            let nrva = u32_at(b, opt + nrva_off).unwrap_or(0);
            if nrva > 1 && usize::from(opt_size) >= dirs + 2 * 8 {
                import_rva = u32_at(b, opt + dirs + 8).filter(|&r| r != 0);
            }
            // Security directory: entry 4, when declared and within the optional header.
            if nrva > 4 && usize::from(opt_size) >= dirs + 5 * 8 {
                if let (Some(off), Some(len)) =
                    (u32_at(b, opt + dirs + 32), u32_at(b, opt + dirs + 36))
                {
                    if off != 0 && len != 0 {
                        security = Some((off, len));
                    }
                }
            }
        }
        Some(_) => s.malformed = true,
        None => {}
    }

    let table = opt + usize::from(opt_size);
    let mut map = Vec::new();
    if usize::from(nsec) > MAX_SECTIONS {
        s.malformed = true;
    }
    for i in 0..usize::from(nsec).min(MAX_SECTIONS) {
        let h = table + i * 40;
        let Some(hdr) = b.get(h..h + 40) else {
            break;
        };
        let name_raw = hdr.get(..8).unwrap_or_default();
        let end = name_raw.iter().position(|&c| c == 0).unwrap_or(8);
        let name = String::from_utf8_lossy(name_raw.get(..end).unwrap_or_default()).into_owned();
        let vsize = u32_at(hdr, 8).unwrap_or(0);
        let vaddr = u32_at(hdr, 12).unwrap_or(0);
        let raw = u32_at(hdr, 16).unwrap_or(0);
        let ptr = u32_at(hdr, 20).unwrap_or(0) as usize;
        let sch = u32_at(hdr, 36).unwrap_or(0);
        let want_end = ptr.saturating_add(raw as usize);
        let have = b
            .get(ptr.min(b.len())..want_end.min(b.len()))
            .unwrap_or_default();
        map.push((vaddr, vsize, ptr as u32, raw));
        s.sections.push(PeSection {
            name,
            virtual_size: vsize,
            virtual_address: vaddr,
            raw_size: raw,
            entropy: (!have.is_empty()).then(|| (entropy(have) * 1000.0).round() / 1000.0),
            raw_truncated: raw > 0 && have.len() < raw as usize,
            characteristics: format!("{sch:#010x}"),
        });
    }
    Some(Headers {
        summary: s,
        security,
        import_rva,
        pe64,
        map,
    })
}

/// File offset of an RVA through the section table (RVAs below the first section map 1:1).
fn rva_to_offset(h: &Headers, rva: u32) -> Option<usize> {
    let first = h.map.iter().map(|m| m.0).min().unwrap_or(0);
    if rva < first {
        return Some(rva as usize);
    }
    h.map.iter().find_map(|&(va, vsize, ptr, raw)| {
        let delta = rva.checked_sub(va)?;
        (delta < vsize.max(raw)).then(|| ptr as usize + delta as usize)
    })
}

/// Largest number of import descriptors walked before giving up on the import table.
const MAX_IMPORT_DESCRIPTORS: usize = 4096;

/// Walks the import descriptors and their lookup tables ourselves, bounded, before goblin does:
/// false when they exceed [`MAX_IMPORT_DESCRIPTORS`] or [`MAX_IMPORTS`] thunks in all, the
/// pattern of bogus-descriptor samples that make goblin spin (m4b/goblin#523).
fn import_table_bounded(b: &[u8], h: &Headers) -> bool {
    let Some(dir) = h.import_rva.and_then(|r| rva_to_offset(h, r)) else {
        return true;
    };
    let width = if h.pe64 { 8 } else { 4 };
    let mut thunks = 0usize;
    for i in 0..MAX_IMPORT_DESCRIPTORS {
        let d = dir + i * 20;
        let Some(desc) = b.get(d..d + 20) else {
            return true;
        };
        if desc.iter().all(|&x| x == 0) {
            return true;
        }
        let ilt = match u32_at(desc, 0) {
            Some(0) | None => u32_at(desc, 16).unwrap_or(0),
            Some(r) => r,
        };
        let Some(mut off) = rva_to_offset(h, ilt) else {
            continue;
        };
        loop {
            let v = if h.pe64 {
                u64_at(b, off)
            } else {
                u32_at(b, off).map(u64::from)
            };
            match v {
                Some(0) | None => break,
                Some(_) => {
                    thunks += 1;
                    if thunks > MAX_IMPORTS {
                        return false;
                    }
                    off += width;
                }
            }
        }
    }
    false
}

/// Import count and imphash via goblin (bounded input, see the module doc).
fn imports(bytes: &[u8], s: &mut PeSummary) {
    let mut opts = goblin::pe::options::ParseOptions::default();
    opts.parse_attribute_certificates = false;
    opts.parse_resources = false;
    opts.parse_tls_data = false;
    match goblin::pe::PE::parse_with_opts(bytes, &opts) {
        Ok(pe) => {
            let mut names = Vec::new();
            for imp in pe.imports.iter().take(MAX_IMPORTS) {
                let dll = imp.dll.to_ascii_lowercase();
                let dll = ["dll", "ocx", "sys"]
                    .iter()
                    .find_map(|ext| {
                        dll.strip_suffix(ext)
                            .and_then(|d| d.strip_suffix('.'))
                            .map(str::to_string)
                    })
                    .unwrap_or(dll);
                let func = if imp.rva == 0 && imp.name.starts_with("ORDINAL ") {
                    format!("ord{}", imp.ordinal)
                } else {
                    imp.name.to_ascii_lowercase()
                };
                names.push(format!("{dll}.{func}"));
            }
            s.imports = Some(pe.imports.len());
            if !names.is_empty() {
                s.imphash = Some(crate::util::hex::md5_hex(names.join(",").as_bytes()));
            }
        }
        Err(_) => s.malformed = true,
    }
}

/// Organisation of the Authenticode signer from a WIN_CERTIFICATE table.
fn signer_org(table: &[u8]) -> Option<String> {
    // WIN_CERTIFICATE: dwLength u32, wRevision u16, wCertificateType u16 (2: PKCS#7 SignedData).
    let len = u32_at(table, 0)? as usize;
    if u16_at(table, 6)? != 2 {
        return None;
    }
    let pkcs7 = table.get(8..len.min(table.len()))?;
    let (_, ci) = der_parser::der::parse_der(pkcs7).ok()?;
    // ContentInfo { contentType OID signedData, [0] EXPLICIT SignedData }
    let ci = children(&ci);
    let sd_wrapped = ci.get(1)?;
    let sd = children(sd_wrapped);
    let sd = if sd.len() == 1 {
        children(sd.first()?)
    } else {
        sd
    };
    // SignedData { version, digestAlgorithms, contentInfo, [0] certificates?, [1] crls?, signerInfos }
    let signer_infos = sd.last()?;
    let first_signer = children(signer_infos).into_iter().next()?;
    let si = children(&first_signer);
    let issuer_serial = children(si.get(1)?);
    let serial = issuer_serial.get(1)?.as_slice().ok()?;
    let certs = sd
        .iter()
        .skip(3)
        .find(|o| o.header.class() == der_parser::ber::Class::ContextSpecific && o.tag().0 == 0)?;
    let mut fallback = None;
    for cert in children(certs) {
        let c = children(&cert);
        let Some(tbs) = c.first().map(children) else {
            continue;
        };
        // tbsCertificate { [0] version?, serial, sigAlg, issuer, validity, subject, ... }
        let skip = usize::from(
            tbs.first()
                .is_some_and(|o| o.header.class() == der_parser::ber::Class::ContextSpecific),
        );
        let cert_serial = tbs.get(skip).and_then(|o| o.as_slice().ok());
        let org = tbs.get(skip + 4).and_then(name_org);
        if cert_serial == Some(serial) {
            return org;
        }
        if fallback.is_none() {
            fallback = org;
        }
    }
    fallback
}

/// The O= attribute of an X.501 Name.
fn name_org(name: &BerObject) -> Option<String> {
    for rdn in children(name) {
        for atv in children(&rdn) {
            let parts = children(&atv);
            let oid = parts.first().and_then(|o| o.as_oid().ok());
            if oid.is_some_and(|o| o.to_id_string() == "2.5.4.10") {
                let v = parts.get(1)?;
                return match &v.content {
                    BerObjectContent::BmpString(raw) => {
                        let units: Vec<u16> = raw
                            .chunks_exact(2)
                            .map(|c| {
                                u16::from_be_bytes([
                                    c.first().copied().unwrap_or(0),
                                    c.get(1).copied().unwrap_or(0),
                                ])
                            })
                            .collect();
                        Some(String::from_utf16_lossy(&units))
                    }
                    _ => v.as_str().ok().map(str::to_string),
                };
            }
        }
    }
    None
}

/// Sub-objects of a constructed object, parsing context-specific contents on demand.
fn children<'a>(o: &BerObject<'a>) -> Vec<BerObject<'a>> {
    match &o.content {
        BerObjectContent::Sequence(v) | BerObjectContent::Set(v) => v.clone(),
        BerObjectContent::Tagged(_, _, inner) => vec![(**inner).clone()],
        BerObjectContent::Unknown(any) => {
            let mut out = Vec::new();
            let mut rest = any.data;
            while !rest.is_empty() && out.len() < 1024 {
                match der_parser::der::parse_der(rest) {
                    Ok((r, obj)) => {
                        out.push(obj);
                        rest = r;
                    }
                    Err(_) => break,
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

const COFF_FLAGS: [(u16, &str); 15] = [
    (0x0001, "relocs_stripped"),
    (0x0002, "executable"),
    (0x0004, "line_nums_stripped"),
    (0x0008, "local_syms_stripped"),
    (0x0010, "aggressive_ws_trim"),
    (0x0020, "large_address_aware"),
    (0x0080, "bytes_reversed_lo"),
    (0x0100, "32bit_machine"),
    (0x0200, "debug_stripped"),
    (0x0400, "removable_run_from_swap"),
    (0x0800, "net_run_from_swap"),
    (0x1000, "system"),
    (0x2000, "dll"),
    (0x4000, "up_system_only"),
    (0x8000, "bytes_reversed_hi"),
];

fn machine_name(m: u16) -> &'static str {
    match m {
        0x014c => "x86",
        0x8664 => "x86_64",
        0xaa64 => "arm64",
        0x01c0 => "arm",
        0x01c4 => "armnt",
        0x0200 => "ia64",
        0x0ebc => "ebc",
        0xa641 => "arm64ec",
        0x5032 => "riscv32",
        0x5064 => "riscv64",
        0x0000 => "any",
        _ => "unknown",
    }
}

fn subsystem_name(s: u16) -> &'static str {
    match s {
        1 => "native",
        2 => "windows_gui",
        3 => "windows_cui",
        5 => "os2_cui",
        7 => "posix_cui",
        9 => "windows_ce_gui",
        10 => "efi_application",
        11 => "efi_boot_service_driver",
        12 => "efi_runtime_driver",
        13 => "efi_rom",
        14 => "xbox",
        16 => "windows_boot_application",
        _ => "unknown",
    }
}
