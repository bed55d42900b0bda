//! HTTP/1.x: request and response heads (httparse, lenient), pairing in order (pipelining,
//! keep-alive, interim responses), bodies by length, chunked or until close, content decoding
//! (gzip, deflate, br) into files, and the `http` record per transaction.

mod body;
mod parser;
pub mod probe;
mod record;
mod state;

#[cfg(test)]
mod tests;

pub use body::{Coding, MAX_DECODED, MAX_RATIO};
pub use parser::{parse_auth, Auth, HeadError, MAX_HEAD, MAX_HEADERS};
pub use record::HttpBody;
pub use state::{new_parser, HttpState};

crate::proto::anomaly::anomalies! {
    /// The anomalies the http parser reports.
    HttpAnomaly {
        BadChunkSize = "http.bad_chunk_size",
        BadContentLength = "http.bad_content_length",
        ChunkMissingCrlf = "http.chunk_missing_crlf",
        DecodeError = "http.decode_error",
        DecompressionBomb = "http.decompression_bomb",
        HeadTooLarge = "http.head_too_large",
        InspectMemcap = "http.inspect_memcap",
        MalformedRequest = "http.malformed_request",
        MalformedResponse = "http.malformed_response",
        ResponseWithoutRequest = "http.response_without_request",
        TooManyHeaders = "http.too_many_headers",
        TooManyPending = "http.too_many_pending",
    }
}
