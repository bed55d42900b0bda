//! The vocabulary every layer shares: which application protocol, which transport, which way.
//!
//! A leaf module: it imports nothing of the sensor's, and every stage (flow, proto, pipeline,
//! status, record) imports it, so none of them has to import another only for these names.

/// An application protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppProto {
    /// Not (yet) known.
    Unknown,
    Dns,
    /// Multicast DNS (DNS messages on UDP 5353).
    Mdns,
    Http,
    Tls,
    Kerberos,
    Ldap,
    Smtp,
    Pop3,
    Imap,
    Ssh,
    Dhcp,
    Ntp,
    Smb,
    Ftp,
    Quic,
    /// A VXLAN tunnel's own (outer UDP) flow.
    Vxlan,
    /// A Geneve tunnel's own (outer UDP) flow.
    Geneve,
    /// A Teredo tunnel's own (outer UDP) flow.
    Teredo,
}

impl AppProto {
    /// Number of variants (for per-protocol counter arrays indexed by `p as usize`).
    pub const COUNT: usize = AppProto::Teredo as usize + 1;

    /// Every variant, in declaration order (`ALL[p as usize] == p`).
    pub const ALL: [AppProto; AppProto::COUNT] = [
        AppProto::Unknown,
        AppProto::Dns,
        AppProto::Mdns,
        AppProto::Http,
        AppProto::Tls,
        AppProto::Kerberos,
        AppProto::Ldap,
        AppProto::Smtp,
        AppProto::Pop3,
        AppProto::Imap,
        AppProto::Ssh,
        AppProto::Dhcp,
        AppProto::Ntp,
        AppProto::Smb,
        AppProto::Ftp,
        AppProto::Quic,
        AppProto::Vxlan,
        AppProto::Geneve,
        AppProto::Teredo,
    ];

    /// Stable lower-case name, as it appears in records.
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Unknown => "unknown",
            AppProto::Dns => "dns",
            AppProto::Mdns => "mdns",
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Kerberos => "kerberos",
            AppProto::Ldap => "ldap",
            AppProto::Smtp => "smtp",
            AppProto::Pop3 => "pop3",
            AppProto::Imap => "imap",
            AppProto::Ssh => "ssh",
            AppProto::Dhcp => "dhcp",
            AppProto::Ntp => "ntp",
            AppProto::Vxlan => "vxlan",
            AppProto::Geneve => "geneve",
            AppProto::Teredo => "teredo",
            AppProto::Smb => "smb",
            AppProto::Ftp => "ftp",
            AppProto::Quic => "quic",
        }
    }
}

/// The transport a flow runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// Which side sent the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (the initiator).
    ToServer = 0,
    /// From the server (the responder).
    ToClient = 1,
}

impl Direction {
    /// Index into per-direction arrays (`[to_server, to_client]`).
    pub fn idx(self) -> usize {
        self as usize
    }

    /// The opposite direction.
    pub fn other(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}
