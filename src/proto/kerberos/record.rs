//! The `kerberos` record body: one per request/reply pair, per unanswered request (at close)
//! and per error or reply without a request.

use serde::Serialize;

use super::parser::{
    KdcReply, KdcRequest, KrbErrorMsg, AS_REP, AS_REQ, KRB_ERROR, TGS_REP, TGS_REQ,
};

/// `kerberos` record body.
///
/// `msg_type` is the request's type for a pair ("AS_REQ", "TGS_REQ"), otherwise the type of the
/// lone message ("KRB_ERROR", "AS_REP", ...); `reply_msg_type` is the reply's (or error's) type.
/// `auth_data_md5` is the MD5 of a cipher blob: the issued ticket's enc-part when a reply is
/// present, otherwise the request's: PA-ENC-TIMESTAMP cipher (AS-REQ) or the TGT cipher of the
/// AP-REQ (TGS-REQ). `request_auth_data_md5` always holds the request's.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KerberosBody {
    /// Request type for a pair, else the lone message's type.
    pub msg_type: String,
    /// Type of the reply or error answering the request.
    pub reply_msg_type: Option<String>,
    /// true: a ticket was issued; false: an error; null: no answer seen.
    pub success: Option<bool>,
    /// Client name components joined with "/".
    pub cname: Option<String>,
    /// "computer" (ends with '$'), "service" (name-type 2/3) or "account".
    pub cname_type: Option<&'static str>,
    /// The request's realm (the error's realm for a lone error).
    pub realm: Option<String>,
    /// Client realm from the reply or error, when present.
    pub crealm: Option<String>,
    /// The client's realm, lower-cased.
    pub client_domain: Option<String>,
    /// `cname@REALM`.
    pub upn: Option<String>,
    /// Service name components joined with "/".
    pub sname: Option<String>,
    /// Requested etypes, in order.
    pub etypes: Vec<i32>,
    /// Names of the requested etypes ("ETYPE_<n>" when unknown).
    pub etype_names: Vec<String>,
    /// etype of the issued ticket.
    pub ticket_etype: Option<i32>,
    /// etype of the reply's enc-part.
    pub enc_part_etype: Option<i32>,
    /// TGS-REQ: etype of the presented TGT.
    pub tgt_etype: Option<i32>,
    /// KDC options as hex, "0x40810010".
    pub kdc_options: Option<String>,
    /// Names of the KDC option bits set.
    pub kdc_option_names: Vec<&'static str>,
    /// Requested start time (RFC 3339 UTC).
    pub from: Option<String>,
    /// Requested end time.
    pub till: Option<String>,
    /// Requested renew-till time.
    pub rtime: Option<String>,
    /// The request's nonce.
    pub nonce: Option<u32>,
    /// The request's padata types, in order.
    pub padata_types: Vec<i32>,
    /// Their names ("PA_<n>" when unknown).
    pub padata_names: Vec<String>,
    /// Error code of a KRB-ERROR.
    pub error_code: Option<i32>,
    /// Its name ("ERR_<n>" when unknown).
    pub error_name: Option<String>,
    /// Error text.
    pub e_text: Option<String>,
    /// Server time of the error.
    pub stime: Option<String>,
    /// MD5 of the main cipher blob (see the type's documentation).
    pub auth_data_md5: Option<String>,
    /// MD5 of the request's cipher blob.
    pub request_auth_data_md5: Option<String>,
    /// "tcp" or "udp".
    pub transport: &'static str,
    /// The KDC's host name, when the sensor learnt it (DNS answers for the KDC's address);
    /// the KDC's address is the record's `dest_ip`.
    pub kdc_name: Option<String>,
}

/// The name of a message type ("AS_REQ", ..., "MSG_<n>").
pub fn msg_type_name(t: u32) -> String {
    match t {
        AS_REQ => "AS_REQ".into(),
        AS_REP => "AS_REP".into(),
        TGS_REQ => "TGS_REQ".into(),
        TGS_REP => "TGS_REP".into(),
        KRB_ERROR => "KRB_ERROR".into(),
        n => format!("MSG_{n}"),
    }
}

/// The name of an encryption type.
pub fn etype_name(e: i32) -> String {
    let s = match e {
        1 => "des-cbc-crc",
        2 => "des-cbc-md4",
        3 => "des-cbc-md5",
        16 => "des3-cbc-sha1",
        17 => "aes128-cts-hmac-sha1-96",
        18 => "aes256-cts-hmac-sha1-96",
        19 => "aes128-cts-hmac-sha256-128",
        20 => "aes256-cts-hmac-sha384-192",
        23 => "rc4-hmac",
        24 => "rc4-hmac-exp",
        25 => "camellia128-cts-cmac",
        26 => "camellia256-cts-cmac",
        -128 => "rc4-hmac-old-exp",
        -133 => "rc4-hmac-old",
        -135 => "rc4-hmac-exp-old",
        n => return format!("ETYPE_{n}"),
    };
    s.into()
}

