//! Anomaly names: one enum per protocol (`DnsAnomaly`, `HttpAnomaly`, ...), each value named
//! once with the stable string the worker counts it under (`as_str`, e.g. "dns.gap").

/// Declares a protocol's anomaly enum and its stable names.
macro_rules! anomalies {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)+
        }

        impl $name {
            /// The stable name counted and reported ("<protocol>.<what>").
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s,)+
                }
            }
        }
    };
}
pub(crate) use anomalies;
