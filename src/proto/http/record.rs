//! The `http` record body: one per request/response pair, per unanswered request (at close)
//! and per response without a request.

use serde::Serialize;

/// `http` record body (contract: `http.*`).
///
/// Lengths are entity lengths on the wire: after de-chunking, before content decoding. The
/// files in `file_ids` hold the bodies as the user received them (content-decoded).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HttpBody {
    /// Request method ("GET", "POST", ...); absent for a response without a request.
    pub method: Option<String>,
    /// Host header as sent (may carry a port).
    pub host: Option<String>,
    /// Request target as sent, less the password of an absolute URL's userinfo.
    pub uri: Option<String>,
    /// Full URL: "http://" + Host + URI; absolute-form URIs as they are (less the password).
    pub url: Option<String>,
    /// Protocol version of the request ("HTTP/1.1"), else of the response.
    pub version: Option<String>,
    /// User-Agent header.
    pub user_agent: Option<String>,
    /// Referer header (less the password of its userinfo).
    pub referrer: Option<String>,
    /// Content-Type of the request.
    pub request_content_type: Option<String>,
    /// Request entity bytes (after de-chunking).
    pub request_body_len: u64,
    /// Final status code; absent when no response was seen.
    pub status: Option<u16>,
    /// Reason phrase of the final response.
    pub status_msg: Option<String>,
    /// Content-Type of the response.
    pub response_content_type: Option<String>,
    /// Response entity bytes (after de-chunking, before content decoding).
    pub response_body_len: u64,
    /// Server header.
    pub server: Option<String>,
    /// Location header (redirects; less the password of its userinfo).
    pub location: Option<String>,
    /// Content-Encoding of the response ("gzip", "br", ...).
    pub content_encoding: Option<String>,
    /// Content-Disposition of the response.
    pub content_disposition: Option<String>,
    /// Authentication scheme of the request's Authorization (or Proxy-Authorization):
    /// "Basic", "NTLM", "Negotiate", "Kerberos", "Bearer", "Digest" or another name of
    /// `parser::SCHEMES` (canonically spelt), or "other": a first word not in that list may be
    /// the credential itself and is never recorded.
    pub auth_scheme: Option<String>,
    /// Basic: the user name (the password is never kept). Digest: the `username` parameter.
    pub auth_user: Option<String>,
    /// Negotiate/Kerberos: MD5 (hex) of the decoded Kerberos/SPNEGO token.
    pub auth_blob_md5: Option<String>,
    /// Ids of the `file` records holding the request and response bodies.
    pub file_ids: Vec<String>,
    /// IPs the sensor saw DNS resolve for `host` (filled by the worker from DNS answers; an
    /// IP-literal host gives itself).
    pub target_ips: Vec<String>,
    /// `multipart/form-data` request: its file parts, each also a `file` record (listed in
    /// `file_ids`); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub form_parts: Vec<FormPart>,
    /// Whether the response body ended as declared (false: cut by a gap, a limit or the end
    /// of the capture; absent when no response was seen).
    pub response_complete: Option<bool>,
}

/// One file part of a `multipart/form-data` upload (`http.form_parts[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FormPart {
    /// The form field's name (Content-Disposition `name`).
    pub field: Option<String>,
    /// The file name the client sent (Content-Disposition `filename`).
    pub name: Option<String>,
    /// Bytes of the part's content.
    pub size: u64,
    pub md5: String,
    pub sha256: String,
    /// Id of the part's `file` record.
    pub file_id: String,
    /// The part ended with its delimiter (false: cut by a gap, a limit or the end of the
    /// body).
    pub complete: bool,
}