/// The name of a padata type.
pub fn padata_name(p: i32) -> String {
    let s = match p {
        1 => "TGS_REQ",
        2 => "ENC_TIMESTAMP",
        3 => "PW_SALT",
        11 => "ETYPE_INFO",
        16 => "PK_AS_REQ",
        17 => "PK_AS_REP",
        19 => "ETYPE_INFO2",
        20 => "SVR_REFERRAL_INFO",
        128 => "PAC_REQUEST",
        129 => "FOR_USER",
        130 => "FOR_X509_USER",
        133 => "FX_COOKIE",
        136 => "FX_FAST",
        137 => "FX_ERROR",
        138 => "ENCRYPTED_CHALLENGE",
        147 => "PKINIT_KX",
        149 => "REQ_ENC_PA_REP",
        150 => "AS_FRESHNESS",
        165 => "SUPPORTED_ETYPES",
        167 => "PAC_OPTIONS",
        n => return format!("PA_{n}"),
    };
    s.into()
}

/// The name of a Kerberos error code.
pub fn error_name(code: i32) -> String {
    let s = match code {
        0 => "KDC_ERR_NONE",
        1 => "KDC_ERR_NAME_EXP",
        2 => "KDC_ERR_SERVICE_EXP",
        3 => "KDC_ERR_BAD_PVNO",
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        8 => "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
        9 => "KDC_ERR_NULL_KEY",
        10 => "KDC_ERR_CANNOT_POSTDATE",
        11 => "KDC_ERR_NEVER_VALID",
        12 => "KDC_ERR_POLICY",
        13 => "KDC_ERR_BADOPTION",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        15 => "KDC_ERR_SUMTYPE_NOSUPP",
        16 => "KDC_ERR_PADATA_TYPE_NOSUPP",
        17 => "KDC_ERR_TRTYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        19 => "KDC_ERR_SERVICE_REVOKED",
        20 => "KDC_ERR_TGT_REVOKED",
        21 => "KDC_ERR_CLIENT_NOTYET",
        22 => "KDC_ERR_SERVICE_NOTYET",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        26 => "KDC_ERR_SERVER_NOMATCH",
        27 => "KDC_ERR_MUST_USE_USER2USER",
        28 => "KDC_ERR_PATH_NOT_ACCEPTED",
        29 => "KDC_ERR_SVC_UNAVAILABLE",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        33 => "KRB_AP_ERR_TKT_NYV",
        34 => "KRB_AP_ERR_REPEAT",
        35 => "KRB_AP_ERR_NOT_US",
        36 => "KRB_AP_ERR_BADMATCH",
        37 => "KRB_AP_ERR_SKEW",
        38 => "KRB_AP_ERR_BADADDR",
        39 => "KRB_AP_ERR_BADVERSION",
        40 => "KRB_AP_ERR_MSG_TYPE",
        41 => "KRB_AP_ERR_MODIFIED",
        42 => "KRB_AP_ERR_BADORDER",
        44 => "KRB_AP_ERR_BADKEYVER",
        45 => "KRB_AP_ERR_NOKEY",
        46 => "KRB_AP_ERR_MUT_FAIL",
        47 => "KRB_AP_ERR_BADDIRECTION",
        48 => "KRB_AP_ERR_METHOD",
        49 => "KRB_AP_ERR_BADSEQ",
        50 => "KRB_AP_ERR_INAPP_CKSUM",
        51 => "KRB_AP_PATH_NOT_ACCEPTED",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        60 => "KRB_ERR_GENERIC",
        61 => "KRB_ERR_FIELD_TOOLONG",
        62 => "KDC_ERROR_CLIENT_NOT_TRUSTED",
        63 => "KDC_ERROR_KDC_NOT_TRUSTED",
        64 => "KDC_ERROR_INVALID_SIG",
        65 => "KDC_ERR_KEY_TOO_WEAK",
        66 => "KDC_ERR_CERTIFICATE_MISMATCH",
        67 => "KRB_AP_ERR_NO_TGT",
        68 => "KDC_ERR_WRONG_REALM",
        69 => "KRB_AP_ERR_USER_TO_USER_REQUIRED",
        70 => "KDC_ERR_CANT_VERIFY_CERTIFICATE",
        71 => "KDC_ERR_INVALID_CERTIFICATE",
        72 => "KDC_ERR_REVOKED_CERTIFICATE",
        73 => "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
        74 => "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
        75 => "KDC_ERR_CLIENT_NAME_MISMATCH",
        76 => "KDC_ERR_KDC_NAME_MISMATCH",
        90 => "KDC_ERR_PREAUTH_EXPIRED",
        91 => "KDC_ERR_MORE_PREAUTH_DATA_REQUIRED",
        92 => "KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET",
        93 => "KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS",
        n => return format!("ERR_{n}"),
    };
    s.into()
}

