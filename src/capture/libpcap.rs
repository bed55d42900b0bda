//! libpcap live capture.
