//! HTTP/1.x: request and response heads (httparse, lenient), pairing in order (pipelining,
//! keep-alive, interim responses), bodies by length, chunked or until close, content decoding
//! (gzip, deflate, br) into files, and the `http` record per transaction.

mod body;
mod multipart;
mod parser;
pub mod probe;
mod record;
mod state;

#[cfg(test)]
mod tests;

pub use body::{Coding, Codings, MAX_CODINGS, MAX_DECODED, MAX_RATIO};
pub use parser::{parse_auth, Auth, HeadError, MAX_HEAD, MAX_HEADERS};
pub use record::{FormPart, HttpBody};
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
        // Framing as browsers and servers accept it (docs/evasion.md, "HTTP framing"); a
        // name ending in "_ambiguous" marks a case where browsers disagree.
        BareLf = "http.bare_lf",
        BareCrAmbiguous = "http.bare_cr_ambiguous",
        FoldedHeader = "http.folded_header",
        InvalidHeaderLine = "http.invalid_header_line",
        LowercaseVersion = "http.lowercase_version",
        JunkBeforeStatusAmbiguous = "http.junk_before_status_ambiguous",
        Http09Response = "http.http09_response",
        Http09Request = "http.http09_request",
        OddRequestLine = "http.odd_request_line",
        RequestTruncated = "http.request_truncated",
        ResponseHeadTruncated = "http.response_head_truncated",
        ConflictingContentLength = "http.conflicting_content_length",
        DuplicateContentLength = "http.duplicate_content_length",
        ChunkedWithContentLength = "http.chunked_with_content_length",
        ChunkedNotLast = "http.chunked_not_last",
        TransferCodingIgnored = "http.transfer_coding_ignored",
        ChunkExtension = "http.chunk_extension",
        ChunkSizeJunkAmbiguous = "http.chunk_size_junk_ambiguous",
        ChunkSizeLeadingZeros = "http.chunk_size_leading_zeros",
        ChunkedUnterminatedAmbiguous = "http.chunked_unterminated_ambiguous",
        StackedCodings = "http.stacked_codings",
        UnknownCoding = "http.unknown_coding",
        TooManyCodings = "http.too_many_codings",
        GzipBadTrailer = "http.gzip_bad_trailer",
        CodingTrailingData = "http.coding_trailing_data",
        MultipartMalformed = "http.multipart_malformed",
    }
}