/// KDC option names, bit 0 (the MSB) first.
const KDC_OPTIONS: [(u32, &str); 14] = [
    (1, "forwardable"),
    (2, "forwarded"),
    (3, "proxiable"),
    (4, "proxy"),
    (5, "allow_postdate"),
    (6, "postdated"),
    (8, "renewable"),
    (11, "opt_hardware_auth"),
    (15, "canonicalize"),
    (26, "disable_transited_check"),
    (27, "renewable_ok"),
    (28, "enc_tkt_in_skey"),
    (30, "renew"),
    (31, "validate"),
];

/// Names of the KDC option bits set in `v` (bit 0 is the MSB).
pub fn kdc_option_names(v: u32) -> Vec<&'static str> {
    KDC_OPTIONS
        .iter()
        .filter(|(bit, _)| v & (0x8000_0000u32 >> bit) != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn cname_type(name_type: i32, joined: &str) -> &'static str {
    if joined.ends_with('$') {
        "computer"
    } else if matches!(name_type, 2 | 3) {
        "service"
    } else {
        "account"
    }
}

impl KerberosBody {
    fn set_client(&mut self, name_type: i32, joined: String, realm: Option<&str>) {
        self.cname_type = Some(cname_type(name_type, &joined));
        if let Some(r) = realm {
            self.client_domain = Some(r.to_lowercase());
            self.upn = Some(format!("{joined}@{r}"));
        }
        self.cname = Some(joined);
    }

    /// Builds the record of a request, its answer (reply or error) when there is one.
    pub fn build(
        req: Option<&KdcRequest>,
        rep: Option<&KdcReply>,
        err: Option<&KrbErrorMsg>,
        transport: &'static str,
    ) -> Self {
        let mut b = KerberosBody {
            transport,
            ..Default::default()
        };
        if let Some(r) = req {
            b.msg_type = msg_type_name(r.msg_type);
            b.realm = Some(r.realm.clone());
            b.sname = r.sname.as_ref().map(|s| s.joined());
            b.etype_names = r.etypes.iter().map(|e| etype_name(*e)).collect();
            b.etypes.clone_from(&r.etypes);
            b.kdc_options = Some(format!("{:#010x}", r.kdc_options));
            b.kdc_option_names = kdc_option_names(r.kdc_options);
            b.from.clone_from(&r.from);
            b.till = Some(r.till.clone());
            b.rtime.clone_from(&r.rtime);
            b.nonce = Some(r.nonce);
            b.padata_names = r.padata_types.iter().map(|p| padata_name(*p)).collect();
            b.padata_types.clone_from(&r.padata_types);
            b.tgt_etype = r.ap_req_ticket.as_ref().map(|t| t.etype);
            b.request_auth_data_md5 = r
                .enc_timestamp_md5
                .clone()
                .or_else(|| r.ap_req_ticket.as_ref().map(|t| t.cipher_md5.clone()));
            b.auth_data_md5.clone_from(&b.request_auth_data_md5);
            if let Some(c) = &r.cname {
                // AS-REQ: the request's realm is the client's.
                let realm = (r.msg_type == AS_REQ).then_some(r.realm.as_str());
                b.set_client(c.name_type, c.joined(), realm);
            }
        }
        if let Some(p) = rep {
            let ty = msg_type_name(p.msg_type);
            if req.is_some() {
                b.reply_msg_type = Some(ty);
                b.success = Some(true);
            } else {
                b.msg_type = ty;
                b.realm = Some(p.ticket.realm.clone());
                b.sname = Some(p.ticket.sname.joined());
            }
            b.crealm = Some(p.crealm.clone());
            if b.cname.is_none() || b.upn.is_none() {
                b.set_client(p.cname.name_type, p.cname.joined(), Some(&p.crealm));
            }
            b.ticket_etype = Some(p.ticket.etype);
            b.enc_part_etype = Some(p.enc_part_etype);
            b.auth_data_md5 = Some(p.ticket.cipher_md5.clone());
        }
        if let Some(e) = err {
            if req.is_some() {
                b.reply_msg_type = Some(msg_type_name(KRB_ERROR));
                b.success = Some(false);
            } else {
                b.msg_type = msg_type_name(KRB_ERROR);
                b.realm = Some(e.realm.clone());
                b.sname = Some(e.sname.joined());
            }
            b.crealm.clone_from(&e.crealm);
            if b.cname.is_none() {
                if let Some(c) = &e.cname {
                    b.set_client(c.name_type, c.joined(), e.crealm.as_deref());
                }
            }
            b.error_code = Some(e.error_code);
            b.error_name = Some(error_name(e.error_code));
            b.e_text.clone_from(&e.e_text);
            b.stime = Some(e.stime.clone());
        }
        b
    }
}
