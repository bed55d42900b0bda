//! AF_PACKET live capture.
