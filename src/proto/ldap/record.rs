//! The `ldap` record body.

use serde::Serialize;

/// `ldap` record body: one per search (at SearchResultDone) and one per other request with
/// its response. `result_code` and `result` are null for a request never answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LdapBody {
    /// messageID of the request.
    pub message_id: u32,
    /// "bind", "search", "unbind", "modify", "add", "delete", "modify_dn", "compare",
    /// "abandon", "extended".
    pub operation: &'static str,
    /// "ldap" (TCP) or "cldap" (UDP).
    pub protocol: &'static str,
    /// Search: baseObject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_object: Option<String>,
    /// Search: "base", "one", "sub" (or the number when another).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Search: "never", "searching", "finding", "always".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deref_aliases: Option<String>,
    /// Search: sizeLimit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<u32>,
    /// Search: timeLimit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_limit: Option<u32>,
    /// Search: typesOnly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub types_only: Option<bool>,
    /// Search: the filter as an RFC 4515 string; the values of password attributes
    /// (`userPassword`, `unicodePwd`, ...) print as `<redacted>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Search: the attributes asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<String>>,
    /// Bind: protocol version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_version: Option<u32>,
    /// Bind: the name bound as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_name: Option<String>,
    /// Bind: "simple", "sasl", "sicily" or "other" (passwords are never logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<&'static str>,
    /// Bind: the SASL mechanism.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl_mechanism: Option<String>,
    /// Modify/add/delete/modify_dn/compare: the entry's DN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Extended: requestName (OID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_name: Option<String>,
    /// Abandon: the abandoned message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandon_id: Option<u32>,
    /// Size in bytes of the request LDAPMessage (absent when the request was not seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_size: Option<u64>,
    /// resultCode (null when unanswered).
    pub result_code: Option<u32>,
    /// The result's name ("success", "noSuchObject", ...; the number when unknown).
    pub result: Option<String>,
    /// matchedDN of the result, when not empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_dn: Option<String>,
    /// diagnosticMessage of the result, when not empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Search: SearchResultEntry messages answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Search: SearchResultReference messages answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<u64>,
}

/// The RFC 4511 (and common extension) name of a resultCode.
pub fn result_name(code: u32) -> String {
    let n = match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        5 => "compareFalse",
        6 => "compareTrue",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        118 => "canceled",
        119 => "noSuchOperation",
        120 => "tooLate",
        121 => "cannotCancel",
        122 => "assertionFailed",
        123 => "authorizationDenied",
        _ => return code.to_string(),
    };
    n.to_string()
}

/// Name of a search scope.
pub fn scope_name(scope: u32) -> String {
    match scope {
        0 => "base".into(),
        1 => "one".into(),
        2 => "sub".into(),
        n => n.to_string(),
    }
}

/// Name of a derefAliases value.
pub fn deref_name(d: u32) -> String {
    match d {
        0 => "never".into(),
        1 => "searching".into(),
        2 => "finding".into(),
        3 => "always".into(),
        n => n.to_string(),
    }
}
